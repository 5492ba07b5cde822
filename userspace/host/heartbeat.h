/* heartbeat.h - a Gunicorn worker's heartbeat read from its temp file, as
 * the master reads it: which of the worker's fds is its WorkerTmp file
 * ("wgunicorn-XXXX", made by the master before fork), and how long ago the
 * worker last touched it. The /proc root is a parameter so the unit tests
 * can point it at a fake tree. */
#ifndef OBS_HEARTBEAT_H
#define OBS_HEARTBEAT_H

#include <stddef.h>
#include <sys/types.h>

/* A worker holding more wgunicorn- files than this is left unresolved (a
 * Gunicorn before 19.8 leaves a worker the files of every worker forked
 * before it); a master holding more than 2n + HB_MAX_FILES for n workers is
 * refused (its workers cannot be the n the caller knows). */
#define HB_MAX_FILES 256

/* One worker's heartbeat file: its fd in the worker and the inode it named
 * when found. fd -1: not known. */
struct hb_file {
	int fd;
	dev_t dev;
	ino_t ino;
};

/* Finds the heartbeat files of n live workers of master under proc_root
 * ("/proc" or a fake tree); out[i] for workers[i], fd -1 where a worker's
 * file cannot be told apart from the others' or is not there. Reads each fd
 * directory once. Returns how many were found, -1 when the master's fds
 * cannot be read, are too many (see HB_MAX_FILES) or memory runs out. */
int heartbeat_find(const char *proc_root, pid_t master, const pid_t *workers, size_t n, struct hb_file *out);

/* Seconds since worker pid last touched f, as its master computes it (the
 * ctime of a Gunicorn before 21, the monotonic mtime since), never below 0;
 * one stat() of /proc/PID/fd/N. Returns < 0 when f is not known, cannot be
 * read or no longer names the same inode; the last two set f->fd to -1, so
 * the caller calls heartbeat_find again. now_real: CLOCK_REALTIME and
 * now_mono: CLOCK_MONOTONIC, in seconds. */
double heartbeat_age(const char *proc_root, pid_t pid, struct hb_file *f, double now_real, double now_mono);

#endif
