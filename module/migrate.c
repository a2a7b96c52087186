// SPDX-License-Identifier: GPL-2.0
/*
 * Balloon page migration: compaction moves a balloon page by asking us to
 * put newpage in the balloon and give the old page back.
 */
#include <linux/mm.h>
#include <linux/migrate.h>

#include "vballoon.h"

#ifdef CONFIG_BALLOON_COMPACTION
static void vb_tell_one(struct vballoon *vb, struct virtqueue *vq,
			struct page *page)
{
	vb_set_pfns(vb, 0, page);
	vb_tell_host(vb, vq, VB_PAGES_PER_PAGE);
}

static int vb_migratepage(struct balloon_dev_info *info, struct page *newpage,
			  struct page *page, enum migrate_mode mode)
{
	struct vballoon *vb = container_of(info, struct vballoon, b_dev_info);
	unsigned long flags;

	/* Never wait here: an inflate or OOM leak may hold the lock. */
	if (!mutex_trylock(&vb->lock))
		return -EAGAIN;

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

	/* The host learns of the new page before it may reuse the old one. */
	vb_tell_one(vb, vb->inflate_vq, newpage);
	vb_tell_one(vb, vb->deflate_vq, page);
	mutex_unlock(&vb->lock);

	balloon_page_finalize(page);
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
