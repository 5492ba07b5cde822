/* frame.bpf.h - the BPF side's entry to the response parser (frame.bpf.c). */
#ifndef GO_FRAME_BPF_H
#define GO_FRAME_BPF_H

#include "http_frame.h"

/* One block of a write's bytes, copied for the parser. */
struct go_frame_blk {
	__u8 b[GO_FRAME_BLOCK];
};

/* go_frame_scan() of n bytes of b (n <= GO_FRAME_BLOCK): returns the bytes
 * it took, and the go_frame_event reached shifted left by 16. A global
 * function (Linux 5.12 and later take pointers to one). */
__noinline int go_frame_scan_block(struct go_frame *f, const struct go_frame_blk *b, __u32 n);

#endif /* GO_FRAME_BPF_H */
