/* config_yaml.c - the YAML configuration file, read with libyaml. Every
 * problem is reported as "FILE:LINE:COL: what is wrong" and stops the
 * start; keys that only mean something inside Gunicorn (the Python
 * exporter's) are accepted with a one-line notice. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config/config.h"
#include "config/config_table.h"

/* Keys that only apply to an in-process exporter. */
static const char *const in_process[] = { "exporter.prometheus.multiproc_dir", "exporter.prometheus.ssl",
					  "exporter.gunicorn", "exporter.cleanup" };

struct ctx {
	struct obs_config *c;
	struct obs_sources *src;
	const char *path;
	yaml_document_t *doc;
};

static int report(const struct ctx *x, const yaml_node_t *n, const char *fmt, const char *key,
		  const char *what)
{
	fprintf(stderr, "%s:%zu:%zu: ", x->path, n->start_mark.line + 1, n->start_mark.column + 1);
	fprintf(stderr, fmt, key, what);
	fputc('\n', stderr);
	return -1;
}

/* Between a and the first lb characters of b. */
static size_t edit_distance(const char *a, const char *b, size_t lb)
{
	size_t la = strlen(a), prev[128], cur[128];

	if (la >= 127 || lb >= 127)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb];
}

/* The known keys are every setting's, then every section's: each dotted
 * prefix of a setting's key. */
const char *config_nearest_key(const char *key)
{
	static char best[128];
	size_t bestd = (size_t)-1;

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < config_nsettings; i++) {
			const char *k = config_settings[i].yaml;

			for (const char *end = pass ? strchr(k, '.') : k + strlen(k); end;
			     end = pass ? strchr(end + 1, '.') : NULL) {
				size_t d = edit_distance(key, k, (size_t)(end - k));

				if (d < bestd && (size_t)(end - k) < sizeof(best)) {
					bestd = d;
					snprintf(best, sizeof(best), "%.*s", (int)(end - k), k);
				}
			}
		}
	}
	return best;
}

/* A section: a dotted prefix of some setting's key. */
static int is_section(const char *key)
{
	size_t n = strlen(key);

	for (int i = 0; i < config_nsettings; i++)
		if (strncmp(config_settings[i].yaml, key, n) == 0 && config_settings[i].yaml[n] == '.')
			return 1;
	return 0;
}

static int is_one_of(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, list[i]) == 0)
			return 1;
	return 0;
}

/* A YAML null: ~, null, or nothing, unquoted. */
static int is_null(const yaml_node_t *n)
{
	const char *v;
	size_t len;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)n->data.scalar.value;
	len = n->data.scalar.length;
	return len == 0 || (len == 1 && v[0] == '~') ||
	       (len == 4 && (!strncmp(v, "null", 4) || !strncmp(v, "Null", 4) || !strncmp(v, "NULL", 4)));
}

static const char *node_kind(const yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE    ? "a mapping"
	       : n->type == YAML_SEQUENCE_NODE ? "a list"
					       : "a value";
}

/* A scalar's text, or a list of scalars joined by commas. */
static int leaf_text(const struct ctx *x, const char *key, const yaml_node_t *n, int list, char *out,
		     size_t size)
{
	size_t off = 0;

	if (n->type == YAML_SCALAR_NODE) {
		snprintf(out, size, "%.*s", (int)n->data.scalar.length, (const char *)n->data.scalar.value);
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE || !list)
		return report(x, n, list ? "%s must be a list, not %s" : "%s must be a single value, not %s",
			      key, node_kind(n));
	out[0] = '\0';
	for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
		const yaml_node_t *e = yaml_document_get_node(x->doc, *i);

		if (!e || e->type != YAML_SCALAR_NODE)
			return report(x, e ? e : n, "%s must be a list of numbers, not a list of %s", key,
				      e ? node_kind(e) : "nothing");
		off += (size_t)snprintf(out + off, off < size ? size - off : 0, "%s%.*s", off ? "," : "",
					(int)e->data.scalar.length, (const char *)e->data.scalar.value);
		if (off >= size)
			return report(x, n, "%s %s", key, "is too long");
	}
	return 0;
}

