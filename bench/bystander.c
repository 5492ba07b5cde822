/* bystander.c - what the observer costs a process it does not watch: ns per
 * call, best of REPS repetitions of a loop, of
 *   write    write(2) of 64 bytes to /dev/null
 *   read     read(2) of 64 bytes from /dev/zero
 *   getppid  getppid(2), a syscall no program of the observer is on
 *   sendrecv send(2) then recv(2) of 64 bytes over an AF_UNIX socketpair
 * Run by bench.py with no observer, with each data plane, in turn:
 *   bystander REPS LOOPS [TYPE...]
 * LOOPS calls per repetition (sendrecv: LOOPS / 4); prints one line
 * "type best_ns calls" per type, calls being every call made (all
 * repetitions), for the program runs per call under bpf_stats. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int fd_null, fd_zero, sv[2];
static char buf[64];

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int call(int type)
{
	switch (type) {
	case 0:
		return write(fd_null, buf, sizeof(buf)) != sizeof(buf);
	case 1:
		return read(fd_zero, buf, sizeof(buf)) != sizeof(buf);
	case 2:
		return syscall(SYS_getppid) <= 0;
	default:
		return send(sv[0], buf, sizeof(buf), 0) != sizeof(buf) ||
		       recv(sv[1], buf, sizeof(buf), MSG_WAITALL) != sizeof(buf);
	}
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "write", "read", "getppid", "sendrecv" };
	int reps, all = argc <= 3;
	long loops;

	if (argc < 3 || (reps = atoi(argv[1])) < 1 || (loops = atol(argv[2])) < 4) {
		fprintf(stderr, "usage: bystander REPS LOOPS [write|read|getppid|sendrecv...]\n");
		return 2;
	}
	fd_null = open("/dev/null", O_WRONLY);
	fd_zero = open("/dev/zero", O_RDONLY);
	if (fd_null < 0 || fd_zero < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		perror("bystander");
		return 1;
	}
	for (int type = 0; type < 4; type++) {
		long n = type == 3 ? loops / 4 : loops;
		double best = 1e18;
		int want = all;

		for (int a = 3; a < argc; a++)
			want |= !strcmp(argv[a], names[type]);
		if (!want)
			continue;
		for (int r = 0; r < reps; r++) {
			double t0 = now(), ns;

			for (long i = 0; i < n; i++)
				if (call(type)) {
					perror(names[type]);
					return 1;
				}
			ns = (now() - t0) / (double)n;
			if (ns < best)
				best = ns;
		}
		printf("%s %.1f %ld\n", names[type], best, n * reps);
	}
	return 0;
}
