/* test_discover.c - unit tests for userspace/discover.c and the /proc
 * readers of userspace/procfs.c it stands on.
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_discover
 *
 * The scan tests build a fake /proc tree in a fresh mkdtemp directory
 * (<pid>/cmdline NUL-separated, <pid>/stat in the kernel's format) and
 * remove it afterwards.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tmp_tree.h"

#include "host/discover.h"
#include "host/gconf.h"
#include "lib/procfs.h"

/* The app name and timeout Gunicorn's settings give a command line alone
 * (no /proc to read its environment or config file from). */
static void gunicorn_app_name(const struct cmdline *c, char *out, size_t size)
{
	struct gunicorn_settings g;

	gunicorn_settings("/nonexistent", 1, c, &g);
	copy_name(out, size, g.app, strlen(g.app));
}

static double gunicorn_timeout(const struct cmdline *c)
{
	struct gunicorn_settings g;

	gunicorn_settings("/nonexistent", 1, c, &g);
	return g.timeout_s;
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_ARGV     24

/* Fills c from a NULL-terminated argv, as the kernel lays out
 * /proc/PID/cmdline, and splits it with procfs_split_cmdline. */
static void make_cmdline(struct cmdline *c, const char *const *argv)
{
	size_t len = 0;

	memset(c, 0, sizeof(*c));
	for (; *argv; argv++) {
		size_t n = strlen(*argv) + 1;

		assert_true(len + n < sizeof(c->buf));
		memcpy(c->buf + len, *argv, n);
		len += n;
	}
	procfs_split_cmdline(c, len);
}

static const char *argv_str(const char *const *argv, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (; *argv && n < size; argv++)
		n += (size_t)snprintf(out + n, size - n, "%s%s", n ? " | " : "", *argv);
	return out;
}

/* ---------------------------------------------------------------------------
 * gunicorn_kind
 */

struct kind_case {
	const char *argv[MAX_ARGV];
	enum gunicorn_kind want;
};

static const struct kind_case kind_cases[] = {
	/* the console script, by any path and versioned name */
	{ { "gunicorn", "app:app" }, GK_PLAIN },
	{ { "/usr/bin/gunicorn", "-w", "2", "app:app" }, GK_PLAIN },
	{ { "/venv/bin/gunicorn3", "-w", "4", "-b", "0.0.0.0:8000", "myproj.wsgi:application" }, GK_PLAIN },
	{ { "/opt/app/.venv/bin/gunicorn-3.11", "app:app" }, GK_PLAIN },
	{ { "gunicorn" }, GK_PLAIN },
	/* an interpreter running the module or the script */
	{ { "/usr/bin/python3", "-m", "gunicorn", "-b", ":8000", "app:app" }, GK_PLAIN },
	{ { "python3", "-m", "gunicorn.app.wsgiapp", "app:app" }, GK_PLAIN },
	{ { "python3.11", "/usr/bin/gunicorn", "app:app" }, GK_PLAIN },
	{ { "/opt/venv/bin/python", "/opt/venv/bin/gunicorn", "--workers", "3", "app:app" }, GK_PLAIN },
	{ { "python3", "-X", "dev", "-m", "gunicorn", "app:app" }, GK_PLAIN },
	{ { "python3", "-W", "ignore", "-u", "-m", "gunicorn", "app:app" }, GK_PLAIN },
	/* the command line of a master re-executed by USR2 after "python3 -m gunicorn" */
	{ { "/usr/bin/python3", "/usr/lib/python3/dist-packages/gunicorn/__main__.py", "-w", "2", "app:app" },
	  GK_PLAIN },
	{ { "/usr/bin/python3", "/srv/app/__main__.py" }, GK_NONE },
	{ { "/usr/bin/python3", "-u", "/usr/local/bin/gunicorn", "app:app" }, GK_PLAIN },
	{ { "pypy3", "-m", "gunicorn", "app:app" }, GK_PLAIN },
	/* setproctitle titles: the whole title is one argument */
	{ { "gunicorn: master [myapp]" }, GK_MASTER },
	{ { "gunicorn: worker [myapp]" }, GK_WORKER },
	{ { "gunicorn: master [myproj.wsgi:application]" }, GK_MASTER },
	/* not Gunicorn */
	{ { "gunicorn-observer", "--listen", "0.0.0.0:9093" }, GK_NONE },
	{ { "/usr/local/bin/gunicorn-observer", "--listen", "0.0.0.0:9093" }, GK_NONE },
	{ { "python3", "-m", "http.server" }, GK_NONE },
	{ { "python3", "-m", "http.server", "8000" }, GK_NONE },
	{ { "python3", "script.py", "gunicorn" }, GK_NONE },
	{ { "python3", "/srv/manage.py", "runserver", "gunicorn" }, GK_NONE },
	{ { "python3", "-c", "import gunicorn" }, GK_NONE },
	{ { "python3", "-m", "gunicornish" }, GK_NONE },
	{ { "bash", "-c", "gunicorn" }, GK_NONE },
	{ { "/bin/sh", "-c", "exec gunicorn app:app" }, GK_NONE },
	{ { "sudo", "-u", "www", "gunicorn", "app:app" }, GK_NONE },
	{ { "/usr/bin/greenunicorn", "app:app" }, GK_NONE },
	{ { "nginx: master process /usr/sbin/nginx" }, GK_NONE },
	{ { NULL }, GK_NONE }, /* empty: a kernel thread or a zombie */
};

static void test_kind_command_lines(void **state)
{
	char desc[512];
	struct cmdline c;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(kind_cases); i++) {
		enum gunicorn_kind got;

		make_cmdline(&c, kind_cases[i].argv);
		got = gunicorn_kind(&c);
		if (got != kind_cases[i].want)
			fail_msg("gunicorn_kind(%s): got %d, want %d",
				 argv_str(kind_cases[i].argv, desc, sizeof(desc)), got, kind_cases[i].want);
	}
}

