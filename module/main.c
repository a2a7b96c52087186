// SPDX-License-Identifier: GPL-2.0
/*
 * vballoon: virtio memory balloon driver with deflate-on-OOM escalation.
 * This file: module parameters, probe/remove and the virtio callbacks.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/virtio_config.h>

#include "compat.h"
#include "vballoon.h"

/* An unsigned parameter with an inclusive range, checked on every write. */
struct vb_param {
	unsigned int val;
	unsigned int min;
	unsigned int max;
};

static int vb_param_set(const char *arg, const struct kernel_param *kp)
{
	struct vb_param *p = kp->arg;
	unsigned int v;

	if (kstrtouint(arg, 0, &v) || v < p->min || v > p->max) {
		/* A write through sysfs ends in a newline: not the value's. */
		pr_err("%s=%.*s out of range [%u, %u]\n", kp->name,
		       (int)strcspn(arg, "\n"), arg, p->min, p->max);
		return -EINVAL;
	}
	WRITE_ONCE(p->val, v);
	return 0;
}

static int vb_param_get(char *buf, const struct kernel_param *kp)
{
	const struct vb_param *p = kp->arg;

	return sysfs_emit(buf, "%u\n", READ_ONCE(p->val));
}

static const struct kernel_param_ops vb_param_ops = {
	.set = vb_param_set,
	.get = vb_param_get,
};

