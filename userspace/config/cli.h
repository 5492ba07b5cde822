/* cli.h - the observer's command line made into its configuration. */
#ifndef OBS_CLI_H
#define OBS_CLI_H

#include "config/config.h"

/* What the command line asked besides settings. */
struct cli {
	const char *config; /* -c, --config */
	int print, check;   /* --print-config, --check-config */
	struct {
		const char *flag, *value; /* value NULL for a flag that takes none (--no-pin) */
	} set[128];
	size_t nset;
};

/* Builds the effective configuration: defaults, file, environment, flags.
 * Returns 0 to go on, 1 to exit 0 (help, version), -1 to exit 2 after one
 * line on stderr. */
int cli_configure(int argc, char **argv, struct obs_config *c, struct obs_sources *src, struct cli *cli);

#endif
