/* fakeroot.h - a private /proc-like tree in $FUZZ_TMPDIR, /dev/shm or /tmp for the
 * fuzz targets whose parsers read files: the input is written to a file and
 * the real reader opens it. */
#ifndef OBS_FUZZ_FAKEROOT_H
#define OBS_FUZZ_FAKEROOT_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fake_root[256];

static void fake_cleanup(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake_root);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", fake_root);
}

/* Creates the tree and the directories named (relative, in order). */
static void fake_init(const char *const *dirs)
{
	char path[512];

	const char *tmp = getenv("FUZZ_TMPDIR"); /* fuzz/run.sh's, removed even after a crash */

	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(fake_root, sizeof(fake_root), "%s/go-fuzz-XXXXXX", tmp);
	if (!mkdtemp(fake_root)) {
		perror("fuzz: mkdtemp");
		exit(1);
	}
	atexit(fake_cleanup);
	for (; dirs && *dirs; dirs++) {
		snprintf(path, sizeof(path), "%s/%s", fake_root, *dirs);
		if (mkdir(path, 0700) && errno != EEXIST) {
			perror(path);
			exit(1);
		}
	}
}

/* Replaces fake_root/rel with the n bytes at data. */
static void fake_write(const char *rel, const void *data, size_t n)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fake_root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (n && write(fd, data, n) != (ssize_t)n)) {
		perror(path);
		exit(1);
	}
	close(fd);
}

#endif
