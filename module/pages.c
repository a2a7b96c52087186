// SPDX-License-Identifier: GPL-2.0
/*
 * Moving pages between the guest and the balloon, towards the host's
 * target. Pages are allocated before vb->lock is taken and freed after it is
 * dropped, because the OOM notifier takes vb->lock.
 */
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/virtio_config.h>

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

void vb_update_actual(struct vballoon *vb)
{
	u32 actual = READ_ONCE(vb->num_pages);

	virtio_cwrite_le(vb->vdev, struct virtio_balloon_config, actual,
			 &actual);
}

/* Put one guest page's PFNs (in balloon page units) at vb->pfns[idx]. */
void vb_set_pfns(struct vballoon *vb, unsigned int idx, struct page *page)
{
	unsigned long pfn = page_to_pfn(page) * VB_PAGES_PER_PAGE;
	unsigned int i;

	for (i = 0; i < VB_PAGES_PER_PAGE; i++)
		vb->pfns[idx + i] = cpu_to_virtio32(vb->vdev, pfn + i);
}

/*
 * Send n PFNs and wait for the host to take them. A broken device (for
 * example one being unplugged) never answers: stop waiting then.
 */
void vb_tell_host(struct vballoon *vb, struct virtqueue *vq, unsigned int n)
{
	struct scatterlist sg;
	unsigned int len;

	sg_init_one(&sg, vb->pfns, sizeof(vb->pfns[0]) * n);
	/* One descriptor, no indirect table: this never allocates. */
	if (virtqueue_add_outbuf(vq, &sg, 1, vb, GFP_NOWAIT | __GFP_NOWARN)) {
		dev_warn_ratelimited(&vb->vdev->dev, "%s: cannot queue PFNs\n",
				     vq->name);
		return;
	}
	virtqueue_kick(vq);
	wait_event(vb->acked,
		   virtqueue_get_buf(vq, &len) || virtqueue_is_broken(vq));
}

bool vb_holdoff_active(struct vballoon *vb)
{
	return time_before(jiffies, READ_ONCE(vb->holdoff_until));
}

static void vb_free_list(struct list_head *pages)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, pages, lru) {
		list_del(&page->lru);
		put_page(page);
	}
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

/* Inflate by up to want (<= VB_PFN_BATCH) pages; returns pages added. */
unsigned int vb_inflate(struct vballoon *vb, unsigned int want)
{
	unsigned int got, n = 0;
	struct page *page;
	LIST_HEAD(pages);

	got = vb_alloc_list(&pages, min_t(unsigned int, want, VB_PFN_BATCH));
	if (!got)
		return 0;

	mutex_lock(&vb->lock);
	/* An OOM leak may have happened while we were allocating. */
	if (vb_holdoff_active(vb)) {
		mutex_unlock(&vb->lock);
		vb_free_list(&pages);
		return 0;
	}
	list_for_each_entry(page, &pages, lru) {
		vb_set_pfns(vb, n, page);
		if (!vb->deflate_on_oom)
			adjust_managed_page_count(page, -1);
		n += VB_PAGES_PER_PAGE;
	}
	balloon_page_list_enqueue(&vb->b_dev_info, &pages);
	vb_tell_host(vb, vb->inflate_vq, n);
	vb->num_pages += n;
	vb->inflated += n;
	vb_update_actual(vb);
	trace_vballoon_inflate(n, vb->num_pages, READ_ONCE(vb->target));
	mutex_unlock(&vb->lock);
	return n;
}

/* Return pages to the page allocator (after the host was told). */
static void vb_release(struct vballoon *vb, struct list_head *pages)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, pages, lru) {
		if (!vb->deflate_on_oom)
			adjust_managed_page_count(page, 1);
		list_del(&page->lru);
		put_page(page);
	}
}

/*
 * Take up to want (<= VB_PFN_BATCH) pages out of the balloon and tell the
 * host; called with vb->lock held. The pages are left on *pages.
 */
static unsigned int vb_deflate_locked(struct vballoon *vb, unsigned int want,
				      struct list_head *pages)
{
	unsigned int got, n = 0;
	struct page *page;

