/* test_gconf.c - Gunicorn settings from a config file's literal
 * assignments, from GUNICORN_CMD_ARGS and from the command line, merged in
 * Gunicorn's order, over a fake /proc tree. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/gargs.h"
#include "host/gconf.h"

static void test_parse_literals(void **state)
{
	char text[] = "import multiprocessing\n"
		      "bind = ['127.0.0.1:8001', 'unix:/run/x.sock']\n"
		      "workers = multiprocessing.cpu_count() * 2\n"
		      "timeout = 45\n"
		      "certfile = '/etc/ssl/shop.pem'\n"
		      "proc_name = \"shop\"\n"
		      "wsgi_app = 'shop.wsgi:application'\n"
		      "if debug:\n"
		      "    timeout = 600\n"
		      "graceful_timeout = 10\n"
		      "timeout == 3\n";
	struct gconf_file f = { 0 };

	(void)state;
	gconf_parse(text, &f);
	assert_string_equal(f.bind, "127.0.0.1:8001");
	assert_string_equal(f.proc_name, "shop");
	assert_string_equal(f.wsgi_app, "shop.wsgi:application");
	assert_true(f.timeout_s == 45.0); /* not the indented 600, nor graceful_timeout */
	assert_string_equal(f.certfile, "/etc/ssl/shop.pem");
}

static void test_parse_nothing_known(void **state)
{
	char text[] = "def on_starting(server):\n    pass\nloglevel = 'debug'\n";
	struct gconf_file f = { 0 };

	(void)state;
	gconf_parse(text, &f);
	assert_null(f.bind);
	assert_null(f.proc_name);
	assert_null(f.wsgi_app);
	assert_null(f.certfile);
	assert_true(f.timeout_s == 0);
}

static char root[64];

static void write_file(const char *rel, const char *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void make_cmdline(struct cmdline *c, const char *const *argv)
{
	size_t off = 0;

	for (int i = 0; argv[i]; i++) {
		size_t n = strlen(argv[i]) + 1;

		memcpy(c->buf + off, argv[i], n);
		off += n;
	}
	procfs_split_cmdline(c, off);
}

static int setup(void **state)
{
	char path[256];

	(void)state;
	snprintf(root, sizeof(root), "/tmp/go-gconf.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(path, sizeof(path), "%s/100", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/100/cwd", root);
	mkdir(path, 0755);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_sources_in_order(void **state)
{
	static const char env[] =
	    "PATH=/usr/bin\0GUNICORN_CMD_ARGS=--timeout 20 --name 'from env' --certfile=env.pem\0HOME=/\0";
	static const char conf[] =
	    "timeout = 45\nproc_name = 'from file'\nwsgi_app = 'a.wsgi:app'\ncertfile = \"file.pem\"\n";
	const char *plain[] = { "/usr/bin/python3", "/usr/bin/gunicorn", "-w", "2", NULL };
	const char *flags[] = {
		"gunicorn", "--timeout=5", "-n", "cli", "--certfile", "cli.pem", "x:app", NULL
	};
	struct gunicorn_settings g;
	struct cmdline c;

	(void)state;
	write_file("100/cwd/gunicorn.conf.py", conf, sizeof(conf) - 1);
	make_cmdline(&c, plain);
	write_file("100/environ", "", 0);
	gunicorn_settings(root, 100, &c, &g);
	assert_string_equal(g.app, "from file");
	assert_true(g.timeout_s == 45);
	assert_string_equal(g.certfile, "file.pem");

	write_file("100/environ", env, sizeof(env) - 1);
	gunicorn_settings(root, 100, &c, &g);
	assert_string_equal(g.app, "from env");
	assert_true(g.timeout_s == 20);
	assert_string_equal(g.certfile, "env.pem");

	make_cmdline(&c, flags);
	gunicorn_settings(root, 100, &c, &g);
	assert_string_equal(g.app, "cli");
	assert_true(g.timeout_s == 5);
	assert_string_equal(g.certfile, "cli.pem"); /* its value is no APP_MODULE either */
}

static void test_config_flag_and_fallbacks(void **state)
{
	static const char conf[] = "bind = '0.0.0.0:9000'\n";
	const char *argv[] = { "gunicorn", "-c", "conf/prod.py", NULL };
	const char *none[] = { "gunicorn", "-w", "4", NULL };
	struct gunicorn_settings g;
	struct cmdline c;
	char path[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/100/cwd/conf", root);
	mkdir(path, 0755);
	write_file("100/cwd/conf/prod.py", conf, sizeof(conf) - 1);
	write_file("100/environ", "", 0);
	unlink(strcat(strcpy(path, root), "/100/cwd/gunicorn.conf.py"));
	make_cmdline(&c, argv);
	gunicorn_settings(root, 100, &c, &g);
	assert_string_equal(g.app, "0.0.0.0:9000");
	assert_true(g.timeout_s == 0);
	assert_string_equal(g.certfile, ""); /* clear text */
	make_cmdline(&c, none);
	gunicorn_settings(root, 100, &c, &g);
	assert_string_equal(g.app, "gunicorn");
}

static void test_title_wins(void **state)
{
	const char *argv[] = { "gunicorn: master [titled]", NULL };
	struct gunicorn_settings g;
	struct cmdline c;

	(void)state;
	write_file("100/environ", "GUNICORN_CMD_ARGS=--name env --timeout 8", 41);
	make_cmdline(&c, argv);
	gunicorn_settings(root, 100, &c, &g);
	assert_string_equal(g.app, "titled");
	assert_true(g.timeout_s == 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_literals),   cmocka_unit_test(test_parse_nothing_known),
		cmocka_unit_test(test_sources_in_order), cmocka_unit_test(test_config_flag_and_fallbacks),
		cmocka_unit_test(test_title_wins),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
