/* libssl.h - the OpenSSL a process runs: the file its /proc/PID/maps
 * holds (a libssl.so, or another object with libssl linked in) and where
 * in that file the SSL functions the TLS probes need begin. */
#ifndef OBS_LIBSSL_H
#define OBS_LIBSSL_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

enum ssl_fn {
	SSL_FN_READ = 0,
	SSL_FN_READ_EX,
	SSL_FN_WRITE,
	SSL_FN_WRITE_EX,
	SSL_FN_DO_HANDSHAKE,
	SSL_FN_FREE, /* the last: the only one without a return probe */
	SSL_FN_N,
};

extern const char *const ssl_fn_names[SSL_FN_N];

struct ssl_lib {
	char path[PATH_MAX];    /* as the process sees it */
	char open[PATH_MAX];    /* as the observer opens it: through ROOT/PID/root */
	uint64_t dev, ino;      /* of the mapped file, as /proc/PID/maps gives them */
	uint64_t off[SSL_FN_N]; /* file offset of each function; 0 when absent */
	/* off[] of SSL_read_ex (SSL_write_ex) is that of the function it calls
	 * at once with its own arguments (ssl_read_internal), which SSL_read
	 * (SSL_write) calls too: off[] of that one is then 0 (see libssl.c) */
	int inner[SSL_FN_N];
};

/* Finds the libssl pid runs and its functions; returns 0, or -1 with one
 * line in why saying what is missing (no libssl mapped, a libssl without
 * the symbols: linked in statically and stripped). */
int libssl_find(const char *proc_root, pid_t pid, struct ssl_lib *out, char *why, size_t n);
/* The functions' offsets (and sizes, when size is not NULL) in the ELF
 * file at path; returns how many of SSL_read/_ex and SSL_write/_ex it
 * found (0: not observable). */
int libssl_symbols(const char *path, uint64_t off[SSL_FN_N], uint64_t size[SSL_FN_N]);
/* Moves the probes of SSL_read_ex and SSL_write_ex to the functions they
 * wrap, where that is safe (libssl.c); returns how many moved. */
int libssl_inner(const char *path, struct ssl_lib *s, const uint64_t size[SSL_FN_N]);

#endif
