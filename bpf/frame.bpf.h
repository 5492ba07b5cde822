/* frame.bpf.h - the BPF side's entry to the response parser (frame.bpf.c). */
#ifndef OBS_FRAME_BPF_H
#define OBS_FRAME_BPF_H

#include "http_frame.h"

/* One block of a write's bytes, copied for the parser. */
struct obs_frame_blk {
	__u8 b[OBS_FRAME_BLOCK];
};

/* obs_frame_scan() of n bytes of b (n <= OBS_FRAME_BLOCK): returns the bytes
 * it took, and the obs_frame_event reached shifted left by 16. A global
 * function (Linux 5.12 and later take pointers to one). */
__noinline int obs_frame_scan_block(struct obs_frame *f, const struct obs_frame_blk *b, __u32 n);

#endif /* OBS_FRAME_BPF_H */
