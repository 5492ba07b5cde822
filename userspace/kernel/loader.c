/* loader.c - the BPF side's life: preflight checks, open, set rodata, load,
 * attach, ring buffer; and tracking a process from userspace. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "kernel/loader.h"
#include "kernel/maps.h"
#include "kernel/plane.h"
#include "lib/log.h"
#include "observer.skel.h"

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

/* Why this data plane, for the one line logged once it runs. */
static const char *plane_why = "";
/* What the kernel offers (the fentry plane's functions), from preflight. */
static struct plane_offer offer;

int loader_preflight(const struct obs_config *c, enum obs_data_plane *plane)
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
	/* the OOM tracepoint is a classic one, whichever the data plane */
	if (tracefs_mount())
		return -1;
	plane_probe(&offer);
	if (plane_choose(&offer, c->data_plane, plane, &plane_why))
		return -1;
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

/* Loads the programs of one data plane only. The connection programs of
 * the socket and fentry planes fire on socket I/O alone (the fentry plane's
 * also on the kernel's own socket I/O, dismissed at the first test); the
 * syscall plane's on every read, write and close on the host. From Linux 5.15
 * (bpf_task_pt_regs) the syscall plane's exit programs read the arguments
 * from the registers saved at entry, and the entry programs that would
 * stash them are not loaded: a read or a write runs one program instead of
 * two. */
static void choose_programs(struct loader *l)
{
	struct observer_bpf *skel = l->skel;
	struct bpf_program *tps[] = { skel->progs.sock_recv, skel->progs.sock_send };
	struct bpf_program *sys_exits[] = {
		skel->progs.exit_read,    skel->progs.exit_recvfrom, skel->progs.exit_readv,
		skel->progs.exit_recvmsg, skel->progs.exit_write,    skel->progs.exit_sendto,
		skel->progs.exit_writev,  skel->progs.exit_sendmsg,  skel->progs.exit_sendfile,
	};
	struct bpf_program *stashers[] = {
		skel->progs.enter_read,    skel->progs.enter_recvfrom, skel->progs.enter_readv,
		skel->progs.enter_recvmsg, skel->progs.enter_write,    skel->progs.enter_sendto,
		skel->progs.enter_writev,  skel->progs.enter_sendmsg,  skel->progs.enter_sendfile,
	};
	struct bpf_program *tls[] = {
		skel->progs.ssl_read,     skel->progs.ssl_read_ex,      skel->progs.ssl_write,
		skel->progs.ssl_write_ex, skel->progs.ssl_do_handshake, skel->progs.ssl_return,
		skel->progs.ssl_free,
	};
	int sys = l->plane == OBS_PLANE_SYSCALL, fentry = l->plane == OBS_PLANE_FENTRY;
	int regs = sys && libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_task_pt_regs, NULL) == 1;

	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++)
		bpf_program__set_autoload(tps[i], l->plane == OBS_PLANE_SOCKET);
	for (int i = 0; i < PLANE_FEXIT_N; i++) {
		char name[48];

		snprintf(name, sizeof(name), "fexit_%s", plane_fexit_fns[i]);
		bpf_program__set_autoload(bpf_object__find_program_by_name(skel->obj, name),
					  fentry && (offer.fexit_fns & (1U << i)));
	}
	skel->rodata->sendpage_hooked = (__u8)(fentry && (offer.fexit_fns >> PLANE_FEXIT_SENDPAGE));
	/* both socket planes end connections at TCP state changes and by the sweep */
	bpf_program__set_autoload(skel->progs.sock_state, !sys);
	bpf_program__set_autoload(skel->progs.sweep_conns, !sys);
	bpf_program__set_autoattach(skel->progs.sweep_conns, false);
	for (size_t i = 0; i < sizeof(sys_exits) / sizeof(sys_exits[0]); i++)
		bpf_program__set_autoload(sys_exits[i], sys);
	for (size_t i = 0; i < sizeof(stashers) / sizeof(stashers[0]); i++)
		bpf_program__set_autoload(stashers[i], sys && !regs);
	bpf_program__set_autoload(skel->progs.enter_close, sys);
	bpf_program__set_autoload(skel->progs.enter_shutdown, sys);
	skel->rodata->use_entry_regs = (__u8)regs;
	/* the TLS probes are bound to processes by hand (model/tls.c) */
	for (size_t i = 0; i < sizeof(tls) / sizeof(tls[0]); i++)
		bpf_program__set_autoattach(tls[i], false);
	/* the stash is for the entry programs alone */
	if (!sys || regs)
		bpf_map__set_max_entries(skel->maps.stash, 1);
}

static void set_bounds(struct observer_bpf *skel, const struct obs_config *c)
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

/* Entries another data plane left in the pinned connection map: their keys
 * mean nothing to this one. */
