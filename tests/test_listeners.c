/* test_listeners.c - unit tests for userspace/listeners.c against the real
 * kernel: listening sockets made here (TCP over IPv4 and IPv6, unix) are read
 * back with listeners_read("/proc", ...) with their accept queues.
 *
 * Build and run from the repository root, as root (sock_diag, setns):
 *   make unit && build/tests/test_listeners
 *
 * Clients connect without being accepted, so they wait in the accept queue;
 * the tests poll until the kernel shows them (with a time limit) instead of
 * sleeping blindly.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/listeners.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SETTLE_MS    3000

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A TCP listener on addr:0 ("127.0.0.1" or "::1"); its port in *port.
 * Returns -1 when the address family is not there. */
static int tcp_listener(int family, const char *addr, int backlog, unsigned *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &in->sin_addr), 1);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
		len = sizeof(*in6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, backlog)) {
		close(fd);
		return -1;
	}
	len = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* n clients connected to the TCP listener lfd, never accepted */
static void tcp_clients(int lfd, int *fds, int n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
	for (int i = 0; i < n; i++) {
		fds[i] = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&ss, len), 0);
	}
}

static int unix_listener(const char *path, int backlog)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	return fd;
}

static void unix_clients(const char *path, int *fds, int n)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	strcpy(sun.sun_path, path);
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&sun, sizeof(sun)), 0);
	}
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static const struct listener *find(const struct listener *ls, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(ls[i].name, name) == 0)
			return &ls[i];
	return NULL;
}

/* Reads pid's listeners until name shows backlog waiting connections, or
 * SETTLE_MS passes; returns the count of the last read. */
static int read_until(pid_t pid, const char *name, uint32_t backlog, struct listener *out, size_t max)
{
	double end = now_ms() + SETTLE_MS;
	int n;

	for (;;) {
		const struct listener *l;

		memset(out, 0, max * sizeof(*out));
		n = listeners_read("/proc", pid, out, max);
		l = n > 0 ? find(out, n, name) : NULL;
		if ((l && l->backlog == backlog) || now_ms() > end)
			return n;
		usleep(10 * 1000);
	}
}

static void assert_listener(const struct listener *ls, int n, const char *name, uint32_t backlog,
			    uint32_t backlog_max)
{
	const struct listener *l = find(ls, n, name);

	if (!l) {
		for (int i = 0; i < n; i++)
			print_error("  have %s backlog %u/%u\n", ls[i].name, ls[i].backlog,
				    ls[i].backlog_max);
		fail_msg("no listener %s among %d", name, n);
	}
	assert_int_equal(l->backlog, backlog);
	assert_int_equal(l->backlog_max, backlog_max);
}

static void test_tcp4_backlog(void **state)
{
	struct listener out[OBS_MAX_LISTENERS];
	char name[OBS_LISTEN_NAME];
	unsigned port;
	int lfd, c[3], n;
	(void)state;

	lfd = tcp_listener(AF_INET, "127.0.0.1", 5, &port);
	assert_true(lfd >= 0);
	snprintf(name, sizeof(name), "127.0.0.1:%u", port);

	/* nobody waiting yet */
	n = listeners_read("/proc", getpid(), out, ARRAY_LEN(out));
	assert_int_equal(n, 1);
	assert_listener(out, n, name, 0, 5);

	tcp_clients(lfd, c, 3);
	n = read_until(getpid(), name, 3, out, ARRAY_LEN(out));
	/* the clients' own sockets are not listeners */
	assert_int_equal(n, 1);
	assert_listener(out, n, name, 3, 5);

	close_all(c, 3);
	close(lfd);
}

