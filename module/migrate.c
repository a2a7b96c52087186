// SPDX-License-Identifier: GPL-2.0
/*
 * Balloon page migration: compaction moves a balloon page by asking us to
 * put newpage in the balloon and give the old page back.
 */
#include <linux/mm.h>
#include <linux/migrate.h>

#include "compat.h"
#include "vballoon.h"

#ifdef CONFIG_BALLOON_COMPACTION
static int vb_tell_one(struct vballoon *vb, struct virtqueue *vq,
		       struct page *page)
{
	vb_set_pfns(vb, vb->work.pfns, page);
	return vb_tell_host(vb, vq, &vb->work, VB_PAGES_PER_PAGE);
}

/*
 * An old page the host was not told about, under MUST_TELL_HOST, waits for
 * the reset. Its lru is the migration core's, so it is held by pointer: one
 * slot is enough, as a failed tell leaves the device dead or broken, and
 * vb_migratepage() then stops before telling anything. Under work_lock.
 */
static void vb_hold_until_reset(struct vballoon *vb, struct page *page)
{
	if (!vb->deflate_on_oom)
		adjust_managed_page_count(page, -1);
	vb_balloon_page_finalize(page);
	if (vb->migrate_held)
		return;		/* never freed: a leak, not a reuse */
	vb->migrate_held = page;
}

static int vb_migratepage(struct balloon_dev_info *info, struct page *newpage,
			  struct page *page, enum migrate_mode mode)
{
	struct vballoon *vb = container_of(info, struct vballoon, b_dev_info);
	unsigned long flags;
	int err;

	/* Never wait here: the worker may be waiting for the host. */
	if (!mutex_trylock(&vb->work_lock))
		return -EAGAIN;
	/* Alive and unbroken, so no element of batch "work" is left busy. */
	if (vb_dead(vb) || virtqueue_is_broken(vb->inflate_vq)) {
		mutex_unlock(&vb->work_lock);
		return -EAGAIN;
	}
	/* The host learns of the new page before it may reuse the old one. */
	err = vb_tell_one(vb, vb->inflate_vq, newpage);
	/* Nothing went out: the core may free or reuse newpage. */
	if (err && vb_batch_idle(&vb->work)) {
		mutex_unlock(&vb->work_lock);
		return -EAGAIN;
	}

	/* The host may have taken newpage: it is a balloon page either way. */
	get_page(newpage);	/* the balloon's reference */
	/* Managed page counts are per zone; move the debt if zones differ. */
	if (!vb->deflate_on_oom && page_zone(page) != page_zone(newpage)) {
		adjust_managed_page_count(page, 1);
		adjust_managed_page_count(newpage, -1);
	}
	spin_lock_irqsave(&info->pages_lock, flags);
	balloon_page_insert(info, newpage);
	info->isolated_pages--;
	__count_vm_event(BALLOON_MIGRATE);
	spin_unlock_irqrestore(&info->pages_lock, flags);

	/*
	 * The old page leaves the balloon either way: a host that does not
	 * take the deflate is disabled, and without MUST_TELL_HOST the page
	 * may be reused at once.
	 */
	if (!err)
		err = vb_tell_one(vb, vb->deflate_vq, page);
	if (err && vb->must_tell) {
		vb_hold_until_reset(vb, page);
		mutex_unlock(&vb->work_lock);
		return MIGRATEPAGE_SUCCESS;
	}
	mutex_unlock(&vb->work_lock);

	vb_balloon_page_finalize(page);
	put_page(page);		/* the balloon's reference */
	return MIGRATEPAGE_SUCCESS;
}

void vb_migrate_init(struct vballoon *vb)
{
	vb->b_dev_info.migratepage = vb_migratepage;
}
#else
void vb_migrate_init(struct vballoon *vb)
{
}
#endif
