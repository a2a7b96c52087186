// SPDX-License-Identifier: GPL-2.0
/*
 * Memory statistics: the host consumes our buffer when it wants numbers;
 * we refill it with fresh values and hand it back.
 */
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/vmstat.h>

#include "vballoon.h"

static void vb_stat(struct vballoon *vb, unsigned int idx, u16 tag, u64 val)
{
	vb->stats[idx].tag = cpu_to_virtio16(vb->vdev, tag);
	vb->stats[idx].val = cpu_to_virtio64(vb->vdev, val);
}

/* Fill vb->stats with the 6.1 tag set; returns the number of entries. */
static unsigned int vb_stats_fill(struct vballoon *vb)
{
	unsigned long events[NR_VM_EVENT_ITEMS];
	unsigned int n = 0;
	struct sysinfo i;
	long caches;

	all_vm_events(events);
	si_meminfo(&i);
	caches = global_node_page_state(NR_FILE_PAGES);

	vb_stat(vb, n++, VIRTIO_BALLOON_S_SWAP_IN,
		(u64)events[PSWPIN] << PAGE_SHIFT);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_SWAP_OUT,
		(u64)events[PSWPOUT] << PAGE_SHIFT);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_MAJFLT, events[PGMAJFAULT]);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_MINFLT,
		events[PGFAULT] - events[PGMAJFAULT]);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_MEMFREE, (u64)i.freeram * i.mem_unit);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_MEMTOT, (u64)i.totalram * i.mem_unit);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_AVAIL,
		(u64)si_mem_available() << PAGE_SHIFT);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_CACHES, (u64)caches << PAGE_SHIFT);
#ifdef CONFIG_HUGETLB_PAGE
	vb_stat(vb, n++, VIRTIO_BALLOON_S_HTLB_PGALLOC,
		events[HTLB_BUDDY_PGALLOC]);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_HTLB_PGFAIL,
		events[HTLB_BUDDY_PGALLOC_FAIL]);
#endif
	return n;
}

static int vb_stats_queue(struct vballoon *vb, unsigned int n, gfp_t gfp)
{
	struct scatterlist sg;

	sg_init_one(&sg, vb->stats, sizeof(vb->stats[0]) * n);
	return virtqueue_add_outbuf(vb->stats_vq, &sg, 1, vb, gfp);
}

/* Give the host a first buffer, which it keeps until it wants stats. */
int vb_stats_prime(struct vballoon *vb)
{
	if (!vb->stats_vq)
		return 0;
	return vb_stats_queue(vb, vb_stats_fill(vb), GFP_KERNEL);
}

void vb_stats_work(struct work_struct *work)
{
	struct vballoon *vb = container_of(work, struct vballoon, stats_work);
	unsigned int len;

	if (!virtqueue_get_buf(vb->stats_vq, &len))
		return;
	if (vb_stats_queue(vb, vb_stats_fill(vb), GFP_KERNEL))
		return;
	virtqueue_kick(vb->stats_vq);
}
