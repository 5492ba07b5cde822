/* discover.h - recognising Gunicorn masters and workers from /proc, and the
 * app name of a master from its command line. */
#ifndef GO_DISCOVER_H
#define GO_DISCOVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "procfs.h"

#define GO_APP_LEN 128

enum gunicorn_kind {
	GK_NONE = 0, /* not Gunicorn */
	GK_PLAIN,    /* a Gunicorn command line; master or worker by ancestry */
	GK_MASTER,   /* a proc title "gunicorn: master [...]" */
	GK_WORKER,   /* a proc title "gunicorn: worker [...]" */
};

struct found {
	pid_t pid;
	pid_t master; /* equal to pid for a master */
	uint64_t start_ticks;
	double timeout_s; /* a master's --timeout, 0 when not given */
	char app[GO_APP_LEN];
};

struct found_list {
	struct found *v;
	size_t n, cap;
};

/* Gunicorn settings found in one list of arguments (pointers into it). */
struct gunicorn_args {
	const char *name, *target, *bind, *config;
	double timeout_s; /* 0 when absent */
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
/* The app label of a master: --name or the proc title's name, else the
 * WSGI target, else the first --bind, else "gunicorn". */
void gunicorn_app_name(const struct cmdline *c, char *out, size_t size);
/* The --timeout/-t of a Gunicorn command line in seconds, 0 when absent. */
double gunicorn_timeout(const struct cmdline *c);

/* Every Gunicorn master under ROOT and its workers, masters first. */
int discover_scan(const char *root, struct found_list *out);
/* The workers of one master (children with a Gunicorn command line). */
int discover_workers(const char *root, pid_t master, struct found_list *out);
void found_list_free(struct found_list *l);

#endif
