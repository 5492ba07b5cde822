/* fuzz_procfs.c - the /proc readers (procfs.c): the input is written as
 * PID/stat and PID/cmdline of a fake /proc and read back through
 * procfs_pidstat, procfs_stat and procfs_cmdline, as discovery reads them. */
#include <stdint.h>

#include "fakeroot.h"
#include "lib/procfs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const dirs[] = { "1", NULL };

	(void)argc;
	(void)argv;
	fake_init(dirs);
	return 0;
}

static void check_cmdline(const struct cmdline *c)
{
	if (c->argc < 0 || c->argc > OBS_MAX_ARGS)
		abort();
	for (int i = 0; i < c->argc; i++) {
		const char *a = c->argv[i];

		/* every argument is a non-empty string inside buf, in order */
		if (a < c->buf || a >= c->buf + sizeof(c->buf) || !*a)
			abort();
		if (memchr(a, '\0', (size_t)(c->buf + sizeof(c->buf) - a)) == NULL)
			abort();
		if (i && a <= c->argv[i - 1] + strlen(c->argv[i - 1]))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pidstat ps;
	struct cmdline *c = malloc(sizeof(*c));
	pid_t ppid;
	uint64_t start;
	int rc;

	if (!c)
		return 0;
	memset(c, 0, sizeof(*c));
	fake_write("1/stat", data, size);
	fake_write("1/cmdline", data, size);
	rc = procfs_pidstat(fake_root, 1, &ps);
	if (rc != 0 && rc != -1)
		abort();
	if (procfs_stat(fake_root, 1, &ppid, &start) != rc)
		abort();
	if (rc == 0 && (ppid != ps.ppid || start != ps.start_ticks))
		abort();
	rc = procfs_cmdline(fake_root, 1, c);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == 0 && c->argc < 1)
		abort();
	check_cmdline(c);
	/* the splitter on its own, over a buffer filled to the last byte */
	memset(c->buf, 'a', sizeof(c->buf));
	memcpy(c->buf, data, size < sizeof(c->buf) - 1 ? size : sizeof(c->buf) - 1);
	c->buf[sizeof(c->buf) - 1] = '\0';
	procfs_split_cmdline(c, sizeof(c->buf) - 1);
	check_cmdline(c);
	free(c);
	return 0;
}
