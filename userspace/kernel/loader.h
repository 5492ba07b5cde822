/* loader.h - opening, configuring, loading and attaching the BPF side, and
 * the few map writes userspace makes (tracking processes, the sweep). */
#ifndef OBS_LOADER_H
#define OBS_LOADER_H

#include <bpf/libbpf.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "config/config.h"
#include "kernel/pin.h"

#define OBS_MAX_BPF_MEM 32 /* maps, and one line for the programs */

/* Kernel memory held by one BPF map, or by all the programs (name
 * "programs"): its memlock, fixed once loaded (every map is preallocated). */
struct bpf_mem {
	char name[24];
	uint64_t bytes;
};

struct observer_bpf;

struct loader {
	struct observer_bpf *skel;
	struct ring_buffer *rb;
	int nr_cpus;
	enum obs_data_plane plane; /* socket, fentry or syscall, never auto */
	int procs_fd, conns_fd, stats_fd, codes_fd, msigs_fd, stash_fd;
	int sweep_fd;                        /* the socket and fentry planes' sweep, -1 otherwise */
	long long sweep_seen;                /* sweep_due when the last sweep ran */
	time_t sweep_at;                     /* and when */
	__u64 *worker_bits;                  /* the worker_bits map, mapped: a bit per tracked worker's pid */
	struct pin pin;                      /* empty dir when nothing is pinned */
	struct bpf_mem mem[OBS_MAX_BPF_MEM]; /* read once loaded */
	__u64 *drops;                        /* the drops map, mapped: a counter per enum obs_drop_reason */
	size_t nmem;
};

/* Checks what the kernel and the user must provide and chooses the data
 * plane (logged in one line); prints one line that says what to do and
 * returns -1 when something is missing. */
int loader_preflight(const struct obs_config *c, enum obs_data_plane *plane);
int loader_open(struct loader *l, const struct obs_config *c, enum obs_data_plane plane,
		ring_buffer_sample_fn on_event, void *ctx);
/* Ends, in the kernel, the connections whose socket was closed unseen
 * (socket and fentry planes); returns how many, -1 on error. It runs only when one
 * could have been (a unix connection, a reset) since the last run, or 10 s
 * after it. */
int loader_sweep(struct loader *l);
void loader_close(struct loader *l);
/* Adds a master or worker to the kernel's filter (and a worker's stats). */
int loader_track(struct loader *l, pid_t pid, pid_t master, int role);
void loader_untrack(struct loader *l, pid_t pid);
/* The loaded program called name (the TLS probes' are attached by hand). */
struct bpf_program *loader_program(struct loader *l, const char *name);
/* Tells the data planes' programs that TLS probes are (or are no longer) bound somewhere. */
void loader_tls_on(struct loader *l);
void loader_tls_off(struct loader *l);

#endif
