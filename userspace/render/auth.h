/* auth.h - HTTP basic auth for the metrics endpoint: the password file (a
 * bcrypt or sha256 hash, never a plain password) and the check of a
 * user/password pair against it. */
#ifndef OBS_AUTH_H
#define OBS_AUTH_H

#include <stddef.h>

#define AUTH_SHA256_LEN 32

enum auth_kind { AUTH_BCRYPT, AUTH_SHA256 };

struct auth {
	char user[128];
	enum auth_kind kind;
	char bcrypt[64];                       /* "$2b$10$..." when AUTH_BCRYPT */
	unsigned char sha256[AUTH_SHA256_LEN]; /* the digest when AUTH_SHA256 */
	/* sha256 of the last user:password that passed, so a scraper that
	 * sends the same header every time pays for bcrypt once */
	unsigned char passed[AUTH_SHA256_LEN];
	int have_passed;
};

/* Parses the text of a password file (one hash, then optional white space)
 * into a; on anything else writes what is wrong (a phrase that follows the
 * file's name) into err and returns -1. */
int auth_parse(struct auth *a, const char *text, char *err, size_t errlen);
/* Reads path and parses it, user being the name to accept; -1 with err. */
int auth_load(struct auth *a, const char *user, const char *path, char *err, size_t errlen);
/* 1 when user and password match, else 0; compares in constant time. */
int auth_check(struct auth *a, const char *user, const char *password);

#endif
