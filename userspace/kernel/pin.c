/* pin.c - maps and program links pinned under one directory of a BPF
 * filesystem, so the programs keep counting while the observer restarts
 * and the next observer reads on where the last one stopped.
 *
 *   DIR/<map>               every map but the read-only data
 *   DIR/links-<hash>/<prog> the links of the running programs; <hash> is
 *                           over their tags and read-only data, so an
 *                           observer of the same build and settings keeps
 *                           them and attaches nothing
 *
 * flock(DIR) is held by the observer that owns the pins. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "config/config.h"
#include "lib/log.h"
#include "kernel/pin.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#define BPFFS_ROOT "/sys/fs/bpf"

/* out = a/b; -1 (ENAMETOOLONG) when it does not fit. */
static int join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int on_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && (unsigned long)st.f_type == (unsigned long)BPF_FS_MAGIC;
}

/* The nearest existing directory at or above path. */
static void existing_parent(const char *path, char *out, size_t len)
{
	char *slash;

	snprintf(out, len, "%s", path);
	while (access(out, F_OK) != 0 && (slash = strrchr(out, '/')) && slash != out)
		*slash = '\0';
}

static int ensure_bpffs(const char *dir)
{
	char parent[PATH_MAX];

	existing_parent(dir, parent, sizeof(parent));
	if (on_bpffs(parent))
		return 0;
	if (strncmp(dir, BPFFS_ROOT "/", sizeof(BPFFS_ROOT)) == 0 &&
	    mount("bpf", BPFFS_ROOT, "bpf", 0, "mode=0700") == 0) {
		log_info("mounted the BPF filesystem on " BPFFS_ROOT);
		return 0;
	}
	if (strncmp(dir, BPFFS_ROOT "/", sizeof(BPFFS_ROOT)) == 0)
		fprintf(stderr,
			"gunicorn-observer: " BPFFS_ROOT " is not a BPF filesystem and mounting one failed "
			"(%s): run 'mount -t bpf bpf " BPFFS_ROOT
			"' (in a container: mount the host's " BPFFS_ROOT "), or give --no-pin\n",
			strerror(errno));
	else
		fprintf(
		    stderr,
		    "gunicorn-observer: --pin-dir %s is not on a BPF filesystem: choose a directory under "
		    "a bpf mount such as " BPFFS_ROOT ", or give --no-pin\n",
		    dir);
	return -1;
}

static int mkdirs(const char *dir)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *s = strchr(buf + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -1;
		if (!s)
			return 0;
		*s = '/';
	}
}

/* The pid holding a flock on the file fd refers to, from /proc/locks; 0 when
 * none is found. */
static long lock_holder(int fd)
{
	struct stat st;
	char line[256];
	long pid = 0;
	FILE *f;

	if (fstat(fd, &st) != 0 || !(f = fopen("/proc/locks", "re")))
		return 0;
	while (!pid && fgets(line, sizeof(line), f)) {
		unsigned int maj, min;
		unsigned long ino;
		long p;

		if (strstr(line, "FLOCK") &&
		    sscanf(line, "%*d: FLOCK %*s %*s %ld %x:%x:%lu", &p, &maj, &min, &ino) == 4 &&
		    ino == (unsigned long)st.st_ino)
			pid = p;
	}
	fclose(f);
	return pid;
}

/* Opens dir and takes its lock; prints one line and returns -1 when another
 * process holds it. */