/* Python takes the module attached to -m too: "python3 -mgunicorn". */
static void test_kind_python_attached_m(void **state)
{
	static const char *const argv[] = { "python3", "-mgunicorn", "-w", "2", "app:app", NULL };
	struct cmdline c;
	char app[OBS_APP_LEN];

	(void)state;
	make_cmdline(&c, argv);
	if (gunicorn_kind(&c) != GK_PLAIN)
		fail_msg("gunicorn_kind(python3 -mgunicorn -w 2 app:app): got %d, want GK_PLAIN (%d)",
			 gunicorn_kind(&c), GK_PLAIN);
	gunicorn_app_name(&c, app, sizeof(app));
	assert_string_equal(app, "app:app");
}

/* Fuzz input (fuzz_gconf): "-m" as the last argument (there the 64th) left
 * the first Gunicorn argument past the end of argv. */
static void test_first_option_m_last(void **state)
{
	static const char *const argv[] = { "python3", "-X", "dev", "-m", NULL };
	struct cmdline c;
	char app[OBS_APP_LEN];

	(void)state;
	make_cmdline(&c, argv);
	assert_int_equal(gunicorn_first_option(&c), c.argc);
	gunicorn_app_name(&c, app, sizeof(app));
	assert_string_equal(app, "gunicorn");
	assert_true(gunicorn_timeout(&c) == 0);
}

/* A title as the kernel shows it after setproctitle: the title, then the
 * rest of the old argv area as NULs. */