static void test_tcp6_backlog(void **state)
{
	struct listener out[OBS_MAX_LISTENERS];
	char name[OBS_LISTEN_NAME];
	unsigned port;
	int lfd, c[2], n;
	(void)state;

	lfd = tcp_listener(AF_INET6, "::1", 7, &port);
	if (lfd < 0) {
		print_message("no IPv6 loopback here: %s\n", strerror(errno));
		skip();
	}
	snprintf(name, sizeof(name), "[::1]:%u", port);

	tcp_clients(lfd, c, 2);
	n = read_until(getpid(), name, 2, out, ARRAY_LEN(out));
	assert_int_equal(n, 1);
	assert_listener(out, n, name, 2, 7);

	close_all(c, 2);
	close(lfd);
}

static void test_unix_backlog(void **state)
{
	struct listener out[OBS_MAX_LISTENERS];
	char dir[] = "/tmp/go-listeners-XXXXXX", path[96], name[OBS_LISTEN_NAME];
	int lfd, c[3], n;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/app.sock", dir);
	snprintf(name, sizeof(name), "unix:%s", path);
	lfd = unix_listener(path, 4);

	n = listeners_read("/proc", getpid(), out, ARRAY_LEN(out));
	assert_int_equal(n, 1);
	assert_listener(out, n, name, 0, 4);

	unix_clients(path, c, 3);
	n = read_until(getpid(), name, 3, out, ARRAY_LEN(out));
	assert_int_equal(n, 1);
	assert_listener(out, n, name, 3, 4);

	close_all(c, 3);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

static void test_mixed_listeners(void **state)
{
	struct listener out[OBS_MAX_LISTENERS];
	char dir[] = "/tmp/go-listeners-XXXXXX", path[96], n4[OBS_LISTEN_NAME], nu[OBS_LISTEN_NAME];
	unsigned p4;
	int l4, lu, c4[1], cu[2], n;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/gunicorn.sock", dir);
	snprintf(nu, sizeof(nu), "unix:%s", path);
	l4 = tcp_listener(AF_INET, "127.0.0.1", 16, &p4);
	assert_true(l4 >= 0);
	snprintf(n4, sizeof(n4), "127.0.0.1:%u", p4);
	lu = unix_listener(path, 9);

	tcp_clients(l4, c4, 1);
	unix_clients(path, cu, 2);
	read_until(getpid(), n4, 1, out, ARRAY_LEN(out));
	n = read_until(getpid(), nu, 2, out, ARRAY_LEN(out));
	assert_int_equal(n, 2);
	assert_listener(out, n, n4, 1, 16);
	assert_listener(out, n, nu, 2, 9);

	close_all(c4, 1);
	close_all(cu, 2);
	close(l4);
	close(lu);
	unlink(path);
	rmdir(dir);
}

static void test_unix_abstract(void **state)
{
	struct listener out[OBS_MAX_LISTENERS];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char name[OBS_LISTEN_NAME], abs[64];
	socklen_t len;
	int lfd, c, n;
	(void)state;

	/* an abstract name: a NUL, then bytes that need no terminator */
	snprintf(abs, sizeof(abs), "go-listeners-%d", (int)getpid());
	memcpy(sun.sun_path + 1, abs, strlen(abs));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abs));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, len), 0);
	assert_int_equal(listen(lfd, 6), 0);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sun, len), 0);

	snprintf(name, sizeof(name), "unix:@%s", abs);
	n = read_until(getpid(), name, 1, out, ARRAY_LEN(out));
	assert_int_equal(n, 1);
	assert_listener(out, n, name, 1, 6);

	close(c);
	close(lfd);
}

/* The longest path a unix socket can have (sizeof(sun_path) - 1 bytes) is
 * reported whole. */
