/* gargs.h - a Gunicorn command line read as Gunicorn reads it: what kind
 * of Gunicorn process it is, its options and APP_MODULE, its proc title. */
#ifndef OBS_GARGS_H
#define OBS_GARGS_H

#include <stddef.h>

#include "lib/procfs.h"

#define OBS_APP_LEN 128 /* the longest app name kept, NUL included */

enum gunicorn_kind {
	GK_NONE = 0, /* not Gunicorn */
	GK_PLAIN,    /* a Gunicorn command line; master or worker by ancestry */
	GK_MASTER,   /* a proc title "gunicorn: master [...]" */
	GK_WORKER,   /* a proc title "gunicorn: worker [...]" */
};

/* Gunicorn settings found in one list of arguments (pointers into it). */
struct gunicorn_args {
	const char *name, *target, *bind, *config;
	const char *certfile; /* --certfile: the listeners speak TLS */
	double timeout_s;     /* 0 when absent */
};

/* Parses Gunicorn options and APP_MODULE; later values override. */
void gunicorn_args_parse(char *const *argv, int argc, struct gunicorn_args *out);
/* Index of the first Gunicorn argument after the interpreter and script. */
int gunicorn_first_option(const struct cmdline *c);
/* The NAME of a "gunicorn: master [NAME]" proc title; -1 without one. */
int gunicorn_title_name(const struct cmdline *c, char *out, size_t size);
/* Copies n bytes of s as a NUL-terminated string cut to size. */
void copy_name(char *out, size_t size, const char *s, size_t n);

/* What kind of Gunicorn process a command line belongs to. */
enum gunicorn_kind gunicorn_kind(const struct cmdline *c);

#endif
