/* tls.h - following the TLS a Gunicorn terminates: for a master with a
 * certfile, uprobes on the SSL functions of its workers' libssl, bound to
 * the master (inherited by the workers it forks from then on) and to the
 * workers already running; nothing for any other process. */
#ifndef OBS_TLS_H
#define OBS_TLS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "host/libssl.h"
#include "kernel/loader.h"
#include "kernel/uprobe.h"
#include "model/registry.h"

/* Entry points of SSL_read, _ex, SSL_write, _ex, SSL_do_handshake and
 * SSL_free, then the return points of all but SSL_free. */
#define TLS_POINTS (SSL_FN_N + SSL_FN_FREE)

/* One libssl file (all processes that map it share its points). */
struct tls_lib {
	uint64_t dev, ino;
	int id[TLS_POINTS]; /* tracefs ids; 0 for a function the file lacks */
	char name[TLS_POINTS][64];
	struct bpf_link *carry[TLS_POINTS];
};

/* A process bound to a library's points (a master, or a worker that was
 * running when its master was found). */
struct tls_bind {
	pid_t pid;
	int fd[TLS_POINTS];
};

struct tls_follow {
	struct uprobe_group g;
	struct tls_lib *libs;
	size_t nlibs, caplibs;
	struct tls_bind *b;
	size_t nb, capb;
	int started;
};

void tls_init(struct tls_follow *t);
/* Follows the TLS of master m and of its running workers (n of them):
 * logs that m has a TLS listener and, when its libssl cannot be probed,
 * one line naming the worker and why (m->tls -1: not tried again). Sets
 * m->tls to 1 on success. Returns 1, having done nothing, for a master
 * with no worker and no libssl yet (just started): call again at its
 * first fork, with that worker. */
int tls_follow_master(struct tls_follow *t, struct loader *ld, const char *proc_root, struct master_rec *m,
		      const pid_t *workers, size_t n);
/* Binds worker pid, forked by a followed master before the master was
 * bound (its fork raced the start of the following). */
int tls_follow_worker(struct tls_follow *t, const char *proc_root, pid_t pid);
/* Lets go of an exited process's events. */
void tls_forget(struct tls_follow *t, pid_t pid);
/* Detaches everything and removes the points. */
void tls_end(struct tls_follow *t, struct loader *ld);

#endif
