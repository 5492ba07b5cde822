/* k8s.h - the Kubernetes identity of a process (namespace, pod, container)
 * from its cgroup path and the kubelet's log directories on the node: no
 * API server calls. */
#ifndef OBS_K8S_H
#define OBS_K8S_H

#include <stddef.h>
#include <sys/types.h>

struct k8s_id {
	char namespace[64];
	char pod[254];
	char container[64];
};

/* The pod UID (dashes) and container ID (hex) in a /proc/PID/cgroup text;
 * 0 when the process is in a pod cgroup, -1 when not. */
int k8s_parse_cgroup(const char *text, char *uid, size_t uidlen, char *cid, size_t cidlen);

/* Fills id for pid when it runs in a pod: the pod from pods_dir
 * (/var/log/pods/<namespace>_<pod>_<uid>/<container>/), the container by
 * its ID from containers_dir (/var/log/containers/<pod>_<ns>_<container>-<id>.log)
 * or, for a pod with one container, its only one. Returns 0, or -1 (id
 * zeroed) when pid is not in a pod or the pod is not found. */
int k8s_identify(const char *proc_root, const char *pods_dir, const char *containers_dir, pid_t pid,
		 struct k8s_id *id);

#endif
