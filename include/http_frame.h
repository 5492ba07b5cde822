/* http_frame.h - where an HTTP/1.x response ends, found while it is being
 * written: a streaming parser of the status line and headers (the status
 * code, Content-Length, Transfer-Encoding: chunked), then of the body's
 * framing (a length, chunks and their terminator, or nothing: HEAD, 1xx,
 * 204, 304). It keeps its state between writes, so a response may be cut
 * anywhere. Shared by the BPF programs and the host's unit tests: pure
 * functions over bytes the caller has already copied. */
#ifndef GO_HTTP_FRAME_H
#define GO_HTTP_FRAME_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Bytes handed to one go_frame_scan() call. */
#define GO_FRAME_BLOCK 64
/* Bytes or skipped lines per go_frame_scan() call: what is left of the
 * block, the caller hands over again. */
#define GO_FRAME_SCAN_STEPS 32

enum go_frame_state {
	GO_FR_STATUS = 0, /* in "HTTP/1.x NNN"; idx is the position */
	GO_FR_REASON,     /* the rest of the status line */
	GO_FR_LINE,       /* at the start of a header line */
	GO_FR_NAME,       /* in a header name that may be one we want */
	GO_FR_CL_VALUE,   /* in a Content-Length value */
	GO_FR_TE_VALUE,   /* in a Transfer-Encoding value */
	GO_FR_SKIP,       /* in a header line we do not want */
	GO_FR_END_LF,     /* after the CR of the blank line */
	GO_FR_BODY,       /* remain body bytes to go */
	GO_FR_CHUNK_SIZE, /* in a chunk-size line; num is the size so far */
	GO_FR_CHUNK_EXT,  /* in a chunk extension */
	GO_FR_CHUNK_DATA, /* remain chunk bytes to go */
	GO_FR_CHUNK_CRLF, /* the CRLF after a chunk's data */
	GO_FR_TRAILER,    /* at the start of a trailer line (after the last chunk) */
	GO_FR_TRAILER_SKIP,
	GO_FR_TRAILER_LF,
	GO_FR_UNTIL_CLOSE, /* a body that ends when the connection does */
	GO_FR_DONE,        /* the response is complete */
	GO_FR_NOT_HTTP,    /* the bytes are no HTTP/1.x response: ends at close */
};

/* What go_frame_scan() or go_frame_skip() reached. */
enum go_frame_event {
	GO_FRAME_MORE = 0,    /* the response goes on */
	GO_FRAME_INTERIM = 1, /* a 1xx (not 101) response ended: the final one follows */
	GO_FRAME_DONE = 2,    /* the response ended */
};

#define GO_FRAME_CL      0x01 /* a Content-Length was seen */
#define GO_FRAME_CHUNKED 0x02 /* Transfer-Encoding ends in chunked */
#define GO_FRAME_NO_BODY 0x04 /* the request was HEAD: no body whatever the headers say */

#define GO_FRAME_CAND_CL 0x01 /* the header name may still be content-length */
#define GO_FRAME_CAND_TE 0x02 /* ... transfer-encoding */

struct go_frame {
	__u64 remain; /* body or chunk bytes left; the Content-Length while it is parsed */
	__u64 num;    /* a chunk size being parsed */
	__u16 code;   /* the status code, once the status line is read */
	__u8 st;      /* enum go_frame_state */
	__u8 idx;     /* position in the token being matched */
	__u8 flags;   /* GO_FRAME_CL, GO_FRAME_CHUNKED, GO_FRAME_NO_BODY */
	__u8 cand;    /* GO_FRAME_CAND_* while a header name is matched */
	__u16 pos;    /* go_frame_scan()'s place in its block: kept in memory, see there */
};

/* Starts a response to a request; head: the request was HEAD. */
static inline void go_frame_init(struct go_frame *f, int head)
{
	f->remain = 0;
	f->num = 0;
	f->code = 0;
	f->st = GO_FR_STATUS;
	f->idx = 0;
	f->flags = head ? GO_FRAME_NO_BODY : 0;
	f->cand = 0;
	f->pos = 0;
}

