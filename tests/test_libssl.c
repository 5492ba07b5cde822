/* test_libssl.c - finding the OpenSSL of a process: symbols and their file
 * offsets in this host's own libssl (checked against its program headers
 * with readelf's numbers: the offsets the TLS uprobes are made at), and the
 * choice of file from a process's maps (a fake /proc). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/libssl.h"
#include "tmp_tree.h"

#define LIBSSL "/usr/lib/x86_64-linux-gnu/libssl.so.3"

static char *root;

/* The offset readelf computes for symbol name (value - vaddr + offset of
 * its executable segment), from readelf's own output. */
static uint64_t readelf_offset(const char *name)
{
	char cmd[512], line[256];
	unsigned long long v = 0, vaddr = 0, off = 0, memsz = 0, o, a, m;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -W --dyn-syms %s | awk '$8 ~ /^%s@/ {print $2}'", LIBSSL, name);
	p = popen(cmd, "r");
	if (p && fgets(line, sizeof(line), p))
		v = strtoull(line, NULL, 16);
	if (p)
		pclose(p);
	snprintf(cmd, sizeof(cmd), "readelf -lW %s | awk '$1 == \"LOAD\" && / E / {print $2, $3, $6}'",
		 LIBSSL);
	p = popen(cmd, "r");
	while (p && fgets(line, sizeof(line), p))
		if (sscanf(line, "%llx %llx %llx", &o, &a, &m) == 3 && v >= a && v < a + m) {
			off = o;
			vaddr = a;
			memsz = m;
		}
	if (p)
		pclose(p);
	return v && memsz ? v - vaddr + off : 0;
}

static void test_host_libssl(void **state)
{
	uint64_t off[SSL_FN_N];

	(void)state;
	if (access(LIBSSL, R_OK) || system("command -v readelf >/dev/null")) {
		print_message("no %s or readelf here: skipped\n", LIBSSL);
		skip();
	}
	assert_int_equal(libssl_symbols(LIBSSL, off, NULL), 4);
	for (int k = 0; k < SSL_FN_N; k++) {
		assert_true(off[k] != 0);
		assert_int_equal(off[k], readelf_offset(ssl_fn_names[k]));
	}
}

/* The target of the first call in the function at file offset off, as
 * objdump decodes it (this libssl's text has file offsets equal to its
 * addresses, checked by test_host_libssl). */
static uint64_t objdump_call(const char *lib, uint64_t off)
{
	char cmd[512], line[256];
	unsigned long long t = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "objdump -d --start-address=0x%llx --stop-address=0x%llx %s | awk '/\\tcall / {print "
		 "$(NF-1); exit}'",
		 (unsigned long long)off, (unsigned long long)off + 9, lib);
	p = popen(cmd, "r");
	if (p && fgets(line, sizeof(line), p))
		t = strtoull(line, NULL, 16);
	if (p)
		pclose(p);
	return t;
}

/* OpenSSL 3's SSL_read_ex is "sub $8,%rsp; call ssl_read_internal", and
 * SSL_read calls the same: one probe at that function's entry (a push,
 * which the kernel emulates) instead of two at a "sub" (stepped out of
 * line). */
static void test_inner(void **state)
{
	uint64_t size[SSL_FN_N], read_ex, write_ex;
	struct ssl_lib s = { 0 }, t;

	(void)state;
	if (access(LIBSSL, R_OK) || system("command -v objdump >/dev/null")) {
		print_message("no %s or objdump here: skipped\n", LIBSSL);
		skip();
	}
	assert_int_equal(libssl_symbols(LIBSSL, s.off, size), 4);
	read_ex = s.off[SSL_FN_READ_EX];
	write_ex = s.off[SSL_FN_WRITE_EX];
	t = s;
	assert_int_equal(libssl_inner(LIBSSL, &s, size), 2);
	assert_true(s.inner[SSL_FN_READ_EX] && s.inner[SSL_FN_WRITE_EX]);
	assert_int_equal(s.off[SSL_FN_READ_EX], objdump_call(LIBSSL, read_ex));
	assert_int_equal(s.off[SSL_FN_WRITE_EX], objdump_call(LIBSSL, write_ex));
	assert_int_equal(s.off[SSL_FN_READ], 0);
	assert_int_equal(s.off[SSL_FN_WRITE], 0);
	assert_true(s.off[SSL_FN_DO_HANDSHAKE] != 0 && s.off[SSL_FN_FREE] != 0);
	/* a function that does not open so (SSL_do_handshake) moves nothing,
	 * nor a wrapper whose plain twin does not call the same */
	t.off[SSL_FN_READ_EX] = t.off[SSL_FN_DO_HANDSHAKE];
	t.off[SSL_FN_WRITE] = t.off[SSL_FN_FREE];
	size[SSL_FN_WRITE] = size[SSL_FN_FREE] < 512 ? size[SSL_FN_FREE] : 512;
	assert_int_equal(libssl_inner(LIBSSL, &t, size), 0);
	assert_int_equal(t.off[SSL_FN_WRITE_EX], write_ex);
}

