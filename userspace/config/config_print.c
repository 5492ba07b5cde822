/* config_print.c - the effective configuration as YAML, in the layout the
 * file takes, every value followed by where it came from. */
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/config_table.h"

/* Number of leading dotted components a and b share. */
static int shared_depth(const char *a, const char *b)
{
	int depth = 0;

	for (size_t i = 0;; i++) {
		int ea = a[i] == '.' || a[i] == '\0', eb = b[i] == '.' || b[i] == '\0';

		if (ea || eb) {
			if (!(ea && eb))
				return depth;
			depth++;
			if (!a[i] || !b[i])
				return depth;
			continue;
		}
		if (a[i] != b[i])
			return depth;
	}
}

void config_print(FILE *f, const struct obs_config *c, const struct obs_sources *src)
{
	char prev[128] = "";

	fprintf(f, "# effective configuration of gunicorn-observer: value  # source\n");
	for (int i = 0; i < config_nsettings; i++) {
		const char *path = config_settings[i].yaml, *leaf = strrchr(path, '.') + 1;
		char section[128];
		int depth = 0, keep;
		const char *p;

		snprintf(section, sizeof(section), "%.*s", (int)(leaf - 1 - path), path);
		keep = prev[0] ? shared_depth(prev, section) : 0;
		/* open the sections this setting is in that the previous was not */
		p = section;
		for (int d = 0; *p; d++) {
			const char *end = strchr(p, '.');
			int len = end ? (int)(end - p) : (int)strlen(p);

			if (d >= keep)
				fprintf(f, "%*s%.*s:\n", 2 * d, "", len, p);
			depth = d + 1;
			p = end ? end + 1 : p + len;
		}
		snprintf(prev, sizeof(prev), "%s", section);
		fprintf(f, "%*s%s: ", 2 * depth, "", leaf);
		setting_print(f, &config_settings[i], c);
		fprintf(f, "  # %s\n", src->of[i]);
	}
}