static int lock_dir(const char *dir, const char *what)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long holder;

	if (fd < 0) {
		fprintf(stderr, "gunicorn-observer: cannot open %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	holder = lock_holder(fd);
	if (holder > 0)
		fprintf(stderr, "gunicorn-observer: another gunicorn-observer (pid %ld) owns %s: %s\n",
			holder, dir, what);
	else
		fprintf(stderr, "gunicorn-observer: another gunicorn-observer owns %s: %s\n", dir, what);
	close(fd);
	return -1;
}

int pin_begin(struct pin *p, const char *dir)
{
	memset(p, 0, sizeof(*p));
	p->lock_fd = -1;
	if (dir[0] != '/' || strlen(dir) >= sizeof(p->dir) - 64) {
		fprintf(stderr, "gunicorn-observer: --pin-dir '%s' is not an absolute path\n", dir);
		return -1;
	}
	if (ensure_bpffs(dir))
		return -1;
	if (mkdirs(dir)) {
		fprintf(stderr, "gunicorn-observer: cannot create --pin-dir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	p->lock_fd = lock_dir(dir, "stop it first, or give this one another --pin-dir or --no-pin");
	if (p->lock_fd < 0)
		return -1;
	snprintf(p->dir, sizeof(p->dir), "%s", dir);
	return 0;
}

/* Removes the pins in dir (maps, links-* directories); keeps dir. */
static int remove_pins(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	int err = 0;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (join(path, sizeof(path), dir, e->d_name))
			continue;
		if (e->d_type == DT_DIR) {
			if (remove_pins(path) || rmdir(path))
				err = -1;
		} else if (unlink(path)) {
			err = -1;
		}
	}
	closedir(d);
	return err;
}

/* Does the pinned map at path have map's type, sizes and flags? */
static int map_fits(const char *path, const struct bpf_map *map)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path), ok;

	if (fd < 0)
		return 0;
	ok = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.type == bpf_map__type(map) &&
	     info.key_size == bpf_map__key_size(map) && info.value_size == bpf_map__value_size(map) &&
	     info.max_entries == bpf_map__max_entries(map) && info.map_flags == bpf_map__map_flags(map);
	close(fd);
	return ok;
}

int pin_maps(struct pin *p, struct bpf_object *obj)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int stale = 0;

	bpf_object__for_each_map(map, obj)
	{
		if (bpf_map__is_internal(map))
			continue;
		if (join(path, sizeof(path), p->dir, bpf_map__name(map)))
			continue;
		if (access(path, F_OK) == 0 && !map_fits(path, map)) {
			log_warn("pinned map %s does not fit this build: starting every count afresh", path);
			stale = 1;
			break;
		}
	}
	if (stale && remove_pins(p->dir)) {
		fprintf(stderr, "gunicorn-observer: cannot remove the old pins in %s: %s\n", p->dir,
			strerror(errno));
		return -1;
	}
	bpf_object__for_each_map(map, obj)
	{
		if (bpf_map__is_internal(map))
			continue;
		if (join(path, sizeof(path), p->dir, bpf_map__name(map)) ||
		    bpf_map__set_pin_path(map, path)) {
			fprintf(stderr, "gunicorn-observer: cannot pin map %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void fnv(unsigned long long *h, const void *data, size_t len)
{
	const unsigned char *b = data;

	for (size_t i = 0; i < len; i++) {
		*h ^= b[i];
		*h *= 1099511628211ULL;
	}
}

/* The hash of the loaded programs (names, tags) and the read-only data. */
static int programs_hash(const struct bpf_object_skeleton *s, unsigned long long *h)
{
	*h = 14695981039346656037ULL;
	for (int i = 0; i < s->prog_cnt; i++) {
		const struct bpf_program *prog = *s->progs[i].prog;
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);

		if (!bpf_program__autoload(prog))
			continue;
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			return -1;
		fnv(h, s->progs[i].name, strlen(s->progs[i].name) + 1);
		fnv(h, info.tag, sizeof(info.tag));
	}
	for (int i = 0; i < s->map_cnt; i++) {
		const struct bpf_map *map = *s->maps[i].map;

		if (bpf_map__is_internal(map) && s->maps[i].mmaped && *s->maps[i].mmaped)
			fnv(h, *s->maps[i].mmaped, bpf_map__value_size(map));
	}
	return 0;
}

int pin_find_links(struct pin *p, const struct bpf_object_skeleton *s)
{
	unsigned long long h;
	char path[PATH_MAX], name[32];

	if (!p->dir[0])
		return 0;
	if (programs_hash(s, &h)) {
		log_warn("cannot read the loaded programs' tags (%s): not keeping running programs",
			 strerror(errno));
		return 0;
	}
	snprintf(name, sizeof(name), "links-%016llx", h);
	if (join(p->links, sizeof(p->links), p->dir, name))
		return 0;
	for (int i = 0; i < s->prog_cnt; i++) {
		int fd;

		if (!bpf_program__autoload(*s->progs[i].prog) || !bpf_program__autoattach(*s->progs[i].prog))
			continue;
		if (join(path, sizeof(path), p->links, s->progs[i].name))
			return 0;
		fd = bpf_obj_get(path);
		if (fd < 0)
			return 0;
		close(fd);
	}
	p->reused = 1;
	return 1;
}

/* Unpins every links-* directory of dir but keep. */
static void unpin_other_links(const char *dir, const char *keep)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "links-", 6) != 0)
			continue;
		if (join(path, sizeof(path), dir, e->d_name))
			continue;
		if (strcmp(path, keep) == 0)
			continue;
		if (remove_pins(path) || rmdir(path))
			log_warn("cannot unpin the older programs in %s: %s", path, strerror(errno));
		else
			log_info("detached the programs of an earlier build or settings (%s)", e->d_name);
	}
	closedir(d);
}

