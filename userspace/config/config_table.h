/* config_table.h - the settings table (config_table.c), one row a setting,
 * from which the file reader, the environment, the flags, --print-config
 * and --help are all made; and the few flags that are no one setting's own. */
#ifndef OBS_CONFIG_TABLE_H
#define OBS_CONFIG_TABLE_H

#include <stddef.h>

#include "config/setting.h"

struct obs_config;
struct obs_sources;

/* In the order of the file's tree, so --print-config opens each section once. */
extern const struct setting config_settings[];
extern const int config_nsettings;

/* A flag that is no one setting's own: it sets two, reads a file, or takes
 * no value. --help lists it beside the first setting it sets. */
struct config_composite {
	const char *flag;
	char letter;
	const char *arg; /* NULL: takes no value */
	size_t sets[2];  /* the settings it sets, by their place in struct obs_config */
	int nsets;
	int (*set)(struct obs_config *c, struct obs_sources *src, const char *text, char *err, size_t errlen);
	const char *help;
};

extern const struct config_composite config_composites[];
extern const int config_ncomposites;

/* The row of the setting with this YAML key, or with its value at this
 * offset in struct obs_config; -1 when none. */
int config_find(const char *yaml);
int config_find_at(size_t at);
/* Parses text into setting id (a row of config_settings) as setting_parse does. */
int config_set(struct obs_config *c, int id, const char *text, int append, char *err, size_t errlen);
/* Records where setting id's value came from. */
void config_source(struct obs_sources *src, int id, const char *where);

#endif
