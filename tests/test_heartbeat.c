/* test_heartbeat.c - unit tests for userspace/heartbeat.c: which fd of a
 * Gunicorn worker is its heartbeat file, and the file's age.
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_heartbeat
 *
 * Each test builds a fake /proc in a fresh mkdtemp directory: <pid>/fd/<n>
 * symlinks to real files named wgunicorn-XXXXXX beside it (stat() follows
 * them, as it follows the kernel's fd links), and to what else a Gunicorn
 * holds (sockets, pipes, /dev/null, logs). One test forks real children of
 * this process and reads the real /proc.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tmp_tree.h"

#include "host/heartbeat.h"

#define MAX_HB 600

static char *fake_root;      /* the temp directory */
static char proc[300];       /* fake_root/proc, the root passed to heartbeat_* */
static char hb[MAX_HB][300]; /* heartbeat files made by new_hb() */
static int nhb;

static int setup(void **state)
{
	char tmpl[] = "/tmp/test_heartbeat_XXXXXX", path[400];

	(void)state;
	if (!mkdtemp(tmpl))
		return -1;
	fake_root = strdup(tmpl);
	snprintf(proc, sizeof(proc), "%s/proc", fake_root);
	snprintf(path, sizeof(path), "%s/files", fake_root);
	nhb = 0;
	return mkdir(proc, 0755) || mkdir(path, 0755) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	tmp_tree_remove(&fake_root);
	return 0;
}

/* A new heartbeat file, as WorkerTmp makes it; returns its index in hb[]. */
static int new_hb(void)
{
	int fd;

	assert_true(nhb < MAX_HB);
	snprintf(hb[nhb], sizeof(hb[nhb]), "%s/files/wgunicorn-XXXXXX", fake_root);
	fd = mkstemp(hb[nhb]);
	if (fd < 0)
		fail_msg("mkstemp %s: %s", hb[nhb], strerror(errno));
	close(fd);
	return nhb++;
}

static void make_file(const char *name)
{
	char path[400];
	int fd;

	snprintf(path, sizeof(path), "%s/files/%s", fake_root, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	close(fd);
}

/* /proc/PID/fd/FD -> target, making the directories as needed. */
static void link_fd(int pid, int fd, const char *target)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/%d", proc, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%d/fd", proc, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%d/fd/%d", proc, pid, fd);
	unlink(path);
	if (symlink(target, path) != 0)
		fail_msg("symlink %s -> %s: %s", path, target, strerror(errno));
}

static void link_hb(int pid, int fd, int h)
{
	link_fd(pid, fd, hb[h]);
}

/* What else a Gunicorn process holds, on fds 0-4 and 20-25: none of it is a
 * heartbeat, though some of it looks close. */
static void add_noise(int pid)
{
	char path[400];

	make_file("app.log");
	make_file("notwgunicorn-abcdef");
	snprintf(path, sizeof(path), "%s/files/wgunicorn-dir", fake_root);
	mkdir(path, 0755); /* a directory: not a regular file */
	link_fd(pid, 0, "/dev/null");
	link_fd(pid, 1, "pipe:[4242]");
	link_fd(pid, 2, "pipe:[4243]");
	link_fd(pid, 3, "socket:[123456]");
	link_fd(pid, 4, "anon_inode:[eventfd]");
	snprintf(path, sizeof(path), "%s/files/app.log", fake_root);
	link_fd(pid, 20, path);
	snprintf(path, sizeof(path), "%s/files/notwgunicorn-abcdef", fake_root);
	link_fd(pid, 21, path);
	snprintf(path, sizeof(path), "%s/files/wgunicorn-dir", fake_root);
	link_fd(pid, 22, path);
	link_fd(pid, 23, "/nonexistent/wgunicorn-gone (deleted)"); /* dangling */
	snprintf(path, sizeof(path), "%s/files/wgunicorn-dir/log", fake_root);
	make_file("wgunicorn-dir/log");
	link_fd(pid, 24, path); /* "wgunicorn-" in the path, not in the name */
	link_fd(pid, 25, "socket:[123457]");
}

