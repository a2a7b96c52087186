// SPDX-License-Identifier: GPL-2.0
/*
 * Moving pages between the guest and the balloon, towards the host's
 * target. Pages are allocated before any lock is taken and freed after
 * vb->lock is dropped, and nothing waits for the host under vb->lock,
 * because the OOM notifier takes it.
 */
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/virtio_config.h>

#include "compat.h"
#include "vballoon.h"
#include "vballoon_trace.h"

#define VB_RETRY_MIN_MS		200
#define VB_RETRY_MAX_MS		3200
#define VB_BATCHES_PER_RUN	64	/* then requeue, to share the worker */

/* Read the host's target (a config read is a VM exit: once per step). */
u32 vb_target_pages(struct vballoon *vb)
{
	u32 num_pages;

	/* Legacy balloon config space is little-endian too. */
	virtio_cread_le(vb->vdev, struct virtio_balloon_config, num_pages,
			&num_pages);
	/* A host asking for a partial guest page gets it rounded down. */
	num_pages = ALIGN_DOWN(num_pages, VB_PAGES_PER_PAGE);
	WRITE_ONCE(vb->target, num_pages);
	return num_pages;
}

/*
 * Tell the host the balloon's size. Only the worker writes config space,
 * with no lock held: on some transports the write allocates.
 */
void vb_tell_actual(struct vballoon *vb)
{
	u32 actual = READ_ONCE(vb->num_pages);

	if (actual == vb->actual_told || vb_dead(vb))
		return;
	virtio_cwrite_le(vb->vdev, struct virtio_balloon_config, actual,
			 &actual);
	vb->actual_told = actual;
}

unsigned long vb_holdoff_left(struct vballoon *vb)
{
	u64 now = get_jiffies_64(), until = READ_ONCE(vb->holdoff_until);

	return time_before64(now, until) ? (unsigned long)(until - now) : 0;
}

void vb_start_holdoff(struct vballoon *vb)
{
	WRITE_ONCE(vb->holdoff_until,
		   get_jiffies_64() + msecs_to_jiffies(vb_holdoff_ms()));
}

static unsigned int vb_alloc_list(struct list_head *pages, unsigned int want)
{
	unsigned int got;

	for (got = 0; got < want; got += VB_PAGES_PER_PAGE) {
		/* No retries, no reserves, no warnings: may fail, never OOMs. */
		struct page *page = balloon_page_alloc();

		if (!page)
			break;
		balloon_page_push(pages, page);
	}
	return got;
}

/*
 * Pages the host may still act on wait for the reset in vb_empty(); they
 * are accounted as balloon pages until then.
 */
static void vb_quarantine(struct vballoon *vb, struct list_head *pages)
{
	mutex_lock(&vb->lock);
	list_splice_init(pages, &vb->quarantine);
	mutex_unlock(&vb->lock);
}

/* After the reset: put_page() only, the migration core may still hold it. */
static void vb_release_migrate_held(struct vballoon *vb)
{
	struct page *page = vb->migrate_held;

	if (!page)
		return;
	if (!vb->deflate_on_oom)
		adjust_managed_page_count(page, 1);
	put_page(page);
	vb->migrate_held = NULL;
}

/* Inflate by up to want pages; returns pages added. Under work_lock. */
static unsigned int vb_inflate(struct vballoon *vb, unsigned int want)
{
	unsigned int n;
	u64 start;
	struct page *page;
	LIST_HEAD(pages);

	if (!vb_alloc_list(&pages, min(want, vb->batch_pfns)))
		return 0;
	/* An OOM release may have happened while we were allocating. */
	if (vb_holdoff_left(vb)) {
		put_pages_list(&pages);
		return 0;
	}
	if (!vb->deflate_on_oom)
		list_for_each_entry(page, &pages, lru)
			adjust_managed_page_count(page, -1);
	n = vb_fill_batch(vb, &vb->work, &pages);
	start = ktime_get_ns();
	if (vb_tell_host(vb, vb->inflate_vq, &vb->work, n)) {
		/* The host may have taken some: never reuse them. */
		vb_quarantine(vb, &pages);
		return 0;
	}

	mutex_lock(&vb->lock);
	balloon_page_list_enqueue(&vb->b_dev_info, &pages);
	WRITE_ONCE(vb->num_pages, vb->num_pages + n);
	WRITE_ONCE(vb->inflated, vb->inflated + n);
	trace_vballoon_inflate(n, vb->num_pages, READ_ONCE(vb->target),
			       ktime_get_ns() - start);
	mutex_unlock(&vb->lock);
	return n;
}

