/* fuzz_records.c - the Redis records' two readers of outside input.
 *
 * rk_parse_key, the aggregator's reader of the original_key JSON that
 * other processes (the Python exporter, other observers) wrote into Redis:
 * the input as such a key. A key it accepts has at most RK_MAX_LABELS
 * labels, and its strings written again (rk_json_string) read back the
 * same, for those that are valid UTF-8.
 *
 * redis_records_build, over the strings a snapshot takes from outside
 * (prefix and node from the configuration and NODE_NAME; app, namespace,
 * pod, container and listener names from processes, cgroups and sockets;
 * BPF memory names; the version): the input split at newlines into those
 * fields. Every record must be "prefix:type:pid:metric:md5" and its meta
 * key alike, type and typ must agree, md5 must be the original_key's,
 * the original_key must be ASCII (json.dumps with ensure_ascii), read back
 * with its labels sorted, and give back the app and node, for those that
 * are valid UTF-8. pid is the worker's for worker series, the master's for
 * master series, ours for the rest. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "model/snapshot.h"
#include "redis/records.h"
#include "utf8.h"

static int valid(const char *s)
{
	return valid_utf8((const unsigned char *)s, strlen(s));
}

/* A string of a parsed key written as JSON and read back again. */
static void check_rewrite(const char *s)
{
	struct strbuf key;
	struct rk_key k;

	if (!valid(s))
		return;
	sb_init(&key);
	sb_puts(&key, "[");
	rk_json_string(&key, s, strlen(s));
	sb_puts(&key, ", \"s\", {}, \"h\"]");
	if (key.oom || rk_parse_key(key.data, &k) || strcmp(k.buf.data + k.family, s) != 0)
		abort();
	sb_free(&k.buf);
	sb_free(&key);
}

static void fuzz_parse_key(const uint8_t *data, size_t size)
{
	char *key = malloc(size + 1);
	struct rk_key k;

	if (!key)
		abort();
	memcpy(key, data, size);
	key[size] = '\0';
	if (rk_parse_key(key, &k) == 0) {
		if (k.nlabels > RK_MAX_LABELS || !k.buf.data)
			abort();
		check_rewrite(k.buf.data + k.family);
		check_rewrite(k.buf.data + k.sample);
		check_rewrite(k.buf.data + k.help);
		for (size_t i = 0; i < k.nlabels; i++) {
			check_rewrite(k.buf.data + k.name[i]);
			check_rewrite(k.buf.data + k.value[i]);
		}
		sb_free(&k.buf);
	}
	free(key);
}

enum field { F_PREFIX, F_NODE, F_APP, F_NAMESPACE, F_POD, F_CONTAINER, F_LISTEN, F_MEM, F_VERSION, F_COUNT };

/* Field i of the input (newline-separated), at most size - 1 bytes of it,
 * up to a NUL as a C string goes. */
static void field(const uint8_t *data, size_t n, int i, char *out, size_t size)
{
	const uint8_t *p = data, *end = data + n;

	for (; i > 0 && p < end; i--) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));

		p = nl ? nl + 1 : end;
	}
	n = (size_t)(end - p);
	if (memchr(p, '\n', n))
		n = (size_t)((const uint8_t *)memchr(p, '\n', n) - p);
	snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), (const char *)p);
}

/* The value of label name in k, NULL when it has none. */
static const char *label(const struct rk_key *k, const char *name)
{
	for (size_t i = 0; i < k->nlabels; i++)
		if (!strcmp(k->buf.data + k->name[i], name))
			return k->buf.data + k->value[i];
	return NULL;
}

struct input {
	char prefix[64], node[256];
	struct snapshot s;
	struct master_snap m;
	struct worker_snap w;
	struct bpf_mem mem;
	char version[64];
};

static void check_record(const struct input *in, const struct redis_records *rs, const struct redis_record *r)
{
	const char *data = rk_str(rs, r->data_key), *meta = rk_str(rs, r->meta_key);
	const char *orig = rk_str(rs, r->original_key), *type, *wp, *mp, *app, *node;
	size_t pl = strlen(in->prefix);
	char want[512], md5[33];
	struct rk_key k;

	type = !strcmp(r->typ, "gauge") ? "gauge_all" : r->typ;
	if (strcmp(r->typ, "counter") && strcmp(r->typ, "histogram") && strcmp(r->typ, "gauge"))
		abort();
	for (const char *p = orig; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			abort();
	if (rk_md5_hex(orig, strlen(orig), md5) || rk_parse_key(orig, &k))
		abort();
	for (size_t i = 1; i < k.nlabels; i++)
		if (strcmp(k.buf.data + k.name[i - 1], k.buf.data + k.name[i]) >= 0)
			abort(); /* sort_keys, and no label twice */
	wp = label(&k, "worker_pid");
	mp = label(&k, "master_pid");
	snprintf(want, sizeof(want), "%s:%s:%s:metric:%s", in->prefix, type, wp ? "8" : mp ? "7" : "1", md5);
	if (strcmp(data, want) != 0 || strncmp(meta, in->prefix, pl) != 0)
		abort();
	snprintf(want, sizeof(want), "%s:%s:%s:meta:%s", in->prefix, type, wp ? "8" : mp ? "7" : "1", md5);
	if (strcmp(meta, want) != 0)
		abort();
	app = label(&k, "app");
	if ((wp || mp) && (!app || (valid(in->m.app) && strcmp(app, in->m.app) != 0)))
		abort();
	node = label(&k, "node");
	if (!*in->node ? node != NULL : !node || (valid(in->node) && strcmp(node, in->node) != 0))
		abort();
	sb_free(&k.buf);
}

static void fuzz_records(const uint8_t *data, size_t size)
{
	struct input *in = calloc(1, sizeof(*in));
	struct redis_records rs;

	if (!in)
		abort();
	field(data, size, F_PREFIX, in->prefix, sizeof(in->prefix));
	field(data, size, F_NODE, in->node, sizeof(in->node));
	field(data, size, F_APP, in->m.app, sizeof(in->m.app));
	field(data, size, F_NAMESPACE, in->m.k8s.namespace, sizeof(in->m.k8s.namespace));
	field(data, size, F_POD, in->m.k8s.pod, sizeof(in->m.k8s.pod));
	field(data, size, F_CONTAINER, in->m.k8s.container, sizeof(in->m.k8s.container));
	field(data, size, F_LISTEN, in->m.listeners[0].name, sizeof(in->m.listeners[0].name));
	field(data, size, F_MEM, in->mem.name, sizeof(in->mem.name));
	field(data, size, F_VERSION, in->version, sizeof(in->version));
	in->m.pid = 7;
	in->m.nlisteners = 1;
	in->w.pid = 8;
	in->w.master = 7;
	in->w.host.heartbeat_age = -1;
	in->s.masters = &in->m;
	in->s.nmasters = 1;
	in->s.workers = &in->w;
	in->s.nworkers = 1;
	in->s.self.bpf_mem = &in->mem;
	in->s.self.nbpf_mem = 1;
	in->s.self.version = in->version;
	in->s.self.mirror = 1;
	if (redis_records_build(&in->s, in->prefix, in->node, 1, &rs))
		abort();
	if (!rs.n)
		abort();
	for (size_t i = 0; i < rs.n; i++)
		check_record(in, &rs, &rs.v[i]);
	redis_records_free(&rs);
	free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse_key(data, size);
	fuzz_records(data, size);
	return 0;
}