static void test_unix_longest_path(void **state)
{
	struct sockaddr_un sun;
	struct listener out[OBS_MAX_LISTENERS];
	char dir[] = "/tmp/go-listeners-XXXXXX", path[sizeof(sun.sun_path)], name[sizeof(path) + 8];
	size_t dl;
	int lfd, n;
	(void)state;

	assert_non_null(mkdtemp(dir));
	dl = strlen(dir);
	memcpy(path, dir, dl);
	path[dl] = '/';
	memset(path + dl + 1, 's', sizeof(path) - dl - 2);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(strlen(path), sizeof(sun.sun_path) - 1);
	lfd = unix_listener(path, 3);
	snprintf(name, sizeof(name), "unix:%s", path);

	n = listeners_read("/proc", getpid(), out, ARRAY_LEN(out));
	close(lfd);
	unlink(path);
	rmdir(dir);
	assert_int_equal(n, 1);
	if (strcmp(out[0].name, name) != 0)
		fail_msg("name \"%s\" (%zu bytes), want \"%s\" (%zu bytes)", out[0].name, strlen(out[0].name),
			 name, strlen(name));
	assert_int_equal(out[0].backlog_max, 3);
}

/* Enough listeners that the kernel's answer spans several netlink reads. */
static void test_many_listeners(void **state)
{
	enum { MANY = 200 };
	struct listener *out = calloc(MANY + 8, sizeof(*out));
	unsigned port[MANY];
	int lfd[MANY], n, found = 0;
	(void)state;

	assert_non_null(out);
	for (int i = 0; i < MANY; i++) {
		lfd[i] =
		    tcp_listener(i % 2 ? AF_INET6 : AF_INET, i % 2 ? "::1" : "127.0.0.1", 1 + i, &port[i]);
		if (lfd[i] < 0 && i % 2)
			lfd[i] = tcp_listener(AF_INET, "127.0.0.1", 1 + i, &port[i]);
		assert_true(lfd[i] >= 0);
	}
	n = listeners_read("/proc", getpid(), out, MANY + 8);
	assert_int_equal(n, MANY);
	for (int i = 0; i < MANY; i++) {
		for (int j = 0; j < n; j++) {
			const char *colon = strrchr(out[j].name, ':');

			if (colon && (unsigned)atoi(colon + 1) == port[i] &&
			    out[j].backlog_max == (uint32_t)(1 + i)) {
				found++;
				break;
			}
		}
	}
	assert_int_equal(found, MANY);
	close_all(lfd, MANY);
	free(out);
}