/*
 * Return pages to the page allocator (after the host was told), as one
 * list: the allocator takes its per-cpu list lock once a batch of pages,
 * not once a page, which is time a release makes the allocation wait.
 */
static void vb_release(struct vballoon *vb, struct list_head *pages)
{
	struct page *page;

	if (!vb->deflate_on_oom)
		list_for_each_entry(page, pages, lru)
			adjust_managed_page_count(page, 1);
	put_pages_list(pages);
}

/*
 * Take up to want pages (rounded up to whole guest pages, at most one
 * batch) out of the balloon onto *pages; returns the count in balloon
 * pages. Under vb->lock.
 */
static unsigned int vb_take_locked(struct vballoon *vb, unsigned int want,
				   struct list_head *pages)
{
	unsigned int n;

	want = min3(want, vb->num_pages, vb->batch_pfns);
	n = balloon_page_list_dequeue(&vb->b_dev_info, pages,
				      DIV_ROUND_UP(want, VB_PAGES_PER_PAGE));
	n *= VB_PAGES_PER_PAGE;
	WRITE_ONCE(vb->num_pages, vb->num_pages - n);
	WRITE_ONCE(vb->deflated, vb->deflated + n);
	return n;
}

/* A deflate the host did not take: reuse is safe unless it must know. */
static void vb_release_untold(struct vballoon *vb, struct list_head *pages)
{
	if (vb->must_tell)
		vb_quarantine(vb, pages);
	else
		vb_release(vb, pages);
}

/*
 * Deflate one batch towards target; returns pages removed. Under
 * work_lock. The level is read under vb->lock, so an OOM release that
 * happened meanwhile is never deflated twice.
 */
static unsigned int vb_deflate_to(struct vballoon *vb, unsigned int target)
{
	unsigned int n = 0;
	LIST_HEAD(pages);
	u64 start;

	mutex_lock(&vb->lock);
	if (vb->num_pages > target)
		n = vb_take_locked(vb, vb->num_pages - target, &pages);
	mutex_unlock(&vb->lock);
	if (!n)
		return 0;
	vb_fill_batch(vb, &vb->work, &pages);
	start = ktime_get_ns();
	if (vb_tell_host(vb, vb->deflate_vq, &vb->work, n))
		vb_release_untold(vb, &pages);
	else
		vb_release(vb, &pages);
	trace_vballoon_deflate(n, READ_ONCE(vb->num_pages),
			       READ_ONCE(vb->target), ktime_get_ns() - start);
	return n;
}

/* Put pages the host was never told about back into the balloon. */
static void vb_untake(struct vballoon *vb, struct list_head *pages,
		      unsigned int n)
{
	mutex_lock(&vb->lock);
	balloon_page_list_enqueue(&vb->b_dev_info, pages);
	WRITE_ONCE(vb->num_pages, vb->num_pages + n);
	WRITE_ONCE(vb->deflated, vb->deflated - n);
	mutex_unlock(&vb->lock);
}

/* vb->lock for an OOM release: reclaim only tries it, never waits. */
static bool vb_oom_lock(struct vballoon *vb, bool reclaim)
{
	if (reclaim)
		return mutex_trylock(&vb->lock);
	mutex_lock(&vb->lock);
	return true;
}

/*
 * Pages whose deflate a host under MUST_TELL_HOST acked late: the "oom"
 * batch is idle again (or the device was reset), so they are the guest's.
 * Under storm_lock.
 */
static unsigned int vb_release_acked(struct vballoon *vb)
{
	unsigned int n = vb->nr_oom_unacked;
	LIST_HEAD(pages);

	list_splice_init(&vb->oom_unacked, &pages);
	vb->nr_oom_unacked = 0;
	vb_release(vb, &pages);
	return n;
}

/*
 * One OOM or reclaim release of up to one batch, telling the host now but
 * without sleeping on it: the batch is polled free, and the pages go back
 * at once unless the host asked to acknowledge deflates first.
 */
