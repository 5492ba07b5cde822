/* btf_peak.c - what parsing the kernel's BTF costs in memory: libbpf does it
 * once while loading the observer's programs (CO-RE relocations), then
 * frees it. Prints "rss_kib_before hwm_kib_after rss_kib_after_free types". */
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>

static long status_kib(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			sscanf(line + strlen(key), ": %ld", &v);
	fclose(f);
	return v;
}

int main(void)
{
	long before = status_kib("VmRSS");
	struct btf *b = btf__load_vmlinux_btf();
	unsigned types;

	if (!b) {
		fprintf(stderr, "btf_peak: cannot read /sys/kernel/btf/vmlinux\n");
		return 1;
	}
	types = btf__type_cnt(b);
	btf__free(b);
	printf("%ld %ld %ld %u\n", before, status_kib("VmHWM"), status_kib("VmRSS"), types);
	return 0;
}