/* A child that holds what it inherited until its stdin pipe closes. */
static pid_t hold_child(int *wfd)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char b;

		close(p[1]);
		while (read(p[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	*wfd = p[1];
	return pid;
}

static void end_child(pid_t pid, int wfd)
{
	int status;

	close(wfd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void test_other_process(void **state)
{
	struct listener out[OBS_MAX_LISTENERS];
	char name[OBS_LISTEN_NAME];
	unsigned port;
	int lfd, wfd, c[2], n;
	pid_t pid;
	(void)state;

	/* the child keeps the listener; this process lets go of it */
	lfd = tcp_listener(AF_INET, "127.0.0.1", 11, &port);
	assert_true(lfd >= 0);
	snprintf(name, sizeof(name), "127.0.0.1:%u", port);
	pid = hold_child(&wfd);
	tcp_clients(lfd, c, 2);
	close(lfd);

	n = read_until(pid, name, 2, out, ARRAY_LEN(out));
	assert_int_equal(n, 1);
	assert_listener(out, n, name, 2, 11);
	/* and this process holds none now */
	assert_int_equal(listeners_read("/proc", getpid(), out, ARRAY_LEN(out)), 0);

	close_all(c, 2);
	end_child(pid, wfd);
}

static void test_no_listeners(void **state)
{
	struct listener out[OBS_MAX_LISTENERS];
	int wfd, sv[2], udp, tcp;
	pid_t pid;
	(void)state;

	/* a process with no sockets at all */
	pid = hold_child(&wfd);
	assert_int_equal(listeners_read("/proc", pid, out, ARRAY_LEN(out)), 0);
	end_child(pid, wfd);

	/* sockets, none of them listening */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	tcp = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(udp >= 0);
	pid = hold_child(&wfd);
	close(sv[0]);
	close(sv[1]);
	close(udp);
	if (tcp >= 0)
		close(tcp);
	assert_int_equal(listeners_read("/proc", pid, out, ARRAY_LEN(out)), 0);
	end_child(pid, wfd);
}

static void test_process_gone(void **state)
{
	struct listener out[OBS_MAX_LISTENERS];
	int status;
	pid_t pid;
	(void)state;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(listeners_read("/proc", pid, out, ARRAY_LEN(out)), -1);

	/* no such pid can exist, nor such a /proc */
	assert_int_equal(listeners_read("/proc", 0x7ffffff0, out, ARRAY_LEN(out)), -1);
	assert_int_equal(listeners_read("/nonexistent-proc", getpid(), out, ARRAY_LEN(out)), -1);
}

static void test_max_limits_count(void **state)
{
	struct listener out[OBS_MAX_LISTENERS + 1];
	unsigned port[3];
	int lfd[3], n;
	(void)state;

	for (int i = 0; i < 3; i++) {
		lfd[i] = tcp_listener(AF_INET, "127.0.0.1", 5 + i, &port[i]);
		assert_true(lfd[i] >= 0);
	}

	n = listeners_read("/proc", getpid(), out, OBS_MAX_LISTENERS);
	assert_int_equal(n, 3);

	/* max 2: two filled, the next left alone */
	memset(out, 0xa5, sizeof(out));
	n = listeners_read("/proc", getpid(), out, 2);
	assert_int_equal(n, 2);
	for (int i = 0; i < 2; i++) {
		assert_non_null(memchr(out[i].name, '\0', sizeof(out[i].name)));
		assert_int_equal(strncmp(out[i].name, "127.0.0.1:", 10), 0);
	}
	for (size_t b = 0; b < sizeof(out[2]); b++)
		assert_int_equal(((unsigned char *)&out[2])[b], 0xa5);

	/* max 0: nothing written */
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(listeners_read("/proc", getpid(), out, 0), 0);
	for (size_t b = 0; b < sizeof(out[0]); b++)
		assert_int_equal(((unsigned char *)&out[0])[b], 0xa5);

	close_all(lfd, 3);
}

/* A listener in another network namespace (a container's master): read
 * from inside that namespace, where its inode is known. */
static void test_other_netns(void **state)
{
	struct listener out[OBS_MAX_LISTENERS];
	char name[OBS_LISTEN_NAME];
	int p[2], q[2], n;
	unsigned port = 0;
	pid_t pid;
	(void)state;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(pipe2(q, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned pt = 0;
		int fd = -1;
		char b;

		close(p[0]);
		close(q[1]);
		if (unshare(CLONE_NEWNET) == 0)
			fd = tcp_listener(AF_INET, "0.0.0.0", 13, &pt);
		if (fd < 0)
			pt = 0;
		if (write(p[1], &pt, sizeof(pt)) != sizeof(pt))
			_exit(1);
		while (read(q[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[1]);
	close(q[0]);
	assert_int_equal(read(p[0], &port, sizeof(port)), sizeof(port));
	close(p[0]);
	if (port == 0) {
		end_child(pid, q[1]);
		print_message("cannot make a network namespace here\n");
		skip();
	}
	snprintf(name, sizeof(name), "0.0.0.0:%u", port);
	n = listeners_read("/proc", pid, out, ARRAY_LEN(out));
	assert_int_equal(n, 1);
	assert_listener(out, n, name, 0, 13);
	end_child(pid, q[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp4_backlog),      cmocka_unit_test(test_tcp6_backlog),
		cmocka_unit_test(test_unix_backlog),      cmocka_unit_test(test_mixed_listeners),
		cmocka_unit_test(test_other_process),     cmocka_unit_test(test_no_listeners),
		cmocka_unit_test(test_process_gone),      cmocka_unit_test(test_max_limits_count),
		cmocka_unit_test(test_other_netns),       cmocka_unit_test(test_unix_abstract),
		cmocka_unit_test(test_unix_longest_path), cmocka_unit_test(test_many_listeners),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
