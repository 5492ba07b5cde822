/* config_table.h - the settings table shared by the configuration sources
 * (config.c, config_yaml.c, config_print.c). */
#ifndef OBS_CONFIG_TABLE_H
#define OBS_CONFIG_TABLE_H

#include "config/config.h"

/* In the order of the file's tree, so --print-config opens each section once. */
enum setting_id {
	S_BIND = 0,
	S_PORT,
	S_REDIS,
	S_RHOST,
	S_RPORT,
	S_RDB,
	S_RPASS,
	S_RPREFIX,
	S_RTTL,
	S_RNOTTL,
	S_PIDS,
	S_MATCH,
	S_STUCK,
	S_LEVEL,
	S_INTERVAL,
	S_TLSCERT,
	S_TLSKEY,
	S_AUTHUSER,
	S_AUTHFILE,
	S_CONNLIMIT,
	S_IPLIMIT,
	S_CONNTIMEOUT,
	S_DUR,
	S_SIZE,
	S_PIN,
	S_PINDIR,
	S_MAXCONN,
	S_MAXWORKERS,
	S_PLANE,
	S_COUNT,
};

enum setting_type {
	T_ADDR,
	T_PORT,
	T_PIDS,
	T_MATCH,
	T_BUCKETS,
	T_SECONDS,
	T_LEVEL,
	T_BOOL,
	T_HOST,
	T_DB,
	T_PASSWORD,
	T_PREFIX,
	T_TTL,
	T_PATH,
	T_COUNT_CONNS,
	T_COUNT_WORKERS,
	T_USER,
	T_LIMIT,
	T_PLANE
};

struct setting {
	const char *yaml; /* dotted path in the YAML file */
	const char *env;
	const char *flag; /* without "--"; NULL when only a composite flag sets it */
	enum setting_type type;
	const char *help;
};

extern const struct setting settings[S_COUNT];

/* Parses text into setting id; on a bad value writes what is wrong (a
 * phrase after the value, "is not a port: ...") into err and returns -1.
 * append adds to a list instead of replacing it. */
int config_set(struct obs_config *c, enum setting_id id, const char *text, int append, char *err,
	       size_t errlen);
/* Records where setting id's value came from. */
void config_source(struct obs_sources *src, enum setting_id id, const char *where);

#endif