static int other_plane(const void *key, const void *value, void *ctx)
{
	const struct obs_conn *c = value;

	(void)key;
	return c->keying != *(const __u8 *)ctx;
}

/* Events since which a sweep may find work (sock.bpf.c sweep_due), summed
 * over CPUs; -1 when unreadable. */
static long long sweep_due(struct loader *l)
{
	__u64 *cpu = calloc((size_t)l->nr_cpus, sizeof(*cpu));
	long long sum = -1;
	__u32 zero = 0;

	if (cpu && bpf_map_lookup_elem(bpf_map__fd(l->skel->maps.sweep_due), &zero, cpu) == 0)
		for (int i = sum = 0; i < l->nr_cpus; i++)
			sum += (long long)cpu[i];
	free(cpu);
	return sum;
}

#define SWEEP_AT_LEAST_S 10 /* whatever sweep_due says: a safety net */

int loader_sweep(struct loader *l)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	__u64 args[1] = { 0 };
	time_t now = time(NULL);
	long long due;

	if (l->sweep_fd < 0)
		return 0;
	due = sweep_due(l);
	if (due >= 0 && due == l->sweep_seen && l->skel->bss->sweep_left == 0 &&
	    now - l->sweep_at < SWEEP_AT_LEAST_S)
		return 0; /* nothing a sweep could end */
	opts.ctx_in = args;
	opts.ctx_size_in = sizeof(args);
	if (bpf_prog_test_run_opts(l->sweep_fd, &opts)) {
		log_warn("cannot sweep the closed connections: %s", strerror(errno));
		return -1;
	}
	l->sweep_seen = due;
	l->sweep_at = now;
	return (int)opts.retval;
}

/* The kernel memory behind descriptor fd (a map or a program): the
 * "memlock:" line of its fdinfo; 0 when it has none. */
static unsigned long long fd_memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* What each map, and the programs together, hold of kernel memory. */
static void read_memory(struct loader *l)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	__u64 progs = 0;

	bpf_object__for_each_map(map, l->skel->obj)
	{
		const char *name = bpf_map__name(map), *dot = strrchr(name, '.');
		struct bpf_mem *m = &l->mem[l->nmem];

		if (bpf_map__fd(map) < 0 || l->nmem + 1 >= OBS_MAX_BPF_MEM)
			continue;
		snprintf(m->name, sizeof(m->name), "%s", dot ? dot + 1 : name);
		m->bytes = fd_memlock(bpf_map__fd(map));
		l->nmem++;
	}
	bpf_object__for_each_program(prog, l->skel->obj) if (bpf_program__fd(prog) >= 0) progs +=
	    fd_memlock(bpf_program__fd(prog));
	snprintf(l->mem[l->nmem].name, sizeof(l->mem[l->nmem].name), "programs");
	l->mem[l->nmem++].bytes = progs;
}

/* Sizes the maps from --max-connections and --max-workers (observer.h). */
static int size_maps(struct observer_bpf *skel, const struct obs_config *c)
{
	const struct {
		struct bpf_map *map;
		__u32 n;
	} sz[] = {
		{ skel->maps.conns, c->max_conns },
		{ skel->maps.tls_links, c->max_conns },
		{ skel->maps.stats, c->max_workers },
		{ skel->maps.codes, OBS_CODES_PER_WORKER * c->max_workers },
		{ skel->maps.procs, OBS_PROCS_PER_WORKER * c->max_workers },
		{ skel->maps.msigs, c->max_workers },
	};

	for (size_t i = 0; i < sizeof(sz) / sizeof(sz[0]); i++)
		if (bpf_map__set_max_entries(sz[i].map, sz[i].n)) {
			fprintf(stderr, "gunicorn-observer: cannot size map %s to %u entries\n",
				bpf_map__name(sz[i].map), sz[i].n);
			return -1;
		}
	return 0;
}

static void tls_flag(struct loader *l, __u32 on)
{
	__u32 zero = 0;

	if (map_update(bpf_map__fd(l->skel->maps.tls_on), &zero, &on, BPF_ANY))
		log_warn("cannot %s the TLS flag: %s", on ? "set" : "clear", strerror(errno));
}

void loader_tls_on(struct loader *l)
{
	tls_flag(l, 1);
}

void loader_tls_off(struct loader *l)
{
	tls_flag(l, 0);
}

static int any_entry(const void *key, const void *value, void *ctx)
{
	(void)key;
	(void)value;
	(void)ctx;
	return 1;
}