static void inode_of(int h, dev_t *dev, ino_t *ino)
{
	struct stat st;

	assert_int_equal(stat(hb[h], &st), 0);
	*dev = st.st_dev;
	*ino = st.st_ino;
}

/* out names the worker's fd fd, and heartbeat file h. */
static void expect_hb(const struct hb_file *out, int fd, int h)
{
	dev_t dev;
	ino_t ino;

	inode_of(h, &dev, &ino);
	if (out->fd != fd)
		fail_msg("heartbeat fd %d, want %d (%s)", out->fd, fd, hb[h]);
	assert_true(out->dev == dev);
	assert_true(out->ino == ino);
}

static void expect_none(const struct hb_file *out)
{
	if (out->fd != -1)
		fail_msg("heartbeat fd %d, want none (-1)", out->fd);
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One worker, and around its file all the rest a process holds; the
 * master's fd number for the file is not the worker's. The name as the
 * kernel shows an unlinked file, "... (deleted)", is a heartbeat too. */
static void test_single_worker(void **state)
{
	pid_t workers[] = { 101 };
	struct hb_file out[1];
	char deleted[400];
	int a;

	(void)state;
	a = new_hb();
	add_noise(100);
	add_noise(101);
	link_hb(100, 7, a);
	link_hb(101, 9, a);
	assert_int_equal(heartbeat_find(proc, 100, workers, 1, out), 1);
	expect_hb(&out[0], 9, a);

	/* the same, the file's name ending as an unlinked file's link does */
	snprintf(deleted, sizeof(deleted), "%s (deleted)", hb[a]);
	assert_int_equal(rename(hb[a], deleted), 0);
	link_fd(100, 7, deleted);
	link_fd(101, 9, deleted);
	memset(out, 0, sizeof(out));
	assert_int_equal(heartbeat_find(proc, 100, workers, 1, out), 1);
	assert_int_equal(out[0].fd, 9);
}

/* Gunicorn before 19.8: worker k holds the files of workers 1..k. Given in
 * any order, each worker gets its own. */
static void test_nested_workers(void **state)
{
	pid_t workers[] = { 103, 101, 102 };
	struct hb_file out[3];
	int a, b, c;

	(void)state;
	a = new_hb();
	b = new_hb();
	c = new_hb();
	add_noise(100);
	link_hb(100, 5, a);
	link_hb(100, 6, b);
	link_hb(100, 7, c);
	link_hb(101, 5, a);
	link_hb(102, 5, a);
	link_hb(102, 6, b);
	link_hb(103, 5, a);
	link_hb(103, 6, b);
	link_hb(103, 7, c);
	assert_int_equal(heartbeat_find(proc, 100, workers, 3, out), 3);
	expect_hb(&out[0], 7, c);
	expect_hb(&out[1], 5, a);
	expect_hb(&out[2], 6, b);
}

/* Worker 101 has exited and the master closed its file a; the younger
 * workers still hold a, and fd 5 of the master is now another worker's. A
 * worker that is gone gets nothing. */
static void test_dead_worker_file_kept_by_younger(void **state)
{
	pid_t workers[] = { 102, 103, 104, 105 };
	struct hb_file out[4];
	int a, b, c, d;

	(void)state;
	a = new_hb();
	b = new_hb();
	c = new_hb();
	d = new_hb();
	link_hb(100, 6, b);
	link_hb(100, 7, c);
	link_hb(100, 5, d); /* 105's, forked after 101 died, on a's old fd */
	link_hb(102, 5, a);
	link_hb(102, 6, b);
	link_hb(103, 5, a);
	link_hb(103, 6, b);
	link_hb(103, 7, c);
	link_hb(105, 5, d);
	link_hb(105, 6, b);
	link_hb(105, 7, c);
	/* 104: no /proc entry */
	assert_int_equal(heartbeat_find(proc, 100, workers, 4, out), 3);
	expect_hb(&out[0], 6, b);
	expect_hb(&out[1], 7, c);
	expect_none(&out[2]);
	expect_hb(&out[3], 5, d);
}

/* Two workers holding the same two files cannot be told apart; two whose
 * only file is the same one neither: no heartbeat rather than a wrong one.
 * A worker holding its file under two fds is still resolved. */
static void test_ambiguous_unresolved(void **state)
{
	pid_t two[] = { 101, 102 }, three[] = { 201, 202, 203, 204 };
	struct hb_file out[4];
	int a, b, c, d, e;

	(void)state;
	a = new_hb();
	b = new_hb();
	link_hb(100, 5, a);
	link_hb(100, 6, b);
	link_hb(101, 5, a);
	link_hb(101, 6, b);
	link_hb(102, 5, a);
	link_hb(102, 6, b);
	assert_int_equal(heartbeat_find(proc, 100, two, 2, out), 0);
	expect_none(&out[0]);
	expect_none(&out[1]);

	c = new_hb();
	d = new_hb();
	e = new_hb();
	link_hb(200, 5, c);
	link_hb(200, 6, d);
	link_hb(200, 7, e);
	link_hb(201, 5, c); /* 201 and 202 both claim c alone */
	link_hb(202, 5, c);
	link_hb(203, 5, c); /* 203 holds c and d: d is its own once c is out */
	link_hb(203, 6, d);
	link_hb(204, 7, e); /* 204 holds e twice (a dup) */
	link_hb(204, 9, e);
	assert_int_equal(heartbeat_find(proc, 200, three, 4, out), 2);
	expect_none(&out[0]);
	expect_none(&out[1]);
	expect_hb(&out[2], 6, d);
	assert_true(out[3].fd == 7 || out[3].fd == 9);
}

/* Gunicorn 19.8 and later: each worker holds its own file only. 300 of them
 * (more than HB_MAX_FILES in the master) all resolve. */
static void test_many_workers(void **state)
{
	enum { N = 300 };
	static pid_t workers[N];
	static struct hb_file out[N];
	double t0;

	(void)state;
	for (int i = 0; i < N; i++) {
		int h = new_hb();

		workers[i] = 1000 + i;
		link_hb(100, 10 + i, h);
		link_hb(workers[i], 0, h); /* fd 0 counts */
	}
	t0 = clock_s(CLOCK_MONOTONIC);
	assert_int_equal(heartbeat_find(proc, 100, workers, N, out), N);
	print_message("  heartbeat_find, %d workers in a fake /proc: %.1f ms\n", N,
		      (clock_s(CLOCK_MONOTONIC) - t0) * 1e3);
	for (int i = 0; i < N; i++)
		expect_hb(&out[i], 0, i);
}

/* The caps: a worker with more than HB_MAX_FILES heartbeat files is not
 * resolved (the others are); a master with more than 2n + HB_MAX_FILES is
 * refused, as its workers' list cannot be the one the caller has. */
static void test_caps(void **state)
{
	pid_t workers[] = { 101, 102 };
	struct hb_file out[2];
	int own, other;

	(void)state;
	own = new_hb();
	other = new_hb();
	link_hb(100, 5, own);
	link_hb(100, 6, other);
	link_hb(101, 5, own);
	link_hb(102, 6, other);
	for (int i = 0; i < HB_MAX_FILES; i++)
		link_hb(101, 100 + i, new_hb()); /* files the master closed */
	assert_int_equal(heartbeat_find(proc, 100, workers, 2, out), 1);
	expect_none(&out[0]);
	expect_hb(&out[1], 6, other);

	for (int i = 0; i < 2 * 2 + HB_MAX_FILES - 2; i++)
		link_hb(100, 1000 + i, new_hb());
	assert_int_equal(heartbeat_find(proc, 100, workers, 2, out), 1); /* 2n + HB_MAX_FILES: read */
	link_hb(100, 999, new_hb());
	assert_int_equal(heartbeat_find(proc, 100, workers, 2, out), -1);
	expect_none(&out[0]);
	expect_none(&out[1]);
}

/* Finds a lone worker 101 holding file h on fd 5. */
static struct hb_file found_one(int h)
{
	pid_t workers[] = { 101 };
	struct hb_file out;

	link_hb(100, 5, h);
	link_hb(101, 5, h);
	assert_int_equal(heartbeat_find(proc, 100, workers, 1, &out), 1);
	return out;
}

/* Gunicorn before 21 fchmods: the age is from the ctime, wall clock, to the
 * nanosecond; never negative. */
static void test_age_ctime(void **state)
{
	struct hb_file f;
	struct stat st;
	double ctime_s, now, age;
	int h, fd;

	(void)state;
	h = new_hb();
	f = found_one(h);
	fd = open(hb[h], O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 1), 0); /* notify(): the spinner */
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	assert_true(st.st_mtim.tv_sec >= 1000000000); /* creation time: no monotonic mtime */
	ctime_s = (double)st.st_ctim.tv_sec + (double)st.st_ctim.tv_nsec / 1e9;

	now = clock_s(CLOCK_REALTIME);
	age = heartbeat_age(proc, 101, &f, now, 5.0);
	print_message("  age just after fchmod: %.6f s\n", age);
	assert_true(age >= 0 && age < 1.0);
	assert_true(age == 0 || (age > now - ctime_s - 1e-6 && age < now - ctime_s + 1e-6));

	age = heartbeat_age(proc, 101, &f, (double)st.st_ctim.tv_sec + 2.5, 5.0);
	assert_true(age > 2.5 - (double)st.st_ctim.tv_nsec / 1e9 - 1e-6);
	assert_true(age < 2.5 - (double)st.st_ctim.tv_nsec / 1e9 + 1e-6);
	assert_true(heartbeat_age(proc, 101, &f, ctime_s - 3, 5.0) == 0); /* touched after "now" */
	assert_int_equal(f.fd, 5);
}

