/* heartbeat.c - finds which of a Gunicorn worker's fds is its heartbeat file,
 * and reads the file's age with one stat(), as the master does with fstat().
 *
 * The master makes each worker's file (mkstemp "wgunicorn-XXXX", unlinked at
 * once) just before forking it and closes it when it reaps the worker, so it
 * holds exactly the files of its live workers. A worker starts with all the
 * master's fds: Gunicorn 19.8 and later close the siblings' files after fork,
 * older ones keep them, and keep files of workers that have exited since. So
 * a worker's own file is the one of its files the master holds that no other
 * worker can claim: the sets are nested by fork order, and peeling off the
 * workers left with one unclaimed file resolves them all. A worker whose
 * choice is not unique gets no file rather than a wrong one. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/heartbeat.h"
#include "lib/vec.h"

#define HB_PREFIX "wgunicorn-"
/* Gunicorn 21 and later store time.monotonic() in st_mtime: seconds since
 * boot, far below any wall-clock time since 2001. */
#define HB_MONO_BELOW 1000000000

/* One file a worker holds that the master holds too. */
struct cand {
	size_t file; /* index into the master's files */
	int fd;      /* in the worker */
};

struct peel {
	struct hb_file *files; /* the master's, sorted by dev and ino */
	size_t nfiles;
	struct cand *cand; /* the workers' candidates, worker after worker */
	size_t ncand, cap;
	size_t *first;            /* worker i's: cand[first[i] .. first[i + 1]) */
	size_t *hfirst, *holder;  /* file j's holders: holder[hfirst[j] .. hfirst[j + 1]) */
	size_t *seen;             /* per file: 1 + the last worker that listed it */
	size_t *left;             /* per worker: candidates not taken yet */
	size_t *stack;            /* workers with one candidate left */
	unsigned char *taken;     /* per file: given to a worker */
	unsigned char *contested; /* per file: the last choice of two workers */
	struct hb_file *buf;      /* one worker's files as read */
};

/* Is the target of an fd link (e.g. "/tmp/wgunicorn-k2j3h4 (deleted)") a
 * WorkerTmp file? Sockets, pipes and anon inodes have no '/'. */
static int is_hb_link(const char *link)
{
	const char *base = strrchr(link, '/');

	return base && strncmp(base + 1, HB_PREFIX, sizeof(HB_PREFIX) - 1) == 0;
}

/* Fills out with up to max wgunicorn- regular files pid holds; returns how
 * many, or -1 when its fd directory cannot be read. fd 0 counts too (a
 * master started with stdin closed), which procfs_each_pid would skip. */
