/* k8s.c - pod attribution from the node alone. A container's processes sit
 * in a cgroup whose path names the pod UID (kubepods/.../pod<uid>/<id> with
 * the cgroupfs driver, kubepods-...-pod<uid_with_underscores>.slice/
 * cri-containerd-<id>.scope with the systemd driver); the kubelet names each
 * pod's log directory <namespace>_<pod>_<uid>. */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "host/k8s.h"
#include "lib/procfs.h"

#define UID_LEN 36

/* A pod UID at s (dashes or, from systemd slice names, underscores). */
static int take_uid(const char *s, char *uid)
{
	for (int i = 0; i < UID_LEN; i++) {
		char c = s[i];
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? (c != '-' && c != '_') : !isxdigit((unsigned char)c))
			return -1;
		uid[i] = dash ? '-' : (char)tolower((unsigned char)c);
	}
	uid[UID_LEN] = '\0';
	return 0;
}

/* The container ID in the last path element: "<64 hex>" with an optional
 * runtime prefix ("cri-containerd-", "docker-", "crio-") and ".scope". */
static void take_cid(const char *elem, size_t len, char *cid, size_t cidlen)
{
	const char *dash = NULL, *p = elem;
	size_t n;

	cid[0] = '\0';
	/* the pod's own cgroup (pod<uid>, ...-pod<uid>.slice) names no container */
	if ((len >= 3 && strncmp(elem, "pod", 3) == 0) ||
	    (len > 6 && strncmp(elem + len - 6, ".slice", 6) == 0))
		return;
	for (const char *q = elem; q < elem + len; q++)
		if (*q == '-')
			dash = q;
	if (dash)
		p = dash + 1;
	n = (size_t)(elem + len - p);
	if (n > 6 && strncmp(elem + len - 6, ".scope", 6) == 0)
		n -= 6;
	if (n < 12 || n >= cidlen)
		return;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]))
			return;
	memcpy(cid, p, n);
	cid[n] = '\0';
}

int k8s_parse_cgroup(const char *text, char *uid, size_t uidlen, char *cid, size_t cidlen)
{
	const char *line = text;

	if (uidlen <= UID_LEN)
		return -1;
	/* every hierarchy names the same pod; take the first line that does */
	for (; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *end = strchr(line, '\n'), *p, *last;

		if (!end)
			end = line + strlen(line);
		/* "kubepods" may be above our cgroup namespace root (cgroupfs
		 * driver, seen as /../../pod<uid>/<id>); "/pod<uid>" is enough */
		if (!memmem(line, (size_t)(end - line), "kubepods", 8) &&
		    !memmem(line, (size_t)(end - line), "/pod", 4))
			continue;
		for (p = line; (p = memmem(p, (size_t)(end - p), "pod", 3)); p += 3) {
			if (end - p >= 3 + UID_LEN && take_uid(p + 3, uid) == 0)
				break;
		}
		if (!p)
			continue;
		last = end;
		while (last > line && last[-1] != '/')
			last--;
		take_cid(last, (size_t)(end - last), cid, cidlen);
		return 0;
	}
	return -1;
}

static int find_pod_dir(const char *pods_dir, const char *uid, struct k8s_id *id, char *dir, size_t dirlen)
{
	DIR *d = opendir(pods_dir);
	struct dirent *de;
	int rc = -1;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		const char *name = de->d_name, *u1 = strchr(name, '_'), *u2 = u1 ? strchr(u1 + 1, '_') : NULL;
		size_t nslen, podlen;

		if (!u2 || strcmp(u2 + 1, uid) != 0)
			continue;
		nslen = (size_t)(u1 - name);
		podlen = (size_t)(u2 - u1 - 1);
		if (nslen >= sizeof(id->namespace) || podlen >= sizeof(id->pod))
			continue;
		memcpy(id->namespace, name, nslen);
		id->namespace[nslen] = '\0';
		memcpy(id->pod, u1 + 1, podlen);
		id->pod[podlen] = '\0';
		snprintf(dir, dirlen, "%s/%s", pods_dir, name);
		rc = 0;
		break;
	}
	closedir(d);
	return rc;
}

/* /var/log/containers/<pod>_<namespace>_<container>-<cid>.log */
static int container_by_id(const char *containers_dir, const struct k8s_id *id, const char *cid, char *out,
			   size_t outlen)
{
	char prefix[340], suffix[80];
	size_t plen, slen;
	struct dirent *de;
	DIR *d;
	int rc = -1;

	if (!cid[0] || !(d = opendir(containers_dir)))
		return -1;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s_%s_", id->pod, id->namespace);
	slen = (size_t)snprintf(suffix, sizeof(suffix), "-%s.log", cid);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n <= plen + slen || strncmp(de->d_name, prefix, plen) != 0 ||
		    strcmp(de->d_name + n - slen, suffix) != 0 || n - plen - slen >= outlen)
			continue;
		memcpy(out, de->d_name + plen, n - plen - slen);
		out[n - plen - slen] = '\0';
		rc = 0;
		break;
	}
	closedir(d);
	return rc;
}

/* The only container directory of a pod's log directory. */
static int only_container(const char *dir, char *out, size_t outlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= outlen)
			continue;
		if (n++ == 0)
			snprintf(out, outlen, "%s", de->d_name);
	}
	closedir(d);
	if (n != 1)
		out[0] = '\0';
	return n == 1 ? 0 : -1;
}

int k8s_identify(const char *proc_root, const char *pods_dir, const char *containers_dir, pid_t pid,
		 struct k8s_id *id)
{
	char path[256], text[4096], uid[UID_LEN + 1], cid[80], dir[600];

	memset(id, 0, sizeof(*id));
	snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, (int)pid);
	if (procfs_read(path, text, sizeof(text)) <= 0 ||
	    k8s_parse_cgroup(text, uid, sizeof(uid), cid, sizeof(cid)) != 0)
		return -1;
	if (find_pod_dir(pods_dir, uid, id, dir, sizeof(dir)) != 0) {
		memset(id, 0, sizeof(*id));
		return -1;
	}
	if (container_by_id(containers_dir, id, cid, id->container, sizeof(id->container)) != 0)
		only_container(dir, id->container, sizeof(id->container));
	return 0;
}
