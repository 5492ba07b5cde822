/* http_frame.h - where an HTTP/1.x response ends, found while it is being
 * written: a streaming parser of the status line and headers (the status
 * code, Content-Length, Transfer-Encoding: chunked), then of the body's
 * framing (a length, chunks and their terminator, or nothing: HEAD, 1xx,
 * 204, 304). It keeps its state between writes, so a response may be cut
 * anywhere. Shared by the BPF programs and the host's unit tests: pure
 * functions over bytes the caller has already copied. */
#ifndef OBS_HTTP_FRAME_H
#define OBS_HTTP_FRAME_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Bytes handed to one obs_frame_scan() call. */
#define OBS_FRAME_BLOCK 64
/* Bytes or skipped lines per obs_frame_scan() call: what is left of the
 * block, the caller hands over again. */
#define OBS_FRAME_SCAN_STEPS 32

enum obs_frame_state {
	OBS_FR_STATUS = 0, /* in "HTTP/1.x NNN"; idx is the position */
	OBS_FR_REASON,     /* the rest of the status line */
	OBS_FR_LINE,       /* at the start of a header line */
	OBS_FR_NAME,       /* in a header name that may be one we want */
	OBS_FR_CL_VALUE,   /* in a Content-Length value */
	OBS_FR_TE_VALUE,   /* in a Transfer-Encoding value */
	OBS_FR_SKIP,       /* in a header line we do not want */
	OBS_FR_END_LF,     /* after the CR of the blank line */
	OBS_FR_BODY,       /* remain body bytes to go */
	OBS_FR_CHUNK_SIZE, /* in a chunk-size line; num is the size so far */
	OBS_FR_CHUNK_EXT,  /* in a chunk extension */
	OBS_FR_CHUNK_DATA, /* remain chunk bytes to go */
	OBS_FR_CHUNK_CRLF, /* the CRLF after a chunk's data */
	OBS_FR_TRAILER,    /* at the start of a trailer line (after the last chunk) */
	OBS_FR_TRAILER_SKIP,
	OBS_FR_TRAILER_LF,
	OBS_FR_UNTIL_CLOSE, /* a body that ends when the connection does */
	OBS_FR_DONE,        /* the response is complete */
	OBS_FR_NOT_HTTP,    /* the bytes are no HTTP/1.x response: ends at close */
};

/* What obs_frame_scan() or obs_frame_skip() reached. */
enum obs_frame_event {
	OBS_FRAME_MORE = 0,    /* the response goes on */
	OBS_FRAME_INTERIM = 1, /* a 1xx (not 101) response ended: the final one follows */
	OBS_FRAME_DONE = 2,    /* the response ended */
};

#define OBS_FRAME_CL      0x01 /* a Content-Length was seen */
#define OBS_FRAME_CHUNKED 0x02 /* Transfer-Encoding ends in chunked */
#define OBS_FRAME_NO_BODY 0x04 /* the request was HEAD: no body whatever the headers say */

#define OBS_FRAME_CAND_CL 0x01 /* the header name may still be content-length */
#define OBS_FRAME_CAND_TE 0x02 /* ... transfer-encoding */

struct obs_frame {
	__u64 remain; /* body or chunk bytes left; the Content-Length while it is parsed */
	__u64 num;    /* a chunk size being parsed */
	__u16 code;   /* the status code, once the status line is read */
	__u8 st;      /* enum obs_frame_state */
	__u8 idx;     /* position in the token being matched */
	__u8 flags;   /* OBS_FRAME_CL, OBS_FRAME_CHUNKED, OBS_FRAME_NO_BODY */
	__u8 cand;    /* OBS_FRAME_CAND_* while a header name is matched */
	__u16 pos;    /* obs_frame_scan()'s place in its block: kept in memory, see there */
};

/* Starts a response to a request; head: the request was HEAD. */
static inline void obs_frame_init(struct obs_frame *f, int head)
{
	f->remain = 0;
	f->num = 0;
	f->code = 0;
	f->st = OBS_FR_STATUS;
	f->idx = 0;
	f->flags = head ? OBS_FRAME_NO_BODY : 0;
	f->cand = 0;
	f->pos = 0;
}

