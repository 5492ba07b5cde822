/* procfs.h - small readers of /proc. The root is a parameter so the unit
 * tests can point them at a fake tree. */
#ifndef OBS_PROCFS_H
#define OBS_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OBS_MAX_ARGS 64

/* A process command line split into arguments (argv[i] point into buf). */
struct cmdline {
	char buf[4096];
	int argc;
	char *argv[OBS_MAX_ARGS];
};

/* Reads a whole small file into buf (NUL-terminated); returns bytes or -1. */
ssize_t procfs_read(const char *path, char *buf, size_t size);
/* The same for a file named by someone else (a master's config file): only
 * a regular file is read, so a FIFO or a device never blocks us. */
ssize_t procfs_read_regular(const char *path, char *buf, size_t size);
/* Reads /proc/PID/cmdline; returns -1 when the process is gone or has none. */
int procfs_cmdline(const char *root, pid_t pid, struct cmdline *out);
/* Splits a NUL-separated command line of len bytes held in out->buf. */
void procfs_split_cmdline(struct cmdline *out, size_t len);
/* The fields of /proc/PID/stat the observer uses. */
struct pidstat {
	pid_t ppid;
	uint64_t utime, stime; /* clock ticks */
	uint64_t start_ticks;  /* clock ticks after boot */
	uint64_t rss_pages;
};

int procfs_pidstat(const char *root, pid_t pid, struct pidstat *out);
/* Parent pid and start time (clock ticks after boot) from /proc/PID/stat. */
int procfs_stat(const char *root, pid_t pid, pid_t *ppid, uint64_t *start_ticks);
/* Calls fn for every numeric entry of ROOT; stops early when fn returns
 * non-zero, and returns that value (-1 when ROOT cannot be read). */
int procfs_each_pid(const char *root, int (*fn)(pid_t pid, void *arg), void *arg);

#endif
