/* auth.c - the basic auth password file and the password check. The file
 * holds a hash only: bcrypt ("$2b$"/"$2y$", checked with libxcrypt's
 * crypt_rn) or "sha256:<64 hex digits>" (OpenSSL); a plain password in it
 * is refused, so the file never holds what an attacker could replay. */
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "render/auth.h"
#include "lib/log.h"

#define BCRYPT_LEN 60 /* "$2b$" cost "$" 22 salt + 31 hash characters */
#define SHA_PREFIX "sha256:"

static int is_bcrypt_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '.' || ch == '/';
}

static int parse_bcrypt(struct auth *a, const char *s, size_t len, char *err, size_t errlen)
{
	int cost;

	if (len != BCRYPT_LEN || !isdigit((unsigned char)s[4]) || !isdigit((unsigned char)s[5]) ||
	    s[6] != '$')
		return errf(err, errlen,
			    "holds a malformed bcrypt hash: expected 60 characters such as $2b$10$ "
			    "followed by 53 of [./A-Za-z0-9]");
	cost = (s[4] - '0') * 10 + (s[5] - '0');
	if (cost < 4 || cost > 31)
		return errf(err, errlen, "holds a bcrypt hash of cost %d: use a cost from 04 to 31", cost);
	for (size_t i = 7; i < len; i++)
		if (!is_bcrypt_char(s[i]))
			return errf(err, errlen,
				    "holds a malformed bcrypt hash: '%c' is not one of [./A-Za-z0-9]", s[i]);
	memcpy(a->bcrypt, s, len);
	a->bcrypt[len] = '\0';
	a->kind = AUTH_BCRYPT;
	return 0;
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)tolower((unsigned char)ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static int parse_sha256(struct auth *a, const char *hex, size_t len, char *err, size_t errlen)
{
	if (len != 2 * AUTH_SHA256_LEN)
		return errf(err, errlen,
			    "holds a sha256 hash of %zu hex digits: give 64, as 'sha256:' followed by "
			    "sha256sum's output",
			    len);
	for (size_t i = 0; i < AUTH_SHA256_LEN; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return errf(err, errlen,
				    "holds a sha256 hash with a character that is not a hex digit");
		a->sha256[i] = (unsigned char)(hi << 4 | lo);
	}
	a->kind = AUTH_SHA256;
	return 0;
}

int auth_parse(struct auth *a, const char *text, char *err, size_t errlen)
{
	size_t len = strlen(text);

	while (len && isspace((unsigned char)text[len - 1])) /* htpasswd ends with a blank line */
		len--;
	if (len == 0)
		return errf(err, errlen, "is empty: store a bcrypt hash ($2b$...) or sha256:<hex> in it");
	if (memchr(text, '\n', len))
		return errf(err, errlen, "has more than one line: store only the hash in it");
	if (strncmp(text, "$2b$", 4) == 0 || strncmp(text, "$2y$", 4) == 0)
		return parse_bcrypt(a, text, len, err, errlen);
	if (strncmp(text, SHA_PREFIX, strlen(SHA_PREFIX)) == 0)
		return parse_sha256(a, text + strlen(SHA_PREFIX), len - strlen(SHA_PREFIX), err, errlen);
	if (text[0] == '$')
		return errf(err, errlen,
			    "holds a hash of an unsupported kind: use bcrypt ($2b$ or $2y$) or sha256:<hex>");
	return errf(err, errlen,
		    "looks like a plain password, which is refused: store a bcrypt hash ($2b$...) or "
		    "sha256:<hex of the password's sha256> instead");
}

int auth_load(struct auth *a, const char *user, const char *path, char *err, size_t errlen)
{
	char buf[512];
	ssize_t n;
	int fd;

	memset(a, 0, sizeof(*a));
	if (strlen(user) >= sizeof(a->user))
		return errf(err, errlen, "belongs to a user name longer than %zu characters",
			    sizeof(a->user) - 1);
	snprintf(a->user, sizeof(a->user), "%s", user);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errf(err, errlen, "cannot be read (%s): give a readable file holding the hash",
			    strerror(errno));
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		int e = errno;

		close(fd);
		return errf(err, errlen, "cannot be read (%s): give a regular file holding the hash",
			    strerror(e));
	}
	close(fd);
	if ((size_t)n == sizeof(buf))
		return errf(err, errlen, "is larger than a hash: store only the hash in it");
	buf[n] = '\0';
	if (strlen(buf) != (size_t)n)
		return errf(err, errlen, "holds a NUL byte: store only the hash in it");
	return auth_parse(a, buf, err, errlen);
}

/* Constant-time equality of two strings of any lengths. */
static int same_text(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char da[AUTH_SHA256_LEN], db[AUTH_SHA256_LEN];

	SHA256((const unsigned char *)a, la, da);
	SHA256((const unsigned char *)b, lb, db);
	return CRYPTO_memcmp(da, db, sizeof(da)) == 0;
}

static int bcrypt_matches(const char *hash, const char *password)
{
	static struct crypt_data data; /* 32 KiB: not on the stack */
	const char *out;

	memset(&data, 0, sizeof(data));
	out = crypt_rn(password, hash, &data, sizeof(data));
	return out && strlen(out) == strlen(hash) && CRYPTO_memcmp(out, hash, strlen(hash)) == 0;
}

/* sha256 of user, NUL, password: the NUL keeps "ab"+"c" apart from "a"+"bc". */
static int pair_digest(const char *user, const char *password, unsigned char *out)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(c, user, strlen(user) + 1) &&
		 EVP_DigestUpdate(c, password, strlen(password)) && EVP_DigestFinal_ex(c, out, NULL);

	EVP_MD_CTX_free(c);
	return ok ? 0 : -1;
}

int auth_check(struct auth *a, const char *user, const char *password)
{
	unsigned char pair[AUTH_SHA256_LEN], d[AUTH_SHA256_LEN];
	int user_ok = same_text(user, a->user), ok, cached = pair_digest(user, password, pair) == 0;

	if (cached && a->have_passed && CRYPTO_memcmp(pair, a->passed, sizeof(pair)) == 0)
		return 1;
	if (a->kind == AUTH_SHA256) {
		SHA256((const unsigned char *)password, strlen(password), d);
		ok = CRYPTO_memcmp(d, a->sha256, sizeof(d)) == 0;
	} else {
		ok = bcrypt_matches(a->bcrypt, password);
	}
	ok = ok && user_ok;
	if (ok && cached) {
		memcpy(a->passed, pair, sizeof(pair));
		a->have_passed = 1;
	}
	return ok;
}
