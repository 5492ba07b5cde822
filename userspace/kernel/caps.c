/* caps.c - dropping capabilities after load and attach. What the running
 * observer still does, and what that needs:
 *   reading /proc/PID/{environ,fd,cwd,root,ns} of any process: CAP_SYS_PTRACE
 *     (ptrace access: a Gunicorn, even root's, holds capabilities we no
 *     longer have);
 *   reading a Gunicorn's config file only its owner may read: CAP_DAC_READ_SEARCH;
 *   setns() into a master's network namespace and back, to ask sock_diag
 *     for its listeners' accept queues: CAP_SYS_ADMIN;
 *   map reads and writes through the fds opened at load: nothing on Linux
 *     6.5 and later; CAP_BPF before that when kernel.unprivileged_bpf_disabled
 *     is set, which is learnt here by trying.
 *   making the TLS uprobes in tracefs, binding them to a master's
 *   processes (perf events of other processes) and attaching the loaded
 *   programs to them: CAP_SYS_ADMIN (perfmon and BPF) and CAP_SYS_PTRACE.
 * Nothing else: new masters and workers are map updates, no program is
 * loaded and tracefs is not mounted after start. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include <bpf/bpf.h>
#include <sys/capability.h>

#include "kernel/caps.h"
#include "lib/log.h"

static const cap_value_t wanted[] = { CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN };

static int has(cap_t c, cap_value_t v, cap_flag_t set)
{
	cap_flag_value_t f = CAP_CLEAR;

	return cap_get_flag(c, v, set, &f) == 0 && f == CAP_SET;
}

/* Can a map opened at load still be read without CAP_BPF and CAP_SYS_ADMIN? */
static int maps_need_bpf(int map_fd)
{
	cap_value_t off[] = { CAP_BPF, CAP_SYS_ADMIN };
	cap_t now = cap_get_proc(), trial = cap_dup(now);
	unsigned char next[512];
	int need = 0;

	if (!now || !trial)
		goto out;
	cap_set_flag(trial, CAP_EFFECTIVE, 2, off, CAP_CLEAR);
	if (cap_set_proc(trial) == 0) {
		need = bpf_map_get_next_key(map_fd, NULL, next) && errno == EPERM;
		cap_set_proc(now);
	}
out:
	cap_free(trial);
	cap_free(now);
	return need;
}

static void names(cap_t c, char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (cap_value_t v = 0; v <= CAP_LAST_CAP && off < len; v++) {
		char *n;

		if (!has(c, v, CAP_EFFECTIVE))
			continue;
		n = cap_to_name(v);
		off += (size_t)snprintf(out + off, len - off, "%s%s", off ? "," : "", n ? n : "?");
		cap_free(n);
	}
	if (!out[0])
		snprintf(out, len, "none");
}

static int drop_bound(cap_t keep)
{
	int dropped = 0;

	for (cap_value_t v = 0; v <= CAP_LAST_CAP; v++) {
		if (has(keep, v, CAP_PERMITTED) || cap_get_bound(v) != 1)
			continue;
		if (cap_drop_bound(v)) {
			fprintf(stderr,
				"gunicorn-observer: cannot drop capability %d from the bounding set: %s\n", v,
				strerror(errno));
			return -1;
		}
		dropped++;
	}
	return dropped;
}

int caps_drop(int probe_map_fd)
{
	cap_t now = cap_get_proc(), keep = cap_init();
	cap_value_t bpf = CAP_BPF;
	char kept[256];
	int rc = -1, bound = 0;

	if (!now || !keep) {
		fprintf(stderr, "gunicorn-observer: cannot read the process capabilities: %s\n",
			strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
		if (has(now, wanted[i], CAP_PERMITTED)) {
			cap_set_flag(keep, CAP_PERMITTED, 1, &wanted[i], CAP_SET);
			cap_set_flag(keep, CAP_EFFECTIVE, 1, &wanted[i], CAP_SET);
		}
	if (has(now, CAP_BPF, CAP_PERMITTED) && maps_need_bpf(probe_map_fd)) {
		cap_set_flag(keep, CAP_PERMITTED, 1, &bpf, CAP_SET);
		cap_set_flag(keep, CAP_EFFECTIVE, 1, &bpf, CAP_SET);
	}
	/* the bounding set needs CAP_SETPCAP, which goes with the rest below */
	if (has(now, CAP_SETPCAP, CAP_EFFECTIVE)) {
		bound = drop_bound(keep);
		if (bound < 0)
			goto out;
	}
	if (CAP_AMBIENT_SUPPORTED())
		cap_reset_ambient();
	if (cap_set_proc(keep)) {
		fprintf(stderr, "gunicorn-observer: cannot drop capabilities: %s\n", strerror(errno));
		goto out;
	}
	/* no exec can give any back */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	names(keep, kept, sizeof(kept));
	log_info("capabilities kept: %s; %s", kept,
		 has(now, CAP_SETPCAP, CAP_EFFECTIVE) ? "the bounding set is the same"
						      : "bounding set left as it was (no CAP_SETPCAP)");
	rc = 0;
out:
	cap_free(keep);
	cap_free(now);
	return rc;
}