/* The states that take bytes without reading them. */
static inline int go_frame_skipping(const struct go_frame *f)
{
	return f->st == GO_FR_BODY || f->st == GO_FR_CHUNK_DATA || f->st == GO_FR_UNTIL_CLOSE ||
	       f->st == GO_FR_NOT_HTTP || f->st == GO_FR_DONE;
}

/* The tokens matched, as little-endian words: the BPF side keeps them in
 * instructions (no read-only data to relocate). */
#define GO_FRAME_HTTP1  0x2e312f50545448ULL   /* "HTTP/1." */
#define GO_FRAME_CL0    0x2d746e65746e6f63ULL /* "content-" */
#define GO_FRAME_CL1    0x6874676e656cULL     /* "length" */
#define GO_FRAME_TE0    0x726566736e617274ULL /* "transfer" */
#define GO_FRAME_TE1    0x6e69646f636e652dULL /* "-encodin" */
#define GO_FRAME_TE2    0x67ULL               /* "g" */
#define GO_FRAME_CHUNK  0x64656b6e756863ULL   /* "chunked" */
#define GO_FRAME_CL_LEN 14
#define GO_FRAME_TE_LEN 17

/* Byte i of the token held in words w0, w1, w2. */
static inline __u8 go_frame_tok(__u64 w0, __u64 w1, __u64 w2, __u32 i)
{
	__u64 w = i < 8 ? w0 : i < 16 ? w1 : w2;

	return (__u8)(w >> ((i & 7) * 8));
}

