// SPDX-License-Identifier: GPL-2.0
/*
 * Free page hinting (VIRTIO_BALLOON_F_FREE_PAGE_HINT), used by the host
 * during a migration. The host writes a new command id into config space;
 * we answer with that id, then hand over free blocks (allocated, so they
 * stay free) until the host writes STOP or we run out, then STOP. The host
 * skips sending hinted pages. Largest blocks go first, as upstream hints;
 * hint_order below 10 then goes down the orders, so memory freed among
 * live pages is hinted too. Those smaller blocks stop at a zone's high
 * watermark: below it kswapd would reclaim page cache to refill the
 * memory we only hold, and take blocks back. We hold the blocks
 * until the host writes DONE. A page reused early is only dirtied again
 * and resent, so under memory pressure the shrinker and the OOM notifier
 * give blocks back at once, without touching the device.
 */
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/oom.h>
#include <linux/scatterlist.h>
#include <linux/virtio_config.h>
#include <linux/vmstat.h>

#include "compat.h"
#include "vballoon.h"
#include "vballoon_trace.h"

/* Only what is free right now: no reclaim, no reserves, no warnings. */
#define VB_HINT_GFP		(__GFP_NORETRY | __GFP_NOWARN | __GFP_NOMEMALLOC)
#define VB_HINT_TIMEOUT		(10 * HZ)
#define VB_HINT_SLICE		(HZ / 10)
/* Before the balloon's own notifier: hinted blocks go first. */
#define VB_HINT_OOM_PRIORITY	(VB_OOM_PRIORITY + 1)

static u32 vb_hint_cmd_id(struct vballoon *vb)
{
	u32 id;

	virtio_cread_le(vb->vdev, struct virtio_balloon_config,
			free_page_hint_cmd_id, &id);
	return id;
}

unsigned long vb_hint_held_pages(struct vballoon *vb)
{
	return READ_ONCE(vb->hint.nr_pages);
}

/*
 * Give up to max_pages of held blocks back to the page allocator; returns
 * pages freed. Never sleeps: the OOM notifier and the shrinker call it.
 */
static unsigned long vb_hint_free(struct vballoon *vb, unsigned long max_pages,
				  bool pressure)
{
	struct vb_hint *h = &vb->hint;
	unsigned long flags, freed = 0;
	struct page *page, *next;
	LIST_HEAD(out);

	spin_lock_irqsave(&h->lock, flags);
	if (pressure)
		h->pressure = true;	/* and stop a run from taking more */
	list_for_each_entry_safe(page, next, &h->blocks, lru) {
		if (freed >= max_pages)
			break;
		list_move(&page->lru, &out);
		h->nr_pages -= 1UL << page_private(page);
		freed += 1UL << page_private(page);
	}
	spin_unlock_irqrestore(&h->lock, flags);

	list_for_each_entry_safe(page, next, &out, lru) {
		unsigned int order = page_private(page);

		list_del(&page->lru);
		set_page_private(page, 0);
		__free_pages(page, order);
	}
	return freed;
}

void vb_hint_vq_done(struct virtqueue *vq)
{
	struct vballoon *vb = vq->vdev->priv;

	wake_up(&vb->hint.acked);
}

/* Detach what the host used; true once a descriptor is free. */
static bool vb_hint_room(struct vb_hint *h)
{
	unsigned int len;

	while (virtqueue_get_buf(h->vq, &len))
		;
	return h->vq->num_free || virtqueue_is_broken(h->vq) ||
	       READ_ONCE(h->stopping);
}

/*
 * Wait in slices for the host to free a descriptor; bounded. Interrupts
 * are on only while waiting: a run would otherwise take one per block.
 */
static int vb_hint_wait_room(struct vballoon *vb)
{
	unsigned long deadline = jiffies + VB_HINT_TIMEOUT;
	struct vb_hint *h = &vb->hint;
	int err = 0;

	virtqueue_enable_cb(h->vq);
	while (!wait_event_timeout(h->acked, vb_hint_room(h), VB_HINT_SLICE)) {
		if (time_after(jiffies, deadline)) {
			dev_warn(&vb->vdev->dev,
				 "host took no free page hints for %u s\n",
				 VB_HINT_TIMEOUT / HZ);
			err = -ETIMEDOUT;
			break;
		}
	}
	virtqueue_disable_cb(h->vq);
	if (err)
		return err;
	if (virtqueue_is_broken(h->vq) || READ_ONCE(h->stopping))
		return -EIO;
	return 0;
}