	want = min3(want, vb->num_pages, (unsigned int)VB_PFN_BATCH);
	got = balloon_page_list_dequeue(&vb->b_dev_info, pages,
					want / VB_PAGES_PER_PAGE);
	if (!got)
		return 0;
	list_for_each_entry(page, pages, lru) {
		vb_set_pfns(vb, n, page);
		n += VB_PAGES_PER_PAGE;
	}
	vb_tell_host(vb, vb->deflate_vq, n);
	vb->num_pages -= n;
	vb->deflated += n;
	vb_update_actual(vb);
	return n;
}

/* Deflate by up to want pages towards the target; returns pages removed. */
unsigned int vb_deflate(struct vballoon *vb, unsigned int want)
{
	unsigned int n;
	LIST_HEAD(pages);

	mutex_lock(&vb->lock);
	n = vb_deflate_locked(vb, want, &pages);
	if (n)
		trace_vballoon_deflate(n, vb->num_pages, READ_ONCE(vb->target));
	mutex_unlock(&vb->lock);
	vb_release(vb, &pages);
	return n;
}

/* Leak up to want pages for the OOM notifier, in as many batches as needed. */
unsigned int vb_leak(struct vballoon *vb, unsigned int want)
{
	unsigned int n, total = 0;
	LIST_HEAD(leaked);
	LIST_HEAD(batch);

	mutex_lock(&vb->lock);
	while (total < want) {
		n = vb_deflate_locked(vb, want - total, &batch);
		if (!n)
			break;
		total += n;
		list_splice_init(&batch, &leaked);
	}
	mutex_unlock(&vb->lock);
	vb_release(vb, &leaked);
	return total;
}

/* Exponential back-off after failed allocations, reset by a full batch. */
static unsigned int vb_next_retry_ms(struct vballoon *vb)
{
	vb->retry_ms = clamp(vb->retry_ms * 2, VB_RETRY_MIN_MS, VB_RETRY_MAX_MS);
	return vb->retry_ms;
}

/*
 * Run the resize work after delay. replace moves an already pending run (a
 * new target must not wait out a back-off); otherwise a pending run stays,
 * and finds any hold-off itself.
 */
void vb_schedule_resize(struct vballoon *vb, unsigned long delay, bool replace)
{
	unsigned long flags;

	spin_lock_irqsave(&vb->stop_lock, flags);
	if (!vb->stopped) {
		if (replace)
			mod_delayed_work(system_freezable_wq, &vb->resize_work,
					 delay);
		else
			queue_delayed_work(system_freezable_wq,
					   &vb->resize_work, delay);
	}
	spin_unlock_irqrestore(&vb->stop_lock, flags);
}

/* One step towards the target; returns false when nothing more to do now. */
static bool vb_resize_step(struct vballoon *vb, unsigned long *delay)
{
	u32 target = vb_target_pages(vb);
	unsigned int cur = READ_ONCE(vb->num_pages), want, done;

	if (target == cur)
		return false;
	if (target < cur)
		return vb_deflate(vb, cur - target) != 0;

	if (vb_holdoff_active(vb)) {
		*delay = READ_ONCE(vb->holdoff_until) - jiffies;
		return false;
	}
	want = min_t(unsigned int, target - cur, VB_PFN_BATCH);
	done = vb_inflate(vb, want);
	if (done == want) {
		vb->retry_ms = 0;
		return true;
	}
	if (vb_holdoff_active(vb)) {
		*delay = READ_ONCE(vb->holdoff_until) - jiffies;
		return false;
	}
	*delay = msecs_to_jiffies(vb_next_retry_ms(vb));
	dev_info_ratelimited(&vb->vdev->dev,
			     "out of memory for the balloon: %u of %u pages, retry in %u ms\n",
			     done, want, vb->retry_ms);
	return false;
}

void vb_resize_work(struct work_struct *work)
{
	struct vballoon *vb = container_of(to_delayed_work(work),
					   struct vballoon, resize_work);
	unsigned long delay = 0;
	unsigned int batches = 0;
	bool more;

	do {
		more = vb_resize_step(vb, &delay);
		cond_resched();
	} while (more && ++batches < VB_BATCHES_PER_RUN &&
		 !READ_ONCE(vb->stopped));

	if (more || delay)
		vb_schedule_resize(vb, delay, true);
}