static ssize_t read_files(const char *root, pid_t pid, struct hb_file *out, size_t max)
{
	char dir[256], path[sizeof(dir) + NAME_MAX + 2], link[PATH_MAX];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/%d/fd", root, (int)pid) >= sizeof(dir))
		return -1;
	d = opendir(dir);
	if (!d)
		return -1;
	while (n < max && (de = readdir(d))) {
		struct stat st;
		ssize_t len;
		char *end;
		long fd;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		fd = strtol(de->d_name, &end, 10);
		if (*end || fd > INT_MAX)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		/* the name first: a stat() only for the few files that may be ours */
		if (!is_hb_link(link) || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		out[n].fd = (int)fd;
		out[n].dev = st.st_dev;
		out[n].ino = st.st_ino;
		n++;
	}
	closedir(d);
	return (ssize_t)n;
}

static int cmp_inode(const void *a, const void *b)
{
	const struct hb_file *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static void peel_free(struct peel *p)
{
	free(p->files);
	free(p->cand);
	free(p->first);
	free(p->hfirst);
	free(p->holder);
	free(p->seen);
	free(p->left);
	free(p->stack);
	free(p->taken);
	free(p->contested);
	free(p->buf);
}

/* The master's files, sorted; -1 when they cannot be read, or when there are
 * more than max (then the list of workers is far from what the master has,
 * and a cut set could give a worker another's file). */
static int read_master(struct peel *p, const char *root, pid_t master, size_t max)
{
	ssize_t got;

	p->files = malloc((max + 1) * sizeof(*p->files));
	if (!p->files)
		return -1;
	got = read_files(root, master, p->files, max + 1);
	if (got < 0 || (size_t)got > max)
		return -1;
	p->nfiles = (size_t)got;
	qsort(p->files, p->nfiles, sizeof(*p->files), cmp_inode);
	return 0;
}

static int alloc_tables(struct peel *p, size_t n)
{
	size_t m = p->nfiles + 1;

	p->first = calloc(n + 1, sizeof(*p->first));
	p->left = calloc(n + 1, sizeof(*p->left));
	p->stack = calloc(n + 1, sizeof(*p->stack));
	p->hfirst = calloc(m + 1, sizeof(*p->hfirst));
	p->seen = calloc(m, sizeof(*p->seen));
	p->taken = calloc(m, 1);
	p->contested = calloc(m, 1);
	p->buf = malloc((HB_MAX_FILES + 1) * sizeof(*p->buf));
	return p->first && p->left && p->stack && p->hfirst && p->seen && p->taken && p->contested && p->buf
		   ? 0
		   : -1;
}

/* Worker i's candidates: its files the master holds, each once. A worker
 * with more than HB_MAX_FILES files, or gone, gets none. */
static int add_worker(struct peel *p, const char *root, pid_t pid, size_t i)
{
	ssize_t got = read_files(root, pid, p->buf, HB_MAX_FILES + 1);

	p->first[i] = p->ncand;
	if (got < 0 || got > HB_MAX_FILES)
		return 0;
	for (ssize_t k = 0; k < got; k++) {
		struct hb_file *m = bsearch(&p->buf[k], p->files, p->nfiles, sizeof(*p->files), cmp_inode);
		size_t j;

		if (!m)
			continue; /* a dead worker's file the master has closed */
		j = (size_t)(m - p->files);
		if (p->seen[j] == i + 1)
			continue; /* the same file under two fds */
		p->seen[j] = i + 1;
		if (vec_grow((void **)&p->cand, p->ncand, &p->cap, sizeof(*p->cand), 64))
			return -1;
		p->cand[p->ncand].file = j;
		p->cand[p->ncand].fd = p->buf[k].fd;
		p->ncand++;
		p->left[i]++;
	}
	return 0;
}

/* For each file, the workers that hold it (counting sort of the candidates). */
static int index_holders(struct peel *p, size_t n)
{
	size_t *pos;

	for (size_t c = 0; c < p->ncand; c++)
		p->hfirst[p->cand[c].file + 1]++;
	for (size_t j = 0; j < p->nfiles; j++)
		p->hfirst[j + 1] += p->hfirst[j];
	p->holder = malloc((p->ncand + 1) * sizeof(*p->holder));
	pos = malloc((p->nfiles + 1) * sizeof(*pos));
	if (!p->holder || !pos) {
		free(pos);
		return -1;
	}
	memcpy(pos, p->hfirst, p->nfiles * sizeof(*pos));
	for (size_t i = 0; i < n; i++)
		for (size_t c = p->first[i]; c < p->first[i + 1]; c++)
			p->holder[pos[p->cand[c].file]++] = i;
	free(pos);
	return 0;
}

/* Gives file j to worker w: the other holders lose it as a candidate. One
 * left with none had j as its only choice too: j is contested. */
static size_t take(struct peel *p, size_t w, size_t j, size_t top)
{
	p->taken[j] = 1;
	p->left[w] = 0;
	for (size_t k = p->hfirst[j]; k < p->hfirst[j + 1]; k++) {
		size_t h = p->holder[k];

		if (p->left[h] == 0)
			continue; /* w itself, or already settled */
		if (--p->left[h] == 0)
			p->contested[j] = 1;
		else if (p->left[h] == 1)
			p->stack[top++] = h;
	}
	return top;
}

/* Peels: a worker with one candidate left owns it. own[i] is the index of
 * worker i's candidate, or SIZE_MAX. Each worker is pushed once at most,
 * when its count falls to 1, so the stack holds n. */
static void peel(struct peel *p, size_t n, size_t *own)
{
	size_t top = 0;

	for (size_t i = 0; i < n; i++) {
		own[i] = SIZE_MAX;
		if (p->left[i] == 1)
			p->stack[top++] = i;
	}
	while (top) {
		size_t w = p->stack[--top], c = p->first[w], end = p->first[w + 1];

		if (p->left[w] != 1)
			continue;
		while (c < end && p->taken[p->cand[c].file])
			c++;
		if (c == end)
			continue; /* left[w] counts its untaken candidates: not reached */
		own[w] = c;
		top = take(p, w, p->cand[c].file, top);
	}
}

int heartbeat_find(const char *proc_root, pid_t master, const pid_t *workers, size_t n, struct hb_file *out)
{
	struct peel p = { 0 };
	size_t *own = NULL, found = 0;
	int rc = -1;

	for (size_t i = 0; i < n; i++)
		out[i] = (struct hb_file){ .fd = -1 };
	/* during a HUP the master holds its old workers' files and the new */
	if (read_master(&p, proc_root, master, 2 * n + HB_MAX_FILES) || alloc_tables(&p, n))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (add_worker(&p, proc_root, workers[i], i))
			goto out;
	p.first[n] = p.ncand;
	own = malloc((n + 1) * sizeof(*own));
	if (!own || index_holders(&p, n))
		goto out;
	peel(&p, n, own);
	for (size_t i = 0; i < n; i++) {
		const struct cand *c;

		if (own[i] == SIZE_MAX || p.contested[p.cand[own[i]].file])
			continue;
		c = &p.cand[own[i]];
		out[i].fd = c->fd;
		out[i].dev = p.files[c->file].dev;
		out[i].ino = p.files[c->file].ino;
		found++;
	}
	rc = (int)found;
out:
	free(own);
	peel_free(&p);
	return rc;
}

/* now - t, in seconds; the whole seconds first, so the nanoseconds count. */
static double since(double now, const struct timespec *t)
{
	return (now - (double)t->tv_sec) - (double)t->tv_nsec / 1e9;
}

double heartbeat_age(const char *proc_root, pid_t pid, struct hb_file *f, double now_real, double now_mono)
{
	char path[320];
	struct stat st;
	double age;

	if (f->fd < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%d/fd/%d", proc_root, (int)pid, f->fd);
	if (stat(path, &st) != 0 || st.st_dev != f->dev || st.st_ino != f->ino) {
		f->fd = -1;
		return -1;
	}
	/* before its first notify a worker's mtime is its creation time (wall
	 * clock); from then on Gunicorn 21 writes time.monotonic() there, and
	 * older ones fchmod, which moves only the ctime */
	if (st.st_mtim.tv_sec < HB_MONO_BELOW)
		age = since(now_mono, &st.st_mtim);
	else
		age = since(now_real, &st.st_ctim);
	/* a notify between the caller's clock read and the stat */
	return age > 0 ? age : 0;
}