static unsigned int vb_send_leak(struct vballoon *vb, unsigned int want,
				 bool reclaim)
{
	unsigned int n;
	LIST_HEAD(pages);

	if (!vb_oom_lock(vb, reclaim))
		return 0;
	n = vb_take_locked(vb, want, &pages);
	mutex_unlock(&vb->lock);
	if (!n)
		return 0;

	vb_fill_batch(vb, &vb->oom, &pages);
	if (vb_send(vb, vb->deflate_vq, &vb->oom, n)) {
		/* Nothing or part went out: keep the pages in the balloon. */
		if (vb_poll_host(vb, vb->deflate_vq, &vb->oom) == 0 &&
		    !vb_dead(vb)) {
			vb_untake(vb, &pages, n);
			return 0;
		}
		vb_release_untold(vb, &pages);
		return vb->must_tell ? 0 : n;
	}
	if (vb->must_tell && vb_poll_host(vb, vb->deflate_vq, &vb->oom)) {
		/* Given back by a later call that finds them acked, or at reset. */
		list_splice_init(&pages, &vb->oom_unacked);
		vb->nr_oom_unacked += n;
		return 0;
	}
	vb_release(vb, &pages);
	return n;
}

static unsigned int vb_leak_told(struct vballoon *vb, unsigned int want,
				 bool reclaim)
{
	unsigned int acked;

	if (vb_poll_host(vb, vb->deflate_vq, &vb->oom))
		return 0;
	acked = vb_release_acked(vb);
	if (acked >= want)
		return acked;
	return acked + vb_send_leak(vb, want - acked, reclaim);
}

/*
 * Without MUST_TELL_HOST released pages are the guest's at once, so the
 * OOM path need not tell the host first: it keeps their PFNs for the
 * worker, which tells the host once the storm is over: the waiting
 * allocation does not pay for a VM exit and the host's page by page
 * handling of each batch. Takes up to want pages, as many as
 * there is room for. Under vb->lock.
 */
static unsigned int vb_take_untold_locked(struct vballoon *vb,
					  unsigned int want,
					  struct list_head *pages)
{
	unsigned int room = ALIGN_DOWN(VB_UNTOLD_PFNS - vb->nr_untold,
				       VB_PAGES_PER_PAGE);
	struct page *page;
	unsigned int n;

	if (vb->must_tell || !vb_oom_tell_late() || !room)
		return 0;
	n = vb_take_locked(vb, min(want, room), pages);
	list_for_each_entry(page, pages, lru) {
		vb_set_pfns(vb, &vb->untold[vb->nr_untold], page);
		vb->nr_untold += VB_PAGES_PER_PAGE;
	}
	return n;
}

/* One OOM or reclaim release of up to one batch. Under storm_lock. */
static unsigned int vb_leak_batch(struct vballoon *vb, unsigned int want,
				  bool reclaim)
{
	unsigned int n;
	LIST_HEAD(pages);

	if (!vb_oom_lock(vb, reclaim))
		return 0;
	n = vb_take_untold_locked(vb, want, &pages);
	mutex_unlock(&vb->lock);
	if (!n)
		return vb_leak_told(vb, want, reclaim);
	vb_release(vb, &pages);
	return n;
}

/* Move up to one batch of untold PFNs into b; returns the count. */
static unsigned int vb_untold_batch(struct vballoon *vb, struct vb_batch *b)
{
	unsigned int n;

	mutex_lock(&vb->lock);
	n = min(vb->nr_untold, vb->batch_pfns);
	WRITE_ONCE(vb->nr_untold, vb->nr_untold - n);
	memcpy(b->pfns, &vb->untold[vb->nr_untold], n * sizeof(b->pfns[0]));
	mutex_unlock(&vb->lock);
	return n;
}

/*
 * Tell the host of the OOM path's untold deflates, unless a storm is still
 * armed (always, with now); returns the jiffies until it ends, 0 when
 * nothing is left. A dead host is not told. Under work_lock.
 */
static unsigned long vb_tell_untold(struct vballoon *vb, bool now)
{
	u64 now_ms = div_u64(ktime_get_ns(), NSEC_PER_MSEC);
	u64 until = READ_ONCE(vb->storm_until_ms);
	unsigned int n;

	if (!READ_ONCE(vb->nr_untold))
		return 0;
	if (!now && now_ms <= until)
		return msecs_to_jiffies(until - now_ms) + 1;
	while ((n = vb_untold_batch(vb, &vb->work))) {
		/* The pages are in use already: a failed tell undoes nothing. */
		if (!vb_dead(vb))
			vb_tell_host(vb, vb->deflate_vq, &vb->work, n);
		cond_resched();
	}
	return 0;
}

/*
 * Give up to want pages back for the OOM notifier or storm reclaim, in as
 * many batches as needed; returns pages released.
 */
