/* procfs.c - readers of /proc/PID/{cmdline,stat} and the pid list. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/procfs.h"

/* Reads fd into buf (NUL-terminated) and closes it. */
static ssize_t read_all(int fd, char *buf, size_t size)
{
	size_t off = 0;

	if (fd < 0 || size == 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (off < size - 1) {
		ssize_t n = read(fd, buf + off, size - 1 - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	return (ssize_t)off;
}

ssize_t procfs_read(const char *path, char *buf, size_t size)
{
	return read_all(open(path, O_RDONLY | O_CLOEXEC), buf, size);
}

ssize_t procfs_read_regular(const char *path, char *buf, size_t size)
{
	/* O_NONBLOCK: opening a FIFO does not wait for a writer */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;

	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return read_all(fd, buf, size);
}

void procfs_split_cmdline(struct cmdline *out, size_t len)
{
	size_t i = 0;

	out->argc = 0;
	/* a title set with setproctitle may end in padding NULs or spaces */
	while (i < len && out->argc < OBS_MAX_ARGS) {
		if (out->buf[i] == '\0') {
			i++;
			continue;
		}
		out->argv[out->argc++] = out->buf + i;
		i += strlen(out->buf + i) + 1;
	}
}

int procfs_cmdline(const char *root, pid_t pid, struct cmdline *out)
{
	char path[128];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%d/cmdline", root, (int)pid);
	n = procfs_read(path, out->buf, sizeof(out->buf));
	if (n <= 0)
		return -1;
	procfs_split_cmdline(out, (size_t)n);
	return out->argc > 0 ? 0 : -1;
}

int procfs_pidstat(const char *root, pid_t pid, struct pidstat *out)
{
	char path[128], buf[1024], *p;
	unsigned long long ut, st, start, rss;
	int parent;

	snprintf(path, sizeof(path), "%s/%d/stat", root, (int)pid);
	if (procfs_read(path, buf, sizeof(buf)) <= 0)
		return -1;
	/* comm may hold spaces and parentheses: fields resume after the last ')' */
	p = strrchr(buf, ')');
	if (!p || !p[1])
		return -1;
	/* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime priority nice num_threads
	 * itrealvalue starttime vsize rss */
	if (sscanf(
		p + 2,
		"%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %*u %llu",
		&parent, &ut, &st, &start, &rss) != 5)
		return -1;
	out->ppid = parent;
	out->utime = ut;
	out->stime = st;
	out->start_ticks = start;
	out->rss_pages = rss;
	return 0;
}

int procfs_stat(const char *root, pid_t pid, pid_t *ppid, uint64_t *start_ticks)
{
	struct pidstat ps;

	if (procfs_pidstat(root, pid, &ps))
		return -1;
	if (ppid)
		*ppid = ps.ppid;
	if (start_ticks)
		*start_ticks = ps.start_ticks;
	return 0;
}

int procfs_each_pid(const char *root, int (*fn)(pid_t pid, void *arg), void *arg)
{
	DIR *d = opendir(root);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -1;
	while (!rc && (de = readdir(d))) {
		char *end;
		long pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		rc = fn((pid_t)pid, arg);
	}
	closedir(d);
	return rc;
}
