/* fuzz_config_yaml.c - the YAML configuration file (config_from_file): the
 * input is written to a file and loaded over the defaults; an accepted file
 * must leave a configuration that holds the loader's promises, and print. */
#include <stdint.h>

#include "config/config.h"
#include "fakeroot.h"

static char conf_path[512];
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fake_init(NULL);
	snprintf(conf_path, sizeof(conf_path), "%s/config.yaml", fake_root);
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
	/* the loader's one-line errors, not libFuzzer's nor the sanitizers'
	 * (those write to fd 2 directly) */
	if (!getenv("FUZZ_VERBOSE"))
		stderr = devnull;
	return 0;
}

static void check(const struct obs_config *c)
{
	if (c->npids > OBS_MAX_PIDS || c->ndur > OBS_MAX_DUR_BOUNDS || c->nsize > OBS_MAX_SIZE_BOUNDS)
		abort();
	if (strchr(c->redis.prefix, ':'))
		abort();
	for (size_t i = 1; i < c->ndur; i++)
		if (!(c->dur_bounds[i] > c->dur_bounds[i - 1]))
			abort();
	for (size_t i = 1; i < c->nsize; i++)
		if (!(c->size_bounds[i] > c->size_bounds[i - 1]))
			abort();
	if (!memchr(c->listen_addr, '\0', sizeof(c->listen_addr)) ||
	    !memchr(c->redis.host, '\0', sizeof(c->redis.host)) ||
	    !memchr(c->redis.password, '\0', sizeof(c->redis.password)) ||
	    !memchr(c->match, '\0', sizeof(c->match)) || !memchr(c->pin_dir, '\0', sizeof(c->pin_dir)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct obs_config *c = malloc(sizeof(*c));
	struct obs_sources *src = malloc(sizeof(*src));
	int rc;

	if (!c || !src)
		abort();
	fake_write("config.yaml", data, size);
	config_defaults(c, src);
	rc = config_from_file(c, src, conf_path);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == 0) {
		check(c);
		config_validate(c);
		config_print(devnull, c, src);
	}
	free(c);
	free(src);
	return 0;
}