static void test_split_cmdline_setproctitle_padding(void **state)
{
	static const char title[] = "gunicorn: master [myapp]";
	struct cmdline c;
	size_t len = 200;

	(void)state;
	memset(&c, 0, sizeof(c));
	memcpy(c.buf, title, sizeof(title) - 1);
	procfs_split_cmdline(&c, len);
	assert_int_equal(c.argc, 1);
	assert_string_equal(c.argv[0], title);
	assert_int_equal(gunicorn_kind(&c), GK_MASTER);

	/* the same with a worker title and padding right up to the end */
	memset(&c, 0, sizeof(c));
	memcpy(c.buf, "gunicorn: worker [myapp]", 24);
	procfs_split_cmdline(&c, sizeof(c.buf) - 1);
	assert_int_equal(c.argc, 1);
	assert_string_equal(c.argv[0], "gunicorn: worker [myapp]");
	assert_int_equal(gunicorn_kind(&c), GK_WORKER);
}

static void test_split_cmdline_plain(void **state)
{
	static const char raw[] = "/usr/bin/python3\0-m\0gunicorn\0-b\0:8000\0app:app\0";
	struct cmdline c;

	(void)state;
	memset(&c, 0, sizeof(c));
	memcpy(c.buf, raw, sizeof(raw) - 1);
	procfs_split_cmdline(&c, sizeof(raw) - 1);
	assert_int_equal(c.argc, 6);
	assert_string_equal(c.argv[0], "/usr/bin/python3");
	assert_string_equal(c.argv[1], "-m");
	assert_string_equal(c.argv[2], "gunicorn");
	assert_string_equal(c.argv[5], "app:app");
	for (int i = 0; i < c.argc; i++)
		assert_true(c.argv[i] >= c.buf && c.argv[i] < c.buf + sizeof(c.buf));

	/* the last argument without its NUL (the buffer is NUL-terminated) */
	memset(&c, 0, sizeof(c));
	memcpy(c.buf, "gunicorn\0app:app", 16);
	procfs_split_cmdline(&c, 16);
	assert_int_equal(c.argc, 2);
	assert_string_equal(c.argv[1], "app:app");

	/* nothing */
	memset(&c, 0, sizeof(c));
	procfs_split_cmdline(&c, 0);
	assert_int_equal(c.argc, 0);
	memset(&c, 0, sizeof(c));
	procfs_split_cmdline(&c, 50); /* only NULs */
	assert_int_equal(c.argc, 0);
}

/* More arguments than OBS_MAX_ARGS: capped, never written past argv[]. */
static void test_split_cmdline_many_args(void **state)
{
	struct cmdline c;
	size_t len = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (int i = 0; i < OBS_MAX_ARGS + 20; i++)
		len += (size_t)snprintf(c.buf + len, sizeof(c.buf) - len, "a%d", i) + 1;
	procfs_split_cmdline(&c, len);
	assert_int_equal(c.argc, OBS_MAX_ARGS);
	assert_string_equal(c.argv[0], "a0");
	assert_string_equal(c.argv[OBS_MAX_ARGS - 1], "a63");
}

/* ---------------------------------------------------------------------------
 * gunicorn_app_name
 */

struct app_case {
	const char *argv[MAX_ARGV];
	const char *want;
};

