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

/* The tags 6.12 added; older uapi headers lack them. */
#ifndef VIRTIO_BALLOON_S_OOM_KILL
#define VIRTIO_BALLOON_S_OOM_KILL	10
#endif
#ifndef VIRTIO_BALLOON_S_ALLOC_STALL
#define VIRTIO_BALLOON_S_ALLOC_STALL	11
#endif
#ifndef VIRTIO_BALLOON_S_ASYNC_SCAN
#define VIRTIO_BALLOON_S_ASYNC_SCAN	12
#endif
#ifndef VIRTIO_BALLOON_S_DIRECT_SCAN
#define VIRTIO_BALLOON_S_DIRECT_SCAN	13
#endif
#ifndef VIRTIO_BALLOON_S_ASYNC_RECLAIM
#define VIRTIO_BALLOON_S_ASYNC_RECLAIM	14
#endif
#ifndef VIRTIO_BALLOON_S_DIRECT_RECLAIM
#define VIRTIO_BALLOON_S_DIRECT_RECLAIM	15
#endif

static u64 vb_bytes(unsigned long pages)
{
	return (u64)pages << PAGE_SHIFT;
}

#ifdef CONFIG_VM_EVENT_COUNTERS
/* Allocation stalls of every zone type, one count as upstream sends. */
static unsigned long vb_alloc_stalls(const unsigned long *events)
{
	unsigned long stalls = 0;
	unsigned int z;

	for (z = 0; z < MAX_NR_ZONES; z++)
		stalls += events[ALLOCSTALL_NORMAL - ZONE_NORMAL + z];
	return stalls;
}

/* Event counters: swap and scan/reclaim in bytes, the rest as counts. */
static unsigned int vb_stats_events(struct vballoon *vb, unsigned int n)
{
	unsigned long events[NR_VM_EVENT_ITEMS];

	all_vm_events(events);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_SWAP_IN, vb_bytes(events[PSWPIN]));
	vb_stat(vb, n++, VIRTIO_BALLOON_S_SWAP_OUT, vb_bytes(events[PSWPOUT]));
	vb_stat(vb, n++, VIRTIO_BALLOON_S_MAJFLT, events[PGMAJFAULT]);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_MINFLT,
		events[PGFAULT] - events[PGMAJFAULT]);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_OOM_KILL, events[OOM_KILL]);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_ALLOC_STALL, vb_alloc_stalls(events));
	vb_stat(vb, n++, VIRTIO_BALLOON_S_ASYNC_SCAN,
		vb_bytes(events[PGSCAN_KSWAPD]));
	vb_stat(vb, n++, VIRTIO_BALLOON_S_DIRECT_SCAN,
		vb_bytes(events[PGSCAN_DIRECT]));
	vb_stat(vb, n++, VIRTIO_BALLOON_S_ASYNC_RECLAIM,
		vb_bytes(events[PGSTEAL_KSWAPD]));
	vb_stat(vb, n++, VIRTIO_BALLOON_S_DIRECT_RECLAIM,
		vb_bytes(events[PGSTEAL_DIRECT]));
#ifdef CONFIG_HUGETLB_PAGE
	vb_stat(vb, n++, VIRTIO_BALLOON_S_HTLB_PGALLOC,
		events[HTLB_BUDDY_PGALLOC]);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_HTLB_PGFAIL,
		events[HTLB_BUDDY_PGALLOC_FAIL]);
#endif
	return n;
}
#else
static unsigned int vb_stats_events(struct vballoon *vb, unsigned int n)
{
	return n;
}
#endif

/*
 * Fill vb->stats; returns the number of entries. Hosts skip tags they do
 * not know (QEMU 7.2 knows 0..9), so the 6.12 tags go on every kernel.
 */
static unsigned int vb_stats_fill(struct vballoon *vb)
{
	unsigned int n = vb_stats_events(vb, 0);
	struct sysinfo i;

	si_meminfo(&i);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_MEMFREE, (u64)i.freeram * i.mem_unit);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_MEMTOT, (u64)i.totalram * i.mem_unit);
	vb_stat(vb, n++, VIRTIO_BALLOON_S_AVAIL, vb_bytes(si_mem_available()));
	vb_stat(vb, n++, VIRTIO_BALLOON_S_CACHES,
		vb_bytes(global_node_page_state(NR_FILE_PAGES)));
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
