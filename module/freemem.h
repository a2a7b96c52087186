/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vballoon: giving free guest memory back to the host (issue 8).
 * report.c: free page reporting and page poison; hint.c: free page
 * hinting; wakeup.c: the wakeup source around balloon and stats work.
 */
#ifndef _VBALLOON_FREEMEM_H
#define _VBALLOON_FREEMEM_H

#include <linux/list.h>
#include <linux/notifier.h>
#include <linux/page_reporting.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

struct shrinker;
struct vballoon;
struct virtio_device;

/* Virtqueue slots in spec order; absent queues keep their slot (NULL name). */
enum {
	VB_VQ_INFLATE,
	VB_VQ_DEFLATE,
	VB_VQ_STATS,
	VB_VQ_FREE_PAGE,
	VB_VQ_REPORTING,
	VB_NR_VQS
};

struct vb_report {
	struct virtqueue *vq;		/* NULL without F_REPORTING */
	struct page_reporting_dev_info pr;
	wait_queue_head_t acked;
	bool registered;
	bool stalled;			/* the host stopped answering: no more */
};

struct vb_hint {
	struct virtqueue *vq;		/* NULL without F_FREE_PAGE_HINT */
	struct work_struct work;
	wait_queue_head_t acked;
	/*
	 * lock guards blocks and the flags below. The OOM notifier and the
	 * shrinker take it, so nothing allocates or waits while holding it.
	 */
	spinlock_t lock;
	/* Held until the host says DONE; each block's order in page_private. */
	struct list_head blocks;
	unsigned long nr_pages;		/* pages in blocks */
	bool stopping;			/* device going away: end runs now */
	bool pressure;			/* reclaim wants memory: end the run */
	atomic_t cfg_seq;		/* bumped by each config interrupt */
	u32 active;			/* command id of the last run */
	__virtio32 cmd_id;		/* DMA buffers for the id messages */
	__virtio32 cmd_stop;
	struct notifier_block oom_nb;
	struct shrinker *shrinker;
};

struct vb_wake {
	spinlock_t lock;
	unsigned int busy;		/* VB_WAKE_* sources holding it */
	unsigned int seq[2];		/* per source, bumped by each hold */
};

#define VB_WAKE_RESIZE	0
#define VB_WAKE_STATS	1

/* report.c */
void vb_report_init(struct vballoon *vb);
void vb_poison_validate(struct virtio_device *vdev);
void vb_poison_write(struct vballoon *vb);
void vb_report_vq_done(struct virtqueue *vq);
int vb_report_start(struct vballoon *vb);
void vb_report_stop(struct vballoon *vb);

/* hint.c */
void vb_hint_init(struct vballoon *vb);
void vb_hint_vq_done(struct virtqueue *vq);
void vb_hint_config_changed(struct vballoon *vb);
int vb_hint_start(struct vballoon *vb);
void vb_hint_stop(struct vballoon *vb);
unsigned long vb_hint_held_pages(struct vballoon *vb);

/* wakeup.c */
void vb_wake_init(struct vballoon *vb);
void vb_wake_hold(struct vballoon *vb, unsigned int src);
void vb_wake_release_all(struct vballoon *vb);
void vb_resize_work_awake(struct work_struct *work);
void vb_stats_work_awake(struct work_struct *work);

/* Once per device, in probe, before the queues exist. */
static inline void vb_freemem_init(struct vballoon *vb)
{
	vb_report_init(vb);
	vb_hint_init(vb);
	vb_wake_init(vb);
}

#endif /* _VBALLOON_FREEMEM_H */