static const struct app_case app_cases[] = {
	/* --name wins, in each of its forms and wherever it is */
	{ { "gunicorn", "--name", "web", "app:app" }, "web" },
	{ { "gunicorn", "-n", "web", "app:app" }, "web" },
	{ { "gunicorn", "--name=web", "app:app" }, "web" },
	{ { "gunicorn", "-nweb", "app:app" }, "web" },
	{ { "gunicorn", "app:app", "--name", "web" }, "web" },
	{ { "gunicorn", "-b", ":8000", "-n", "web", "-w", "2", "app:app" }, "web" },
	{ { "/usr/bin/python3", "-m", "gunicorn", "--name", "web", "app:app" }, "web" },
	/* a setproctitle title names the app in brackets */
	{ { "gunicorn: master [myapp]" }, "myapp" },
	{ { "gunicorn: worker [myapp]" }, "myapp" },
	{ { "gunicorn: master [myproj.wsgi:application]" }, "myproj.wsgi:application" },
	/* else the WSGI target: the last positional, after options with values */
	{ { "gunicorn", "app:app" }, "app:app" },
	{ { "gunicorn", "-w", "4", "-b", "0.0.0.0:8000", "--timeout", "30", "myproj.wsgi:application" },
	  "myproj.wsgi:application" },
	{ { "/usr/bin/python3", "-m", "gunicorn", "-b", ":8000", "app:app" }, "app:app" },
	{ { "python3", "-X", "dev", "-m", "gunicorn", "-k", "gevent", "app:app" }, "app:app" },
	{ { "python3.11", "/usr/bin/gunicorn", "-c", "gunicorn.conf.py", "app:create_app()" },
	  "app:create_app()" },
	{ { "gunicorn", "--access-logfile", "-", "--error-logfile", "-", "app:app" }, "app:app" },
	{ { "gunicorn", "-e", "FOO=1", "--env", "BAR=2", "app:app" }, "app:app" },
	{ { "gunicorn", "app:app", "-w", "4" }, "app:app" },
	/* flags that take no value do not eat the target */
	{ { "gunicorn", "--preload", "--reload", "app:app" }, "app:app" },
	{ { "gunicorn", "-D", "-R", "--reuse-port", "--capture-output", "app:app" }, "app:app" },
	{ { "gunicorn", "--no-sendfile", "--proxy-protocol", "--log-syslog", "app:app" }, "app:app" },
	{ { "gunicorn", "--strip-header-spaces", "--check-config", "app:app" }, "app:app" },
	/* values attached to the option */
	{ { "gunicorn", "-w4", "app:app" }, "app:app" },
	{ { "gunicorn", "-w4", "-b:8000", "-kgevent", "app:app" }, "app:app" },
	{ { "gunicorn", "--workers=4", "--bind=:8000", "--timeout=30", "app:app" }, "app:app" },
	/* else the first listener */
	{ { "gunicorn", "--bind=0.0.0.0:8000" }, "0.0.0.0:8000" },
	{ { "gunicorn", "-b", "127.0.0.1:8000", "-b", "[::1]:8000" }, "127.0.0.1:8000" },
	{ { "gunicorn", "-b", "unix:/run/app.sock", "-c", "conf.py" }, "unix:/run/app.sock" },
	{ { "gunicorn", "-b:9000", "-w", "2" }, ":9000" },
	{ { "/usr/bin/python3", "-m", "gunicorn", "-b", ":8000" }, ":8000" },
	{ { "python3", "-m", "gunicorn.app.wsgiapp", "--bind=:8000" }, ":8000" },
	/* else "gunicorn" */
	{ { "gunicorn" }, "gunicorn" },
	{ { "gunicorn", "-c", "gunicorn.conf.py" }, "gunicorn" },
	{ { "/usr/bin/python3", "-m", "gunicorn" }, "gunicorn" },
	{ { "gunicorn: master" }, "gunicorn" },
	{ { NULL }, "gunicorn" },
};

static void test_app_name_cases(void **state)
{
	char desc[512], app[OBS_APP_LEN];
	struct cmdline c;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(app_cases); i++) {
		make_cmdline(&c, app_cases[i].argv);
		memset(app, 'X', sizeof(app));
		gunicorn_app_name(&c, app, sizeof(app));
		if (!memchr(app, '\0', sizeof(app)))
			fail_msg("gunicorn_app_name(%s): not NUL-terminated",
				 argv_str(app_cases[i].argv, desc, sizeof(desc)));
		if (strcmp(app, app_cases[i].want) != 0)
			fail_msg("gunicorn_app_name(%s): got \"%s\", want \"%s\"",
				 argv_str(app_cases[i].argv, desc, sizeof(desc)), app, app_cases[i].want);
	}
}

/* Boolean options of current Gunicorn releases (22.0, 23.0; the Debian
 * 20.1.0 build has --tolerate-dangerous-framing) take no value either. */