static inline __u8 go_frame_lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static inline int go_frame_hex(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = go_frame_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The header block ended: how does the body end? */
static inline int go_frame_headers_done(struct go_frame *f)
{
	__u16 code = f->code;

	if (code >= 100 && code < 200 && code != 101) {
		/* an interim response: the final one comes next, same request */
		f->st = GO_FR_STATUS;
		f->idx = 0;
		f->code = 0;
		f->flags &= GO_FRAME_NO_BODY;
		f->remain = 0;
		return GO_FRAME_INTERIM;
	}
	if ((f->flags & GO_FRAME_NO_BODY) || code == 101 || code == 204 || code == 304) {
		f->st = GO_FR_DONE;
		return GO_FRAME_DONE;
	}
	if (f->flags & GO_FRAME_CHUNKED) {
		f->st = GO_FR_CHUNK_SIZE;
		f->num = 0;
		f->idx = 0;
		return GO_FRAME_MORE;
	}
	if (f->flags & GO_FRAME_CL) {
		f->st = f->remain ? GO_FR_BODY : GO_FR_DONE;
		return f->remain ? GO_FRAME_MORE : GO_FRAME_DONE;
	}
	f->st = GO_FR_UNTIL_CLOSE;
	return GO_FRAME_MORE;
}

/* "HTTP/1.x NNN" then a space or the line's end, one byte at a time. */
static inline void go_frame_status(struct go_frame *f, __u8 c)
{
	__u8 i = f->idx;

	f->st = GO_FR_NOT_HTTP; /* unless the byte fits */
	if (i < 7) {
		if (c != go_frame_tok(GO_FRAME_HTTP1, 0, 0, i))
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
			f->st = GO_FR_LINE;
		else if (c == ' ' || c == '\r')
			f->st = GO_FR_REASON;
		else
			goto not_http;
		return;
	}
	f->st = GO_FR_STATUS;
	f->idx = i + 1;
	return;
not_http:
	f->code = 0;
}

/* A byte at the start of a header line, or of a name being matched. */
static inline int go_frame_name(struct go_frame *f, __u8 c)
{
	__u8 i = f->idx, lc = go_frame_lower(c), cand = f->cand;

	if (c == '\n') {
		f->st = GO_FR_LINE;
		return GO_FRAME_MORE;
	}
	if (c == ':') {
		if ((cand & GO_FRAME_CAND_CL) && i == GO_FRAME_CL_LEN) {
			f->st = GO_FR_CL_VALUE;
			f->flags |= GO_FRAME_CL;
			f->remain = 0;
		} else if ((cand & GO_FRAME_CAND_TE) && i == GO_FRAME_TE_LEN) {
			f->st = GO_FR_TE_VALUE;
			f->flags &= ~GO_FRAME_CHUNKED;
			f->idx = 0;
		} else {
			f->st = GO_FR_SKIP;
		}
		return GO_FRAME_MORE;
	}
	if (i >= GO_FRAME_CL_LEN || lc != go_frame_tok(GO_FRAME_CL0, GO_FRAME_CL1, 0, i))
		cand &= ~GO_FRAME_CAND_CL;
	if (i >= GO_FRAME_TE_LEN || lc != go_frame_tok(GO_FRAME_TE0, GO_FRAME_TE1, GO_FRAME_TE2, i))
		cand &= ~GO_FRAME_CAND_TE;
	f->cand = cand;
	f->idx = i + 1;
	if (!cand)
		f->st = GO_FR_SKIP;
	return GO_FRAME_MORE;
}

/* One byte of a header line; returns a go_frame_event. */
static inline int go_frame_header_byte(struct go_frame *f, __u8 c)
{
	__u64 d;

	switch (f->st) {
	case GO_FR_LINE:
		if (c == '\r') {
			f->st = GO_FR_END_LF;
			return GO_FRAME_MORE;
		}
		if (c == '\n')
			return go_frame_headers_done(f);
		f->st = GO_FR_NAME;
		f->idx = 0;
		f->cand = GO_FRAME_CAND_CL | GO_FRAME_CAND_TE;
		return go_frame_name(f, c);
	case GO_FR_NAME:
		return go_frame_name(f, c);
	case GO_FR_END_LF:
		if (c == '\n')
			return go_frame_headers_done(f);
		f->st = GO_FR_SKIP;
		return GO_FRAME_MORE;
	case GO_FR_CL_VALUE:
		if (c == '\n') {
			f->st = GO_FR_LINE;
		} else if (c >= '0' && c <= '9') {
			d = c - '0';
			if (f->remain >= 100000000000000000ULL) { /* 10^18 and more: no real body */
				f->flags &= ~GO_FRAME_CL;
				f->st = GO_FR_SKIP;
			} else {
				f->remain = f->remain * 10 + d;
			}
		} else if (c != ' ' && c != '\t' && c != '\r') {
			f->st = GO_FR_SKIP; /* "5, 5": the first value stands */
		}
		return GO_FRAME_MORE;
	case GO_FR_TE_VALUE:
		if (c == '\n') {
			f->st = GO_FR_LINE;
			return GO_FRAME_MORE;
		}
		if (c == ' ' || c == '\t' || c == '\r')
			return GO_FRAME_MORE;
		/* chunked must be the last coding: any other byte after it undoes it */
		f->flags &= ~GO_FRAME_CHUNKED;
		if (f->idx < 7 && go_frame_lower(c) == go_frame_tok(GO_FRAME_CHUNK, 0, 0, f->idx))
			f->idx++;
		else
			f->idx = go_frame_lower(c) == 'c' ? 1 : 0;
		if (f->idx == 7) {
			f->flags |= GO_FRAME_CHUNKED;
			f->idx = 0;
		}
		return GO_FRAME_MORE;
	default: /* GO_FR_SKIP */
		if (c == '\n')
			f->st = GO_FR_LINE;
		return GO_FRAME_MORE;
	}
}

/* One byte of a chunk-size line, a chunk's CRLF or the trailers. */
static inline int go_frame_chunk_byte(struct go_frame *f, __u8 c)
{
	int d;

	switch (f->st) {
	case GO_FR_CHUNK_SIZE:
	case GO_FR_CHUNK_EXT:
		if (c == '\n') {
			if (f->idx == 0) {
				f->st = GO_FR_UNTIL_CLOSE; /* no size: framing lost */
			} else if (f->num == 0) {
				f->st = GO_FR_TRAILER;
			} else {
				f->remain = f->num;
				f->st = GO_FR_CHUNK_DATA;
			}
			return GO_FRAME_MORE;
		}
		if (f->st == GO_FR_CHUNK_EXT || c == '\r')
			return GO_FRAME_MORE;
		d = go_frame_hex(c);
		if (d >= 0 && f->num < (1ULL << 56)) {
			f->num = f->num * 16 + (__u64)d;
			f->idx = 1;
		} else if (c == ';' || c == ' ' || c == '\t') {
			f->st = GO_FR_CHUNK_EXT;
		} else {
			f->st = GO_FR_UNTIL_CLOSE;
		}
		return GO_FRAME_MORE;
	case GO_FR_CHUNK_CRLF:
		if (c == '\n') {
			f->st = GO_FR_CHUNK_SIZE;
			f->num = 0;
			f->idx = 0;
		} else if (c != '\r') {
			f->st = GO_FR_UNTIL_CLOSE;
		}
		return GO_FRAME_MORE;
	case GO_FR_TRAILER:
		if (c == '\n') {
			f->st = GO_FR_DONE;
			return GO_FRAME_DONE;
		}
		f->st = c == '\r' ? GO_FR_TRAILER_LF : GO_FR_TRAILER_SKIP;
		return GO_FRAME_MORE;
	case GO_FR_TRAILER_LF:
		if (c == '\n') {
			f->st = GO_FR_DONE;
			return GO_FRAME_DONE;
		}
		f->st = GO_FR_TRAILER_SKIP;
		return GO_FRAME_MORE;
	default: /* GO_FR_TRAILER_SKIP */
		if (c == '\n')
			f->st = GO_FR_TRAILER;
		return GO_FRAME_MORE;
	}
}

/* The status code of the response, 0 while its status line is incomplete
 * or when it is no HTTP/1.x response. */
static inline __u32 go_frame_code(const struct go_frame *f)
{
	return f->st == GO_FR_STATUS || f->st == GO_FR_NOT_HTTP ? 0 : f->code;
}

/* Has the status line of a final (not interim) response been read, or the
 * bytes shown to be no HTTP? The answer to the request has begun. */
static inline int go_frame_final_started(const struct go_frame *f)
{
	if (f->st == GO_FR_STATUS)
		return 0;
	return f->st == GO_FR_NOT_HTTP || f->code < 100 || f->code >= 200 || f->code == 101;
}

/* One byte in any state that reads bytes. */
static inline int go_frame_byte(struct go_frame *f, __u8 c)
{
	if (f->st == GO_FR_STATUS) {
		go_frame_status(f, c);
		return GO_FRAME_MORE;
	}
	if (f->st == GO_FR_REASON) {
		if (c == '\n')
			f->st = GO_FR_LINE;
		return GO_FRAME_MORE;
	}
	if (f->st >= GO_FR_CHUNK_SIZE && f->st <= GO_FR_TRAILER_LF && f->st != GO_FR_CHUNK_DATA)
		return go_frame_chunk_byte(f, c);
	return go_frame_header_byte(f, c);
}

/* Takes up to n bytes that need not be read (a body, a chunk's data, or
 * whatever follows in a state that reads no more); *used is set to how many
 * were taken. Call only when go_frame_skipping(f). */
static inline int go_frame_skip(struct go_frame *f, __u64 n, __u64 *used)
{
	__u64 k = n;

	if (f->st == GO_FR_DONE) {
		*used = 0;
		return GO_FRAME_DONE;
	}
	if (f->st == GO_FR_BODY || f->st == GO_FR_CHUNK_DATA) {
		if (k > f->remain)
			k = f->remain;
		f->remain -= k;
		*used = k;
		if (f->remain)
			return GO_FRAME_MORE;
		if (f->st == GO_FR_CHUNK_DATA) {
			f->st = GO_FR_CHUNK_CRLF;
			return GO_FRAME_MORE;
		}
		f->st = GO_FR_DONE;
		return GO_FRAME_DONE;
	}
	*used = k; /* until close, or not HTTP */
	return GO_FRAME_MORE;
}

/* Eight bytes at p, wherever p points: one load in BPF (the verifier and
 * the architectures we build for take unaligned loads), a copy on the host. */
#ifdef __bpf__
#define go_frame_load64(p) (*(const __u64 *)(p))
#else
static inline __u64 go_frame_load64(const __u8 *p)
{
	__u64 w;

	__builtin_memcpy(&w, p, 8);
	return w;
}
#endif

/* Hides v's value from the compiler, so that a bound the verifier needs to
 * see is not dropped as implied by an earlier one. */
#define go_frame_opaque(v) asm volatile("" : "+r"(v))

/* The offset of the first '\n' in b[i..n), or n: eight bytes at a time
 * (a word holds one when some byte of it XOR '\n' is zero). n <= GO_FRAME_BLOCK. */
static inline __u32 go_frame_eol(const __u8 *b, __u32 i, __u32 n)
{
	for (int k = 0; k < GO_FRAME_BLOCK / 8; k++) {
		__u64 x;

		if (n < 8 || i > n - 8)
			break;
		go_frame_opaque(i);
		if (i > GO_FRAME_BLOCK - 8)
			break;
		x = go_frame_load64(b + i) ^ 0x0a0a0a0a0a0a0a0aULL;
		if ((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL)
			break;
		i += 8;
	}
	for (int k = 0; k < 8; k++, i++) {
		if (i >= n)
			return n;
		go_frame_opaque(i);
		if (i >= GO_FRAME_BLOCK || b[i] == '\n')
			return i;
	}
	return i < n ? i : n;
}

/* Words of the tokens matched whole, and the case bits of their letters
 * (only letters are folded: other bytes must match as they are). */
#define GO_FRAME_M_CONTENT  0x0020202020202020ULL /* of GO_FRAME_CL0, "content-" */
#define GO_FRAME_W_LENGTH   0x3a6874676e656cULL   /* "length:" */
#define GO_FRAME_M_LENGTH   0x0000202020202020ULL
#define GO_FRAME_M_TRANSFER 0x2020202020202020ULL /* of GO_FRAME_TE0, "transfer" */
#define GO_FRAME_M_ENCODIN  0x2020202020202000ULL /* of GO_FRAME_TE1, "-encodin" */

/* The fast path of go_frame_scan(), for what most responses are made of,
 * when the bytes it needs are all in the block: a whole status line, and
 * a header line's name told in two or three word compares. It leaves the
 * parser exactly where going byte by byte would, or does nothing. Returns
 * the new place in b. */
static inline __u32 go_frame_fast(struct go_frame *f, const __u8 *b, __u32 i, __u32 n)
{
	__u64 w0, w1, w2;
	__u8 c, b7, d9, d10, d11;

	if (f->st == GO_FR_STATUS && f->idx == 0) {
		if (n < 13 || i > n - 13)
			return i;
		go_frame_opaque(i);
		if (i > GO_FRAME_BLOCK - 13)
			return i;
		w0 = go_frame_load64(b + i); /* bytes 0..7 */
		w1 = go_frame_load64(b + i +
				     5); /* bytes 5..12: words, not bytes at offsets, for the verifier */
		c = (__u8)(w1 >> 56);
		b7 = (__u8)(w0 >> 56);
		d9 = (__u8)(w1 >> 32);
		d10 = (__u8)(w1 >> 40);
		d11 = (__u8)(w1 >> 48);
		if ((w0 & 0x00ffffffffffffffULL) != GO_FRAME_HTTP1 || b7 < '0' || b7 > '9' ||
		    (__u8)(w1 >> 24) != ' ' || d9 < '1' || d9 > '9' || d10 < '0' || d10 > '9' || d11 < '0' ||
		    d11 > '9' || (c != ' ' && c != '\r' && c != '\n'))
			return i; /* let the bytes say where it is no status line */
		f->code = (__u16)((d9 - '0') * 100 + (d10 - '0') * 10 + (d11 - '0'));
		f->st = c == '\n' ? GO_FR_LINE : GO_FR_REASON;
		return i + 13;
	}
	if (f->st != GO_FR_LINE || i >= n)
		return i;
	go_frame_opaque(i);
	if (i >= GO_FRAME_BLOCK)
		return i;
	c = go_frame_lower(b[i]);
	if (c == '\r' || c == '\n')
		return i; /* the end of the headers: byte by byte */
	if (c != 'c' && c != 't') {
		f->st = GO_FR_SKIP; /* no name we want starts so */
		return i + 1;
	}
	if (n < 18 || i > n - 18)
		return i;
	go_frame_opaque(i);
	if (i > GO_FRAME_BLOCK - 18)
		return i;
	w0 = go_frame_load64(b + i);
	w1 = go_frame_load64(b + i + 8);
	w2 = go_frame_load64(b + i + 10); /* its top two bytes: b[i + 16], b[i + 17] */
	if ((w0 | GO_FRAME_M_CONTENT) == GO_FRAME_CL0 &&
	    ((w1 | GO_FRAME_M_LENGTH) & 0x00ffffffffffffffULL) == GO_FRAME_W_LENGTH) {
		f->st = GO_FR_CL_VALUE;
		f->flags |= GO_FRAME_CL;
		f->remain = 0;
		return i + GO_FRAME_CL_LEN + 1;
	}
	if ((w0 | GO_FRAME_M_TRANSFER) == GO_FRAME_TE0 && (w1 | GO_FRAME_M_ENCODIN) == GO_FRAME_TE1 &&
	    (((w2 >> 48) & 0xff) | 0x20) == 'g' && (w2 >> 56) == ':') {
		f->st = GO_FR_TE_VALUE;
		f->flags &= ~GO_FRAME_CHUNKED;
		f->idx = 0;
		return i + GO_FRAME_TE_LEN + 1;
	}
	f->st = GO_FR_SKIP; /* another name, or one of ours followed by more */
	return i + 1;
}

/* States that wait for the line's end and take any other byte unchanged. */
static inline int go_frame_to_eol(const struct go_frame *f)
{
	return f->st == GO_FR_SKIP || f->st == GO_FR_REASON || f->st == GO_FR_TRAILER_SKIP ||
	       f->st == GO_FR_CHUNK_EXT;
}

/* Reads bytes b[0..n) (n <= GO_FRAME_BLOCK) in the reading states; stops
 * early when a skipping state is reached or a response (final or interim)
 * ends. *used is set to the bytes taken. Returns a go_frame_event. */
static inline int go_frame_scan(struct go_frame *f, const __u8 *b, __u32 n, __u32 *used)
{
	int ev = GO_FRAME_MORE;

	if (n > GO_FRAME_BLOCK)
		n = GO_FRAME_BLOCK;
	f->pos = 0;
	for (int step = 0; step < GO_FRAME_SCAN_STEPS; step++) {
		__u32 i = f->pos;

		if (i >= n || go_frame_skipping(f))
			break;
		f->pos = (__u16)go_frame_fast(f, b, i, n);
		asm volatile("" ::: "memory"); /* the paths of the fast path meet here */
		i = f->pos;
		if (go_frame_to_eol(f))
			i = go_frame_eol(b, i, n); /* most header bytes: lines we do not want */
		f->pos = (__u16)i;
		asm volatile("" ::: "memory");
		i = f->pos;
		if (i >= n)
			break;
		go_frame_opaque(i);
		if (i >= GO_FRAME_BLOCK)
			break;
		ev = go_frame_byte(f, b[i]);
		f->pos = (__u16)(i + 1);
		if (ev != GO_FRAME_MORE)
			break;
		/* the state, the place too, goes through memory at every byte: the
		 * BPF verifier then sees one state at the loop's head, not one per
		 * value the compiler would keep in registers */
		asm volatile("" ::: "memory");
	}
	*used = f->pos < n ? f->pos : n;
	return ev;
}

#endif /* GO_HTTP_FRAME_H */
