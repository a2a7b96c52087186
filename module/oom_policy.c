// SPDX-License-Identifier: GPL-2.0
/*
 * Escalation: the kernel cannot tell the notifier how much memory the
 * failing allocation needs, so a fixed amount per call crawls through
 * hundreds of OOM calls for a large demand. Within one storm each call
 * leaks a fixed share of what the storm has leaked so far. Every call but
 * the last was needed (another OOM followed it), so the over-leak is bounded
 * by that share: with 25 % at most 1.25 times what was needed.
 */
#include "oom_policy.h"

static u32 vb_min_u32(u64 a, u32 b)
{
	return a < b ? (u32)a : b;
}

bool vb_oom_armed(const struct vb_oom_storm *s, const struct vb_oom_params *p,
		  u64 now_ms)
{
	return s->active && now_ms >= s->last_ms &&
	       now_ms - s->last_ms <= p->window_ms;
}

/* Start a new storm if the latest OOM call is older than the window. */
static void vb_oom_refresh(struct vb_oom_storm *s,
			   const struct vb_oom_params *p, u64 now_ms)
{
	if (vb_oom_armed(s, p, now_ms))
		return;
	s->active = false;
	s->leaked = 0;
	s->step = 0;
}

/*
 * want, or escalate_pct of the storm so far if more, but growth no more
 * than ceiling; then the cap.
 */
static u32 vb_grow_and_cap(const struct vb_oom_storm *s,
			   const struct vb_oom_params *p, u64 want, u64 ceiling)
{
	if (p->escalate_pct && s->active) {
		u64 grown = s->leaked * p->escalate_pct / 100;

		if (grown > ceiling)
			grown = ceiling;
		if (grown > want)
			want = grown;
	}
	/* The cap never shrinks a release below the base amount. */
	if (p->max_pages > p->base_pages)
		return vb_min_u32(want, p->max_pages);
	return p->base_pages;
}

u32 vb_oom_pages_to_leak(struct vb_oom_storm *s, const struct vb_oom_params *p,
			 u64 now_ms)
{
	vb_oom_refresh(s, p, now_ms);
	if (!p->escalate_pct)
		return p->base_pages;
	return vb_grow_and_cap(s, p, p->base_pages, ~0ULL);
}

/* A reclaim or stall release: at least the deficit and oom_pages. */
static u64 vb_at_least_base(const struct vb_oom_params *p, u64 deficit)
{
	return deficit > p->base_pages ? deficit : p->base_pages;
}

/*
 * The latest release is used up (we are below the watermark again): what
 * the workload would use in pace_ms at the pace it used that release.
 * Unknown (no limit) if it went within the same millisecond.
 */
static u64 vb_pace_pages(const struct vb_oom_storm *s,
			 const struct vb_oom_params *p, u64 now_ms)
{
	if (!p->pace_ms || !s->last_freed || now_ms <= s->release_ms)
		return ~0ULL;
	return (u64)s->last_freed * p->pace_ms / (now_ms - s->release_ms);
}

/*
 * Storm reclaim: nothing unless a zone is below its high watermark (deficit
 * pages short), else at least the deficit and oom_pages, grown like an OOM
 * call but to no more than pace_ms of the workload's use. A release
 * happens only once the one before it was used up (free memory fell below
 * the watermark again), so the over-leak keeps the escalation's bound,
 * plus the watermark gap; and a slow grower, which an OOM call's growth
 * would overshoot by a quarter, gets at most pace_ms of its use more.
 */
u32 vb_reclaim_pages_to_leak(const struct vb_oom_storm *s,
			     const struct vb_oom_params *p, u64 deficit,
			     u64 now_ms)
{
	if (!deficit || !s->active)
		return 0;
	return vb_grow_and_cap(s, p, vb_at_least_base(p, deficit),
			       vb_pace_pages(s, p, now_ms));
}

/*
 * No storm, but an allocation stalls and reclaim has nothing left to free
 * but the balloon (the caller checks): the OOM call is coming. Start the
 * storm now, with a release sized like storm reclaim's (the deficit, at
 * least oom_pages), recorded as an OOM call. 0 while a storm is armed.
 */
u32 vb_stall_pages_to_leak(struct vb_oom_storm *s,
			   const struct vb_oom_params *p, u64 deficit,
			   u64 now_ms)
{
	vb_oom_refresh(s, p, now_ms);
	if (!deficit || s->active)
		return 0;
	return vb_grow_and_cap(s, p, vb_at_least_base(p, deficit), ~0ULL);
}

/*
 * Only an OOM call (or a stall that stands for one) starts a storm or
 * restarts its window; a reclaim release is counted in the storm, and
 * vb_oom_extend() keeps the window open.
 */
void vb_oom_record(struct vb_oom_storm *s, u32 freed, u64 now_ms,
		   bool oom_call)
{
	if (!s->active && !oom_call)
		return;
	if (s->active)
		s->step++;
	s->active = true;
	s->leaked += freed;
	if (freed) {	/* an empty release says nothing of the pace */
		s->release_ms = now_ms;
		s->last_freed = freed;
	}
	if (oom_call)
		s->last_ms = now_ms;
}

/*
 * Storm reclaim that got balloon pages (memory was below the watermark)
 * keeps the storm armed: it ends window_ms after the shortage does.
 */
void vb_oom_extend(struct vb_oom_storm *s, u32 freed, u64 now_ms)
{
	if (s->active && freed && now_ms > s->last_ms)
		s->last_ms = now_ms;
}
