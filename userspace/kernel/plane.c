/* plane.c - which data planes this kernel offers, and the choice of one:
 * the socket tracepoints (Linux 6.3 and later), else fexit programs on the
 * address families' receive and send functions (BPF trampolines, which a
 * kernel may refuse even when its BTF has the functions), else the
 * syscall tracepoints, which every syscall on the host pays for. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "kernel/plane.h"

const char *const plane_fexit_fns[PLANE_FEXIT_N] = {
	"inet_recvmsg",  "inet_sendmsg",  "unix_stream_recvmsg", "unix_stream_sendmsg",
	"inet6_recvmsg", "inet6_sendmsg", "inet_sendpage",       "unix_stream_sendpage",
};

static int has_typedef(const struct btf *btf, const char *name)
{
	return btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) > 0;
}

/* Does the kernel know BPF helper name (an enumerator of enum bpf_func_id)? */
static int has_helper(const struct btf *btf, const char *name)
{
	int id = btf__find_by_name_kind(btf, "bpf_func_id", BTF_KIND_ENUM);
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, (__u32)id) : NULL;
	const struct btf_enum *e = t ? btf_enum(t) : NULL;

	for (int i = 0; e && i < btf_vlen(t); i++)
		if (strcmp(btf__name_by_offset(btf, e[i].name_off), name) == 0)
			return 1;
	return 0;
}

/* Attaches an empty fexit program to the function of BTF id fn, and lets
 * it go: 0, or -errno of the refusal (EPERM where ftrace is locked down,
 * ENOTSUPP without trampolines). */
static int fexit_attach_probe(int fn)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FEXIT,
		    .attach_btf_id = (__u32)fn);
	int prog, link, err = 0;

	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "obs_probe", "GPL", insns, 2, &opts);
	if (prog < 0)
		return -errno;
	link = bpf_raw_tracepoint_open(NULL, prog);
	if (link < 0)
		err = -errno;
	else
		close(link);
	close(prog);
	return err;
}

static int tracefs_ready(void)
{
	return access("/sys/kernel/tracing/events", F_OK) == 0 ||
	       access("/sys/kernel/debug/tracing/events", F_OK) == 0;
}

int tracefs_mount(void)
{
	if (tracefs_ready() || mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0 ||
	    errno == EBUSY)
		return 0;
	fprintf(
	    stderr,
	    "gunicorn-observer: tracefs is not mounted and mounting it failed (%s): run 'mount -t tracefs "
	    "nodev /sys/kernel/tracing'\n",
	    strerror(errno));
	return -1;
}

static int syscalls_ready(void)
{
	return access("/sys/kernel/tracing/events/syscalls", F_OK) == 0 ||
	       access("/sys/kernel/debug/tracing/events/syscalls", F_OK) == 0;
}

static void probe_fentry(struct plane_offer *po, const struct btf *btf)
{
	int err, probe, first = -1;

	for (int i = 0; i < PLANE_FEXIT_N; i++) {
		int id = btf__find_by_name_kind(btf, plane_fexit_fns[i], BTF_KIND_FUNC);

		if (id > 0)
			po->fexit_fns |= 1U << i;
		else if (i < PLANE_FEXIT_NEEDED) {
			snprintf(po->fentry_why, sizeof(po->fentry_why),
				 "this kernel's BTF has no %s function", plane_fexit_fns[i]);
			return;
		}
		if (first < 0)
			first = id;
	}
	/* the programs read the syscall's saved registers (bpf_task_pt_regs,
	 * 5.15) and sweep with bpf_for_each_map_elem (5.13) */
	if (!has_helper(btf, "BPF_FUNC_task_pt_regs") || !has_helper(btf, "BPF_FUNC_for_each_map_elem")) {
		snprintf(po->fentry_why, sizeof(po->fentry_why),
			 "this kernel has no bpf_task_pt_regs helper (Linux 5.15 or later)");
		return;
	}
	if (!has_typedef(btf, "btf_trace_inet_sock_set_state")) {
		snprintf(po->fentry_why, sizeof(po->fentry_why),
			 "this kernel has no sock:inet_sock_set_state tracepoint");
		return;
	}
	/* bpf_fentry_test1 is there for such tests (BPF_PROG_TEST_RUN's): no
	 * trampoline of a function the programs may already hook (pinned, kept
	 * across a restart) is rebuilt twice under the traffic */
	probe = btf__find_by_name_kind(btf, "bpf_fentry_test1", BTF_KIND_FUNC);
	err = fexit_attach_probe(probe > 0 ? probe : first);
	if (err) {
		snprintf(po->fentry_why, sizeof(po->fentry_why),
			 "this kernel refuses to attach fexit programs (%s: no BPF trampolines, or ftrace is "
			 "locked down)",
			 strerror(-err));
		return;
	}
	po->fentry = 1;
}

