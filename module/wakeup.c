// SPDX-License-Identifier: GPL-2.0
/*
 * Wakeup source: a host request (new target, stats wanted) keeps the
 * guest from suspending until the work it caused has run, as upstream
 * does since 6.10. Effective once user space enables power/wakeup.
 */
#include <linux/bits.h>
#include <linux/device.h>

#include "vballoon.h"

void vb_wake_init(struct vballoon *vb)
{
	spin_lock_init(&vb->wake.lock);
	device_set_wakeup_capable(&vb->vdev->dev, true);
}

/* Called when work for src is queued (irq context too). */
void vb_wake_hold(struct vballoon *vb, unsigned int src)
{
	struct vb_wake *w = &vb->wake;
	unsigned long flags;

	spin_lock_irqsave(&w->lock, flags);
	w->seq[src]++;
	if (!w->busy)
		pm_stay_awake(&vb->vdev->dev);
	w->busy |= BIT(src);
	spin_unlock_irqrestore(&w->lock, flags);
}

static unsigned int vb_wake_seq(struct vballoon *vb, unsigned int src)
{
	unsigned int seq;

	spin_lock_irq(&vb->wake.lock);
	seq = vb->wake.seq[src];
	spin_unlock_irq(&vb->wake.lock);
	return seq;
}

/* Drop src unless it was held again since seq: that work is still due. */
static void vb_wake_release(struct vballoon *vb, unsigned int src,
			    unsigned int seq)
{
	struct vb_wake *w = &vb->wake;

	spin_lock_irq(&w->lock);
	if (w->seq[src] == seq && (w->busy & BIT(src))) {
		w->busy &= ~BIT(src);
		if (!w->busy)
			pm_relax(&vb->vdev->dev);
	}
	spin_unlock_irq(&w->lock);
}

/* After the work was cancelled on stop. */
void vb_wake_release_all(struct vballoon *vb)
{
	struct vb_wake *w = &vb->wake;

	spin_lock_irq(&w->lock);
	if (w->busy)
		pm_relax(&vb->vdev->dev);
	w->busy = 0;
	spin_unlock_irq(&w->lock);
}

void vb_resize_work_awake(struct work_struct *work)
{
	struct vballoon *vb = container_of(to_delayed_work(work),
					   struct vballoon, resize_work);
	unsigned int seq = vb_wake_seq(vb, VB_WAKE_RESIZE);

	vb_resize_work(work);
	/* Requeued at once: still converging. A back-off is idle time. */
	if (!delayed_work_pending(&vb->resize_work) ||
	    timer_pending(&vb->resize_work.timer))
		vb_wake_release(vb, VB_WAKE_RESIZE, seq);
}

void vb_stats_work_awake(struct work_struct *work)
{
	struct vballoon *vb = container_of(work, struct vballoon, stats_work);
	unsigned int seq = vb_wake_seq(vb, VB_WAKE_STATS);

	vb_stats_work(work);
	vb_wake_release(vb, VB_WAKE_STATS, seq);
}
