/* test_auth.c - the basic auth password file (auth_parse, auth_load): the
 * hashes it takes, the plain passwords and malformed hashes it refuses with
 * the exact message; and the check (auth_check) against bcrypt hashes made
 * by Python's crypt and by libxcrypt here, sha256 hashes, wrong users and
 * passwords, and the cache of the last pair that passed.
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_auth
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "render/auth.h"

/* crypt.crypt("correct horse", "$2b$04$abcdefghijklmnopqrstuu") in Python */
#define BCRYPT_2B "$2b$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e"
#define BCRYPT_2Y "$2y$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e"
/* printf 'correct horse' | sha256sum */
#define SHA_HEX "4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631"

static char dir[64];

static const char *write_file(const char *name, const char *text, size_t len)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	return path;
}

static void parse_ok(struct auth *a, const char *text)
{
	char err[256] = "";

	memset(a, 0, sizeof(*a));
	snprintf(a->user, sizeof(a->user), "prom");
	if (auth_parse(a, text, err, sizeof(err)))
		fail_msg("'%s' refused: %s", text, err);
}

static void parse_bad(const char *text, const char *want)
{
	struct auth a;
	char err[256] = "";

	memset(&a, 0, sizeof(a));
	assert_int_equal(auth_parse(&a, text, err, sizeof(err)), -1);
	assert_string_equal(err, want);
}

static void test_parse_kinds(void **state)
{
	static const unsigned char want[AUTH_SHA256_LEN] = { 0x41, 0x04, 0xd3, 0x6f, 0x8d, 0xa2, 0xc2, 0x54,
							     0x34, 0x9f, 0x85, 0x83, 0x67, 0x93, 0xeb, 0xe0,
							     0x29, 0xe0, 0xc9, 0x57, 0x06, 0x3a, 0x34, 0xc9,
							     0x1c, 0x2e, 0x92, 0x03, 0x18, 0x7b, 0x56, 0x31 };
	struct auth a;

	(void)state;
	parse_ok(&a, BCRYPT_2B);
	assert_int_equal(a.kind, AUTH_BCRYPT);
	assert_string_equal(a.bcrypt, BCRYPT_2B);
	parse_ok(&a, BCRYPT_2Y "\n");
	assert_int_equal(a.kind, AUTH_BCRYPT);
	assert_string_equal(a.bcrypt, BCRYPT_2Y);
	parse_ok(&a, "sha256:" SHA_HEX "\r\n");
	assert_int_equal(a.kind, AUTH_SHA256);
	parse_ok(&a, BCRYPT_2Y "\n\n"); /* htpasswd's output */
	assert_string_equal(a.bcrypt, BCRYPT_2Y);
	parse_ok(&a, "sha256:" SHA_HEX " \t\n");
	assert_int_equal(a.kind, AUTH_SHA256);
	assert_memory_equal(a.sha256, want, sizeof(want));
	parse_ok(&a, "sha256:4104D36F8DA2C254349F85836793EBE029E0C957063A34C91C2E9203187B5631");
	assert_memory_equal(a.sha256, want, sizeof(want));
}

static void test_parse_refuses(void **state)
{
	static const char plain[] = "looks like a plain password, which is refused: store a bcrypt hash "
				    "($2b$...) or sha256:<hex of the password's sha256> instead";

	(void)state;
	parse_bad("hunter2", plain);
	parse_bad("hunter2\n", plain);
	parse_bad("correct horse battery staple", plain);
	parse_bad(SHA_HEX, plain); /* a bare hex digest could be a password too */
	parse_bad("", "is empty: store a bcrypt hash ($2b$...) or sha256:<hex> in it");
	parse_bad("\n", "is empty: store a bcrypt hash ($2b$...) or sha256:<hex> in it");
	parse_bad(" \r\n\n", "is empty: store a bcrypt hash ($2b$...) or sha256:<hex> in it");
	parse_bad(BCRYPT_2B "\n" BCRYPT_2B, "has more than one line: store only the hash in it");
	parse_bad("$1$abcdefgh$abcdefghijklmnopqrstuv",
		  "holds a hash of an unsupported kind: use bcrypt ($2b$ or $2y$) or sha256:<hex>");
	parse_bad("$2a$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e",
		  "holds a hash of an unsupported kind: use bcrypt ($2b$ or $2y$) or sha256:<hex>");
	parse_bad("$2b$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6",
		  "holds a malformed bcrypt hash: expected 60 characters such as $2b$10$ followed by 53 of "
		  "[./A-Za-z0-9]");
	parse_bad("$2b$4$$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e",
		  "holds a malformed bcrypt hash: expected 60 characters such as $2b$10$ followed by 53 of "
		  "[./A-Za-z0-9]");
	parse_bad("$2b$03$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e",
		  "holds a bcrypt hash of cost 3: use a cost from 04 to 31");
	parse_bad("$2b$32$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e",
		  "holds a bcrypt hash of cost 32: use a cost from 04 to 31");
	parse_bad("$2b$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6!",
		  "holds a malformed bcrypt hash: '!' is not one of [./A-Za-z0-9]");
	parse_bad(
	    "sha256:" SHA_HEX "0",
	    "holds a sha256 hash of 65 hex digits: give 64, as 'sha256:' followed by sha256sum's output");
	parse_bad("sha256:", "holds a sha256 hash of 0 hex digits: give 64, as 'sha256:' followed by "
			     "sha256sum's output");
	parse_bad("sha256:4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b563g",
		  "holds a sha256 hash with a character that is not a hex digit");
}

