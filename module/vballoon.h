/* SPDX-License-Identifier: GPL-2.0 */
/* vballoon: shared state of the driver's parts. */
#ifndef _VBALLOON_H
#define _VBALLOON_H

#include <linux/balloon_compaction.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/virtio_balloon.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "freemem.h"
#include "oom_policy.h"

/*
 * PFNs per virtqueue request. QEMU takes any length; 1024 (4 KiB of PFNs)
 * quarters the host round trips of the classic 256 while keeping the time
 * the OOM notifier may wait for the lock short.
 */
#define VB_PFN_BATCH		1024
#define VB_PAGES_PER_PAGE	(PAGE_SIZE >> VIRTIO_BALLOON_PFN_SHIFT)
#define VB_NR_STATS		16	/* tags 0..15, the 6.12 set */
#define VB_OOM_PRIORITY		80	/* as in the original 2014 patch */

struct vballoon {
	struct virtio_device *vdev;
	struct virtqueue *inflate_vq;
	struct virtqueue *deflate_vq;
	struct virtqueue *stats_vq;	/* NULL without STATS_VQ */
	wait_queue_head_t acked;

	/* Work is only queued while !stopped (stop_lock, taken in irq). */
	spinlock_t stop_lock;
	bool stopped;
	struct delayed_work resize_work;
	struct work_struct stats_work;
	unsigned int retry_ms;		/* back-off after a failed allocation */

	/*
	 * lock serialises the PFN array, the virtqueues and num_pages. The
	 * OOM notifier takes it, so nothing allocates memory while holding
	 * it: pages are allocated before and freed after.
	 */
	struct mutex lock;
	__virtio32 *pfns;
	unsigned int num_pages;		/* pages in the balloon, as told */
	unsigned int target;		/* host's num_pages, last read */
	struct balloon_dev_info b_dev_info;

	/* Cumulative counters for debugfs (written under lock). */
	u64 inflated;
	u64 deflated;			/* includes OOM leaks */
	u64 oom_calls;
	u64 oom_leaked;			/* by OOM calls and storm reclaim */
	u64 oom_reclaimed;		/* of which by storm reclaim */
	u64 oom_releases;		/* vballoon_oom_leak events */
	u64 reported;			/* pages given back by page reporting */
	u64 report_batches;		/* vballoon_report events */
	u64 hinted;			/* pages hinted to the host */
	u64 hint_runs;			/* vballoon_hint events */

	bool deflate_on_oom;
	struct notifier_block oom_nb;
	struct shrinker *shrinker;	/* storm reclaim (oom.c) */
	struct mutex storm_lock;	/* oom_storm; taken before lock */
	struct vb_oom_storm oom_storm;
	unsigned long holdoff_until;	/* jiffies; no inflation before */

	struct virtio_balloon_stat stats[VB_NR_STATS];
	struct dentry *debugfs;

	/* Free memory back to the host and the wakeup source (freemem.h). */
	struct vb_report report;
	struct vb_hint hint;
	struct vb_wake wake;
};

/* Parameters (main.c). */
struct vb_oom_params vb_oom_params_now(void);
unsigned int vb_holdoff_ms(void);
bool vb_oom_reclaim_enabled(void);
unsigned int vb_report_order(void);

/* pages.c: moving pages between the guest and the balloon. */
u32 vb_target_pages(struct vballoon *vb);
void vb_update_actual(struct vballoon *vb);
unsigned int vb_inflate(struct vballoon *vb, unsigned int want);
unsigned int vb_deflate(struct vballoon *vb, unsigned int want);
unsigned int vb_leak(struct vballoon *vb, unsigned int want);
void vb_set_pfns(struct vballoon *vb, unsigned int idx, struct page *page);
void vb_tell_host(struct vballoon *vb, struct virtqueue *vq, unsigned int n);
bool vb_holdoff_active(struct vballoon *vb);
void vb_resize_work(struct work_struct *work);
void vb_schedule_resize(struct vballoon *vb, unsigned long delay,
			bool replace);

/* oom.c */
int vb_oom_register(struct vballoon *vb);
void vb_oom_unregister(struct vballoon *vb);

/* stats.c */
int vb_stats_prime(struct vballoon *vb);
void vb_stats_work(struct work_struct *work);

/* migrate.c */
void vb_migrate_init(struct vballoon *vb);

/* debugfs.c */
void vb_debugfs_init(struct vballoon *vb);
void vb_debugfs_exit(struct vballoon *vb);

#endif /* _VBALLOON_H */
