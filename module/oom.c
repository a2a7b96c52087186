// SPDX-License-Identifier: GPL-2.0
/*
 * Deflate on OOM. out_of_memory() calls our notifier before it picks a
 * victim: pages freed there make it return without killing anything.
 *
 * Each OOM call comes after the allocator has retried reclaim many times in
 * vain, which costs far more than releasing pages. So an OOM call also arms
 * a storm, and so does the first stalled allocation that reclaim cannot
 * satisfy without the balloon (oom_stall_arm): for oom_window_ms the
 * balloon offers its pages to reclaim through a shrinker, and reclaim
 * (direct or kswapd) takes from it what the allocator needs, when it needs
 * it, instead of failing towards the next OOM call. Outside a storm the shrinker reports nothing to reclaim.
 *
 * Reclaim asks again and again while memory is short, and at low priority
 * for far more than the allocation needs, so its requests do not size a
 * release: the watermark deficit does. Reclaim takes nothing while every
 * zone is at its high watermark (kswapd keeps up). A release is sized like
 * an OOM call, but at least the deficit and grown to no more than
 * oom_pace_ms of the workload's use at the pace it used up the last
 * (oom_policy.c).
 * A reclaim release keeps the storm armed, so it ends window_ms after free
 * memory stays at the watermark, not in the middle of a long shortage.
 */
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/oom.h>
#include <linux/swap.h>
#include <linux/vmstat.h>

#include "compat.h"
#include "vballoon.h"
#include "vballoon_trace.h"

static u64 vb_now_ms(u64 ns)
{
	return div_u64(ns, NSEC_PER_MSEC);
}

/* Publish the storm for lockless readers; called with storm_lock held. */
static void vb_storm_publish(struct vballoon *vb,
			     const struct vb_oom_params *params)
{
	const struct vb_oom_storm *s = &vb->oom_storm;

	WRITE_ONCE(vb->oom_step, s->step);
	WRITE_ONCE(vb->storm_until_ms,
		   s->active ? s->last_ms + params->window_ms : 0);
}

/* Guest pages missing to bring every populated zone to its high watermark. */
static unsigned long vb_wmark_deficit(void)
{
	unsigned long deficit = 0, free, high;
	struct zone *zone;
	int nid, i;

	for_each_online_node(nid) {
		for (i = 0; i < MAX_NR_ZONES; i++) {
			zone = &NODE_DATA(nid)->node_zones[i];
			if (!populated_zone(zone))
				continue;
			free = zone_page_state(zone, NR_FREE_PAGES);
			high = high_wmark_pages(zone);
			if (free < high)
				deficit += high - free;
		}
	}
	return deficit;
}

/* What a release is for: it decides locking, the storm and the counters. */
enum vb_release_kind {
	VB_REL_OOM,	/* the OOM notifier: may wait for vb->lock */
	VB_REL_STALL,	/* a hopeless stall: starts a storm as an OOM call */
	VB_REL_RECLAIM,	/* storm reclaim: counted in the storm, extends it */
};

/* Release asked pages for the storm; called with storm_lock held. */
static unsigned int vb_oom_release(struct vballoon *vb, unsigned int asked,
				   u64 start, enum vb_release_kind kind)
{
	struct vb_oom_params params = vb_oom_params_now();
	bool reclaim = kind != VB_REL_OOM;
	unsigned int got;

	got = vb_leak(vb, asked, reclaim);
	vb_oom_record(&vb->oom_storm, got, vb_now_ms(start),
		      kind != VB_REL_RECLAIM);
	if (kind == VB_REL_RECLAIM)
		vb_oom_extend(&vb->oom_storm, got, vb_now_ms(ktime_get_ns()));
	vb_storm_publish(vb, &params);

	/*
	 * Keep the worker from taking the pages straight back; run it now so
	 * that it tells the host the new size (config space is written only
	 * from the worker) and comes back when the hold-off is over.
	 */
	vb_start_holdoff(vb);
	vb_schedule_resize(vb, 0);

	WRITE_ONCE(vb->oom_releases, vb->oom_releases + 1);
	WRITE_ONCE(vb->oom_leaked, vb->oom_leaked + got);
	if (reclaim)
		WRITE_ONCE(vb->oom_reclaimed, vb->oom_reclaimed + got);
	if (kind == VB_REL_STALL)
		WRITE_ONCE(vb->oom_stall_storms, vb->oom_stall_storms + 1);
	trace_vballoon_oom_leak(asked, got, READ_ONCE(vb->num_pages),
				READ_ONCE(vb->target), ktime_get_ns() - start,
				vb->oom_storm.step);
	return got;
}

static int vb_oom_notify(struct notifier_block *nb, unsigned long unused,
			 void *parm)
{
	struct vballoon *vb = container_of(nb, struct vballoon, oom_nb);
	struct vb_oom_params params = vb_oom_params_now();
	u64 start = ktime_get_ns();
	unsigned long *freed = parm;
	unsigned int asked, got;

	mutex_lock(&vb->storm_lock);
	WRITE_ONCE(vb->oom_calls, vb->oom_calls + 1);
	asked = vb_oom_pages_to_leak(&vb->oom_storm, &params, vb_now_ms(start));
	got = vb_oom_release(vb, asked, start, VB_REL_OOM);
	mutex_unlock(&vb->storm_lock);

	*freed += got / VB_PAGES_PER_PAGE;
	return NOTIFY_OK;
}

