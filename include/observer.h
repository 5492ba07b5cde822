/* observer.h - the ABI shared by the BPF programs and the userspace loader:
 * map keys and values, event records, limits. Kept free of logic so both
 * sides can include it (BPF through vmlinux.h, the host through linux/types.h).
 */
#ifndef OBS_OBSERVER_H
#define OBS_OBSERVER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "http_frame.h"

#define OBS_MAX_DUR_BOUNDS  31 /* duration bucket bounds; one more bucket for +Inf */
#define OBS_MAX_SIZE_BOUNDS 23 /* size bucket bounds; one more bucket for +Inf */
#define OBS_COMM_LEN        16

/* Defaults; the loader sizes the per-worker maps from --max-workers (W):
 * stats W, codes OBS_CODES_PER_WORKER * W, procs OBS_PROCS_PER_WORKER * W
 * (masters and workers), msigs W. */
#define OBS_MAX_WORKERS       4096
#define OBS_MAX_WORKERS_LIMIT 262144 /* the most --max-workers takes */
#define OBS_CODES_PER_WORKER  4
#define OBS_PROCS_PER_WORKER  2
#define OBS_MAX_PROCS         (OBS_PROCS_PER_WORKER * OBS_MAX_WORKERS)
#define OBS_MAX_CONNS         65536
#define OBS_MAX_CODES         (OBS_CODES_PER_WORKER * OBS_MAX_WORKERS)
#define OBS_MAX_STASH         16384
#define OBS_MAX_MSIGS         OBS_MAX_WORKERS
#define OBS_MAX_TLS_CALLS     16384 /* threads of workers inside an SSL call at once */
/* pids are below PID_MAX_LIMIT (2^22 on 64-bit): one bit each */
#define OBS_PID_LIMIT 4194304
#define OBS_PID_WORDS (OBS_PID_LIMIT / 64)

/* Role of a tracked process in the procs map. */
enum obs_role {
	OBS_ROLE_MASTER = 1,
	OBS_ROLE_WORKER = 2,
};

/* procs map value, keyed by tgid. */
struct obs_proc {
	__u32 master; /* master tgid; equal to the key for a master */
	__u32 role;   /* enum obs_role */
};

/* State of one inbound connection of a worker. */
enum obs_conn_state {
	OBS_CONN_IDLE = 0,     /* nothing in progress: adopted, or the last response ended */
	OBS_CONN_REQUEST = 1,  /* request bytes seen, its final response not begun */
	OBS_CONN_RESPONSE = 2, /* the final response is being written */
};

/* How a conns entry is keyed: by the data plane that wrote it. */
enum obs_conn_keying {
	OBS_KEY_COOKIE = 1, /* socket data plane: the socket's cookie */
	OBS_KEY_FD = 2,     /* syscall data plane: obs_fd_key() of {tgid, fd} */
};

/* The syscall data plane's key of a worker's descriptor. */
static inline __u64 obs_fd_key(__u32 tgid, __s32 fd)
{
	return (__u64)tgid | ((__u64)(__u32)fd << 32);
}

struct obs_conn {
	__u64 sk;           /* the struct sock (socket plane), to tell a closed one */
	__u64 req_start_ns; /* first byte of the current request */
	__u64 last_send_ns; /* last response byte of the current request */
	__u64 req_bytes;
	__u64 resp_bytes;
	struct obs_frame frame; /* where the response being written ends */
	__u32 tgid;             /* the worker that read the current request */
	__u8 state;             /* enum obs_conn_state */
	__u8 send_failed;       /* a write of the response failed: the peer is gone */
	__u8 keying;            /* enum obs_conn_keying */
	__u8 peer_closed;       /* the peer closed or reset; finished once the worker lets go */
	__u8 upgraded;          /* a 101 switched it to another protocol: no more HTTP */
	__u8 implicit;          /* the response began with no request read (pipelined) */
	__u8 tls;               /* TLS: requests come from the SSL calls, the socket's bytes are ciphertext */
	__u8 pad[5];
};

/* Per worker aggregates, in a hash keyed by worker tgid, added to
 * atomically. Counters only grow. Buckets are not cumulative: userspace
 * accumulates them. */
struct obs_worker_stats {
	__u32 master;
	__u32 pad;
	__u64 requests;
	__s64 in_flight;
	__u64 aborted;
	__u64 failed_5xx;
	__u64 dur_sum_ns;
	__u64 req_bytes_sum;
	__u64 resp_bytes_sum;
	__u64 dur_buckets[OBS_MAX_DUR_BOUNDS + 1];
	__u64 req_buckets[OBS_MAX_SIZE_BOUNDS + 1];
	__u64 resp_buckets[OBS_MAX_SIZE_BOUNDS + 1];
};

/* Responses by worker and status code. */
struct obs_code_key {
	__u32 tgid;
	__u32 code;
};

/* Why an event was not counted; index into the per-CPU drops array. */
enum obs_drop_reason {
	OBS_DROP_CONN_MAP_FULL = 0,
	OBS_DROP_STASH_MAP_FULL,
	OBS_DROP_STATS_MISSING,
	OBS_DROP_CODE_MAP_FULL,
	OBS_DROP_PROC_MAP_FULL,
	OBS_DROP_RINGBUF_FULL,
	OBS_DROP_READ_FAILED,
	OBS_DROP_STATS_MAP_FULL,  /* a worker's aggregates could not be created: --max-workers */
	OBS_DROP_SIGNAL_MAP_FULL, /* a master's signal could not be counted */
	OBS_DROP_TLS_MAP_FULL,    /* an SSL call or an SSL object's socket could not be kept */
	OBS_DROP_MAX,
};

/* Rare process events sent to userspace through the ring buffer. */
enum obs_event_type {
	OBS_EV_EXEC = 1,
	OBS_EV_FORK = 2,
	OBS_EV_EXIT = 3,
	OBS_EV_SIGNAL = 4, /* a signal generated for a tracked process */
	OBS_EV_OOM = 5,    /* the OOM killer chose a tracked process */
};

/* Signals delivered to masters, counted by {master tgid, signal}. */
struct obs_sig_key {
	__u32 tgid;
	__u32 sig;
};

struct obs_event {
	__u32 type; /* enum obs_event_type */
	__u32 pid;  /* the process the event is about (tgid) */
	__u32 ppid; /* exec: parent tgid; fork, exit: master tgid; signal: sender tgid */
	__u32 role; /* enum obs_role of pid, 0 when untracked */
	__s32 code; /* exit: the kernel's exit code; signal: the signal number */
	__u32 pad;
	__u64 ts_ns;
	__u64 cpu_ns;       /* exit: CPU time the process used */
	__u64 maxrss_pages; /* exit: its peak resident set size, in pages */
};

#endif /* OBS_OBSERVER_H */
