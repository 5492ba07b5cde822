/* uprobe.c - uprobes bound to processes (uprobe.h). Made through tracefs
 * rather than the perf "uprobe" PMU: an event of that PMU names its file
 * by a pointer into the opener's memory, which a child inheriting the
 * event cannot follow, while a tracefs point is one id that every event,
 * inherited or not, refers to. The BPF program is attached once per point
 * (the kernel runs a point's programs for each hit, whichever event let
 * the hit through); the processes' events only decide where it fires. */
#include "kernel/uprobe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/procfs.h"

#define TRACEFS     "/sys/kernel/tracing"
#define GROUP_STEM  "gunicorn_observer_"
#define EVENTS_FILE TRACEFS "/uprobe_events"

void uprobe_group_init(struct uprobe_group *g)
{
	snprintf(g->name, sizeof(g->name), GROUP_STEM "%d", (int)getpid());
}

static int write_events(const char *line)
{
	int fd = open(EVENTS_FILE, O_WRONLY | O_APPEND | O_CLOEXEC), e;
	size_t n = strlen(line);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = write(fd, line, n);
	e = errno;
	close(fd);
	errno = e;
	return w == (ssize_t)n ? 0 : -1;
}

void uprobe_point_remove(const struct uprobe_group *g, const char *name)
{
	char line[160];

	snprintf(line, sizeof(line), "-:%s/%s\n", g->name, name);
	if (write_events(line) && errno != ENOENT)
		log_warn("cannot remove uprobe %s/%s: %s", g->name, name, strerror(errno));
}

/* The points of observers that are gone (killed before they removed theirs). */
void uprobe_remove_stale(void)
{
	char path[512];
	struct dirent *e;
	DIR *d = opendir(TRACEFS "/events");

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		struct uprobe_group g;
		struct dirent *ev;
		DIR *gd;
		long pid;

		if (strncmp(e->d_name, GROUP_STEM, strlen(GROUP_STEM)) != 0 ||
		    strlen(e->d_name) >= sizeof(g.name))
			continue;
		pid = strtol(e->d_name + strlen(GROUP_STEM), NULL, 10);
		if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		memcpy(g.name, e->d_name, strlen(e->d_name) + 1);
		snprintf(path, sizeof(path), TRACEFS "/events/%s", e->d_name);
		gd = opendir(path);
		if (!gd)
			continue;
		while ((ev = readdir(gd)) != NULL)
			if (ev->d_name[0] != '.' && ev->d_type == DT_DIR)
				uprobe_point_remove(&g, ev->d_name);
		closedir(gd);
		log_info("removed the uprobes a stopped observer (pid %ld) left", pid);
	}
	closedir(d);
}

int uprobe_point(const struct uprobe_group *g, const char *name, const char *path, uint64_t off, int ret)
{
	char line[4352], idpath[256], buf[32];

	snprintf(line, sizeof(line), "%c:%s/%s %s:0x%llx\n", ret ? 'r' : 'p', g->name, name, path,
		 (unsigned long long)off);
	if (write_events(line) && errno != EEXIST)
		return -1;
	snprintf(idpath, sizeof(idpath), TRACEFS "/events/%s/%s/id", g->name, name);
	if (procfs_read(idpath, buf, sizeof(buf)) <= 0)
		return -1;
	return atoi(buf);
}

static int perf_open(int id, pid_t pid, int inherit, int remove_on_exec)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_TRACEPOINT;
	a.config = (__u64)id;
	a.sample_period = 1;
	a.wakeup_events = 1;
	a.inherit = (__u64)(inherit != 0);
	a.remove_on_exec = (__u64)(remove_on_exec != 0);
	return (int)syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

int uprobe_bind(int id, pid_t pid, int inherit)
{
	/* a child that execs another program no longer wants the probes (5.13) */
	int fd = perf_open(id, pid, inherit, inherit);

	if (fd < 0 && errno == EINVAL && inherit)
		fd = perf_open(id, pid, inherit, 0);
	if (fd < 0)
		return -1;
	if (ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

struct bpf_link *uprobe_carry(int id, struct bpf_program *prog)
{
	/* bound to the observer, which maps no libssl: it adds no process */
	int fd = perf_open(id, getpid(), 0, 0);
	struct bpf_link *l;

	if (fd < 0)
		return NULL;
	l = bpf_program__attach_perf_event(prog, fd);
	if (!l) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return l;
}
