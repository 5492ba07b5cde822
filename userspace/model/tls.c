/* tls.c - which processes the TLS probes are bound to (tls.h). The BPF
 * side is tls.bpf.c; the binding is kernel/uprobe.c. */
#include "model/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/plane.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/vec.h"

/* The program of each point: the entries', then one for every return. */
static const char *const point_prog[TLS_POINTS] = {
	"ssl_read",   "ssl_read_ex", "ssl_write",  "ssl_write_ex", "ssl_do_handshake", "ssl_free",
	"ssl_return", "ssl_return",  "ssl_return", "ssl_return",   "ssl_return",
};

static enum ssl_fn point_fn(int p)
{
	return p < SSL_FN_N ? (enum ssl_fn)p : (enum ssl_fn)(p - SSL_FN_N);
}

void tls_init(struct tls_follow *t)
{
	memset(t, 0, sizeof(*t));
	uprobe_group_init(&t->g);
}

static void lib_drop(struct tls_follow *t, struct tls_lib *l)
{
	for (int p = 0; p < TLS_POINTS; p++) {
		bpf_link__destroy(l->carry[p]);
		l->carry[p] = NULL;
		if (l->id[p] > 0)
			uprobe_point_remove(&t->g, l->name[p]);
		l->id[p] = 0;
	}
}

/* The library of file s whose points are made, NULL when none. */
static struct tls_lib *lib_find(struct tls_follow *t, const struct ssl_lib *s)
{
	for (size_t i = 0; i < t->nlibs; i++)
		if (t->libs[i].dev == s->dev && t->libs[i].ino == s->ino)
			return &t->libs[i];
	return NULL;
}

/* The points of lib, made (and their programs carried) on first use. */
static struct tls_lib *lib_points(struct tls_follow *t, struct loader *ld, const struct ssl_lib *s)
{
	struct tls_lib *l = lib_find(t, s);
	int p;

	if (l)
		return l;
	if (!t->started) {
		if (tracefs_mount()) /* it said what to do */
			return NULL;
		uprobe_remove_stale();
		t->started = 1;
	}
	if (vec_grow((void **)&t->libs, t->nlibs, &t->caplibs, sizeof(*t->libs), 4))
		return NULL;
	l = &t->libs[t->nlibs];
	memset(l, 0, sizeof(*l));
	l->dev = s->dev;
	l->ino = s->ino;
	for (p = 0; p < TLS_POINTS; p++) {
		enum ssl_fn fn = point_fn(p);
		int ret = p >= SSL_FN_N;

		if (!s->off[fn])
			continue;
		snprintf(l->name[p], sizeof(l->name[p]), "%s%s_%llx_%llx%s", ssl_fn_names[fn],
			 s->inner[fn] ? "_inner" : "", (unsigned long long)s->dev, (unsigned long long)s->ino,
			 ret ? "_ret" : "");
		l->id[p] = uprobe_point(&t->g, l->name[p], s->open, s->off[fn], ret);
		if (l->id[p] < 0)
			goto fail;
		l->carry[p] = uprobe_carry(l->id[p], loader_program(ld, point_prog[p]));
		if (!l->carry[p])
			goto fail;
	}
	t->nlibs++;
	return l;
fail:
	log_warn("cannot make the uprobe on %s%s in %s (%s): the TLS of its masters is not followed",
		 ssl_fn_names[point_fn(p)], p >= SSL_FN_N ? "'s return" : "", s->path, strerror(errno));
	lib_drop(t, l);
	return NULL;
}

static void bind_close(struct tls_bind *b)
{
	for (int p = 0; p < TLS_POINTS; p++)
		if (b->fd[p] >= 0)
			close(b->fd[p]);
}

