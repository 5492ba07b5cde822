/* fuzz_redis_keys.c - the Redis mirror's reading of a text exposition
 * (redis_keys_build) and the aggregator's reading of the original_key JSON
 * it writes (rk_parse_key). The text has no NUL after it, as the (text,
 * len) interface allows, and ends right before an unmapped page, so that
 * libc calls that ASan does not see (strtod) fault on a read past it; every record written must name its
 * type, a pid and a value (unless a NUL hides it), and its original_key
 * must read back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "redis/redis_keys.h"

static void check_record(const struct redis_records *rs, const struct redis_record *r, int has_nul)
{
	const char *data = rk_str(rs, r->data_key), *meta = rk_str(rs, r->meta_key);
	struct rk_key k;

	if (strncmp(data, "p:", 2) != 0 || strncmp(meta, "p:", 2) != 0 || !strstr(data, ":metric:") ||
	    !strstr(meta, ":meta:") || (!has_nul && !*rk_str(rs, r->value)))
		abort();
	if (strcmp(r->typ, "counter") && strcmp(r->typ, "histogram") && strcmp(r->typ, "gauge"))
		abort();
	if (rk_parse_key(rk_str(rs, r->original_key), &k))
		abort();
	sb_free(&k.buf);
}

static char *guarded;
static size_t guarded_len;

/* size bytes that end where an unmapped page begins. */
static char *guarded_copy(const uint8_t *data, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = (size + page - 1) / page * page + page;

	if (len > guarded_len) {
		if (guarded)
			munmap(guarded, guarded_len);
		guarded = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (guarded == MAP_FAILED || mprotect(guarded + len - page, page, PROT_NONE))
			abort();
		guarded_len = len;
	}
	memcpy(guarded + guarded_len - page - size, data, size);
	return guarded + guarded_len - page - size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct redis_records rs;
	struct rk_key k;
	char *text = guarded_copy(data, size), *key;

	if (redis_keys_build(text, size, "p", "n", 1, &rs))
		abort();
	for (size_t i = 0; i < rs.n; i++)
		check_record(&rs, &rs.v[i], memchr(data, '\0', size) != NULL);
	redis_records_free(&rs);
	/* the same bytes as an original_key read from Redis */
	key = malloc(size + 1);
	if (!key)
		abort();
	memcpy(key, data, size);
	key[size] = '\0';
	if (rk_parse_key(key, &k) == 0) {
		if (k.nlabels > RK_MAX_LABELS || !k.buf.data)
			abort();
		sb_free(&k.buf);
	}
	free(key);
	return 0;
}