/* Queue one buffer: a command id (out) or a free block (in). */
static int vb_hint_send(struct vballoon *vb, void *buf, unsigned int len,
			bool block)
{
	struct vb_hint *h = &vb->hint;
	struct scatterlist sg;
	int err;

	if (!vb_hint_room(h)) {
		err = vb_hint_wait_room(vb);
		if (err)
			return err;
	}
	sg_init_one(&sg, buf, len);
	/* One entry never needs an indirect table: nothing is allocated. */
	if (block)
		err = virtqueue_add_inbuf(h->vq, &sg, 1, buf, GFP_KERNEL);
	else
		err = virtqueue_add_outbuf(h->vq, &sg, 1, buf, GFP_KERNEL);
	if (!err)
		virtqueue_kick(h->vq);
	return err;
}

/* Should the run for id end: a new id or STOP, pressure, going away? */
static bool vb_hint_should_end(struct vballoon *vb, u32 id, int *seq)
{
	struct vb_hint *h = &vb->hint;
	int now = atomic_read(&h->cfg_seq);

	if (READ_ONCE(h->stopping) || READ_ONCE(h->pressure) ||
	    virtqueue_is_broken(h->vq))
		return true;
	/* Reading config space is a VM exit: only after a config interrupt. */
	if (now == *seq)
		return false;
	*seq = now;
	return vb_hint_cmd_id(vb) != id;
}

/* Did taking this block leave its zone below the high watermark? */
static bool vb_hint_zone_low(struct page *page)
{
	struct zone *zone = page_zone(page);

	return zone_page_state(zone, NR_FREE_PAGES) < high_wmark_pages(zone);
}

/*
 * Hand over one free block of order; -ENOMEM once none is left, -ENOSPC
 * once a block below the largest order would leave its zone short.
 */
static int vb_hint_one(struct vballoon *vb, unsigned int order)
{
	struct vb_hint *h = &vb->hint;
	struct page *page;
	int err;

	page = alloc_pages(VB_HINT_GFP, order);
	if (!page)
		return -ENOMEM;
	if (order < VB_MAX_PAGE_ORDER && vb_hint_zone_low(page)) {
		__free_pages(page, order);
		return -ENOSPC;
	}
	err = vb_hint_send(vb, page_address(page), PAGE_SIZE << order, true);
	if (err) {
		__free_pages(page, order);
		return err;
	}
	set_page_private(page, order);	/* ours until we free it */
	spin_lock_irq(&h->lock);
	list_add(&page->lru, &h->blocks);
	h->nr_pages += 1UL << order;
	spin_unlock_irq(&h->lock);
	return 0;
}

static void vb_hint_run(struct vballoon *vb, u32 id)
{
	unsigned int order = VB_MAX_PAGE_ORDER, floor = vb_hint_order();
	unsigned long blocks = 0, pages = 0;
	struct vb_hint *h = &vb->hint;
	u64 start = ktime_get_ns();
	int seq = atomic_read(&h->cfg_seq);
	int err;

	h->active = id;
	spin_lock_irq(&h->lock);
	h->pressure = false;
	spin_unlock_irq(&h->lock);

	h->cmd_id = cpu_to_virtio32(vb->vdev, id);
	if (vb_hint_send(vb, &h->cmd_id, sizeof(h->cmd_id), false))
		goto out;
	while (!vb_hint_should_end(vb, id, &seq)) {
		err = vb_hint_one(vb, order);
		if (err == -ENOMEM && order > floor) {
			order--;
			continue;
		}
		if (err)
			break;
		blocks++;
		pages += 1UL << order;
		cond_resched();
	}
	h->cmd_stop = cpu_to_virtio32(vb->vdev, VIRTIO_BALLOON_CMD_ID_STOP);
	vb_hint_send(vb, &h->cmd_stop, sizeof(h->cmd_stop), false);
out:
	pages *= VB_PAGES_PER_PAGE;
	WRITE_ONCE(vb->hinted, vb->hinted + pages);
	WRITE_ONCE(vb->hint_runs, vb->hint_runs + 1);
	trace_vballoon_hint(pages, blocks, id, ktime_get_ns() - start);
}