/* Sets setting id from its node; "" when the node is null and the setting
 * takes that (the Python exporter's "password: null"). */
static int apply_leaf(const struct ctx *x, int id, const char *key, const yaml_node_t *n)
{
	const struct setting *s = &config_settings[id];
	char text[1024], err[256], where[OBS_SOURCE_LEN];

	if (is_null(n) && !(s->flags & SET_NULL_EMPTY))
		return report(x, n, "%s %s", key, "has no value: give one or remove the key");
	if (is_null(n))
		text[0] = '\0';
	else if (leaf_text(x, key, n, setting_is_list(s), text, sizeof(text)))
		return -1;
	if (setting_parse(s, x->c, text, 0, err, sizeof(err))) {
		fprintf(stderr, "%s:%zu:%zu: %s '%s' %s\n", x->path, n->start_mark.line + 1,
			n->start_mark.column + 1, key, s->flags & SET_SECRET ? "***" : text, err);
		return -1;
	}
	snprintf(where, sizeof(where), "file %s:%zu", x->path, n->start_mark.line + 1);
	config_source(x->src, id, where);
	return 0;
}

static int walk(const struct ctx *x, const char *prefix, const yaml_node_t *map)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
		const yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
		char key[256];
		int id;

		if (!k || !v || k->type != YAML_SCALAR_NODE)
			return report(x, k ? k : map, "%s%s", prefix,
				      *prefix ? ": keys must be plain names" : "keys must be plain names");
		snprintf(key, sizeof(key), "%s%s%.*s", prefix, *prefix ? "." : "", (int)k->data.scalar.length,
			 (const char *)k->data.scalar.value);
		if (is_one_of(key, in_process, sizeof(in_process) / sizeof(in_process[0]))) {
			fprintf(
			    stderr,
			    "%s:%zu:%zu: notice: %s only applies to an exporter inside Gunicorn: ignored\n",
			    x->path, k->start_mark.line + 1, k->start_mark.column + 1, key);
			continue;
		}
		if (is_section(key)) {
			if (is_null(v))
				continue; /* "observer:" with nothing under it */
			if (v->type != YAML_MAPPING_NODE)
				return report(x, v, "%s must be a mapping, not %s", key, node_kind(v));
			if (walk(x, key, v))
				return -1;
			continue;
		}
		id = config_find(key);
		if (id < 0) {
			fprintf(stderr, "%s:%zu:%zu: unknown key %s: did you mean %s?\n", x->path,
				k->start_mark.line + 1, k->start_mark.column + 1, key,
				config_nearest_key(key));
			return -1;
		}
		if (apply_leaf(x, id, key, v))
			return -1;
	}
	return 0;
}

int config_from_file(struct obs_config *c, struct obs_sources *src, const char *path)
{
	struct ctx x = { .c = c, .src = src, .path = path };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	FILE *f = fopen(path, "rb");
	struct stat st;
	int rc = -1;

	if (!f) {
		fprintf(stderr, "%s:1:1: cannot open the configuration file: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s:1:1: cannot read the configuration file: %s\n", path,
			S_ISDIR(st.st_mode) ? strerror(EISDIR) : "it is not a regular file");
		fclose(f);
		return -1;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		fprintf(stderr, "%s:%zu:%zu: invalid YAML: %s%s%s\n", path, parser.problem_mark.line + 1,
			parser.problem_mark.column + 1, parser.problem ? parser.problem : "cannot parse",
			parser.context ? " " : "", parser.context ? parser.context : "");
		goto out;
	}
	x.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root || is_null(root))
		rc = 0; /* an empty file, or "---" alone, sets nothing */
	else if (root->type != YAML_MAPPING_NODE)
		rc = report(&x, root, "%s%s", "", "the top level must be a mapping (exporter:, observer:)");
	else
		rc = walk(&x, "", root);
	yaml_document_delete(&doc);
out:
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}
