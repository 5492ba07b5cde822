/* test_k8s.c - pod attribution from cgroup paths and the kubelet's log
 * directories, over a fake /proc and /var/log layout. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "render/text.h"
#include "host/k8s.h"

#define UID "0f8b3c2a-1d2e-4f5a-9b6c-7d8e9f0a1b2c"
#define CID "4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899"

static void parse(const char *text, int want_rc, const char *want_uid, const char *want_cid)
{
	char uid[64] = "", cid[80] = "";

	assert_int_equal(k8s_parse_cgroup(text, uid, sizeof(uid), cid, sizeof(cid)), want_rc);
	if (want_rc == 0) {
		assert_string_equal(uid, want_uid);
		assert_string_equal(cid, want_cid);
	}
}

static void test_cgroup_drivers(void **state)
{
	(void)state;
	/* cgroup v2, systemd driver, containerd */
	parse("0::/kubepods.slice/kubepods-burstable.slice/"
	      "kubepods-burstable-pod0f8b3c2a_1d2e_4f5a_9b6c_7d8e9f0a1b2c.slice/"
	      "cri-containerd-" CID ".scope\n",
	      0, UID, CID);
	/* cgroup v1, cgroupfs driver, several hierarchies */
	parse("12:pids:/kubepods/besteffort/pod" UID "/" CID "\n11:memory:/kubepods/besteffort/pod" UID
	      "/" CID "\n",
	      0, UID, CID);
	/* a guaranteed pod (no QoS level), docker and cri-o runtimes */
	parse("0::/kubepods/pod" UID "/docker-" CID ".scope\n", 0, UID, CID);
	parse("0::/kubepods.slice/kubepods-pod0f8b3c2a_1d2e_4f5a_9b6c_7d8e9f0a1b2c.slice/crio-" CID
	      ".scope\n",
	      0, UID, CID);
	/* seen from inside another cgroup namespace */
	parse(
	    "0::/../../kubepods-besteffort-pod0f8b3c2a_1d2e_4f5a_9b6c_7d8e9f0a1b2c.slice/cri-containerd-" CID
	    ".scope\n",
	    0, UID, CID);
	/* upper-case UIDs come out lower-case */
	parse("0::/kubepods/podABCDEF01-2345-6789-ABCD-EF0123456789/" CID "\n", 0,
	      "abcdef01-2345-6789-abcd-ef0123456789", CID);
	/* the pod cgroup itself: no container ID */
	parse("0::/kubepods/burstable/pod" UID "\n", 0, UID, "");
}

static void test_not_a_pod(void **state)
{
	(void)state;
	parse("0::/system.slice/gunicorn.service\n", -1, NULL, NULL);
	parse("0::/user.slice/user-0.slice/session-1.scope\n", -1, NULL, NULL);
	parse("0::/docker/" CID "\n", -1, NULL, NULL);
	/* cgroupfs driver seen from a private cgroup namespace */
	parse("0::/../../pod" UID "/" CID "\n", 0, UID, CID);
	parse("", -1, NULL, NULL);
	/* "pod" without a UID after it */
	parse("0::/kubepods/podnot-a-uid/" CID "\n", -1, NULL, NULL);
}

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void dir(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/go-k8s.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	dir("proc");
	dir("pods");
	dir("containers");
	/* pid 10: the only container of shop/web-7c9 */
	dir("proc/10");
	put("proc/10/cgroup", "0::/kubepods/burstable/pod" UID "/" CID "\n");
	dir("pods/shop_web-7c9_" UID);
	dir("pods/shop_web-7c9_" UID "/app");
	/* pid 20: the "api" container of a two-container pod */
	dir("proc/20");
	put("proc/20/cgroup",
	    "0::/kubepods/pod11111111-2222-3333-4444-555555555555/cri-containerd-" CID "a.scope\n");
	dir("pods/default_api-0_11111111-2222-3333-4444-555555555555");
	dir("pods/default_api-0_11111111-2222-3333-4444-555555555555/api");
	dir("pods/default_api-0_11111111-2222-3333-4444-555555555555/sidecar");
	put("containers/api-0_default_sidecar-" CID "b.log", "");
	put("containers/api-0_default_api-" CID "a.log", "");
	/* pid 30: a pod whose log directory is not on this node's mount */
	dir("proc/30");
	put("proc/30/cgroup", "0::/kubepods/pod99999999-2222-3333-4444-555555555555/" CID "\n");
	/* pid 40: not in a pod */
	dir("proc/40");
	put("proc/40/cgroup", "0::/system.slice/gunicorn.service\n");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static int identify(pid_t pid, struct k8s_id *id)
{
	char proc[128], pods[128], containers[128];

	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(pods, sizeof(pods), "%s/pods", root);
	snprintf(containers, sizeof(containers), "%s/containers", root);
	return k8s_identify(proc, pods, containers, pid, id);
}

static void test_identify(void **state)
{
	struct k8s_id id;

	(void)state;
	assert_int_equal(identify(10, &id), 0);
	assert_string_equal(id.namespace, "shop");
	assert_string_equal(id.pod, "web-7c9");
	assert_string_equal(id.container, "app");

	assert_int_equal(identify(20, &id), 0);
	assert_string_equal(id.namespace, "default");
	assert_string_equal(id.pod, "api-0");
	assert_string_equal(id.container, "api"); /* by ID, not the sidecar */

	assert_int_equal(identify(30, &id), -1);
	assert_string_equal(id.pod, "");
	assert_int_equal(identify(40, &id), -1);
	assert_int_equal(identify(50, &id), -1); /* no such process */
}

/* Series of a worker and its master in a pod carry its three labels. */
static void test_labels_rendered(void **state)
{
	static const double dur[] = { 0.1 }, size[] = { 100 };
	struct master_snap m = { .pid = 10, .app = "shop.wsgi:app", .workers = 1 };
	struct worker_snap w = { .pid = 11, .master = 10 };
	struct snapshot s = { .masters = &m, .nmasters = 1, .workers = &w, .nworkers = 1 };
	struct strbuf out;

	(void)state;
	s.bounds = (struct bounds){ dur, 1, size, 1 };
	snprintf(m.k8s.namespace, sizeof(m.k8s.namespace), "shop");
	snprintf(m.k8s.pod, sizeof(m.k8s.pod), "web-7c9");
	snprintf(m.k8s.container, sizeof(m.k8s.container), "app");
	sb_init(&out);
	text_render(&s, &out);
	assert_non_null(
	    strstr(out.data, "gunicorn_worker_requests_total{app=\"shop.wsgi:app\",master_pid=\"10\","
			     "worker_pid=\"11\",namespace=\"shop\",pod=\"web-7c9\",container=\"app\"} 0\n"));
	assert_non_null(strstr(out.data, "gunicorn_master_workers{app=\"shop.wsgi:app\",master_pid=\"10\","
					 "namespace=\"shop\",pod=\"web-7c9\",container=\"app\"} 1\n"));
	sb_free(&out);
	/* outside Kubernetes: no such labels */
	memset(&m.k8s, 0, sizeof(m.k8s));
	sb_init(&out);
	text_render(&s, &out);
	assert_null(strstr(out.data, "namespace="));
	sb_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_drivers),
		cmocka_unit_test(test_not_a_pod),
		cmocka_unit_test(test_identify),
		cmocka_unit_test(test_labels_rendered),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