static void test_app_name_newer_gunicorn_flags(void **state)
{
	static const char *const flags[] = {
		"--permit-unconventional-http-method",
		"--permit-unconventional-http-version",
		"--casefold-http-method",
		"--permit-obsolete-folding",
		"--tolerate-dangerous-framing",
	};
	char app[OBS_APP_LEN];
	struct cmdline c;
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(flags); i++) {
		const char *argv[] = { "gunicorn", "-w", "2", flags[i], "myproj.wsgi:application", NULL };

		make_cmdline(&c, argv);
		gunicorn_app_name(&c, app, sizeof(app));
		if (strcmp(app, "myproj.wsgi:application") != 0) {
			print_error(
			    "gunicorn_app_name(gunicorn -w 2 %s myproj.wsgi:application): got \"%s\", "
			    "want \"myproj.wsgi:application\"\n",
			    flags[i], app);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* The name is cut to the buffer and always NUL-terminated. */
static void test_app_name_truncated(void **state)
{
	static const char *const argv[] = { "gunicorn", "--name", "abcdefghijklmnop", "app:app", NULL };
	char big[300], app[OBS_APP_LEN], small[8];
	const char *argv2[] = { "gunicorn", big, NULL };
	struct cmdline c;

	(void)state;
	make_cmdline(&c, argv);
	memset(small, 'X', sizeof(small));
	gunicorn_app_name(&c, small, sizeof(small));
	assert_string_equal(small, "abcdefg");

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	make_cmdline(&c, argv2);
	gunicorn_app_name(&c, app, sizeof(app));
	assert_int_equal(strlen(app), OBS_APP_LEN - 1);

	make_cmdline(&c, (const char *const[]){ "gunicorn: master [abcdefghijkl]", NULL });
	gunicorn_app_name(&c, small, sizeof(small));
	assert_string_equal(small, "abcdefg");
}

/* ---------------------------------------------------------------------------
 * A fake /proc.
 */

static char *fake_root;

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* /proc/PID/stat as the kernel writes it: 52 fields, field 22 starttime. */
static void add_stat(int pid, const char *comm, int ppid, unsigned long long start, int prio)
{
	char path[512], stat[1024];
	int n;

	n = snprintf(stat, sizeof(stat),
		     "%d (%s) S %d %d %d 0 -1 4194560 2880 0 0 0 13 4 0 0 %d 0 1 0 %llu "
		     "27066368 5000 18446744073709551615 94000000000000 94000000001000 "
		     "140700000000000 0 0 0 0 16781312 134235138 1 0 0 17 3 0 0 0 0 0 "
		     "94000000010000 94000000011000 94000020000000 140700000001000 140700000001100 "
		     "140700000001100 140700000004000 0\n",
		     pid, comm, ppid, ppid, ppid, prio, start);
	assert_true(n > 0 && (size_t)n < sizeof(stat));
	snprintf(path, sizeof(path), "%s/%d/stat", fake_root, pid);
	write_file(path, stat, (size_t)n);
}

static void add_dir(int pid)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%d", fake_root, pid);
	assert_int_equal(mkdir(path, 0755), 0);
}

/* argv NULL-terminated; pad adds that many NULs after it (setproctitle). */
static void add_cmdline(int pid, const char *const *argv, size_t pad)
{
	char path[512], buf[4096];
	size_t len = 0;

	for (; *argv; argv++) {
		size_t n = strlen(*argv) + 1;

		memcpy(buf + len, *argv, n);
		len += n;
	}
	assert_true(len + pad <= sizeof(buf));
	memset(buf + len, 0, pad);
	snprintf(path, sizeof(path), "%s/%d/cmdline", fake_root, pid);
	write_file(path, buf, len + pad);
}

static void add_proc(int pid, const char *const *argv, size_t pad, const char *comm, int ppid,
		     unsigned long long start, int prio)
{
	add_dir(pid);
	add_cmdline(pid, argv, pad);
	add_stat(pid, comm, ppid, start, prio);
}

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The tree:
 *   1    /sbin/init
 *   100  gunicorn: master [web]          (setproctitle)  start 5000
 *   101  gunicorn: worker [web]          ppid 100        start 5100
 *   102  gunicorn: worker [web]          ppid 100        start 5200, comm "w) S 9 (x) y"
 *   200  python3 -m gunicorn ... api.wsgi:application    start 2^32+100
 *   201  the same command line (no setproctitle), ppid 200, start 2^32+150, RT priority
 *   202  python3 script.py gunicorn      ppid 200 (a child that is no worker)
 *   300  python3 -m http.server 8080     ppid 1
 *   301  gunicorn-observer --listen ...  ppid 1
 *   400  kernel thread: empty cmdline    ppid 2
 *   500  gunicorn app:gone, no stat file (exited between the reads)
 *   plus non-pid entries: self, sys, 12ab
 */
#define START_100 5000ULL
#define START_101 5100ULL
#define START_102 5200ULL
#define START_200 4294967396ULL
#define START_201 4294967446ULL

static int setup_tree(void **state)
{
	char tmpl[] = "/tmp/test_discover_XXXXXX", path[512];

	(void)state;
	if (!mkdtemp(tmpl))
		return -1;
	fake_root = strdup(tmpl);

	add_proc(1, ARGV("/sbin/init", "splash"), 0, "systemd", 0, 10, 20);
	add_proc(100, ARGV("gunicorn: master [web]"), 41, "gunicorn: maste", 1, START_100, 20);
	add_proc(101, ARGV("gunicorn: worker [web]"), 41, "gunicorn: worke", 100, START_101, 20);
	add_proc(102, ARGV("gunicorn: worker [web]"), 41, "w) S 9 (x) y", 100, START_102, 20);
	add_proc(200,
		 ARGV("/usr/bin/python3", "-m", "gunicorn", "-b", ":8000", "--workers", "1",
		      "api.wsgi:application"),
		 0, "python3", 1, START_200, 20);
	add_proc(201,
		 ARGV("/usr/bin/python3", "-m", "gunicorn", "-b", ":8000", "--workers", "1",
		      "api.wsgi:application"),
		 0, "python3", 200, START_201, -51);
	add_proc(202, ARGV("python3", "script.py", "gunicorn"), 0, "python3", 200, 4294967500ULL, 20);
	add_proc(300, ARGV("python3", "-m", "http.server", "8080"), 0, "python3", 1, 6000, 20);
	add_proc(301, ARGV("gunicorn-observer", "--listen", "0.0.0.0:9093"), 0, "gunicorn-observ", 1, 6100,
		 20);
	add_dir(400);
	add_cmdline(400, ARGV(""), 0); /* writes one NUL; truncate below */
	snprintf(path, sizeof(path), "%s/400/cmdline", fake_root);
	write_file(path, "", 0);
	add_stat(400, "kworker/0:1-events", 2, 20, 20);
	add_dir(500);
	add_cmdline(500, ARGV("gunicorn", "app:gone"), 0);

	snprintf(path, sizeof(path), "%s/self", fake_root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sys", fake_root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/12ab", fake_root);
	assert_int_equal(mkdir(path, 0755), 0);
	*state = fake_root;
	return 0;
}

static int teardown_tree(void **state)
{
	(void)state;
	tmp_tree_remove(&fake_root);
	return 0;
}

static const struct found *find_pid(const struct found_list *l, pid_t pid)
{
	const struct found *f = NULL;

	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].pid != pid)
			continue;
		if (f)
			fail_msg("pid %d listed twice", (int)pid);
		f = &l->v[i];
	}
	return f;
}