int pin_links(struct pin *p, const struct bpf_object_skeleton *s)
{
	char path[PATH_MAX];

	if (!p->dir[0] || !p->links[0] || p->reused)
		return 0;
	remove_pins(p->links); /* a partial set from an interrupted start */
	rmdir(p->links);
	if (mkdir(p->links, 0700) && errno != EEXIST)
		goto fail;
	for (int i = 0; i < s->prog_cnt; i++) {
		struct bpf_link *link = *s->progs[i].link;

		if (join(path, sizeof(path), p->links, s->progs[i].name) ||
		    (link && bpf_link__pin(link, path)))
			goto fail;
	}
	unpin_other_links(p->dir, p->links);
	return 0;
fail:
	log_warn("cannot pin the program links in %s (%s): the programs stop when this process does",
		 p->links, strerror(errno));
	remove_pins(p->links);
	rmdir(p->links);
	p->links[0] = '\0';
	return -1;
}

void pin_keep_links(const struct pin *p, const struct bpf_object_skeleton *s)
{
	if (!p->dir[0] || !p->links[0] || p->reused)
		return;
	for (int i = 0; i < s->prog_cnt; i++)
		if (*s->progs[i].link)
			bpf_link__disconnect(*s->progs[i].link);
}

void pin_end(struct pin *p)
{
	if (p->lock_fd >= 0)
		close(p->lock_fd);
	p->lock_fd = -1;
}

int pin_cleanup_main(int argc, char **argv)
{
	const char *dir = getenv("GUNICORN_OBSERVER_PIN_DIR");
	int fd;

	if (!dir || !*dir)
		dir = OBS_PIN_DIR_DEFAULT;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pin-dir") == 0 && i + 1 < argc) {
			dir = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("Usage: gunicorn-observer cleanup [--pin-dir DIR]\n"
			       "Detach the programs an observer left running and remove its pinned maps\n"
			       "(default DIR " OBS_PIN_DIR_DEFAULT ", or GUNICORN_OBSERVER_PIN_DIR).\n");
			return 0;
		} else {
			fprintf(stderr, "gunicorn-observer cleanup: unexpected argument '%s': see --help\n",
				argv[i]);
			return 2;
		}
	}
	if (access(dir, F_OK) != 0) {
		printf("nothing pinned in %s\n", dir);
		return 0;
	}
	fd = lock_dir(dir, "stop it first; it keeps its pins in use");
	if (fd < 0)
		return 1;
	if (remove_pins(dir) || rmdir(dir)) {
		fprintf(stderr, "gunicorn-observer cleanup: cannot remove %s: %s\n", dir, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	printf("removed the pins in %s\n", dir);
	return 0;
}