static void test_check_bcrypt(void **state)
{
	struct auth a;

	(void)state;
	parse_ok(&a, BCRYPT_2B);
	assert_int_equal(auth_check(&a, "prom", "correct horse"), 1);
	assert_int_equal(auth_check(&a, "prom", "correct horse "), 0);
	assert_int_equal(auth_check(&a, "prom", "Correct horse"), 0);
	assert_int_equal(auth_check(&a, "prom", ""), 0);
	assert_int_equal(auth_check(&a, "prometheus", "correct horse"), 0);
	assert_int_equal(auth_check(&a, "pro", "correct horse"), 0);
	assert_int_equal(auth_check(&a, "", "correct horse"), 0);
	parse_ok(&a, BCRYPT_2Y);
	assert_int_equal(auth_check(&a, "prom", "correct horse"), 1);
	assert_int_equal(auth_check(&a, "prom", "wrong"), 0);
}

/* A hash made here with a random salt, so the test does not rest on one fixture. */
static void test_check_bcrypt_fresh_salt(void **state)
{
	static struct crypt_data cd;
	char salt[64], hash[64];
	struct auth a;
	const char *out;

	(void)state;
	assert_non_null(crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt)));
	memset(&cd, 0, sizeof(cd));
	out = crypt_rn("p:a:s:s w0rd\xc3\xa9", salt, &cd, sizeof(cd));
	assert_non_null(out);
	snprintf(hash, sizeof(hash), "%s", out);
	parse_ok(&a, hash);
	assert_int_equal(auth_check(&a, "prom", "p:a:s:s w0rd\xc3\xa9"), 1);
	assert_int_equal(auth_check(&a, "prom", "p:a:s:s w0rd"), 0);
}

static void test_check_sha256(void **state)
{
	struct auth a;

	(void)state;
	parse_ok(&a, "sha256:" SHA_HEX);
	assert_int_equal(auth_check(&a, "prom", "correct horse"), 1);
	assert_int_equal(auth_check(&a, "prom", "correct hors"), 0);
	assert_int_equal(auth_check(&a, "PROM", "correct horse"), 0);
	assert_int_equal(auth_check(&a, "prom", SHA_HEX), 0); /* the hash is no password */
}

/* The cache of the last pair that passed never lets another pair in. */
static void test_check_cache(void **state)
{
	struct auth a;

	(void)state;
	parse_ok(&a, BCRYPT_2B);
	assert_int_equal(a.have_passed, 0);
	assert_int_equal(auth_check(&a, "prom", "wrong"), 0);
	assert_int_equal(a.have_passed, 0);
	assert_int_equal(auth_check(&a, "prom", "correct horse"), 1);
	assert_int_equal(a.have_passed, 1);
	assert_int_equal(auth_check(&a, "prom", "correct horse"), 1);
	assert_int_equal(auth_check(&a, "prom", "wrong"), 0);
	/* user and password are kept apart: "prom"+"x" is not "pro"+"mx" */
	assert_int_equal(auth_check(&a, "promcorrect", " horse"), 0);
	assert_int_equal(auth_check(&a, "prom", "correct horse"), 1);
}

static void test_load(void **state)
{
	struct auth a;
	char err[256] = "";
	const char *p;

	(void)state;
	p = write_file("bcrypt", BCRYPT_2B "\n", strlen(BCRYPT_2B) + 1);
	assert_int_equal(auth_load(&a, "prom", p, err, sizeof(err)), 0);
	assert_string_equal(a.user, "prom");
	assert_int_equal(auth_check(&a, "prom", "correct horse"), 1);

	p = write_file("plain", "hunter2\n", 8);
	assert_int_equal(auth_load(&a, "prom", p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "looks like a plain password, which is refused"));
	assert_null(strstr(err, "hunter2")); /* never echoed */

	p = write_file("nul", "sha256:\0abc", 11);
	assert_int_equal(auth_load(&a, "prom", p, err, sizeof(err)), -1);
	assert_string_equal(err, "holds a NUL byte: store only the hash in it");

	{
		char big[600];

		memset(big, 'a', sizeof(big));
		p = write_file("big", big, sizeof(big));
		assert_int_equal(auth_load(&a, "prom", p, err, sizeof(err)), -1);
		assert_string_equal(err, "is larger than a hash: store only the hash in it");
	}

	snprintf(err, sizeof(err), "x");
	assert_int_equal(auth_load(&a, "prom", "/nonexistent/pw", err, sizeof(err)), -1);
	assert_string_equal(err, "cannot be read (No such file or directory): give a readable file holding "
				 "the hash");
	assert_int_equal(auth_load(&a, "prom", dir, err, sizeof(err)), -1);
	assert_string_equal(err, "cannot be read (Is a directory): give a regular file holding the hash");
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_auth.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	static const char *const names[] = { "bcrypt", "plain", "nul", "big" };
	char p[128];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_kinds),  cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_check_bcrypt), cmocka_unit_test(test_check_bcrypt_fresh_salt),
		cmocka_unit_test(test_check_sha256), cmocka_unit_test(test_check_cache),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
