/* fuzz_http_frame.c - the response framing parser the BPF programs run
 * (include/http_frame.h), on the host, over responses as apps write them.
 * Beyond memory safety: where each response ends and with what code must
 * not depend on how the bytes were cut into writes (the first input byte
 * picks the cut points; byte by byte too); an end is never past the bytes
 * fed; a code is 100..999 or 0; a reading state always takes a byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_frame.h"

#define MAX_ENDS 16

struct run {
	size_t ends[MAX_ENDS];
	unsigned codes[MAX_ENDS];
	size_t n, interims;
	int st;
};

/* Feeds b[0..len) as one write; a response that ends starts another. */
static void feed(struct obs_frame *f, const __u8 *b, size_t base, size_t len, struct run *r)
{
	size_t off = 0;

	while (off < len) {
		int ev;

		if (f->st == OBS_FR_DONE) {
			obs_frame_init(f, 0);
			continue;
		}
		if (obs_frame_skipping(f)) {
			__u64 used;

			ev = obs_frame_skip(f, len - off, &used);
			if (used > len - off)
				abort();
			off += used;
		} else {
			__u32 used, k = len - off > OBS_FRAME_BLOCK ? OBS_FRAME_BLOCK : (__u32)(len - off);

			ev = obs_frame_scan(f, b + off, k, &used);
			if (used > k || (used == 0 && !obs_frame_skipping(f)))
				abort(); /* no progress in a reading state */
			off += used;
		}
		if (ev == OBS_FRAME_INTERIM)
			r->interims++;
		if (ev == OBS_FRAME_DONE && r->n < MAX_ENDS) {
			unsigned code = obs_frame_code(f);

			if (code && (code < 100 || code > 999))
				abort();
			r->codes[r->n] = code;
			r->ends[r->n++] = base + off;
		}
	}
	r->st = f->st;
}

static void run_cuts(const __u8 *b, size_t n, int head, const size_t *cuts, size_t ncuts, struct run *r)
{
	struct obs_frame f;
	size_t at = 0;

	memset(r, 0, sizeof(*r));
	obs_frame_init(&f, head);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;

		if (end < at)
			end = at;
		feed(&f, b + at, at, end - at, r);
		at = end;
	}
}

static void same(const struct run *a, const struct run *b)
{
	if (a->n != b->n || a->interims != b->interims || a->st != b->st ||
	    memcmp(a->ends, b->ends, sizeof(a->ends)) || memcmp(a->codes, b->codes, sizeof(a->codes)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cuts[8], ncuts = 0, n;
	struct run whole, cut, bytes;
	const __u8 *b;
	int head;

	if (size < 1)
		return 0;
	head = data[0] & 1;
	b = data + 1;
	n = size - 1;
	/* cut points from the first byte's other bits, spread over the input */
	for (int i = 1; i < 8 && n; i++)
		if (data[0] & (1 << i))
			cuts[ncuts++] = n * (size_t)i / 8;
	run_cuts(b, n, head, NULL, 0, &whole);
	run_cuts(b, n, head, cuts, ncuts, &cut);
	same(&whole, &cut);
	/* byte by byte, for inputs small enough to do it quickly */
	if (n <= 4096) {
		struct obs_frame f;

		memset(&bytes, 0, sizeof(bytes));
		obs_frame_init(&f, head);
		for (size_t i = 0; i < n; i++)
			feed(&f, b + i, i, 1, &bytes);
		same(&whole, &bytes);
	}
	for (size_t i = 0; i < whole.n; i++)
		if (whole.ends[i] > n || (i && whole.ends[i] < whole.ends[i - 1]))
			abort();
	return 0;
}