int loader_open(struct loader *l, const struct obs_config *c, enum obs_data_plane plane,
		ring_buffer_sample_fn on_event, void *ctx)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->plane = plane;
	l->sweep_fd = -1;
	l->sweep_seen = -1;
	l->pin.lock_fd = -1;
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
	choose_programs(l);
	if (size_maps(l->skel, c))
		goto fail;
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
			"gunicorn-observer: attaching the programs failed (%s): check that tracefs is "
			"mounted and the syscalls/sched tracepoints exist\n",
			strerror(-err));
		goto fail;
	}
	log_info("data plane: %s%s", plane_hooks(plane, &offer), plane_why);
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
	l->msigs_fd = bpf_map__fd(l->skel->maps.msigs);
	l->stash_fd = bpf_map__fd(l->skel->maps.stash);
	l->worker_bits = mmap(NULL, OBS_PID_WORDS * sizeof(__u64), PROT_READ | PROT_WRITE, MAP_SHARED,
			      bpf_map__fd(l->skel->maps.worker_bits), 0);
	if (l->worker_bits == MAP_FAILED) {
		fprintf(stderr, "gunicorn-observer: cannot map the worker bitmap: %s\n", strerror(errno));
		l->worker_bits = NULL;
		goto fail;
	}
	l->drops = mmap(NULL, OBS_DROP_MAX * sizeof(__u64), PROT_READ | PROT_WRITE, MAP_SHARED,
			bpf_map__fd(l->skel->maps.drops), 0);
	if (l->drops == MAP_FAILED) {
		fprintf(stderr, "gunicorn-observer: cannot map the drop counters: %s\n", strerror(errno));
		l->drops = NULL;
		goto fail;
	}
	if (plane != OBS_PLANE_SYSCALL)
		l->sweep_fd = bpf_program__fd(l->skel->progs.sweep_conns);
	read_memory(l);
	/* calls an earlier run's probes saw enter and never return: no probe is bound now */
	tls_flag(l, 0);
	map_delete_if(bpf_map__fd(l->skel->maps.tls_calls), any_entry, NULL);
	if (!l->pin.reused) {
		__u8 keying = plane == OBS_PLANE_SYSCALL ? OBS_KEY_FD : OBS_KEY_COOKIE;
		long n = map_delete_if(l->conns_fd, other_plane, &keying);

		if (n > 0)
			log_info("dropped %ld connections another data plane was following", n);
	}
	return 0;
fail:
	loader_close(l);
	return -1;
}

void loader_close(struct loader *l)
{
	if (l->worker_bits)
		munmap(l->worker_bits, OBS_PID_WORDS * sizeof(__u64));
	if (l->drops)
		munmap(l->drops, OBS_DROP_MAX * sizeof(__u64));
	ring_buffer__free(l->rb);
	if (l->skel)
		pin_keep_links(&l->pin, l->skel->skeleton);
	observer_bpf__destroy(l->skel);
	pin_end(&l->pin);
	memset(l, 0, sizeof(*l));
	l->pin.lock_fd = -1;
	l->sweep_fd = -1;
}

/* The bit of pid in the worker bitmap the BPF programs test first. */
static void worker_bit(struct loader *l, pid_t pid, int on)
{
	__u64 bit = 1ULL << ((__u32)pid & 63);

	if (!l->worker_bits || pid <= 0 || pid >= OBS_PID_LIMIT)
		return;
	if (on)
		__atomic_fetch_or(&l->worker_bits[(__u32)pid >> 6], bit, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&l->worker_bits[(__u32)pid >> 6], ~bit, __ATOMIC_SEQ_CST);
}

int loader_track(struct loader *l, pid_t pid, pid_t master, int role)
{
	struct obs_proc p = { .master = (__u32)master, .role = (__u32)role };
	struct obs_worker_stats st = { .master = (__u32)master };
	__u32 key = (__u32)pid;
	int err = 0;

	if (map_update(l->procs_fd, &key, &p, BPF_ANY)) {
		log_warn("cannot track pid %d: %s", (int)pid, strerror(errno));
		return -1;
	}
	if (role != OBS_ROLE_WORKER)
		return 0;
	/* a worker forked while we were scanning already has its entry */
	if (map_update(l->stats_fd, &key, &st, BPF_NOEXIST) && errno != EEXIST) {
		if (errno == E2BIG) /* full: counted as the fork tracepoint counts it */
			__atomic_fetch_add(&l->drops[OBS_DROP_STATS_MAP_FULL], 1, __ATOMIC_RELAXED);
		else
			log_warn("cannot create stats for pid %d: %s", (int)pid, strerror(errno));
		err = -1;
	}
	worker_bit(l, pid, 1);
	return err;
}

struct bpf_program *loader_program(struct loader *l, const char *name)
{
	return bpf_object__find_program_by_name(l->skel->obj, name);
}

void loader_untrack(struct loader *l, pid_t pid)
{
	__u32 key = (__u32)pid;

	worker_bit(l, pid, 0);
	map_delete(l->procs_fd, &key);
}