/* Binds pid to l's points (inherit: its later children too). */
static int bind_pid(struct tls_follow *t, const struct tls_lib *l, pid_t pid, int inherit)
{
	struct tls_bind b = { .pid = pid };
	int e = ENOMEM;

	for (int p = 0; p < TLS_POINTS; p++)
		b.fd[p] = -1;
	for (int p = 0; p < TLS_POINTS; p++)
		if (l->id[p] > 0 && (b.fd[p] = uprobe_bind(l->id[p], pid, inherit)) < 0) {
			e = errno;
			goto fail;
		}
	if (vec_grow((void **)&t->b, t->nb, &t->capb, sizeof(*t->b), 16))
		goto fail;
	t->b[t->nb++] = b;
	return 0;
fail:
	bind_close(&b);
	errno = e;
	return -1;
}

/* The library of a followed master (its first worker's, else its own). */
static const struct tls_lib *lib_of(struct tls_follow *t, const char *proc_root, pid_t pid)
{
	struct ssl_lib s;
	char why[256];

	return libssl_find(proc_root, pid, &s, why, sizeof(why)) ? NULL : lib_find(t, &s);
}

int tls_follow_master(struct tls_follow *t, struct loader *ld, const char *proc_root, struct master_rec *m,
		      const pid_t *workers, size_t n)
{
	pid_t probe = n ? workers[0] : m->pid;
	const struct tls_lib *l;
	struct ssl_lib s;
	char why[256];

	if (libssl_find(proc_root, probe, &s, why, sizeof(why))) {
		if (!n)
			return 1; /* a master just started loads libssl before it forks: again at its first fork */
		log_warn("master %d (%s) has a TLS listener (certfile %s), but the TLS of worker %d is not "
			 "observable: %s",
			 (int)m->pid, m->app, m->certfile, (int)probe, why);
		m->tls = -1;
		return -1;
	}
	log_info("master %d (%s) has a TLS listener (certfile %s): following its workers' TLS", (int)m->pid,
		 m->app, m->certfile);
	l = lib_points(t, ld, &s);
	if (!l) {
		m->tls = -1;
		return -1;
	}
	loader_tls_on(ld);
	/* the master first: a worker it forks from now on inherits its events */
	if (bind_pid(t, l, m->pid, 1)) {
		log_warn("cannot bind the TLS probes to master %d (%s): %s", (int)m->pid, m->app,
			 strerror(errno));
		m->tls = -1;
		return -1;
	}
	m->tls = 1;
	m->tls_at = clock_seconds(CLOCK_BOOTTIME);
	for (size_t i = 0; i < n; i++)
		if (bind_pid(t, l, workers[i], 0) && errno != ESRCH)
			log_warn("cannot bind the TLS probes to worker %d of master %d: %s", (int)workers[i],
				 (int)m->pid, strerror(errno));
	log_info("TLS of master %d: probes on %s in %zu running workers and every worker it forks%s",
		 (int)m->pid, s.path, n,
		 s.inner[SSL_FN_READ_EX]
		     ? " (SSL_read and SSL_read_ex at the function both call, SSL_write's alike)"
		     : "");
	return 0;
}

int tls_follow_worker(struct tls_follow *t, const char *proc_root, pid_t pid)
{
	const struct tls_lib *l;

	for (size_t i = 0; i < t->nb; i++)
		if (t->b[i].pid == pid)
			return 0;
	l = lib_of(t, proc_root, pid);
	return l ? bind_pid(t, l, pid, 0) : -1;
}

void tls_forget(struct tls_follow *t, pid_t pid)
{
	for (size_t i = 0; i < t->nb; i++)
		if (t->b[i].pid == pid) {
			bind_close(&t->b[i]);
			t->b[i] = t->b[--t->nb];
			return;
		}
}

void tls_end(struct tls_follow *t, struct loader *ld)
{
	for (size_t i = 0; i < t->nb; i++)
		bind_close(&t->b[i]);
	for (size_t i = 0; i < t->nlibs; i++)
		lib_drop(t, &t->libs[i]);
	if (t->nlibs)
		loader_tls_off(ld);
	free(t->b);
	free(t->libs);
	memset(t, 0, sizeof(*t));
}