static void vb_hint_work(struct work_struct *work)
{
	struct vballoon *vb = container_of(work, struct vballoon, hint.work);
	u32 id = vb_hint_cmd_id(vb);

	if (id == VIRTIO_BALLOON_CMD_ID_DONE)
		vb_hint_free(vb, ULONG_MAX, false);
	else if (id != VIRTIO_BALLOON_CMD_ID_STOP && id != vb->hint.active)
		vb_hint_run(vb, id);
}

/* Config interrupt (irq context): the command id may have changed. */
void vb_hint_config_changed(struct vballoon *vb)
{
	struct vb_hint *h = &vb->hint;
	unsigned long flags;

	if (!h->vq)
		return;
	atomic_inc(&h->cfg_seq);
	spin_lock_irqsave(&h->lock, flags);
	if (!h->stopping)
		queue_work(system_freezable_wq, &h->work);
	spin_unlock_irqrestore(&h->lock, flags);
}

static int vb_hint_oom(struct notifier_block *nb, unsigned long unused,
		       void *parm)
{
	struct vballoon *vb = container_of(nb, struct vballoon, hint.oom_nb);
	unsigned long *freed = parm;

	*freed += vb_hint_free(vb, ULONG_MAX, true);
	return NOTIFY_OK;
}

static unsigned long vb_hint_count(struct shrinker *s,
				   struct shrink_control *sc)
{
	return vb_hint_held_pages(vb_shrinker_priv(s));
}

static unsigned long vb_hint_scan(struct shrinker *s,
				  struct shrink_control *sc)
{
	unsigned long freed;

	freed = vb_hint_free(vb_shrinker_priv(s), sc->nr_to_scan, true);
	if (!freed)
		return SHRINK_STOP;
	vb_account_reclaimed(freed);
	return freed;
}

void vb_hint_init(struct vballoon *vb)
{
	struct vb_hint *h = &vb->hint;

	spin_lock_init(&h->lock);
	INIT_LIST_HEAD(&h->blocks);
	init_waitqueue_head(&h->acked);
	INIT_WORK(&h->work, vb_hint_work);
	h->stopping = true;
}

/* Before DRIVER_OK: memory pressure can take blocks back from now on. */
int vb_hint_start(struct vballoon *vb)
{
	struct vb_hint *h = &vb->hint;
	int err;

	if (!h->vq)
		return 0;
	/* No run until the host writes an id other than STOP. */
	h->active = VIRTIO_BALLOON_CMD_ID_STOP;
	virtqueue_disable_cb(h->vq);
	h->shrinker = vb_shrinker_create(KBUILD_MODNAME "-hint", vb_hint_count,
					 vb_hint_scan, vb);
	if (!h->shrinker)
		return -ENOMEM;
	h->oom_nb.notifier_call = vb_hint_oom;
	h->oom_nb.priority = VB_HINT_OOM_PRIORITY;
	err = register_oom_notifier(&h->oom_nb);
	if (err) {
		vb_shrinker_destroy(h->shrinker);
		return err;
	}
	spin_lock_irq(&h->lock);
	h->stopping = false;
	spin_unlock_irq(&h->lock);
	return 0;
}

/* End any run (it sees stopping within one block), then free every block. */
void vb_hint_stop(struct vballoon *vb)
{
	struct vb_hint *h = &vb->hint;

	if (!h->vq)
		return;
	spin_lock_irq(&h->lock);
	h->stopping = true;
	spin_unlock_irq(&h->lock);
	wake_up(&h->acked);
	cancel_work_sync(&h->work);
	unregister_oom_notifier(&h->oom_nb);
	vb_shrinker_destroy(h->shrinker);
	vb_hint_free(vb, ULONG_MAX, false);
}