/* Every plane's programs use BPF atomics (fetch-or for the worker bitmap)
 * and global functions taking pointers (the response parser): Linux 5.12.
 * The BTF does not list those; bpf_check_mtu, a helper of the same release,
 * stands for them. An older kernel would refuse the programs with no more
 * than "Invalid argument". */
static int too_old(struct plane_offer *po, const struct btf *btf)
{
	struct utsname u;

	if (has_helper(btf, "BPF_FUNC_check_mtu"))
		return 0;
	if (uname(&u) != 0)
		snprintf(u.release, sizeof(u.release), "?");
	snprintf(
	    po->floor_why, sizeof(po->floor_why),
	    "this kernel (%.64s) lacks the BPF atomics and global functions the programs need: run Linux "
	    "5.12 or later",
	    u.release);
	snprintf(po->socket_why, sizeof(po->socket_why), "the kernel is older than 5.12");
	snprintf(po->fentry_why, sizeof(po->fentry_why), "the kernel is older than 5.12");
	snprintf(po->syscall_why, sizeof(po->syscall_why), "the kernel is older than 5.12");
	return 1;
}

void plane_probe(struct plane_offer *po)
{
	struct btf *btf = btf__load_vmlinux_btf();

	memset(po, 0, sizeof(*po));
	if (btf && too_old(po, btf)) {
		btf__free(btf);
		return;
	}
	if (!btf) {
		snprintf(po->socket_why, sizeof(po->socket_why), "no kernel BTF (/sys/kernel/btf/vmlinux)");
		snprintf(po->fentry_why, sizeof(po->fentry_why), "no kernel BTF (/sys/kernel/btf/vmlinux)");
	} else {
		po->socket = has_typedef(btf, "btf_trace_sock_send_length") &&
			     has_typedef(btf, "btf_trace_sock_recv_length");
		if (!po->socket)
			snprintf(po->socket_why, sizeof(po->socket_why),
				 "this kernel has no sock:sock_send_length and sock:sock_recv_length "
				 "tracepoints (Linux 6.3 or later)");
		probe_fentry(po, btf);
		btf__free(btf);
	}
	po->syscall = syscalls_ready();
	if (!po->syscall)
		snprintf(po->syscall_why, sizeof(po->syscall_why),
			 "no syscall tracepoints under /sys/kernel/tracing/events/syscalls "
			 "(CONFIG_FTRACE_SYSCALLS)");
}

const char *plane_hooks(enum obs_data_plane plane, const struct plane_offer *po)
{
	static char fx[PLANE_FEXIT_N * 24 + 32];
	size_t n;

	switch (plane) {
	case OBS_PLANE_SOCKET:
		return "socket tracepoints";
	case OBS_PLANE_FENTRY:
		n = (size_t)snprintf(fx, sizeof(fx), "fentry (fexit on");
		for (int i = 0; i < PLANE_FEXIT_N; i++)
			if (po->fexit_fns & (1U << i) && n < sizeof(fx))
				n += (size_t)snprintf(fx + n, sizeof(fx) - n, " %s", plane_fexit_fns[i]);
		if (n < sizeof(fx))
			snprintf(fx + n, sizeof(fx) - n, ")");
		return fx;
	default:
		return "syscall tracepoints";
	}
}

