/* test_plane.c - unit tests for userspace/kernel/plane.c: the data plane
 * --data-plane and the kernel's offer give (auto: socket, else fentry, else
 * syscall), the one-line errors, the log line's hooks, and the probe of the
 * kernel this runs on against what tracefs and BTF say of it.
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_plane
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/btf.h>

#include "kernel/plane.h"

/* what a call writes to stderr, into err_text */
static char err_text[1024];

static void capture_start(FILE **saved, int *fd)
{
	fflush(stderr);
	*fd = dup(fileno(stderr));
	*saved = tmpfile();
	assert_non_null(*saved);
	dup2(fileno(*saved), fileno(stderr));
}

static void capture_end(FILE *saved, int fd)
{
	size_t n;

	fflush(stderr);
	dup2(fd, fileno(stderr));
	close(fd);
	rewind(saved);
	n = fread(err_text, 1, sizeof(err_text) - 1, saved);
	err_text[n] = '\0';
	fclose(saved);
}

static struct plane_offer offer(int socket, int fentry, int syscall)
{
	struct plane_offer po = { .socket = socket, .fentry = fentry, .syscall = syscall };

	if (!socket)
		snprintf(po.socket_why, sizeof(po.socket_why), "no socket tracepoints");
	if (fentry)
		po.fexit_fns = (1U << PLANE_FEXIT_N) - 1;
	else
		snprintf(po.fentry_why, sizeof(po.fentry_why), "fexit refused");
	if (!syscall)
		snprintf(po.syscall_why, sizeof(po.syscall_why), "no syscall tracepoints");
	return po;
}

/* plane_choose(po, want) succeeds with plane and a reason containing why */
static void chose(struct plane_offer po, enum obs_data_plane want, enum obs_data_plane plane, const char *why)
{
	enum obs_data_plane got = OBS_PLANE_AUTO;
	const char *w = NULL;

	assert_int_equal(plane_choose(&po, want, &got, &w), 0);
	assert_int_equal(got, plane);
	assert_non_null(w);
	if (*why)
		assert_non_null(strstr(w, why));
	else
		assert_string_equal(w, "");
}

static void test_auto_order(void **state)
{
	(void)state;
	chose(offer(1, 1, 1), OBS_PLANE_AUTO, OBS_PLANE_SOCKET, "");
	chose(offer(1, 0, 0), OBS_PLANE_AUTO, OBS_PLANE_SOCKET, "");
	chose(offer(0, 1, 1), OBS_PLANE_AUTO, OBS_PLANE_FENTRY, "(this kernel has no socket tracepoints)");
	chose(offer(0, 1, 0), OBS_PLANE_AUTO, OBS_PLANE_FENTRY, "(this kernel has no socket tracepoints)");
	/* the syscall plane says why fentry was not taken */
	chose(offer(0, 0, 1), OBS_PLANE_AUTO, OBS_PLANE_SYSCALL, "fentry: fexit refused");
}

static void test_forced(void **state)
{
	(void)state;
	chose(offer(1, 1, 1), OBS_PLANE_FENTRY, OBS_PLANE_FENTRY, "(as --data-plane asks)");
	chose(offer(1, 1, 1), OBS_PLANE_SYSCALL, OBS_PLANE_SYSCALL, "(as --data-plane asks)");
	chose(offer(1, 0, 0), OBS_PLANE_SOCKET, OBS_PLANE_SOCKET, "(as --data-plane asks)");
}

/* one line on stderr that names the plane, the reason and what to do */
static void refused(struct plane_offer po, enum obs_data_plane want, const char *line)
{
	enum obs_data_plane got = OBS_PLANE_AUTO;
	const char *w = NULL;
	FILE *saved;
	int fd, rc;

	capture_start(&saved, &fd);
	rc = plane_choose(&po, want, &got, &w);
	capture_end(saved, fd);
	assert_int_equal(rc, -1);
	assert_string_equal(err_text, line);
}