#define VB_PARAM(name, def, lo, hi, desc)				\
	static struct vb_param name = { def, lo, hi };			\
	module_param_cb(name, &vb_param_ops, &name, 0644);		\
	MODULE_PARM_DESC(name, desc " (default " #def ", " #lo ".." #hi ")")

VB_PARAM(oom_pages, 256, 1, 262144,
	 "pages released by the first OOM call of a storm");
VB_PARAM(oom_escalate_pct, 25, 0, 1000,
	 "later releases of a storm give this % of the storm so far; 0 = off");
VB_PARAM(oom_max_pages, 65536, 1, 1048576,
	 "most pages one OOM release gives back");
VB_PARAM(oom_window_ms, 1000, 1, 60000,
	 "OOM calls closer than this form one storm");
VB_PARAM(oom_pace_ms, 100, 0, 60000,
	 "a storm reclaim release grows to at most this long of the workload's use; 0 = no limit");
VB_PARAM(oom_tell_late, 1, 0, 1,
	 "an OOM release tells the host after its storm, not before the pages are reused (never with MUST_TELL_HOST); 0 = at once");
VB_PARAM(oom_reclaim, 1, 0, 1,
	 "during an OOM storm, let reclaim take balloon pages; 0 = off");
VB_PARAM(oom_stall_arm, 1, 0, 1,
	 "a stalled allocation that only the balloon can satisfy (page cache, and anon memory with swap, below the zones' deficit) starts a storm, as an OOM call would; 0 = OOM calls only");
VB_PARAM(reinflate_holdoff_ms, 10000, 0, 3600000,
	 "no re-inflation for this long after an OOM release");
VB_PARAM(report_order, 0, 0, 10,
	 "smallest order of free page reporting (at device start); 0 = kernel's");
VB_PARAM(hint_order, 10, 0, 10,
	 "smallest order of free page hinting, once the largest blocks run out");

struct vb_oom_params vb_oom_params_now(void)
{
	return (struct vb_oom_params) {
		.base_pages = READ_ONCE(oom_pages.val),
		.escalate_pct = READ_ONCE(oom_escalate_pct.val),
		.max_pages = READ_ONCE(oom_max_pages.val),
		.window_ms = READ_ONCE(oom_window_ms.val),
		.pace_ms = READ_ONCE(oom_pace_ms.val),
	};
}

bool vb_oom_reclaim_enabled(void)
{
	return READ_ONCE(oom_reclaim.val);
}

bool vb_oom_stall_arm(void)
{
	return READ_ONCE(oom_stall_arm.val);
}

bool vb_oom_tell_late(void)
{
	return READ_ONCE(oom_tell_late.val);
}

unsigned int vb_holdoff_ms(void)
{
	return READ_ONCE(reinflate_holdoff_ms.val);
}

unsigned int vb_report_order(void)
{
	return READ_ONCE(report_order.val);
}

unsigned int vb_hint_order(void)
{
	return min_t(unsigned int, READ_ONCE(hint_order.val), VB_MAX_PAGE_ORDER);
}

/* One balloon per guest: debugfs and the OOM notifier assume it. */
static DEFINE_MUTEX(vb_instance_lock);
static struct vballoon *vb_instance;

/* The host returned PFN elements: mark them free and wake the waiter. */
static void vb_ack(struct virtqueue *vq)
{
	struct vballoon *vb = vq->vdev->priv;

	vb_reap(vb, vq);
	wake_up_all(&vb->acked);
}

static void vb_stats_request(struct virtqueue *vq)
{
	struct vballoon *vb = vq->vdev->priv;
	unsigned long flags;

	spin_lock_irqsave(&vb->stop_lock, flags);
	if (!vb->stopped) {
		vb_wake_hold(vb, VB_WAKE_STATS);
		queue_work(system_freezable_wq, &vb->stats_work);
	}
	spin_unlock_irqrestore(&vb->stop_lock, flags);
}

static void vb_config_changed(struct virtio_device *vdev)
{
	vb_wake_hold(vdev->priv, VB_WAKE_RESIZE);
	vb_schedule_resize(vdev->priv, 0);
	vb_hint_config_changed(vdev->priv);
}

/*
 * Elements per kick that leave room in the smaller of the two PFN queues
 * for the worker's and the OOM path's batches at once.
 */
static unsigned int vb_batch_pfns(struct vballoon *vb)
{
	unsigned int size = min(virtqueue_get_vring_size(vb->inflate_vq),
				virtqueue_get_vring_size(vb->deflate_vq));

	return clamp(size / 2, 1U, (unsigned int)VB_ELEMS_PER_KICK) *
	       VB_PFNS_PER_ELEM;
}

/* A queue the device lacks keeps its slot with a NULL name, as upstream. */
static const char *vb_vq_name(struct vballoon *vb, unsigned int fbit,
			      const char *name)
{
	return virtio_has_feature(vb->vdev, fbit) ? name : NULL;
}

static int vb_init_vqs(struct vballoon *vb)
{
	vq_callback_t *callbacks[VB_NR_VQS] = {
		vb_ack, vb_ack, vb_stats_request, vb_hint_vq_done,
		vb_report_vq_done,
	};
	const char *names[VB_NR_VQS] = {
		"inflate", "deflate",
		vb_vq_name(vb, VIRTIO_BALLOON_F_STATS_VQ, "stats"),
		vb_vq_name(vb, VIRTIO_BALLOON_F_FREE_PAGE_HINT, "free_page"),
		vb_vq_name(vb, VIRTIO_BALLOON_F_REPORTING, "reporting"),
	};
	struct virtqueue *vqs[VB_NR_VQS];
	int err;

	err = vb_find_vqs(vb->vdev, VB_NR_VQS, vqs, callbacks, names);
	if (err)
		return err;
	vb->inflate_vq = vqs[VB_VQ_INFLATE];
	vb->deflate_vq = vqs[VB_VQ_DEFLATE];
	vb->stats_vq = names[VB_VQ_STATS] ? vqs[VB_VQ_STATS] : NULL;
	vb->hint.vq = names[VB_VQ_FREE_PAGE] ? vqs[VB_VQ_FREE_PAGE] : NULL;
	vb->report.vq = names[VB_VQ_REPORTING] ? vqs[VB_VQ_REPORTING] : NULL;
	vb->batch_pfns = vb_batch_pfns(vb);

	err = vb_stats_prime(vb);
	if (err)
		vb->vdev->config->del_vqs(vb->vdev);
	return err;
}

/* Bring the device up: queues, OOM notifier, DRIVER_OK, first resize. */
static int vb_start(struct vballoon *vb)
{
	int err;

	vb->dead = false;
	vb->actual_told = 0;
	/* A reset dropped every element the host still held. */
	memset(vb->work.busy, 0, sizeof(vb->work.busy));
	memset(vb->oom.busy, 0, sizeof(vb->oom.busy));
	err = vb_init_vqs(vb);
	if (err)
		return err;
	vb_poison_write(vb);
	err = vb_oom_register(vb);
	if (err)
		goto del_vqs;
	err = vb_hint_start(vb);
	if (err)
		goto oom_unregister;
	/* Its first pass runs 2 s later, long after DRIVER_OK, as upstream. */
	err = vb_report_start(vb);
	if (err)
		goto hint_stop;

	vb->started = true;
	virtio_device_ready(vb->vdev);
	/* Stopped since probe or the last stop: no work before DRIVER_OK. */
	spin_lock_irq(&vb->stop_lock);
	vb->stopped = false;
	spin_unlock_irq(&vb->stop_lock);
	if (vb->stats_vq)
		virtqueue_kick(vb->stats_vq);
	vb_schedule_resize(vb, 0);
	return 0;

hint_stop:
	vb_hint_stop(vb);
oom_unregister:
	vb_oom_unregister(vb);
del_vqs:
	vb->vdev->config->del_vqs(vb->vdev);
	return err;
}

static void vb_stop_work(struct vballoon *vb)
{
	spin_lock_irq(&vb->stop_lock);
	vb->stopped = true;
	spin_unlock_irq(&vb->stop_lock);
	cancel_delayed_work_sync(&vb->resize_work);
	cancel_work_sync(&vb->stats_work);
}

/*
 * Give every page back and tell the host, then reset the device and free
 * its queues. Idempotent: a failed restore leaves nothing to stop.
 */
static void vb_stop(struct vballoon *vb)
{
	if (!vb->started)
		return;
	vb_report_stop(vb);
	vb_hint_stop(vb);
	vb_oom_unregister(vb);
	vb_stop_work(vb);
	vb_wake_release_all(vb);

	mutex_lock(&vb->work_lock);
	vb_empty(vb);
	mutex_unlock(&vb->work_lock);
	vb->vdev->config->del_vqs(vb->vdev);
	vb->started = false;
}

static int vb_probe(struct virtio_device *vdev)
{
	struct vballoon *vb;
	int err;

	if (!vdev->config->get)
		return -EINVAL;

	mutex_lock(&vb_instance_lock);
	err = -EBUSY;
	if (vb_instance) {
		dev_err(&vdev->dev, "only one balloon device is supported\n");
		goto unlock;
	}
	err = -ENOMEM;
	vb = kzalloc(sizeof(*vb), GFP_KERNEL);
	if (!vb)
		goto unlock;
	vb->untold = kvmalloc_array(VB_UNTOLD_PFNS, sizeof(*vb->untold),
				    GFP_KERNEL);
	if (!vb->untold)
		goto free_vb;
	vb->vdev = vdev;
	vdev->priv = vb;
	vb->deflate_on_oom =
		virtio_has_feature(vdev, VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	vb->must_tell =
		virtio_has_feature(vdev, VIRTIO_BALLOON_F_MUST_TELL_HOST);
	init_waitqueue_head(&vb->acked);
	spin_lock_init(&vb->vq_lock);
	spin_lock_init(&vb->stop_lock);
	vb->stopped = true;
	mutex_init(&vb->work_lock);
	mutex_init(&vb->lock);
	mutex_init(&vb->storm_lock);
	INIT_LIST_HEAD(&vb->quarantine);
	INIT_LIST_HEAD(&vb->oom_unacked);
	INIT_DELAYED_WORK(&vb->resize_work, vb_resize_work_awake);
	INIT_WORK(&vb->stats_work, vb_stats_work_awake);
	vb_freemem_init(vb);
	balloon_devinfo_init(&vb->b_dev_info);
	vb_migrate_init(vb);

	err = vb_start(vb);
	if (err)
		goto free_untold;
	vb_debugfs_init(vb);
	vb_sysfs_init(vb);
	vb_instance = vb;
	mutex_unlock(&vb_instance_lock);
	return 0;

free_untold:
	kvfree(vb->untold);
free_vb:
	kfree(vb);
unlock:
	mutex_unlock(&vb_instance_lock);
	return err;
}

static void vb_remove(struct virtio_device *vdev)
{
	struct vballoon *vb = vdev->priv;

	mutex_lock(&vb_instance_lock);
	vb_sysfs_exit(vb);
	vb_debugfs_exit(vb);
	vb_stop(vb);
	vb_instance = NULL;
	mutex_unlock(&vb_instance_lock);
	kvfree(vb->untold);
	kfree(vb);
}

static int vb_validate(struct virtio_device *vdev)
{
	/* Balloon PFNs are guest-physical: an IOMMU in between is meaningless. */
	__virtio_clear_bit(vdev, VIRTIO_F_ACCESS_PLATFORM);
	vb_poison_validate(vdev);
	return 0;
}

#ifdef CONFIG_PM_SLEEP
static int vb_freeze(struct virtio_device *vdev)
{
	vb_stop(vdev->priv);
	return 0;
}

static int vb_restore(struct virtio_device *vdev)
{
	return vb_start(vdev->priv);
}
#endif

static const struct virtio_device_id vb_id_table[] = {
	{ VIRTIO_ID_BALLOON, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static unsigned int vb_features[] = {
	VIRTIO_BALLOON_F_MUST_TELL_HOST,
	VIRTIO_BALLOON_F_STATS_VQ,
	VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
	VIRTIO_BALLOON_F_FREE_PAGE_HINT,
	VIRTIO_BALLOON_F_PAGE_POISON,
	VIRTIO_BALLOON_F_REPORTING,
};

static struct virtio_driver vb_driver = {
	.feature_table = vb_features,
	.feature_table_size = ARRAY_SIZE(vb_features),
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.id_table = vb_id_table,
	.validate = vb_validate,
	.probe = vb_probe,
	.remove = vb_remove,
	.config_changed = vb_config_changed,
#ifdef CONFIG_PM_SLEEP
	.freeze = vb_freeze,
	.restore = vb_restore,
#endif
};

module_virtio_driver(vb_driver);
MODULE_DEVICE_TABLE(virtio, vb_id_table);
MODULE_DESCRIPTION("Virtio memory balloon with deflate-on-OOM escalation");
MODULE_LICENSE("GPL");