/* OpenSSL 1.1.1 (Debian 11's libssl.so.1.1, whose symbols carry other
 * versions): the same functions and the same move. Run when
 * OBS_TEST_LIBSSL11 names such a file (bookworm has none to install). */
static void test_libssl11(void **state)
{
	const char *lib = getenv("OBS_TEST_LIBSSL11");
	uint64_t size[SSL_FN_N], read_ex, write_ex;
	struct ssl_lib s = { 0 };

	(void)state;
	if (!lib || access(lib, R_OK)) {
		print_message("OBS_TEST_LIBSSL11 names no libssl.so.1.1: skipped\n");
		skip();
	}
	assert_int_equal(libssl_symbols(lib, s.off, size), 4);
	for (int k = 0; k < SSL_FN_N; k++)
		assert_true(s.off[k] != 0);
	read_ex = s.off[SSL_FN_READ_EX];
	write_ex = s.off[SSL_FN_WRITE_EX];
	assert_int_equal(libssl_inner(lib, &s, size), 2);
	assert_int_equal(s.off[SSL_FN_READ_EX], objdump_call(lib, read_ex));
	assert_int_equal(s.off[SSL_FN_WRITE_EX], objdump_call(lib, write_ex));
}

static void test_not_elf(void **state)
{
	uint64_t off[SSL_FN_N];

	(void)state;
	assert_int_equal(libssl_symbols("/proc/self/status", off, NULL), 0);
	assert_int_equal(libssl_symbols("/nonexistent/libssl.so.3", off, NULL), -1);
}

static void put(const char *rel, const char *text)
{
	char path[512], cmd[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void link_to(const char *rel, const char *target)
{
	char path[512], cmd[1200];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\" && cp '%s' '%s'", path, target, path);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	char tmpl[] = "/tmp/test_libssl.XXXXXX";

	(void)state;
	root = strdup(mkdtemp(tmpl));
	return root ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tmp_tree_remove(&root);
	return 0;
}

static void test_find_in_maps(void **state)
{
	struct ssl_lib s;
	char why[256];

	(void)state;
	if (access(LIBSSL, R_OK))
		skip();
	/* the interpreter, then _ssl's module, then libssl: libssl is chosen */
	put("7/maps", "55d0c0000000-55d0c0001000 r--p 00000000 08:01 100 /usr/bin/python3.11\n"
		      "7f0000000000-7f0000001000 r--p 00000000 08:01 200 "
		      "/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so\n"
		      "7f0000100000-7f0000101000 r--p 00000000 08:01 300 " LIBSSL "\n"
		      "7f0000101000-7f0000102000 r-xp 0001f000 08:01 300 " LIBSSL "\n"
		      "7fff00000000-7fff00001000 rw-p 00000000 00:00 0 [stack]\n");
	put("7/root/usr/bin/python3.11", "not an ELF file");
	put("7/root/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so", "not an ELF file");
	link_to("7/root" LIBSSL, LIBSSL);
	assert_int_equal(libssl_find(root, 7, &s, why, sizeof(why)), 0);
	assert_string_equal(s.path, LIBSSL);
	assert_int_equal(s.ino, 300);
	assert_int_equal(s.dev, (8ULL << 20) | 1);
	assert_true(s.off[SSL_FN_WRITE_EX] != 0 && s.inner[SSL_FN_READ_EX]);

	/* OpenSSL linked into _ssl's module, symbols kept: probed there */
	put("8/maps", "7f0000000000-7f0000001000 r-xp 00000000 fd:02 42 /opt/py/lib/_ssl.cpython-312.so\n");
	link_to("8/root/opt/py/lib/_ssl.cpython-312.so", LIBSSL);
	assert_int_equal(libssl_find(root, 8, &s, why, sizeof(why)), 0);
	assert_string_equal(s.path, "/opt/py/lib/_ssl.cpython-312.so");

	/* linked in and stripped: not observable, and why */
	put("9/maps", "7f0000000000-7f0000001000 r-xp 00000000 fd:02 43 /opt/py/lib/_ssl.cpython-312.so\n");
	put("9/root/opt/py/lib/_ssl.cpython-312.so", "stripped");
	assert_int_equal(libssl_find(root, 9, &s, why, sizeof(why)), -1);
	assert_string_equal(why,
			    "/opt/py/lib/_ssl.cpython-312.so has no SSL_read or SSL_write symbol (stripped)");

	/* nothing of OpenSSL mapped yet (a master just exec'd) */
	put("10/maps", "55d0c0000000-55d0c0001000 r--p 00000000 08:01 100 /usr/bin/env\n");
	assert_int_equal(libssl_find(root, 10, &s, why, sizeof(why)), -1);
	assert_string_equal(why, "no libssl is mapped");

	/* a process that is gone */
	assert_int_equal(libssl_find(root, 11, &s, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "cannot read"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_libssl),
		cmocka_unit_test(test_inner),
		cmocka_unit_test(test_libssl11),
		cmocka_unit_test(test_not_elf),
		cmocka_unit_test_setup_teardown(test_find_in_maps, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