/* a plane forced where it is not offered: the line names it and its reason */
static void test_refused(void **state)
{
	static const struct {
		int socket, fentry, syscall;
		enum obs_data_plane want;
		const char *line;
	} cases[] = {
		{ 0, 1, 1, OBS_PLANE_SOCKET,
		  "--data-plane socket is not possible here: no socket tracepoints" },
		{ 1, 0, 1, OBS_PLANE_FENTRY, "--data-plane fentry is not possible here: fexit refused" },
		{ 1, 1, 0, OBS_PLANE_SYSCALL,
		  "--data-plane syscall is not possible here: no syscall tracepoints" },
	};
	char line[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(
		    line, sizeof(line),
		    "gunicorn-observer: %s: use --data-plane auto, or see 'gunicorn-observer data-planes'\n",
		    cases[i].line);
		refused(offer(cases[i].socket, cases[i].fentry, cases[i].syscall), cases[i].want, line);
	}
	refused(offer(0, 0, 0), OBS_PLANE_AUTO,
		"gunicorn-observer: this kernel offers no data plane: no socket tracepoints; fexit refused; "
		"and no "
		"syscall tracepoints\n");
}

/* a kernel older than 5.12: one line naming it, whatever the plane asked */
static void test_too_old(void **state)
{
	struct plane_offer po = offer(0, 0, 0);

	(void)state;
	snprintf(po.floor_why, sizeof(po.floor_why), "this kernel (5.10.0-46-amd64) is too old");
	for (int want = OBS_PLANE_AUTO; want <= OBS_PLANE_SYSCALL; want++)
		refused(po, (enum obs_data_plane)want,
			"gunicorn-observer: this kernel (5.10.0-46-amd64) is too old\n");
}

static void test_hooks(void **state)
{
	struct plane_offer po = offer(0, 1, 1);

	(void)state;
	assert_string_equal(plane_hooks(OBS_PLANE_SOCKET, &po), "socket tracepoints");
	assert_string_equal(plane_hooks(OBS_PLANE_SYSCALL, &po), "syscall tracepoints");
	assert_string_equal(
	    plane_hooks(OBS_PLANE_FENTRY, &po),
	    "fentry (fexit on inet_recvmsg inet_sendmsg unix_stream_recvmsg unix_stream_sendmsg "
	    "inet6_recvmsg inet6_sendmsg inet_sendpage unix_stream_sendpage)");
	/* 6.5 and later: no sendpage functions; IPv6 a module */
	po.fexit_fns = (1U << PLANE_FEXIT_NEEDED) - 1;
	assert_string_equal(
	    plane_hooks(OBS_PLANE_FENTRY, &po),
	    "fentry (fexit on inet_recvmsg inet_sendmsg unix_stream_recvmsg unix_stream_sendmsg)");
}

/* The probe of this kernel agrees with tracefs and BTF: the socket plane is
 * offered exactly when the sock tracepoints exist, the syscall plane when
 * the syscall tracepoints do, the fentry plane's functions are those the
 * BTF has, and a plane not offered says why. */
static void test_probe_this_kernel(void **state)
{
	struct plane_offer po;
	struct btf *btf;
	int sock_tp;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(tracefs_mount(), 0);
	plane_probe(&po);
	sock_tp = access("/sys/kernel/tracing/events/sock/sock_send_length", F_OK) == 0 ||
		  access("/sys/kernel/debug/tracing/events/sock/sock_send_length", F_OK) == 0;
	assert_int_equal(po.socket, sock_tp);
	assert_int_equal(po.syscall, access("/sys/kernel/tracing/events/syscalls", F_OK) == 0 ||
					 access("/sys/kernel/debug/tracing/events/syscalls", F_OK) == 0);
	assert_string_equal(po.floor_why, ""); /* the tests run on 5.12 or later */
	assert_int_equal(po.socket, po.socket_why[0] == '\0');
	assert_int_equal(po.fentry, po.fentry_why[0] == '\0');
	assert_int_equal(po.syscall, po.syscall_why[0] == '\0');
	btf = btf__load_vmlinux_btf();
	assert_non_null(btf);
	for (int i = 0; i < PLANE_FEXIT_N && (po.fexit_fns || po.fentry); i++)
		assert_int_equal(!!(po.fexit_fns & (1U << i)),
				 btf__find_by_name_kind(btf, plane_fexit_fns[i], BTF_KIND_FUNC) > 0);
	btf__free(btf);
	if (!po.fentry)
		print_message("   fentry not offered here: %s\n", po.fentry_why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto_order), cmocka_unit_test(test_forced),
		cmocka_unit_test(test_refused),    cmocka_unit_test(test_too_old),
		cmocka_unit_test(test_hooks),      cmocka_unit_test(test_probe_this_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
