/* gconf.h - a master's effective Gunicorn settings (app name, timeout) from
 * its command line, GUNICORN_CMD_ARGS and its Python config file. */
#ifndef OBS_GCONF_H
#define OBS_GCONF_H

#include <stddef.h>
#include <sys/types.h>

#include "host/gargs.h"
#include "lib/procfs.h"

struct gunicorn_settings {
	char app[OBS_APP_LEN];
	double timeout_s;   /* 0 when none of the sources sets it */
	char certfile[256]; /* its TLS certificate, empty when it serves clear text */
};

/* Reads what Gunicorn would: the config file (-c, else ./gunicorn.conf.py
 * in the process's working directory), then GUNICORN_CMD_ARGS, then the
 * command line, each overriding the one before. */
void gunicorn_settings(const char *proc_root, pid_t pid, const struct cmdline *c,
		       struct gunicorn_settings *out);

/* Literal assignments of a Gunicorn config file: name = 'x', timeout = 30,
 * bind = ["a", "b"] (the first). Values point into text, which is modified. */
struct gconf_file {
	const char *proc_name, *wsgi_app, *bind, *certfile;
	double timeout_s;
};
void gconf_parse(char *text, struct gconf_file *out);

#endif
