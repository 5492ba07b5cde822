/* uprobe.h - uprobes that fire only in the processes they are bound to:
 * a probe point made in tracefs (uprobe_events), a perf event per process
 * that holds it (inherited by the children it forks from then on, not
 * kept across exec), and one perf event of the observer's own that carries
 * the BPF program, which then runs for every process the point is bound
 * to. A process that maps the same file but holds no event never has the
 * breakpoint written into its memory. */
#ifndef OBS_UPROBE_H
#define OBS_UPROBE_H

#include <bpf/libbpf.h>
#include <stdint.h>
#include <sys/types.h>

/* Probe points of this observer: group "gunicorn_observer_<pid>". */
struct uprobe_group {
	char name[48];
};

void uprobe_group_init(struct uprobe_group *g);
/* Removes the probe points of observers that are no longer running. */
void uprobe_remove_stale(void);
/* Makes probe point name (return probe when ret) at offset off of path;
 * returns its tracepoint id, or -1 with errno set. */
int uprobe_point(const struct uprobe_group *g, const char *name, const char *path, uint64_t off, int ret);
void uprobe_point_remove(const struct uprobe_group *g, const char *name);
/* An enabled perf event of point id bound to process pid (inherit: and to
 * the children it forks later); returns its fd or -1 with errno set. */
int uprobe_bind(int id, pid_t pid, int inherit);
/* Runs prog whenever point id fires in a process bound to it. */
struct bpf_link *uprobe_carry(int id, struct bpf_program *prog);

#endif
