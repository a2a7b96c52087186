// SPDX-License-Identifier: GPL-2.0
/*
 * Telling the host about balloon pages: PFN batches on the inflate and
 * deflate virtqueues.
 *
 * A batch goes out as elements of at most VB_PFNS_PER_ELEM PFNs, all queued
 * before a single kick: that is what hosts are tested against (Firecracker
 * skips longer elements without returning them), and the kick is the round
 * trip that costs. The host is never trusted to answer: sleeping waits are
 * bounded, the OOM and reclaim paths only poll, and a host that does not
 * answer in time gets the device marked dead, which wakes every waiter.
 */
#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/scatterlist.h>
#include <linux/virtio_config.h>

#include "vballoon.h"

#define VB_HOST_TIMEOUT_MS	10000	/* a sleeping wait for the host */
#define VB_WAIT_SLICE		(HZ / 10)	/* re-check a broken device */
#define VB_POLL_TIMEOUT_NS	(100 * NSEC_PER_MSEC)	/* OOM and reclaim */

/* Put one guest page's PFNs (in balloon page units) at dst. */
void vb_set_pfns(struct vballoon *vb, __virtio32 *dst, struct page *page)
{
	unsigned long pfn = page_to_pfn(page) * VB_PAGES_PER_PAGE;
	unsigned int i;

	for (i = 0; i < VB_PAGES_PER_PAGE; i++)
		dst[i] = cpu_to_virtio32(vb->vdev, pfn + i);
}

/* Fill b with the PFNs of a page list; returns the PFN count. */
unsigned int vb_fill_batch(struct vballoon *vb, struct vb_batch *b,
			   struct list_head *pages)
{
	struct page *page;
	unsigned int n = 0;

	list_for_each_entry(page, pages, lru) {
		vb_set_pfns(vb, &b->pfns[n], page);
		n += VB_PAGES_PER_PAGE;
	}
	return n;
}

bool vb_dead(struct vballoon *vb)
{
	return READ_ONCE(vb->dead);
}

/* Collect the elements the host returned; any context. */
void vb_reap(struct vballoon *vb, struct virtqueue *vq)
{
	unsigned long flags;
	unsigned int len;
	bool *busy;

	spin_lock_irqsave(&vb->vq_lock, flags);
	while ((busy = virtqueue_get_buf(vq, &len)))
		WRITE_ONCE(*busy, false);
	spin_unlock_irqrestore(&vb->vq_lock, flags);
}

bool vb_batch_idle(struct vb_batch *b)
{
	unsigned int i;

	for (i = 0; i < VB_ELEMS_PER_KICK; i++)
		if (READ_ONCE(b->busy[i]))
			return false;
	return true;
}

static bool vb_broken(struct vballoon *vb, struct virtqueue *vq)
{
	return vb_dead(vb) || virtqueue_is_broken(vq);
}

/*
 * Stop using a device that does not answer. Breaking it makes every later
 * virtqueue call fail at once; waking the waiters ends their sleep.
 */
void vb_give_up(struct vballoon *vb, const char *why)
{
	if (xchg(&vb->dead, true))
		return;
	dev_warn(&vb->vdev->dev, "host did not answer (%s): device disabled\n",
		 why);
	virtio_break_device(vb->vdev);
	wake_up_all(&vb->acked);
}

/*
 * Queue n PFNs of b, at most VB_PFNS_PER_ELEM per element, and kick once.
 * Never allocates (one descriptor each) and never sleeps.
 */
int vb_send(struct vballoon *vb, struct virtqueue *vq, struct vb_batch *b,
	    unsigned int n)
{
	unsigned int len, off, queued = 0;
	struct scatterlist sg;
	unsigned long flags;
	int err = 0;

	spin_lock_irqsave(&vb->vq_lock, flags);
	for (off = 0; off < n; off += len, queued++) {
		len = min_t(unsigned int, n - off, VB_PFNS_PER_ELEM);
		sg_init_one(&sg, &b->pfns[off], len * sizeof(b->pfns[0]));
		b->busy[queued] = true;
		err = virtqueue_add_outbuf(vq, &sg, 1, &b->busy[queued],
					   GFP_ATOMIC);
		if (err) {
			b->busy[queued] = false;
			break;
		}
	}
	if (queued)
		virtqueue_kick(vq);
	spin_unlock_irqrestore(&vb->vq_lock, flags);
	return err;
}

/* 0 once the host has returned all of b, -EIO if it never will. */
static int vb_batch_state(struct vballoon *vb, struct virtqueue *vq,
			  struct vb_batch *b)
{
	vb_reap(vb, vq);
	if (vb_batch_idle(b))
		return 0;
	return vb_broken(vb, vq) ? -EIO : -EINPROGRESS;
}

/* Sleep until the host has returned all of b; bounded. */
int vb_wait_host(struct vballoon *vb, struct virtqueue *vq, struct vb_batch *b)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(VB_HOST_TIMEOUT_MS);
	int err;

	for (;;) {
		err = vb_batch_state(vb, vq, b);
		if (err != -EINPROGRESS)
			return err;
		if (time_after(jiffies, deadline)) {
			vb_give_up(vb, vq->name);
			return -ETIMEDOUT;
		}
		wait_event_timeout(vb->acked,
				   vb_batch_idle(b) || vb_broken(vb, vq),
				   VB_WAIT_SLICE);
	}
}

/*
 * Poll until the host has returned all of b, without sleeping: for the OOM
 * notifier and reclaim. A slow host is not declared dead here; the caller
 * just stops releasing.
 */
int vb_poll_host(struct vballoon *vb, struct virtqueue *vq, struct vb_batch *b)
{
	u64 deadline = ktime_get_ns() + VB_POLL_TIMEOUT_NS;
	int err;

	for (;;) {
		err = vb_batch_state(vb, vq, b);
		if (err != -EINPROGRESS)
			return err;
		if (ktime_get_ns() > deadline)
			return -ETIMEDOUT;
		udelay(5);
	}
}

/* Send b and sleep until the host has taken it. */
int vb_tell_host(struct vballoon *vb, struct virtqueue *vq, struct vb_batch *b,
		 unsigned int n)
{
	int err = vb_send(vb, vq, b, n);

	if (err && vb_batch_idle(b))
		return err;
	/* Elements that did go out must come back before b is reused. */
	return vb_wait_host(vb, vq, b) ?: err;
}
