/* counters.c - what one request's counter updates cost in the kernel with
 * a per-CPU hash and plain adds, and with a shared hash and atomic adds
 * (bench/counters.bpf.c): timed by BPF_PROG_TEST_RUN over many repeats, so
 * the figure is the programs' own, free of syscall noise. Three cases: one
 * CPU; two CPUs updating two workers; two CPUs updating one worker (the
 * threads of one gthread worker, the worst case of the shared map). Run by
 * bench.py:
 *   counters COUNTERS.BPF.O
 * prints "program case ns_per_run" lines, the empty program's included. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "observer.h"

#define REPEAT 2000000
#define ROUNDS 5

struct job {
	int prog_fd, cpu;
	__u32 worker;
	double ns;
};

static void *run(void *arg)
{
	struct job *j = arg;
	unsigned char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = REPEAT);
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(j->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	memcpy(pkt, &j->worker, sizeof(j->worker));
	j->ns = bpf_prog_test_run_opts(j->prog_fd, &opts) ? -1 : (double)opts.duration;
	return NULL;
}

/* ns per run of prog on ncpu CPUs at once, updating workers w[]: the best
 * round's mean over the CPUs */
static double measure(int fd, int ncpu, const __u32 *w)
{
	double best = 1e9;

	for (int r = 0; r < ROUNDS; r++) {
		struct job j[2];
		pthread_t t[2];
		double sum = 0;

		for (int c = 0; c < ncpu; c++) {
			j[c] = (struct job){ fd, c, w[c], 0 };
			pthread_create(&t[c], NULL, run, &j[c]);
		}
		for (int c = 0; c < ncpu; c++) {
			pthread_join(t[c], NULL);
			if (j[c].ns < 0)
				return -1;
			sum += j[c].ns;
		}
		if (sum / ncpu < best)
			best = sum / ncpu;
	}
	return best;
}

static int seed(struct bpf_object *o, const char *stats, const char *codes)
{
	int sfd = bpf_object__find_map_fd_by_name(o, stats), cfd = bpf_object__find_map_fd_by_name(o, codes);
	int ncpu = libbpf_num_possible_cpus();
	static struct obs_worker_stats zero[1024];
	static __u64 zeros[1024];

	if (ncpu > 1024)
		return -1;
	for (__u32 w = 1; w <= 2; w++) {
		struct obs_code_key ck = { w, 200 };

		if (bpf_map_update_elem(sfd, &w, zero, BPF_ANY) || bpf_map_update_elem(cfd, &ck, zeros, BPF_ANY))
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const progs[] = { "empty", "percpu_plain", "shared_atomic" };
	static const __u32 one[2] = { 1, 1 }, two[2] = { 1, 2 };
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	struct bpf_object *o;

	if (argc != 2) {
		fprintf(stderr, "usage: counters COUNTERS.BPF.O\n");
		return 2;
	}
	o = bpf_object__open_file(argv[1], NULL);
	if (!o || bpf_object__load(o) || seed(o, "stats_percpu", "codes_percpu") ||
	    seed(o, "stats_shared", "codes_shared")) {
		fprintf(stderr, "counters: cannot load %s\n", argv[1]);
		return 1;
	}
	for (int k = 0; k < 3; k++) {
		int fd = bpf_program__fd(bpf_object__find_program_by_name(o, progs[k]));

		printf("%s one_cpu %.2f\n", progs[k], measure(fd, 1, one));
		if (ncpu < 2)
			continue;
		printf("%s two_cpus_two_workers %.2f\n", progs[k], measure(fd, 2, two));
		printf("%s two_cpus_one_worker %.2f\n", progs[k], measure(fd, 2, one));
	}
	bpf_object__close(o);
	return 0;
}