static void dump(const struct found_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		print_message("  [%zu] pid %d master %d start %llu app \"%s\"\n", i, (int)l->v[i].pid,
			      (int)l->v[i].master, (unsigned long long)l->v[i].start_ticks, l->v[i].app);
}

static void expect_found(const struct found_list *l, pid_t pid, pid_t master, uint64_t start, const char *app)
{
	const struct found *f = find_pid(l, pid);

	if (!f) {
		dump(l);
		fail_msg("pid %d not found", (int)pid);
	}
	assert_int_equal(f->master, master);
	assert_int_equal(f->start_ticks, start);
	assert_string_equal(f->app, app);
}

static void test_procfs_stat_odd_comm(void **state)
{
	pid_t ppid = -1;
	uint64_t start = 0;

	(void)state;
	assert_int_equal(procfs_stat(fake_root, 102, &ppid, &start), 0);
	assert_int_equal(ppid, 100);
	assert_int_equal(start, START_102);
	assert_int_equal(procfs_stat(fake_root, 201, &ppid, &start), 0); /* negative priority */
	assert_int_equal(ppid, 200);
	assert_int_equal(start, START_201); /* beyond 32 bits */
	assert_int_equal(procfs_stat(fake_root, 100, &ppid, NULL), 0);
	assert_int_equal(ppid, 1);
	assert_int_equal(procfs_stat(fake_root, 500, &ppid, &start), -1); /* no stat */
	assert_int_equal(procfs_stat(fake_root, 999, &ppid, &start), -1);
}

