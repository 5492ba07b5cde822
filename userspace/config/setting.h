/* setting.h - one setting, a row of the table in config_table.c: its names
 * in the three sources (YAML key, environment variable, flag), the type of
 * its value, where the value lives in struct obs_config, its default and its
 * help; and for each type the parser of its text and the printer of its
 * value, so that no setting has code of its own (as nginx's
 * ngx_conf_set_*_slot do for its directives). Knows nothing of struct
 * obs_config but the offsets a row gives. */
#ifndef OBS_SETTING_H
#define OBS_SETTING_H

#include <stddef.h>
#include <stdio.h>

enum setting_type {
	T_ADDR,      /* an IPv4 or IPv6 address, kept as text */
	T_PORT,      /* 1 to 65535, an unsigned short */
	T_INT,       /* decimal digits from lo to hi, an unsigned or an int */
	T_COUNT,     /* a whole number from lo to hi, in any form strtod reads (4e3), an unsigned */
	T_SECONDS,   /* a number from lo to hi, a double */
	T_BOOL,      /* true, yes, on, 1 or false, no, off, 0 (any case), an int */
	T_ENUM,      /* one of names, an enum in their order */
	T_TEXT,      /* a string: "" refused with bad when bad is set, ':' with colon when set */
	T_BPF_DIR,   /* an absolute path whose last part has no '.', a string */
	T_PIDS,      /* a list of process ids, a pid_t array and its count */
	T_DURATIONS, /* increasing bucket bounds in seconds, a double array and its count */
	T_SIZES,     /* increasing bucket bounds in whole bytes, a double array and its count */
	T_NTYPES
};

enum {
	SET_SECRET = 1,     /* never shown: "***" in --print-config and in messages */
	SET_REPEAT = 2,     /* a repeated flag adds to the list the first one set */
	SET_NULL_EMPTY = 4, /* a YAML null (~, null, nothing) is "" */
};

/* The most items a list setting holds. */
#define SETTING_LIST_MAX 256

struct setting {
	const char *yaml; /* dotted path in the YAML file */
	const char *env;
	const char *flag; /* without "--"; NULL when only a composite flag sets it */
	char letter;      /* the short flag, or 0 */
	const char *arg;  /* what --help calls the value, when not the type's name */
	enum setting_type type;
	size_t at, size;          /* the value's offset and size in struct obs_config */
	size_t n_at;              /* lists: the offset of their count, a size_t */
	double lo, hi;            /* T_INT, T_COUNT, T_SECONDS: the range */
	const char *const *names; /* T_ENUM: NULL-terminated */
	const char *bad;          /* T_INT, T_COUNT, T_SECONDS: what a value out of range is; T_TEXT: "" */
	const char *colon;        /* T_TEXT: what a value with ':' is */
	unsigned flags;           /* SET_* */
	const char *def;          /* the default, as text the parser reads; NULL is "" */
	const char *help;
};

/* Parses text into s's place in cfg; on a bad value writes what is wrong (a
 * phrase after the value: "is not a port: ...") into err, leaves cfg as it
 * was and returns -1. append adds to a list instead of replacing it. */
int setting_parse(const struct setting *s, void *cfg, const char *text, int append, char *err, size_t errlen);
/* Writes s's value in cfg as a YAML value. */
void setting_print(FILE *f, const struct setting *s, const void *cfg);
/* Does a YAML sequence give s its value (items joined by commas)? */
int setting_is_list(const struct setting *s);
/* What --help calls s's value: s->arg, its names joined by '|', or its type's word. */
const char *setting_arg(const struct setting *s, char *buf, size_t size);

#endif
