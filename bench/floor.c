/* floor.c - the fixed costs under the observer's figures, on this host:
 * getppid() in a loop with no program, with an empty program and with a
 * one-lookup program on its exit tracepoint; and, with bpf_stats on, the
 * run time the kernel's accounting reports for each. Run by bench.py:
 *   floor FLOOR.BPF.O STATS(0|1)
 * prints "name syscall_ns run_ns" lines. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define LOOPS 2000000L

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ns per getppid(), best of 3 */
static double loop(void)
{
	double best = 1e9;

	for (int r = 0; r < 3; r++) {
		double t0 = now();

		for (long i = 0; i < LOOPS; i++)
			syscall(SYS_getppid);
		if ((now() - t0) / LOOPS * 1e9 < best)
			best = (now() - t0) / LOOPS * 1e9;
	}
	return best;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "floor_empty", "floor_lookup" };
	struct bpf_object *o;

	if (argc != 2) {
		fprintf(stderr, "usage: floor FLOOR.BPF.O\n");
		return 2;
	}
	o = bpf_object__open_file(argv[1], NULL);
	if (!o || bpf_object__load(o)) {
		fprintf(stderr, "floor: cannot load %s\n", argv[1]);
		return 1;
	}
	printf("none %.1f 0\n", loop());
	for (int k = 0; k < 2; k++) {
		struct bpf_program *p = bpf_object__find_program_by_name(o, names[k]);
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		struct bpf_link *l = p ? bpf_program__attach(p) : NULL;
		double ns;

		if (!l) {
			fprintf(stderr, "floor: cannot attach %s\n", names[k]);
			return 1;
		}
		ns = loop();
		bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len);
		printf("%s %.1f %.1f\n", names[k], ns,
		       info.run_cnt ? (double)info.run_time_ns / (double)info.run_cnt : 0.0);
		bpf_link__destroy(l);
	}
	bpf_object__close(o);
	return 0;
}
