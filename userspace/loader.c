/* loader.c - the BPF side's life: preflight checks, open, set rodata, load,
 * attach, ring buffer; and tracking a process from userspace. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "loader.h"
#include "log.h"
#include "observer.skel.h"
#include "saved.h"

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's debug output (every relocation) is for developers only */
	if (level == LIBBPF_DEBUG)
		return 0;
	if (level == LIBBPF_INFO && log_level < LOG_DEBUG)
		return 0;
	if (log_level < LOG_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int tracefs_ready(void)
{
	return access("/sys/kernel/tracing/events/syscalls", F_OK) == 0 ||
	       access("/sys/kernel/debug/tracing/events/syscalls", F_OK) == 0;
}

int loader_preflight(void)
{
	if (geteuid() != 0) {
		fprintf(stderr,
			"gunicorn-observer: must run as root (it loads BPF programs): run it with sudo\n");
		return -1;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		fprintf(stderr, "gunicorn-observer: /sys/kernel/btf/vmlinux is missing: run a kernel built "
				"with CONFIG_DEBUG_INFO_BTF=y (5.8 or later)\n");
		return -1;
	}
	if (!tracefs_ready() && mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) != 0 &&
	    errno != EBUSY) {
		fprintf(stderr,
			"gunicorn-observer: tracefs is not mounted and mounting it failed (%s): run 'mount "
			"-t tracefs nodev /sys/kernel/tracing'\n",
			strerror(errno));
		return -1;
	}
	if (!tracefs_ready()) {
		fprintf(
		    stderr,
		    "gunicorn-observer: no syscall tracepoints under /sys/kernel/tracing/events/syscalls: "
		    "run a kernel built with CONFIG_FTRACE_SYSCALLS=y\n");
		return -1;
	}
	return 0;
}

/* Our PID namespace, so BPF reports pids as our /proc shows them. */
static void set_pidns(struct observer_bpf *skel)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st) != 0)
		return; /* keep the initial namespace */
	skel->rodata->pidns_inum = (__u32)st.st_ino;
	if (st.st_ino != 0xEFFFFFFCU)
		log_info("running in a PID namespace of its own (inode %lu): reporting its pids",
			 (unsigned long)st.st_ino);
}

/* From Linux 5.15 (bpf_task_pt_regs) the exit programs read a syscall's
 * arguments from the registers saved at its entry: the entry programs that
 * would only stash them for the exit are not loaded, so a read or a write
 * runs one program instead of two. */
static void skip_stash_programs(struct observer_bpf *skel)
{
	struct bpf_program *stashers[] = {
		skel->progs.enter_read,    skel->progs.enter_recvfrom, skel->progs.enter_readv,
		skel->progs.enter_recvmsg, skel->progs.enter_write,    skel->progs.enter_sendto,
		skel->progs.enter_writev,  skel->progs.enter_sendmsg,  skel->progs.enter_sendfile,
	};

	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_task_pt_regs, NULL) != 1)
		return;
	for (size_t i = 0; i < sizeof(stashers) / sizeof(stashers[0]); i++)
		bpf_program__set_autoload(stashers[i], false);
}

static void set_bounds(struct observer_bpf *skel, const struct go_config *c)
{
	for (size_t i = 0; i < c->ndur; i++)
		skel->rodata->dur_bounds_ns[i] = (__u64)(c->dur_bounds[i] * 1e9 + 0.5);
	skel->rodata->n_dur_bounds = (__u32)c->ndur;
	for (size_t i = 0; i < c->nsize; i++)
		skel->rodata->size_bounds[i] = (__u64)c->size_bounds[i];
	skel->rodata->n_size_bounds = (__u32)c->nsize;
}

/* Attaches the programs, or keeps those a previous observer of the same
 * build and settings left running on the pinned maps: either way no event
 * goes uncounted across the restart. */
static int attach(struct loader *l)
{
	int err;

	if (pin_find_links(&l->pin, l->skel->skeleton) == 1) {
		log_info("kept the programs left running in %s: counting went on meanwhile", l->pin.links);
		return 0;
	}
	err = observer_bpf__attach(l->skel);
	if (err == 0 && l->pin.dir[0] && pin_links(&l->pin, l->skel->skeleton) == 0)
		log_info("pinned maps and programs in %s: they keep counting across restarts", l->pin.dir);
	return err;
}

