/* buckets.h - histogram bucket indexing shared by BPF and the host. */
#ifndef OBS_BUCKETS_H
#define OBS_BUCKETS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Index of the first bound that v does not exceed (Prometheus "le"
 * semantics), or n for the +Inf bucket. bounds[0..n) must be increasing;
 * max caps the loop for the BPF verifier. */
static inline __u32 obs_bucket_index(const volatile __u64 *bounds, __u32 n, __u32 max, __u64 v)
{
	for (__u32 i = 0; i < max; i++) {
		if (i >= n)
			return n;
		if (v <= bounds[i])
			return i;
	}
	return n < max ? n : max;
}

#endif /* OBS_BUCKETS_H */
