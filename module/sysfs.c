// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/bus/virtio/devices/virtioN/vballoon/: the driver's levels and
 * cumulative counters, one read-only value per file, in 4 KiB pages.
 * A stable ABI (Documentation/ABI/testing/sysfs-bus-virtio-vballoon),
 * unlike debugfs, and readable by any user.
 */
#include <linux/device.h>
#include <linux/sysfs.h>

#include "vballoon.h"

static struct vballoon *vb_of(struct device *dev)
{
	return dev_to_virtio(dev)->priv;
}

/* One show function per field: "<name>_show" printing READ_ONCE(field). */
#define VB_ATTR(name, field, fmt)					\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, fmt "\n", READ_ONCE(vb_of(dev)->field));	\
}									\
static DEVICE_ATTR_RO(name)

VB_ATTR(balloon_pages, num_pages, "%u");
VB_ATTR(target_pages, target, "%u");
VB_ATTR(inflated_pages, inflated, "%llu");
VB_ATTR(deflated_pages, deflated, "%llu");
VB_ATTR(oom_calls, oom_calls, "%llu");
VB_ATTR(oom_releases, oom_releases, "%llu");
VB_ATTR(oom_leaked_pages, oom_leaked, "%llu");
VB_ATTR(oom_reclaim_pages, oom_reclaimed, "%llu");
VB_ATTR(oom_stall_storms, oom_stall_storms, "%llu");
VB_ATTR(reported_pages, reported, "%llu");
VB_ATTR(report_batches, report_batches, "%llu");
VB_ATTR(hinted_pages, hinted, "%llu");
VB_ATTR(hint_runs, hint_runs, "%llu");
VB_ATTR(deflate_on_oom, deflate_on_oom, "%d");

static struct attribute *vb_attrs[] = {
	&dev_attr_balloon_pages.attr,
	&dev_attr_target_pages.attr,
	&dev_attr_inflated_pages.attr,
	&dev_attr_deflated_pages.attr,
	&dev_attr_oom_calls.attr,
	&dev_attr_oom_releases.attr,
	&dev_attr_oom_leaked_pages.attr,
	&dev_attr_oom_reclaim_pages.attr,
	&dev_attr_oom_stall_storms.attr,
	&dev_attr_reported_pages.attr,
	&dev_attr_report_batches.attr,
	&dev_attr_hinted_pages.attr,
	&dev_attr_hint_runs.attr,
	&dev_attr_deflate_on_oom.attr,
	NULL,
};

static const struct attribute_group vb_attr_group = {
	.name = KBUILD_MODNAME,
	.attrs = vb_attrs,
};

/* Only one balloon exists (main.c), so one flag is enough. */
static bool vb_sysfs_added;

/* Not fatal, like debugfs: the balloon works without its counters. */
void vb_sysfs_init(struct vballoon *vb)
{
	int err = device_add_group(&vb->vdev->dev, &vb_attr_group);

	if (err)
		dev_warn(&vb->vdev->dev, "no sysfs counters: %d\n", err);
	vb_sysfs_added = !err;
}

void vb_sysfs_exit(struct vballoon *vb)
{
	if (vb_sysfs_added)
		device_remove_group(&vb->vdev->dev, &vb_attr_group);
	vb_sysfs_added = false;
}