static void test_procfs_cmdline_fake(void **state)
{
	struct cmdline c;

	(void)state;
	assert_int_equal(procfs_cmdline(fake_root, 101, &c), 0);
	assert_int_equal(c.argc, 1);
	assert_string_equal(c.argv[0], "gunicorn: worker [web]");
	assert_int_equal(procfs_cmdline(fake_root, 200, &c), 0);
	assert_int_equal(c.argc, 8);
	assert_string_equal(c.argv[7], "api.wsgi:application");
	assert_int_equal(procfs_cmdline(fake_root, 400, &c), -1); /* kernel thread */
	assert_int_equal(procfs_cmdline(fake_root, 999, &c), -1); /* gone */
}

/* A FIFO or a device (a master's -c naming one) is refused, not waited on. */
static void test_procfs_read_only_regular_files(void **state)
{
	char path[256], buf[64];

	(void)state;
	snprintf(path, sizeof(path), "%s/fifo", fake_root);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(procfs_read_regular(path, buf, sizeof(buf)), -1);
	unlink(path);
	assert_int_equal(procfs_read_regular("/dev/zero", buf, sizeof(buf)), -1);
	assert_int_equal(procfs_read_regular(fake_root, buf, sizeof(buf)), -1); /* a directory */
	assert_true(procfs_read_regular("/proc/self/stat", buf, sizeof(buf)) > 0);
}