int plane_choose(const struct plane_offer *po, enum obs_data_plane want, enum obs_data_plane *plane,
		 const char **why)
{
	static char auto_why[224];
	const char *no = want == OBS_PLANE_SOCKET    ? (po->socket ? NULL : po->socket_why)
			 : want == OBS_PLANE_FENTRY  ? (po->fentry ? NULL : po->fentry_why)
			 : want == OBS_PLANE_SYSCALL ? (po->syscall ? NULL : po->syscall_why)
						     : NULL;

	if (po->floor_why[0]) {
		fprintf(stderr, "gunicorn-observer: %s\n", po->floor_why);
		return -1;
	}
	if (no) {
		fprintf(stderr,
			"gunicorn-observer: --data-plane %s is not possible here: %s: use --data-plane "
			"auto, or see 'gunicorn-observer data-planes'\n",
			config_plane_name(want), no);
		return -1;
	}
	*why = "";
	if (want != OBS_PLANE_AUTO) {
		*plane = want;
		*why = " (as --data-plane asks)";
		return 0;
	}
	if (po->socket) {
		*plane = OBS_PLANE_SOCKET;
		return 0;
	}
	if (po->fentry) {
		*plane = OBS_PLANE_FENTRY;
		*why = " (this kernel has no socket tracepoints)";
		return 0;
	}
	if (!po->syscall) {
		fprintf(stderr, "gunicorn-observer: this kernel offers no data plane: %s; %s; and %s\n",
			po->socket_why, po->fentry_why, po->syscall_why);
		return -1;
	}
	*plane = OBS_PLANE_SYSCALL;
	snprintf(auto_why, sizeof(auto_why), " (no socket tracepoints; fentry: %s)", po->fentry_why);
	*why = auto_why;
	return 0;
}

int plane_main(int argc, char **argv)
{
	const struct {
		enum obs_data_plane p;
		size_t ok, why;
	} rows[] = {
		{ OBS_PLANE_SOCKET, offsetof(struct plane_offer, socket),
		  offsetof(struct plane_offer, socket_why) },
		{ OBS_PLANE_FENTRY, offsetof(struct plane_offer, fentry),
		  offsetof(struct plane_offer, fentry_why) },
		{ OBS_PLANE_SYSCALL, offsetof(struct plane_offer, syscall),
		  offsetof(struct plane_offer, syscall_why) },
	};
	struct plane_offer po;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: gunicorn-observer data-planes\n"
		       "  prints, one line a data plane, whether this kernel offers it (and why not), then\n"
		       "  the one --data-plane auto takes. Needs root (it attaches a probe program).\n");
		return 0;
	}
	if (argc > 1) {
		fprintf(
		    stderr,
		    "gunicorn-observer: data-planes takes no argument, got '%s': see data-planes --help\n",
		    argv[1]);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr,
			"gunicorn-observer: data-planes must run as root (it attaches a probe program): "
			"run it with sudo\n");
		return 1;
	}
	libbpf_set_print(NULL);
	if (tracefs_mount())
		return 1;
	plane_probe(&po);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int ok = *(const int *)((const char *)&po + rows[i].ok);

		printf("%-8s %-4s %s\n", config_plane_name(rows[i].p), ok ? "yes" : "no",
		       ok ? plane_hooks(rows[i].p, &po) : (const char *)&po + rows[i].why);
	}
	printf("auto     %s\n", po.socket    ? config_plane_name(OBS_PLANE_SOCKET)
				: po.fentry  ? config_plane_name(OBS_PLANE_FENTRY)
				: po.syscall ? config_plane_name(OBS_PLANE_SYSCALL)
					     : "none");
	if (po.floor_why[0])
		printf("%s\n", po.floor_why);
	return 0;
}
