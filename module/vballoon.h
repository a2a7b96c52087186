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
 * PFNs per virtqueue element: 256 is what hosts are tested against
 * (Firecracker skips longer elements and never returns them). A batch of
 * up to four elements goes out with one kick, which quarters the round
 * trips of the classic one element per kick.
 */
#define VB_PFNS_PER_ELEM	256
#define VB_ELEMS_PER_KICK	4
#define VB_PFN_BATCH		(VB_PFNS_PER_ELEM * VB_ELEMS_PER_KICK)
#define VB_PAGES_PER_PAGE	(PAGE_SIZE >> VIRTIO_BALLOON_PFN_SHIFT)
#define VB_NR_STATS		16	/* tags 0..15, the 6.12 set */
#define VB_OOM_PRIORITY		80	/* as in the original 2014 patch */
#define VB_UNTOLD_PFNS		65536	/* OOM deflates told late: 256 MiB */

/* PFNs the host reads; an element stays busy until the host returns it. */
struct vb_batch {
	__virtio32 pfns[VB_PFN_BATCH];
	bool busy[VB_ELEMS_PER_KICK];
};

/*
 * Locks, outermost first. Only work_lock is held across a sleeping wait for
 * the host (bounded), storm_lock only across a bounded poll.
 *   work_lock   the resize worker, migration and stop: owns batch "work"
 *   storm_lock  OOM notifier and storm reclaim: owns batch "oom" and the
 *               storm; reclaim only trylocks it
 *   lock        the balloon list, num_pages and counters; short sections
 *               that never allocate, because the OOM notifier takes it
 *   vq_lock     the inflate and deflate virtqueues (spinlock, irq-safe)
 */
struct vballoon {
	struct virtio_device *vdev;
	struct virtqueue *inflate_vq;
	struct virtqueue *deflate_vq;
	struct virtqueue *stats_vq;	/* NULL without STATS_VQ */
	wait_queue_head_t acked;
	spinlock_t vq_lock;
	unsigned int batch_pfns;	/* PFNs per kick: fits the vq size */
	bool dead;			/* host stopped answering: no more I/O */
	bool must_tell;			/* host acks deflates before reuse */
	bool started;			/* vqs exist (vb_start succeeded) */

	/* Work is only queued while !stopped (stop_lock, taken in irq). */
	spinlock_t stop_lock;
	bool stopped;
	struct delayed_work resize_work;
	struct work_struct stats_work;
	unsigned int retry_ms;		/* back-off after a failed allocation */

	struct mutex work_lock;
	struct vb_batch work;

	struct mutex lock;
	unsigned int num_pages;		/* pages in the balloon, as told */
	unsigned int target;		/* host's num_pages, last read */
	unsigned int actual_told;	/* last "actual" written to config */
	struct balloon_dev_info b_dev_info;
	/* Pages the host may still discard: freed only after a reset. */
	struct list_head quarantine;
	struct page *migrate_held;	/* the same, from migration; work_lock */
	/*
	 * PFNs the OOM path gave back before telling the host (no
	 * MUST_TELL_HOST): the worker tells it once the storm is over.
	 */
	__virtio32 *untold;		/* VB_UNTOLD_PFNS */
	unsigned int nr_untold;

	/*
	 * Cumulative counters for debugfs and sysfs, read with READ_ONCE.
	 * inflated and deflated are written under lock, oom_* under
	 * storm_lock.
	 */
	u64 inflated;
	u64 deflated;			/* includes OOM leaks */
	u64 oom_calls;
	u64 oom_leaked;			/* by OOM calls and storm reclaim */
	u64 oom_reclaimed;		/* of which by storm reclaim */
	u64 oom_releases;		/* vballoon_oom_leak events */
	u64 oom_stall_storms;		/* storms a stall started, not OOM */
	u64 reported;			/* pages given back by page reporting */
	u64 report_batches;		/* vballoon_report events */
	u64 hinted;			/* pages hinted to the host */
	u64 hint_runs;			/* vballoon_hint events */

	bool deflate_on_oom;
	bool oom_registered;
	struct notifier_block oom_nb;
	struct shrinker *shrinker;	/* storm reclaim (oom.c), or NULL */
	struct mutex storm_lock;
	struct vb_oom_storm oom_storm;
	struct vb_batch oom;
	struct list_head oom_unacked;	/* deflates told, not yet acked */
	unsigned int nr_oom_unacked;
	u64 storm_until_ms;		/* reclaim may take pages until then */
	unsigned int oom_step;		/* copy of oom_storm.step for readers */
	u64 holdoff_until;		/* jiffies64; no inflation before */

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
bool vb_oom_stall_arm(void);
bool vb_oom_tell_late(void);
unsigned int vb_report_order(void);
unsigned int vb_hint_order(void);

/* host.c: telling the host, never trusting it to answer. */
void vb_set_pfns(struct vballoon *vb, __virtio32 *dst, struct page *page);
unsigned int vb_fill_batch(struct vballoon *vb, struct vb_batch *b,
			   struct list_head *pages);
bool vb_dead(struct vballoon *vb);
void vb_reap(struct vballoon *vb, struct virtqueue *vq);
void vb_give_up(struct vballoon *vb, const char *why);
int vb_send(struct vballoon *vb, struct virtqueue *vq, struct vb_batch *b,
	    unsigned int n);
bool vb_batch_idle(struct vb_batch *b);
int vb_wait_host(struct vballoon *vb, struct virtqueue *vq, struct vb_batch *b);
int vb_poll_host(struct vballoon *vb, struct virtqueue *vq, struct vb_batch *b);
int vb_tell_host(struct vballoon *vb, struct virtqueue *vq, struct vb_batch *b,
		 unsigned int n);

/* pages.c: moving pages between the guest and the balloon. */
u32 vb_target_pages(struct vballoon *vb);
void vb_tell_actual(struct vballoon *vb);
unsigned int vb_leak(struct vballoon *vb, unsigned int want, bool reclaim);
unsigned long vb_holdoff_left(struct vballoon *vb);
void vb_start_holdoff(struct vballoon *vb);
void vb_empty(struct vballoon *vb);
void vb_resize_work(struct work_struct *work);
void vb_schedule_resize(struct vballoon *vb, unsigned long delay);

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

/* sysfs.c */
void vb_sysfs_init(struct vballoon *vb);
void vb_sysfs_exit(struct vballoon *vb);

#endif /* _VBALLOON_H */
