/* oracle_redis_keys.h - the old text-to-Redis converter (redis/redis_keys.h
 * of cb4040f, renamed oracle_*; the reading side, rk_parse_key, left out),
 * the oracle of tests/test_same_as_before.c. As it said then:
 *
 * the Redis layout of the Python gunicorn-prometheus-exporter
 * (0.1.5, backend/core), computed from our Prometheus text exposition, so
 * that its RedisMultiProcessCollector (and our `aggregate`) read our series:
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
 * (readers derive it from the buckets). Every record gets a node label. */
#ifndef OBS_ORACLE_REDIS_KEYS_H
#define OBS_ORACLE_REDIS_KEYS_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/strbuf.h"

/* One sample as Redis records it. The fields are offsets of NUL-terminated
 * strings in the owning redis_records' text (see oracle_str). */
struct oracle_record {
	size_t data_key;
	size_t meta_key;
	size_t original_key;
	size_t value;
	const char *typ; /* counter, histogram or gauge */
};

struct oracle_records {
	struct oracle_record *v;
	size_t n, cap;
	struct strbuf text;
	size_t skipped; /* sample lines that did not parse */
};

static inline const char *oracle_str(const struct oracle_records *r, size_t off)
{
	return r->text.data + off;
}

/* Converts an exposition (as expo_render writes it) into records: pid is
 * the series' worker_pid label, else its master_pid, else self; node (when
 * not "") is added as a "node" label unless the series has one. Returns 0,
 * or -1 when out of memory. */
int oracle_redis_keys_build(const char *text, size_t len, const char *prefix, const char *node, pid_t self,
			    struct oracle_records *out);
void oracle_records_free(struct oracle_records *r);

/* Appends s (n bytes of UTF-8) as a JSON string the way Python's json.dumps
 * does (ensure_ascii); a byte that is not valid UTF-8 becomes \ufffd. */
void oracle_json_string(struct strbuf *out, const char *s, size_t n);
/* The md5 of s as 32 lowercase hex digits; -1 when libcrypto fails. */
int oracle_md5_hex(const char *s, size_t n, char hex[33]);
/* v in the fewest significant digits that read back as v ("5", "0.25"). */
void oracle_fmt_double(double v, char out[32]);

#endif