int loader_open(struct loader *l, const struct go_config *c, ring_buffer_sample_fn on_event, void *ctx)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->pin.lock_fd = -1;
	l->saved_fd = -1;
	libbpf_set_print(libbpf_print);
	l->nr_cpus = libbpf_num_possible_cpus();
	if (l->nr_cpus <= 0) {
		fprintf(stderr,
			"gunicorn-observer: cannot count CPUs from /sys/devices/system/cpu/possible\n");
		return -1;
	}
	l->skel = observer_bpf__open();
	if (!l->skel) {
		fprintf(stderr, "gunicorn-observer: cannot open the BPF object: %s\n", strerror(errno));
		return -1;
	}
	set_bounds(l->skel, c);
	set_pidns(l->skel);
	skip_stash_programs(l->skel);
	if (bpf_map__set_max_entries(l->skel->maps.conns, c->max_conns)) {
		fprintf(stderr, "gunicorn-observer: cannot size the connection map to %u entries\n",
			c->max_conns);
		goto fail;
	}
	if (c->pin && (pin_begin(&l->pin, c->pin_dir) || pin_maps(&l->pin, l->skel->obj)))
		goto fail;
	err = observer_bpf__load(l->skel);
	if (err) {
		fprintf(stderr,
			"gunicorn-observer: the kernel refused the BPF programs (%s): run with --log-level "
			"debug to see the verifier log\n",
			strerror(-err));
		goto fail;
	}
	err = attach(l);
	if (err) {
		fprintf(stderr,
			"gunicorn-observer: attaching to tracepoints failed (%s): check that tracefs is "
			"mounted and the syscalls/sched tracepoints exist\n",
			strerror(-err));
		goto fail;
	}
	l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.events), on_event, ctx, NULL);
	if (!l->rb) {
		fprintf(stderr, "gunicorn-observer: cannot open the event ring buffer: %s\n",
			strerror(errno));
		goto fail;
	}
	l->procs_fd = bpf_map__fd(l->skel->maps.procs);
	l->conns_fd = bpf_map__fd(l->skel->maps.conns);
	l->stats_fd = bpf_map__fd(l->skel->maps.stats);
	l->codes_fd = bpf_map__fd(l->skel->maps.codes);
	l->drops_fd = bpf_map__fd(l->skel->maps.drops);
	l->msigs_fd = bpf_map__fd(l->skel->maps.msigs);
	l->stash_fd = bpf_map__fd(l->skel->maps.stash);
	if (l->pin.dir[0])
		l->saved_fd = saved_open(l->pin.dir);
	return 0;
fail:
	loader_close(l);
	return -1;
}

void loader_close(struct loader *l)
{
	ring_buffer__free(l->rb);
	if (l->skel)
		pin_keep_links(&l->pin, l->skel->skeleton);
	observer_bpf__destroy(l->skel);
	pin_end(&l->pin);
	if (l->saved_fd >= 0)
		close(l->saved_fd);
	memset(l, 0, sizeof(*l));
	l->pin.lock_fd = -1;
	l->saved_fd = -1;
}

int loader_track(struct loader *l, pid_t pid, pid_t master, int role)
{
	struct go_proc p = { .master = (__u32)master, .role = (__u32)role };
	__u32 key = (__u32)pid;
	struct go_worker_stats *vals;
	int err = 0;

	if (bpf_map_update_elem(l->procs_fd, &key, &p, BPF_ANY)) {
		log_warn("cannot track pid %d: %s", (int)pid, strerror(errno));
		return -1;
	}
	if (role != GO_ROLE_WORKER)
		return 0;
	vals = calloc((size_t)l->nr_cpus, sizeof(*vals));
	if (!vals)
		return -1;
	for (int i = 0; i < l->nr_cpus; i++)
		vals[i].master = (__u32)master;
	/* a worker forked while we were scanning already has its entry */
	if (bpf_map_update_elem(l->stats_fd, &key, vals, BPF_NOEXIST) && errno != EEXIST) {
		log_warn("cannot create stats for pid %d: %s", (int)pid, strerror(errno));
		err = -1;
	}
	free(vals);
	return err;
}

void loader_untrack(struct loader *l, pid_t pid)
{
	__u32 key = (__u32)pid;

	bpf_map_delete_elem(l->procs_fd, &key);
}
