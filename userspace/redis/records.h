/* records.h - the Redis layout of the Python gunicorn-prometheus-exporter
 * (0.1.5, backend/core), made from the series model, so that its
 * RedisMultiProcessCollector (and our `aggregate`) read our series:
 *
 *   data {prefix}:{type}:{pid}:metric:{md5}  value, timestamp, updated_at
 *   meta {prefix}:{type}:{pid}:meta:{md5}    original_key, typ,
 *                                            multiprocess_mode, created_at
 *
 * original_key is Python's json.dumps([family, sample, {labels}, help],
 * sort_keys=True) byte for byte (", " and ": " separators, ASCII only with
 * \uXXXX escapes), md5 its hex digest. type is counter, histogram or
 * gauge_all; typ is counter, histogram or gauge; multiprocess_mode is "all".
 * As prometheus_client does, a counter's family drops "_total" (the sample
 * keeps it), a histogram stores one key per bucket holding that bucket's own
 * count (not cumulative: readers accumulate) plus _sum, and no _count
 * (readers derive it from the buckets). pid is the series' worker_pid, else
 * its master_pid, else the observer's. Every record gets a node label. */
#ifndef OBS_RECORDS_H
#define OBS_RECORDS_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/strbuf.h"
#include "model/snapshot.h"

/* One sample as Redis records it. The fields are offsets of NUL-terminated
 * strings in the owning redis_records' text (see rk_str). */
struct redis_record {
	size_t data_key;
	size_t meta_key;
	size_t original_key;
	size_t value;
	const char *typ; /* counter, histogram or gauge */
};

struct redis_records {
	struct redis_record *v;
	size_t n, cap;
	struct strbuf text;
};

static inline const char *rk_str(const struct redis_records *r, size_t off)
{
	return r->text.data + off;
}

/* The records of every sample of s; node (when not "") is every record's
 * node label. Returns 0, or -1 when out of memory (out freed). */
int redis_records_build(const struct snapshot *s, const char *prefix, const char *node, pid_t self,
			struct redis_records *out);
void redis_records_free(struct redis_records *r);

/* An original_key read back: every string NUL-terminated in buf, at the
 * offsets below; label values are the raw values (not escaped). */
#define RK_MAX_LABELS 33
struct rk_key {
	struct strbuf buf;
	size_t family, sample, help;
	size_t nlabels;
	size_t name[RK_MAX_LABELS], value[RK_MAX_LABELS];
};

/* Parses ["family", "sample", {"label": "value", ...}, "help"] (any JSON
 * whitespace); -1 when s is not that. Free with sb_free(&k->buf). */
int rk_parse_key(const char *s, struct rk_key *k);

/* Appends s (n bytes of UTF-8) as a JSON string the way Python's json.dumps
 * does (ensure_ascii); a byte that is not valid UTF-8 becomes \ufffd. */
void rk_json_string(struct strbuf *out, const char *s, size_t n);
/* The md5 of s as 32 lowercase hex digits; -1 when libcrypto fails. */
int rk_md5_hex(const char *s, size_t n, char hex[33]);

#endif