/* The states that take bytes without reading them. */
static inline int obs_frame_skipping(const struct obs_frame *f)
{
	return f->st == OBS_FR_BODY || f->st == OBS_FR_CHUNK_DATA || f->st == OBS_FR_UNTIL_CLOSE ||
	       f->st == OBS_FR_NOT_HTTP || f->st == OBS_FR_DONE;
}

/* The tokens matched, as little-endian words: the BPF side keeps them in
 * instructions (no read-only data to relocate). */
#define OBS_FRAME_HTTP1  0x2e312f50545448ULL   /* "HTTP/1." */
#define OBS_FRAME_CL0    0x2d746e65746e6f63ULL /* "content-" */
#define OBS_FRAME_CL1    0x6874676e656cULL     /* "length" */
#define OBS_FRAME_TE0    0x726566736e617274ULL /* "transfer" */
#define OBS_FRAME_TE1    0x6e69646f636e652dULL /* "-encodin" */
#define OBS_FRAME_TE2    0x67ULL               /* "g" */
#define OBS_FRAME_CHUNK  0x64656b6e756863ULL   /* "chunked" */
#define OBS_FRAME_CL_LEN 14
#define OBS_FRAME_TE_LEN 17

/* Byte i of the token held in words w0, w1, w2. */
static inline __u8 obs_frame_tok(__u64 w0, __u64 w1, __u64 w2, __u32 i)
{
	__u64 w = i < 8 ? w0 : i < 16 ? w1 : w2;

	return (__u8)(w >> ((i & 7) * 8));
}

