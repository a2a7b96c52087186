// SPDX-License-Identifier: GPL-2.0
/*
 * Free page reporting (VIRTIO_BALLOON_F_REPORTING) and page poison
 * (VIRTIO_BALLOON_F_PAGE_POISON).
 *
 * The kernel's page reporting isolates free blocks of at least
 * report_order, hands up to PAGE_REPORTING_CAPACITY of them to us, and
 * puts them back on the free lists when we return. The host discards
 * them, so the guest gets zeroed pages back when it touches them again:
 * only safe when the guest expects that (no poisoning, or init_on_free
 * with poison_val 0, which the host learns through PAGE_POISON).
 */
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/poison.h>
#include <linux/scatterlist.h>
#include <linux/virtio_config.h>

#include "vballoon.h"
#include "vballoon_trace.h"

/* Longest wait for the host to hand a batch back before giving up. */
#define VB_REPORT_TIMEOUT	(30 * HZ)
#define VB_REPORT_SLICE		(HZ / 10)

/* Does the guest write a pattern (poison or zeroes) into freed pages? */
static bool vb_guest_fills_free_pages(void)
{
	return want_init_on_free() || page_poisoning_enabled_static();
}

/*
 * Runs before FEATURES_OK. Offer PAGE_POISON only when freed pages hold a
 * pattern; without the host's promise to keep it, a discarded page would
 * come back as zeroes where the guest expects poison: no reporting then.
 */
void vb_poison_validate(struct virtio_device *vdev)
{
	if (!vb_guest_fills_free_pages())
		__virtio_clear_bit(vdev, VIRTIO_BALLOON_F_PAGE_POISON);
	else if (!virtio_has_feature(vdev, VIRTIO_BALLOON_F_PAGE_POISON))
		__virtio_clear_bit(vdev, VIRTIO_BALLOON_F_REPORTING);
}

/* Tell the host the pattern freed pages hold (before DRIVER_OK). */
void vb_poison_write(struct vballoon *vb)
{
	u32 val = 0;	/* init_on_free: zeroes */

	if (!virtio_has_feature(vb->vdev, VIRTIO_BALLOON_F_PAGE_POISON))
		return;
	if (!want_init_on_free())
		memset(&val, PAGE_POISON, sizeof(val));
	virtio_cwrite_le(vb->vdev, struct virtio_balloon_config, poison_val,
			 &val);
}

void vb_report_vq_done(struct virtqueue *vq)
{
	struct vballoon *vb = vq->vdev->priv;

	wake_up(&vb->report.acked);
}

/* The host handed our batch back (0), or never will (-EIO). */
static bool vb_report_answered(struct vb_report *r, int *err)
{
	unsigned int len;

	if (virtqueue_get_buf(r->vq, &len)) {
		*err = 0;
		return true;
	}
	if (virtqueue_is_broken(r->vq)) {
		*err = -EIO;
		return true;
	}
	return false;
}

/*
 * Wait in slices so a broken device ends the wait at once. A host silent
 * for VB_REPORT_TIMEOUT loses the device. The pages go back to the free
 * lists when we return, so while the host may still hold the element (we
 * disabled the device, here or on another queue) a reset must first make
 * it drop the element. A surprise-removed device is not reset: it is gone.
 */
static int vb_report_wait(struct vballoon *vb)
{
	unsigned long deadline = jiffies + VB_REPORT_TIMEOUT;
	struct vb_report *r = &vb->report;
	int err = 0;

	while (!wait_event_timeout(r->acked, vb_report_answered(r, &err),
				   VB_REPORT_SLICE)) {
		if (time_after(jiffies, deadline)) {
			vb_give_up(vb, "reporting");
			err = -ETIMEDOUT;
			break;
		}
	}
	if (err && vb_dead(vb)) {
		r->stalled = true;
		virtio_reset_device(vb->vdev);
	}
	return err;
}

/* 4 KiB pages in a batch: each entry is one free block. */
static unsigned int vb_sg_pages(struct scatterlist *sgl, unsigned int nents)
{
	struct scatterlist *sg;
	unsigned int i, pages = 0;

	for_each_sg(sgl, sg, nents, i)
		pages += sg->length >> VIRTIO_BALLOON_PFN_SHIFT;
	return pages;
}

/* page_reporting's callback, from its work item: one batch at a time. */
static int vb_report_batch(struct page_reporting_dev_info *pr,
			   struct scatterlist *sg, unsigned int nents)
{
	struct vballoon *vb = container_of(pr, struct vballoon, report.pr);
	struct vb_report *r = &vb->report;
	unsigned int pages = vb_sg_pages(sg, nents);
	u64 start = ktime_get_ns();
	int err = -EIO;

	if (!r->stalled) {
		/* The host writes nothing; in-buffers say "device may discard". */
		err = virtqueue_add_inbuf(r->vq, sg, nents, vb,
					  GFP_NOWAIT | __GFP_NOWARN);
		if (!err) {
			virtqueue_kick(r->vq);
			err = vb_report_wait(vb);
		}
	}
	if (!err) {
		WRITE_ONCE(vb->reported, vb->reported + pages);
		WRITE_ONCE(vb->report_batches, vb->report_batches + 1);
	}
	trace_vballoon_report(pages, nents, ktime_get_ns() - start, err);
	return err;
}

void vb_report_init(struct vballoon *vb)
{
	init_waitqueue_head(&vb->report.acked);
}

/*
 * Register with page reporting; report_order 0 leaves the order to the
 * kernel (page_reporting.page_reporting_order, else pageblock_order).
 * The kernel keeps the order of the first registration of a boot.
 */
int vb_report_start(struct vballoon *vb)
{
	struct vb_report *r = &vb->report;
	int err;

	r->registered = false;
	r->stalled = false;
	if (!r->vq)
		return 0;
	/* A batch is one element of up to PAGE_REPORTING_CAPACITY entries. */
	if (virtqueue_get_vring_size(r->vq) < PAGE_REPORTING_CAPACITY) {
		dev_err(&vb->vdev->dev, "reporting queue too small\n");
		return -ENOSPC;
	}
	r->pr.report = vb_report_batch;
#ifdef VB_HAVE_PR_ORDER
	r->pr.order = vb_report_order();
#endif
	err = page_reporting_register(&r->pr);
	if (err) {
		dev_err(&vb->vdev->dev, "page reporting: %d\n", err);
		return err;
	}
	r->registered = true;
	return 0;
}

/* Before the queues go: waits for a batch in flight (bounded above). */
void vb_report_stop(struct vballoon *vb)
{
	if (!vb->report.registered)
		return;
	page_reporting_unregister(&vb->report.pr);
	vb->report.registered = false;
}