static bool vb_storm_armed(struct vballoon *vb)
{
	return vb_now_ms(ktime_get_ns()) <= READ_ONCE(vb->storm_until_ms);
}

/*
 * An allocation stalled (direct reclaim; kswapd runs without one) and
 * reclaim can free less than the zones lack: the page cache is gone and
 * anon pages have no swap to go to. Only the balloon or the OOM killer
 * can make it up, so there is no point in waiting for the OOM call.
 */
static bool vb_stall_hopeless(unsigned long deficit)
{
	unsigned long left;

	if (!vb_oom_stall_arm() || current_is_kswapd())
		return false;
	left = global_node_page_state(NR_ACTIVE_FILE) +
	       global_node_page_state(NR_INACTIVE_FILE);
	if (get_nr_swap_pages() > 0)
		left += global_node_page_state(NR_ACTIVE_ANON) +
			global_node_page_state(NR_INACTIVE_ANON);
	return left < deficit;
}

/*
 * Whether reclaim may take balloon pages now, and as what; *deficit is
 * how many guest pages the zones lack to their high watermarks. Only the
 * allocator's reclaim (direct or kswapd, which set reclaim_state) may:
 * drop_caches and other shrinker callers never do. The cheap checks come
 * first, as reclaim calls this on every pass: the zone walk comes last.
 */
static bool vb_reclaim_kind(struct vballoon *vb, unsigned long *deficit,
			    enum vb_release_kind *kind)
{
	if (!current->reclaim_state || !vb_oom_reclaim_enabled() ||
	    !READ_ONCE(vb->num_pages))
		return false;
	*deficit = vb_wmark_deficit();
	if (!*deficit)
		return false;
	*kind = vb_storm_armed(vb) ? VB_REL_RECLAIM : VB_REL_STALL;
	return *kind == VB_REL_RECLAIM || vb_stall_hopeless(*deficit);
}

/* Counts are in guest pages, the shrinker's unit. */
static unsigned long vb_reclaim_count(struct shrinker *s,
				      struct shrink_control *sc)
{
	struct vballoon *vb = vb_shrinker_priv(s);
	enum vb_release_kind kind;
	unsigned long deficit;

	if (!vb_reclaim_kind(vb, &deficit, &kind))
		return 0;
	return READ_ONCE(vb->num_pages) / VB_PAGES_PER_PAGE;
}

/* Balloon pages to release for reclaim, sized from the deficit. */
static unsigned int vb_reclaim_asked(struct vballoon *vb,
				     unsigned long deficit,
				     enum vb_release_kind kind)
{
	struct vb_oom_params params = vb_oom_params_now();
	u64 want = (u64)deficit * VB_PAGES_PER_PAGE;
	u64 now_ms = vb_now_ms(ktime_get_ns());

	if (kind == VB_REL_STALL)
		return vb_stall_pages_to_leak(&vb->oom_storm, &params, want,
					      now_ms);
	return vb_reclaim_pages_to_leak(&vb->oom_storm, &params, want, now_ms);
}

static unsigned long vb_reclaim_scan(struct shrinker *s,
				     struct shrink_control *sc)
{
	struct vballoon *vb = vb_shrinker_priv(s);
	enum vb_release_kind kind;
	unsigned int asked = 0, got = 0;
	unsigned long deficit;

	/*
	 * Never wait in reclaim: a busy storm is already releasing pages.
	 * vb_leak() trylocks vb->lock, polls the host, and later takes
	 * vb->lock only for sections that never allocate or wait.
	 */
	if (!mutex_trylock(&vb->storm_lock))
		return SHRINK_STOP;
	if (vb_reclaim_kind(vb, &deficit, &kind))
		asked = vb_reclaim_asked(vb, deficit, kind);
	if (asked)
		got = vb_oom_release(vb, asked, ktime_get_ns(), kind);
	mutex_unlock(&vb->storm_lock);

	if (!got)
		return SHRINK_STOP;
	vb_account_reclaimed(got / VB_PAGES_PER_PAGE);
	return got / VB_PAGES_PER_PAGE;
}

/* Register the OOM notifier and storm reclaim; undone by unregister. */
int vb_oom_register(struct vballoon *vb)
{
	int err;

	if (!vb->deflate_on_oom)
		return 0;
	vb->shrinker = vb_shrinker_create(KBUILD_MODNAME, vb_reclaim_count,
					  vb_reclaim_scan, vb);
	if (!vb->shrinker)
		return -ENOMEM;
	vb->oom_nb.notifier_call = vb_oom_notify;
	vb->oom_nb.priority = VB_OOM_PRIORITY;
	err = register_oom_notifier(&vb->oom_nb);
	if (err) {
		vb_shrinker_destroy(vb->shrinker);
		vb->shrinker = NULL;
		return err;
	}
	vb->oom_registered = true;
	return 0;
}

/* Idempotent: freeze, a failed restore and remove may all call it. */
void vb_oom_unregister(struct vballoon *vb)
{
	if (vb->oom_registered)
		unregister_oom_notifier(&vb->oom_nb);
	vb->oom_registered = false;
	if (vb->shrinker)
		vb_shrinker_destroy(vb->shrinker);
	vb->shrinker = NULL;
}