static inline __u8 obs_frame_lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static inline int obs_frame_hex(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = obs_frame_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The header block ended: how does the body end? */
static inline int obs_frame_headers_done(struct obs_frame *f)
{
	__u16 code = f->code;

	if (code >= 100 && code < 200 && code != 101) {
		/* an interim response: the final one comes next, same request */
		f->st = OBS_FR_STATUS;
		f->idx = 0;
		f->code = 0;
		f->flags &= OBS_FRAME_NO_BODY;
		f->remain = 0;
		return OBS_FRAME_INTERIM;
	}
	if ((f->flags & OBS_FRAME_NO_BODY) || code == 101 || code == 204 || code == 304) {
		f->st = OBS_FR_DONE;
		return OBS_FRAME_DONE;
	}
	if (f->flags & OBS_FRAME_CHUNKED) {
		f->st = OBS_FR_CHUNK_SIZE;
		f->num = 0;
		f->idx = 0;
		return OBS_FRAME_MORE;
	}
	if (f->flags & OBS_FRAME_CL) {
		f->st = f->remain ? OBS_FR_BODY : OBS_FR_DONE;
		return f->remain ? OBS_FRAME_MORE : OBS_FRAME_DONE;
	}
	f->st = OBS_FR_UNTIL_CLOSE;
	return OBS_FRAME_MORE;
}

/* "HTTP/1.x NNN" then a space or the line's end, one byte at a time. */
static inline void obs_frame_status(struct obs_frame *f, __u8 c)
{
	__u8 i = f->idx;

	f->st = OBS_FR_NOT_HTTP; /* unless the byte fits */
	if (i < 7) {
		if (c != obs_frame_tok(OBS_FRAME_HTTP1, 0, 0, i))
			goto not_http;
	} else if (i == 7) {
		if (c < '0' || c > '9')
			goto not_http;
	} else if (i == 8) {
		if (c != ' ')
			goto not_http;
	} else if (i < 12) {
		if (c < '0' || c > '9' || (i == 9 && c == '0'))
			goto not_http;
		f->code = f->code * 10 + (c - '0');
	} else {
		if (c == '\n')
			f->st = OBS_FR_LINE;
		else if (c == ' ' || c == '\r')
			f->st = OBS_FR_REASON;
		else
			goto not_http;
		return;
	}
	f->st = OBS_FR_STATUS;
	f->idx = i + 1;
	return;
not_http:
	f->code = 0;
}

/* A byte at the start of a header line, or of a name being matched. */
static inline int obs_frame_name(struct obs_frame *f, __u8 c)
{
	__u8 i = f->idx, lc = obs_frame_lower(c), cand = f->cand;

	if (c == '\n') {
		f->st = OBS_FR_LINE;
		return OBS_FRAME_MORE;
	}
	if (c == ':') {
		if ((cand & OBS_FRAME_CAND_CL) && i == OBS_FRAME_CL_LEN) {
			f->st = OBS_FR_CL_VALUE;
			f->flags |= OBS_FRAME_CL;
			f->remain = 0;
		} else if ((cand & OBS_FRAME_CAND_TE) && i == OBS_FRAME_TE_LEN) {
			f->st = OBS_FR_TE_VALUE;
			f->flags &= ~OBS_FRAME_CHUNKED;
			f->idx = 0;
		} else {
			f->st = OBS_FR_SKIP;
		}
		return OBS_FRAME_MORE;
	}
	if (i >= OBS_FRAME_CL_LEN || lc != obs_frame_tok(OBS_FRAME_CL0, OBS_FRAME_CL1, 0, i))
		cand &= ~OBS_FRAME_CAND_CL;
	if (i >= OBS_FRAME_TE_LEN || lc != obs_frame_tok(OBS_FRAME_TE0, OBS_FRAME_TE1, OBS_FRAME_TE2, i))
		cand &= ~OBS_FRAME_CAND_TE;
	f->cand = cand;
	f->idx = i + 1;
	if (!cand)
		f->st = OBS_FR_SKIP;
	return OBS_FRAME_MORE;
}

/* One byte of a header line; returns a obs_frame_event. */
static inline int obs_frame_header_byte(struct obs_frame *f, __u8 c)
{
	__u64 d;

	switch (f->st) {
	case OBS_FR_LINE:
		if (c == '\r') {
			f->st = OBS_FR_END_LF;
			return OBS_FRAME_MORE;
		}
		if (c == '\n')
			return obs_frame_headers_done(f);
		f->st = OBS_FR_NAME;
		f->idx = 0;
		f->cand = OBS_FRAME_CAND_CL | OBS_FRAME_CAND_TE;
		return obs_frame_name(f, c);
	case OBS_FR_NAME:
		return obs_frame_name(f, c);
	case OBS_FR_END_LF:
		if (c == '\n')
			return obs_frame_headers_done(f);
		f->st = OBS_FR_SKIP;
		return OBS_FRAME_MORE;
	case OBS_FR_CL_VALUE:
		if (c == '\n') {
			f->st = OBS_FR_LINE;
		} else if (c >= '0' && c <= '9') {
			d = c - '0';
			if (f->remain >= 100000000000000000ULL) { /* 10^18 and more: no real body */
				f->flags &= ~OBS_FRAME_CL;
				f->st = OBS_FR_SKIP;
			} else {
				f->remain = f->remain * 10 + d;
			}
		} else if (c != ' ' && c != '\t' && c != '\r') {
			f->st = OBS_FR_SKIP; /* "5, 5": the first value stands */
		}
		return OBS_FRAME_MORE;
	case OBS_FR_TE_VALUE:
		if (c == '\n') {
			f->st = OBS_FR_LINE;
			return OBS_FRAME_MORE;
		}
		if (c == ' ' || c == '\t' || c == '\r')
			return OBS_FRAME_MORE;
		/* chunked must be the last coding: any other byte after it undoes it */
		f->flags &= ~OBS_FRAME_CHUNKED;
		if (f->idx < 7 && obs_frame_lower(c) == obs_frame_tok(OBS_FRAME_CHUNK, 0, 0, f->idx))
			f->idx++;
		else
			f->idx = obs_frame_lower(c) == 'c' ? 1 : 0;
		if (f->idx == 7) {
			f->flags |= OBS_FRAME_CHUNKED;
			f->idx = 0;
		}
		return OBS_FRAME_MORE;
	default: /* OBS_FR_SKIP */
		if (c == '\n')
			f->st = OBS_FR_LINE;
		return OBS_FRAME_MORE;
	}
}

/* One byte of a chunk-size line, a chunk's CRLF or the trailers. */
static inline int obs_frame_chunk_byte(struct obs_frame *f, __u8 c)
{
	int d;

	switch (f->st) {
	case OBS_FR_CHUNK_SIZE:
	case OBS_FR_CHUNK_EXT:
		if (c == '\n') {
			if (f->idx == 0) {
				f->st = OBS_FR_UNTIL_CLOSE; /* no size: framing lost */
			} else if (f->num == 0) {
				f->st = OBS_FR_TRAILER;
			} else {
				f->remain = f->num;
				f->st = OBS_FR_CHUNK_DATA;
			}
			return OBS_FRAME_MORE;
		}
		if (f->st == OBS_FR_CHUNK_EXT || c == '\r')
			return OBS_FRAME_MORE;
		d = obs_frame_hex(c);
		if (d >= 0 && f->num < (1ULL << 56)) {
			f->num = f->num * 16 + (__u64)d;
			f->idx = 1;
		} else if (c == ';' || c == ' ' || c == '\t') {
			f->st = OBS_FR_CHUNK_EXT;
		} else {
			f->st = OBS_FR_UNTIL_CLOSE;
		}
		return OBS_FRAME_MORE;
	case OBS_FR_CHUNK_CRLF:
		if (c == '\n') {
			f->st = OBS_FR_CHUNK_SIZE;
			f->num = 0;
			f->idx = 0;
		} else if (c != '\r') {
			f->st = OBS_FR_UNTIL_CLOSE;
		}
		return OBS_FRAME_MORE;
	case OBS_FR_TRAILER:
		if (c == '\n') {
			f->st = OBS_FR_DONE;
			return OBS_FRAME_DONE;
		}
		f->st = c == '\r' ? OBS_FR_TRAILER_LF : OBS_FR_TRAILER_SKIP;
		return OBS_FRAME_MORE;
	case OBS_FR_TRAILER_LF:
		if (c == '\n') {
			f->st = OBS_FR_DONE;
			return OBS_FRAME_DONE;
		}
		f->st = OBS_FR_TRAILER_SKIP;
		return OBS_FRAME_MORE;
	default: /* OBS_FR_TRAILER_SKIP */
		if (c == '\n')
			f->st = OBS_FR_TRAILER;
		return OBS_FRAME_MORE;
	}
}

/* The status code of the response, 0 while its status line is incomplete
 * or when it is no HTTP/1.x response. */
static inline __u32 obs_frame_code(const struct obs_frame *f)
{
	return f->st == OBS_FR_STATUS || f->st == OBS_FR_NOT_HTTP ? 0 : f->code;
}

/* Has the status line of a final (not interim) response been read, or the
 * bytes shown to be no HTTP? The answer to the request has begun. */
static inline int obs_frame_final_started(const struct obs_frame *f)
{
	if (f->st == OBS_FR_STATUS)
		return 0;
	return f->st == OBS_FR_NOT_HTTP || f->code < 100 || f->code >= 200 || f->code == 101;
}

/* One byte in any state that reads bytes. */
static inline int obs_frame_byte(struct obs_frame *f, __u8 c)
{
	if (f->st == OBS_FR_STATUS) {
		obs_frame_status(f, c);
		return OBS_FRAME_MORE;
	}
	if (f->st == OBS_FR_REASON) {
		if (c == '\n')
			f->st = OBS_FR_LINE;
		return OBS_FRAME_MORE;
	}
	if (f->st >= OBS_FR_CHUNK_SIZE && f->st <= OBS_FR_TRAILER_LF && f->st != OBS_FR_CHUNK_DATA)
		return obs_frame_chunk_byte(f, c);
	return obs_frame_header_byte(f, c);
}

/* Takes up to n bytes that need not be read (a body, a chunk's data, or
 * whatever follows in a state that reads no more); *used is set to how many
 * were taken. Call only when obs_frame_skipping(f). */
static inline int obs_frame_skip(struct obs_frame *f, __u64 n, __u64 *used)
{
	__u64 k = n;

	if (f->st == OBS_FR_DONE) {
		*used = 0;
		return OBS_FRAME_DONE;
	}
	if (f->st == OBS_FR_BODY || f->st == OBS_FR_CHUNK_DATA) {
		if (k > f->remain)
			k = f->remain;
		f->remain -= k;
		*used = k;
		if (f->remain)
			return OBS_FRAME_MORE;
		if (f->st == OBS_FR_CHUNK_DATA) {
			f->st = OBS_FR_CHUNK_CRLF;
			return OBS_FRAME_MORE;
		}
		f->st = OBS_FR_DONE;
		return OBS_FRAME_DONE;
	}
	*used = k; /* until close, or not HTTP */
	return OBS_FRAME_MORE;
}

/* Eight bytes at p, wherever p points: one load in BPF (the verifier and
 * the architectures we build for take unaligned loads), a copy on the host. */
#ifdef __bpf__
#define obs_frame_load64(p) (*(const __u64 *)(p))
#else
static inline __u64 obs_frame_load64(const __u8 *p)
{
	__u64 w;

	__builtin_memcpy(&w, p, 8);
	return w;
}
#endif

/* Hides v's value from the compiler, so that a bound the verifier needs to
 * see is not dropped as implied by an earlier one. */
#define obs_frame_opaque(v) asm volatile("" : "+r"(v))

/* The offset of the first '\n' in b[i..n), or n: eight bytes at a time
 * (a word holds one when some byte of it XOR '\n' is zero). n <= OBS_FRAME_BLOCK. */
static inline __u32 obs_frame_eol(const __u8 *b, __u32 i, __u32 n)
{
	for (int k = 0; k < OBS_FRAME_BLOCK / 8; k++) {
		__u64 x;

		if (n < 8 || i > n - 8)
			break;
		obs_frame_opaque(i);
		if (i > OBS_FRAME_BLOCK - 8)
			break;
		x = obs_frame_load64(b + i) ^ 0x0a0a0a0a0a0a0a0aULL;
		if ((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL)
			break;
		i += 8;
	}
	for (int k = 0; k < 8; k++, i++) {
		if (i >= n)
			return n;
		obs_frame_opaque(i);
		if (i >= OBS_FRAME_BLOCK || b[i] == '\n')
			return i;
	}
	return i < n ? i : n;
}

/* Words of the tokens matched whole, and the case bits of their letters
 * (only letters are folded: other bytes must match as they are). */
#define OBS_FRAME_M_CONTENT  0x0020202020202020ULL /* of OBS_FRAME_CL0, "content-" */
#define OBS_FRAME_W_LENGTH   0x3a6874676e656cULL   /* "length:" */
#define OBS_FRAME_M_LENGTH   0x0000202020202020ULL
#define OBS_FRAME_M_TRANSFER 0x2020202020202020ULL /* of OBS_FRAME_TE0, "transfer" */
#define OBS_FRAME_M_ENCODIN  0x2020202020202000ULL /* of OBS_FRAME_TE1, "-encodin" */

/* The fast path of obs_frame_scan(), for what most responses are made of,
 * when the bytes it needs are all in the block: a whole status line, and
 * a header line's name told in two or three word compares. It leaves the
 * parser exactly where going byte by byte would, or does nothing. Returns
 * the new place in b. */
static inline __u32 obs_frame_fast(struct obs_frame *f, const __u8 *b, __u32 i, __u32 n)
{
	__u64 w0, w1, w2;
	__u8 c, b7, d9, d10, d11;

	if (f->st == OBS_FR_STATUS && f->idx == 0) {
		if (n < 13 || i > n - 13)
			return i;
		obs_frame_opaque(i);
		if (i > OBS_FRAME_BLOCK - 13)
			return i;
		w0 = obs_frame_load64(b + i); /* bytes 0..7 */
		w1 = obs_frame_load64(b + i +
				      5); /* bytes 5..12: words, not bytes at offsets, for the verifier */
		c = (__u8)(w1 >> 56);
		b7 = (__u8)(w0 >> 56);
		d9 = (__u8)(w1 >> 32);
		d10 = (__u8)(w1 >> 40);
		d11 = (__u8)(w1 >> 48);
		if ((w0 & 0x00ffffffffffffffULL) != OBS_FRAME_HTTP1 || b7 < '0' || b7 > '9' ||
		    (__u8)(w1 >> 24) != ' ' || d9 < '1' || d9 > '9' || d10 < '0' || d10 > '9' || d11 < '0' ||
		    d11 > '9' || (c != ' ' && c != '\r' && c != '\n'))
			return i; /* let the bytes say where it is no status line */
		f->code = (__u16)((d9 - '0') * 100 + (d10 - '0') * 10 + (d11 - '0'));
		f->st = c == '\n' ? OBS_FR_LINE : OBS_FR_REASON;
		return i + 13;
	}
	if (f->st != OBS_FR_LINE || i >= n)
		return i;
	obs_frame_opaque(i);
	if (i >= OBS_FRAME_BLOCK)
		return i;
	c = obs_frame_lower(b[i]);
	if (c == '\r' || c == '\n')
		return i; /* the end of the headers: byte by byte */
	if (c != 'c' && c != 't') {
		f->st = OBS_FR_SKIP; /* no name we want starts so */
		return i + 1;
	}
	if (n < 18 || i > n - 18)
		return i;
	obs_frame_opaque(i);
	if (i > OBS_FRAME_BLOCK - 18)
		return i;
	w0 = obs_frame_load64(b + i);
	w1 = obs_frame_load64(b + i + 8);
	w2 = obs_frame_load64(b + i + 10); /* its top two bytes: b[i + 16], b[i + 17] */
	if ((w0 | OBS_FRAME_M_CONTENT) == OBS_FRAME_CL0 &&
	    ((w1 | OBS_FRAME_M_LENGTH) & 0x00ffffffffffffffULL) == OBS_FRAME_W_LENGTH) {
		f->st = OBS_FR_CL_VALUE;
		f->flags |= OBS_FRAME_CL;
		f->remain = 0;
		return i + OBS_FRAME_CL_LEN + 1;
	}
	if ((w0 | OBS_FRAME_M_TRANSFER) == OBS_FRAME_TE0 && (w1 | OBS_FRAME_M_ENCODIN) == OBS_FRAME_TE1 &&
	    (((w2 >> 48) & 0xff) | 0x20) == 'g' && (w2 >> 56) == ':') {
		f->st = OBS_FR_TE_VALUE;
		f->flags &= ~OBS_FRAME_CHUNKED;
		f->idx = 0;
		return i + OBS_FRAME_TE_LEN + 1;
	}
	f->st = OBS_FR_SKIP; /* another name, or one of ours followed by more */
	return i + 1;
}

/* States that wait for the line's end and take any other byte unchanged. */
static inline int obs_frame_to_eol(const struct obs_frame *f)
{
	return f->st == OBS_FR_SKIP || f->st == OBS_FR_REASON || f->st == OBS_FR_TRAILER_SKIP ||
	       f->st == OBS_FR_CHUNK_EXT;
}

/* Reads bytes b[0..n) (n <= OBS_FRAME_BLOCK) in the reading states; stops
 * early when a skipping state is reached or a response (final or interim)
 * ends. *used is set to the bytes taken. Returns a obs_frame_event. */
static inline int obs_frame_scan(struct obs_frame *f, const __u8 *b, __u32 n, __u32 *used)
{
	int ev = OBS_FRAME_MORE;

	if (n > OBS_FRAME_BLOCK)
		n = OBS_FRAME_BLOCK;
	f->pos = 0;
	for (int step = 0; step < OBS_FRAME_SCAN_STEPS; step++) {
		__u32 i = f->pos;

		if (i >= n || obs_frame_skipping(f))
			break;
		f->pos = (__u16)obs_frame_fast(f, b, i, n);
		asm volatile("" ::: "memory"); /* the paths of the fast path meet here */
		i = f->pos;
		if (obs_frame_to_eol(f))
			i = obs_frame_eol(b, i, n); /* most header bytes: lines we do not want */
		f->pos = (__u16)i;
		asm volatile("" ::: "memory");
		i = f->pos;
		if (i >= n)
			break;
		obs_frame_opaque(i);
		if (i >= OBS_FRAME_BLOCK)
			break;
		ev = obs_frame_byte(f, b[i]);
		f->pos = (__u16)(i + 1);
		if (ev != OBS_FRAME_MORE)
			break;
		/* the state, the place too, goes through memory at every byte: the
		 * BPF verifier then sees one state at the loop's head, not one per
		 * value the compiler would keep in registers */
		asm volatile("" ::: "memory");
	}
	*used = f->pos < n ? f->pos : n;
	return ev;
}

#endif /* OBS_HTTP_FRAME_H */