/* Gunicorn 21 and later utime the file to time.monotonic(): the age is
 * from the mtime, against the monotonic clock. */
static void test_age_monotonic_mtime(void **state)
{
	const struct timespec t[2] = { { 1234, 500000000 }, { 1234, 500000000 } };
	struct hb_file f;
	double now, age;
	int h, fd;

	(void)state;
	h = new_hb();
	f = found_one(h);
	fd = open(hb[h], O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(futimens(fd, t), 0);
	close(fd);
	now = clock_s(CLOCK_REALTIME);
	age = heartbeat_age(proc, 101, &f, now, 1240.25);
	assert_true(age > 5.75 - 1e-9 && age < 5.75 + 1e-9);
	assert_true(heartbeat_age(proc, 101, &f, now, 1234.0) == 0);

	/* a real monotonic time, just now */
	now = clock_s(CLOCK_MONOTONIC);
	assert_int_equal(utimensat(AT_FDCWD, hb[h],
				   (const struct timespec[]){ { (time_t)now, 0 }, { (time_t)now, 0 } }, 0),
			 0);
	age = heartbeat_age(proc, 101, &f, clock_s(CLOCK_REALTIME), clock_s(CLOCK_MONOTONIC));
	assert_true(age >= 0 && age < 1.5);
	assert_int_equal(f.fd, 5);
}

/* The fd now names another file (the worker died and the pid was reused,
 * or the fd was closed and reused): negative, and the fd is forgotten. */
static void test_age_file_replaced(void **state)
{
	struct hb_file f, g;
	char path[400];
	int h;

	(void)state;
	h = new_hb();
	f = found_one(h);
	g = f;
	assert_true(heartbeat_age(proc, 101, &f, clock_s(CLOCK_REALTIME), clock_s(CLOCK_MONOTONIC)) >= 0);
	link_hb(101, 5, new_hb());
	assert_true(heartbeat_age(proc, 101, &f, clock_s(CLOCK_REALTIME), clock_s(CLOCK_MONOTONIC)) < 0);
	assert_int_equal(f.fd, -1);
	assert_true(heartbeat_age(proc, 101, &f, clock_s(CLOCK_REALTIME), clock_s(CLOCK_MONOTONIC)) < 0);

	/* the fd closed, or the worker gone */
	snprintf(path, sizeof(path), "%s/101/fd/5", proc);
	assert_int_equal(unlink(path), 0);
	assert_true(heartbeat_age(proc, 101, &g, clock_s(CLOCK_REALTIME), clock_s(CLOCK_MONOTONIC)) < 0);
	assert_int_equal(g.fd, -1);
}

/* A master whose fds cannot be read: -1, and no worker has a file. */
static void test_unreadable_master(void **state)
{
	pid_t workers[] = { 101 };
	struct hb_file out[1] = { { 5, 1, 1 } };
	int h;

	(void)state;
	h = new_hb();
	link_hb(101, 5, h);
	assert_int_equal(heartbeat_find(proc, 100, workers, 1, out), -1); /* no 100 */
	expect_none(&out[0]);
	assert_int_equal(heartbeat_find("/nonexistent/test_heartbeat/proc", 100, workers, 1, out), -1);
	expect_none(&out[0]);
	link_hb(100, 5, h);
	assert_int_equal(heartbeat_find(proc, 100, workers, 0, out), 0); /* no workers */
}

/* The real kernel: this process as the master and forked children as its
 * workers, holding unlinked files as WorkerTmp leaves them. Child 1 and 2
 * keep what they inherit (Gunicorn before 19.8); child 3 closes its elder
 * siblings' files first, as Gunicorn does now. */
static void test_real_proc(void **state)
{
	enum { N = 3 };
	pid_t kids[N];
	struct hb_file out[N];
	int fds[N], ready[2];
	char c;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	for (int i = 0; i < N; i++) {
		char name[] = "/tmp/wgunicorn-XXXXXX";

		fds[i] = mkstemp(name);
		assert_true(fds[i] >= 0);
		unlink(name);
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			for (int k = 0; i == N - 1 && k < i; k++)
				close(fds[k]);
			(void)!write(ready[1], "x", 1);
			pause();
			_exit(0);
		}
		assert_int_equal(read(ready[0], &c, 1), 1);
	}
	assert_int_equal(heartbeat_find("/proc", getpid(), kids, N, out), N);
	for (int i = 0; i < N; i++) {
		struct stat st;
		double age;

		assert_int_equal(fstat(fds[i], &st), 0);
		assert_true(out[i].ino == st.st_ino && out[i].dev == st.st_dev);
		assert_int_equal(fchmod(fds[i], 1), 0);
		age = heartbeat_age("/proc", kids[i], &out[i], clock_s(CLOCK_REALTIME),
				    clock_s(CLOCK_MONOTONIC));
		assert_true(age >= 0 && age < 1.0);
	}
	for (int i = 0; i < N; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
		close(fds[i]);
	}
	/* gone: the age says so */
	assert_true(
	    heartbeat_age("/proc", kids[0], &out[0], clock_s(CLOCK_REALTIME), clock_s(CLOCK_MONOTONIC)) < 0);
	assert_int_equal(out[0].fd, -1);
	close(ready[0]);
	close(ready[1]);
}

int main(void)
{
	/* one group, so tests/run.sh counts them all; each test has its own tree */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_single_worker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_workers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_worker_file_kept_by_younger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ambiguous_unresolved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_workers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_age_ctime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_age_monotonic_mtime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_age_file_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_master, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_proc, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
