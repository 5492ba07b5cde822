/* fuzz_k8s.c - the pod UID and container ID in a /proc/PID/cgroup text
 * (k8s_parse_cgroup). The output buffers are heap blocks of the size the
 * caller claims (taken from the first input byte), so any write past them
 * is caught; a found UID must be canonical and a container ID hex. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/k8s.h"

static void check_uid(const char *u)
{
	if (strlen(u) != 36)
		abort();
	for (int i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? u[i] != '-' : !(isdigit((unsigned char)u[i]) || (u[i] >= 'a' && u[i] <= 'f')))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t uidlen, cidlen;
	char *text, *uid, *cid;
	int rc;

	if (size < 1)
		return 0;
	/* mostly the sizes k8s_identify passes, sometimes smaller ones */
	uidlen = data[0] & 0x80 ? 37 : 30 + (data[0] & 0x0f);
	cidlen = data[0] & 0x40 ? 80 : 1 + (data[0] & 0x3f);
	text = malloc(size);
	uid = malloc(uidlen);
	cid = malloc(cidlen);
	if (!text || !uid || !cid)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	rc = k8s_parse_cgroup(text, uid, uidlen, cid, cidlen);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == 0) {
		check_uid(uid);
		if (!memchr(cid, '\0', cidlen))
			abort();
		for (const char *p = cid; *p; p++)
			if (!isxdigit((unsigned char)*p))
				abort();
		if (cid[0] && strlen(cid) < 12)
			abort();
		if (!strstr(text, "pod"))
			abort();
	}
	free(text);
	free(uid);
	free(cid);
	return 0;
}