unsigned int vb_leak(struct vballoon *vb, unsigned int want, bool reclaim)
{
	unsigned int n, total = 0;

	while (total < want) {
		n = vb_leak_batch(vb, want - total, reclaim);
		if (!n)
			break;
		total += n;
	}
	return total;
}

/*
 * Give every page back, telling the host while it answers; then, after a
 * reset, free what it could not be told about. Under work_lock, with the
 * OOM notifier and the worker stopped.
 */
void vb_empty(struct vballoon *vb)
{
	LIST_HEAD(pages);

	vb_tell_untold(vb, true);
	while (READ_ONCE(vb->num_pages) && !vb_dead(vb)) {
		/* Pages isolated for migration come back shortly. */
		if (!vb_deflate_to(vb, 0))
			schedule_timeout_uninterruptible(1);
	}
	vb_tell_actual(vb);
	virtio_reset_device(vb->vdev);

	mutex_lock(&vb->lock);
	while (vb->num_pages) {
		if (!vb_take_locked(vb, vb->num_pages, &pages)) {
			mutex_unlock(&vb->lock);
			schedule_timeout_uninterruptible(1);
			mutex_lock(&vb->lock);
		}
	}
	list_splice_init(&vb->quarantine, &pages);
	mutex_unlock(&vb->lock);
	vb_release(vb, &pages);
	/* No storm_lock needed: the OOM notifier and reclaim are gone. */
	vb_release_acked(vb);
	vb_release_migrate_held(vb);
}

/* Exponential back-off after failed allocations, reset by a full batch. */
static unsigned int vb_next_retry_ms(struct vballoon *vb)
{
	vb->retry_ms = clamp(vb->retry_ms * 2, VB_RETRY_MIN_MS, VB_RETRY_MAX_MS);
	return vb->retry_ms;
}

/* Run the resize work after delay, moving any pending run; not stopped. */
void vb_schedule_resize(struct vballoon *vb, unsigned long delay)
{
	unsigned long flags;

	spin_lock_irqsave(&vb->stop_lock, flags);
	if (!vb->stopped)
		mod_delayed_work(system_freezable_wq, &vb->resize_work, delay);
	spin_unlock_irqrestore(&vb->stop_lock, flags);
}

/* Inflate one batch; on a shortfall, set how long to wait. */
static bool vb_grow(struct vballoon *vb, unsigned int want,
		    unsigned long *delay)
{
	unsigned int done;

	want = min(want, vb->batch_pfns);
	done = vb_inflate(vb, want);
	if (done == want) {
		vb->retry_ms = 0;
		return true;
	}
	*delay = vb_holdoff_left(vb);
	if (*delay || vb_dead(vb))
		return false;
	*delay = msecs_to_jiffies(vb_next_retry_ms(vb));
	dev_info_ratelimited(&vb->vdev->dev,
			     "out of memory for the balloon: %u of %u pages, retry in %u ms\n",
			     done, want, vb->retry_ms);
	return false;
}

/*
 * One step towards the target. Returns true to go on at once; otherwise
 * *delay is when to try again (0: nothing left to do).
 */
static bool vb_resize_step(struct vballoon *vb, unsigned long *delay)
{
	u32 target = vb_target_pages(vb);
	unsigned int cur = READ_ONCE(vb->num_pages);

	*delay = 0;
	if (vb_dead(vb) || target == cur)
		return false;
	if (target < cur) {
		if (vb_deflate_to(vb, target))
			return true;
		/* Only pages isolated for migration are left: retry soon. */
		*delay = READ_ONCE(vb->num_pages) > target ? 1 : 0;
		return false;
	}
	*delay = vb_holdoff_left(vb);
	/* The host learns of every OOM deflate before the balloon grows again. */
	if (*delay || READ_ONCE(vb->nr_untold))
		return false;
	return vb_grow(vb, target - cur, delay);
}

void vb_resize_work(struct work_struct *work)
{
	struct vballoon *vb = container_of(to_delayed_work(work),
					   struct vballoon, resize_work);
	unsigned long delay, untold;
	unsigned int batches = 0;
	bool more;

	mutex_lock(&vb->work_lock);
	untold = vb_tell_untold(vb, false);
	do {
		more = vb_resize_step(vb, &delay);
		vb_tell_actual(vb);
		cond_resched();
	} while (more && ++batches < VB_BATCHES_PER_RUN &&
		 !READ_ONCE(vb->stopped));
	mutex_unlock(&vb->work_lock);

	if (untold && (!delay || untold < delay))
		delay = untold;
	if (more || delay)
		vb_schedule_resize(vb, more ? 0 : delay);
}
