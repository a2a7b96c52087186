/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Deflate-on-OOM escalation policy. Pure arithmetic with no kernel
 * dependencies, so that host unit tests exercise exactly this code.
 */
#ifndef _VBALLOON_OOM_POLICY_H
#define _VBALLOON_OOM_POLICY_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdint.h>
#include <stdbool.h>
typedef uint32_t u32;
typedef uint64_t u64;
#endif

/* Tunables, snapshotted from module parameters at each OOM call. */
struct vb_oom_params {
	u32 base_pages;		/* oom_pages: first call of a storm */
	u32 escalate_pct;	/* growth per call, % of the storm so far; 0 = off */
	u32 max_pages;		/* cap on one call */
	u32 window_ms;		/* calls closer than this form one storm */
	u32 pace_ms;		/* reclaim release: at most this long of use */
};

/*
 * State of the current OOM storm. A storm starts with an OOM notifier call,
 * or with an allocation stall that only the balloon can satisfy (oom.c),
 * and lasts window_ms past the latest one, or past the latest reclaim
 * that took balloon pages; while it lasts, reclaim may also take pages
 * from the balloon (see oom.c).
 */
struct vb_oom_storm {
	bool active;
	u64 last_ms;		/* latest OOM call or reclaim release */
	u64 leaked;		/* pages released in this storm */
	u32 step;		/* releases in this storm before the latest */
	u64 release_ms;		/* latest release, of either kind */
	u32 last_freed;		/* pages in it */
};

u32 vb_oom_pages_to_leak(struct vb_oom_storm *s, const struct vb_oom_params *p,
			 u64 now_ms);
bool vb_oom_armed(const struct vb_oom_storm *s, const struct vb_oom_params *p,
		  u64 now_ms);
void vb_oom_record(struct vb_oom_storm *s, u32 freed, u64 now_ms,
		   bool oom_call);
u32 vb_reclaim_pages_to_leak(const struct vb_oom_storm *s,
			     const struct vb_oom_params *p, u64 deficit,
			     u64 now_ms);
u32 vb_stall_pages_to_leak(struct vb_oom_storm *s,
			   const struct vb_oom_params *p, u64 deficit,
			   u64 now_ms);
void vb_oom_extend(struct vb_oom_storm *s, u32 freed, u64 now_ms);

#endif /* _VBALLOON_OOM_POLICY_H */