static void test_scan(void **state)
{
	struct found_list l = { 0 };
	size_t masters = 0;

	(void)state;
	assert_int_equal(discover_scan(fake_root, &l), 0);
	if (l.n != 5) {
		dump(&l);
		fail_msg("discover_scan: %zu entries, want 5 (100, 101, 102, 200, 201)", l.n);
	}
	expect_found(&l, 100, 100, START_100, "web");
	expect_found(&l, 101, 100, START_101, "web");
	expect_found(&l, 102, 100, START_102, "web");
	expect_found(&l, 200, 200, START_200, "api.wsgi:application");
	expect_found(&l, 201, 200, START_201, "api.wsgi:application");
	/* each master comes first, then its own workers, before the next master */
	for (size_t i = 0; i < l.n; i++) {
		if (l.v[i].master == l.v[i].pid) {
			masters++;
			continue;
		}
		assert_true(i > 0);
		/* the closest master before a worker is its own */
		for (size_t j = i; j-- > 0;) {
			if (l.v[j].master != l.v[j].pid)
				continue;
			if (l.v[j].pid != l.v[i].master) {
				dump(&l);
				fail_msg("worker %d listed under master %d", (int)l.v[i].pid,
					 (int)l.v[j].pid);
			}
			break;
		}
	}
	assert_int_equal(masters, 2);
	/* not there: the unrelated python processes, the observer, the
	 * kernel thread, the process without stat, a non-worker child */
	assert_null(find_pid(&l, 1));
	assert_null(find_pid(&l, 202));
	assert_null(find_pid(&l, 300));
	assert_null(find_pid(&l, 301));
	assert_null(find_pid(&l, 400));
	assert_null(find_pid(&l, 500));
	found_list_free(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
}

static void test_workers_of_master(void **state)
{
	struct found_list l = { 0 };

	(void)state;
	assert_int_equal(discover_workers(fake_root, 100, &l), 0);
	if (l.n != 3) {
		dump(&l);
		fail_msg("discover_workers(100): %zu entries, want 3", l.n);
	}
	assert_int_equal(l.v[0].pid, 100); /* the master first */
	assert_int_equal(l.v[0].master, 100);
	assert_int_equal(l.v[0].start_ticks, START_100);
	assert_string_equal(l.v[0].app, "web");
	expect_found(&l, 101, 100, START_101, "web");
	expect_found(&l, 102, 100, START_102, "web");
	found_list_free(&l);

	assert_int_equal(discover_workers(fake_root, 200, &l), 0);
	if (l.n != 2) {
		dump(&l);
		fail_msg("discover_workers(200): %zu entries, want 2", l.n);
	}
	assert_int_equal(l.v[0].pid, 200);
	assert_int_equal(l.v[0].master, 200);
	assert_int_equal(l.v[0].start_ticks, START_200);
	assert_string_equal(l.v[0].app, "api.wsgi:application");
	assert_int_equal(l.v[1].pid, 201);
	assert_int_equal(l.v[1].master, 200);
	assert_int_equal(l.v[1].start_ticks, START_201);
	found_list_free(&l);

	/* a pid that is not Gunicorn, or not there: nothing */
	assert_int_equal(discover_workers(fake_root, 300, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(discover_workers(fake_root, 999, &l), 0);
	assert_int_equal(l.n, 0);
	found_list_free(&l);
}

static void test_scan_missing_root(void **state)
{
	struct found_list l = { 0 };

	(void)state;
	assert_int_not_equal(discover_scan("/nonexistent/test_discover/proc", &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_not_equal(discover_workers("/nonexistent/test_discover/proc", 1, &l), 0);
	assert_int_equal(l.n, 0);
	found_list_free(&l);
}

static int count_pid(pid_t pid, void *arg)
{
	(void)pid;
	++*(int *)arg;
	return 0;
}

static int stop_at_first(pid_t pid, void *arg)
{
	(void)pid;
	++*(int *)arg;
	return 1;
}

/* Only numeric entries; stops when asked to. */
static void test_each_pid(void **state)
{
	int n = 0;

	(void)state;
	assert_int_equal(procfs_each_pid(fake_root, count_pid, &n), 0);
	/* 1 100 101 102 200 201 202 300 301 400 500 */
	assert_int_equal(n, 11);
	n = 0;
	procfs_each_pid(fake_root, stop_at_first, &n);
	assert_int_equal(n, 1);
}

int main(void)
{
	/* one group, so tests/run.sh counts them all; the fake /proc is made
	 * once for the group */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_command_lines),
		cmocka_unit_test(test_kind_python_attached_m),
		cmocka_unit_test(test_first_option_m_last),
		cmocka_unit_test(test_split_cmdline_setproctitle_padding),
		cmocka_unit_test(test_split_cmdline_plain),
		cmocka_unit_test(test_split_cmdline_many_args),
		cmocka_unit_test(test_app_name_cases),
		cmocka_unit_test(test_app_name_newer_gunicorn_flags),
		cmocka_unit_test(test_app_name_truncated),
		cmocka_unit_test(test_procfs_stat_odd_comm),
		cmocka_unit_test(test_procfs_cmdline_fake),
		cmocka_unit_test(test_procfs_read_only_regular_files),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_workers_of_master),
		cmocka_unit_test(test_scan_missing_root),
		cmocka_unit_test(test_each_pid),
	};

	return cmocka_run_group_tests(tests, setup_tree, teardown_tree);
}
