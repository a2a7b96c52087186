/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel API differences between the supported kernels (6.1 .. 6.12). */
#ifndef _VBALLOON_COMPAT_H
#define _VBALLOON_COMPAT_H

#include <linux/version.h>
#include <linux/virtio_config.h>

/* 6.11 replaced the callbacks[]/names[] arrays with struct virtqueue_info. */
static inline int vb_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			      struct virtqueue *vqs[],
			      vq_callback_t *callbacks[], const char *names[])
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
	struct virtqueue_info info[3] = {};
	unsigned int i;

	if (nvqs > ARRAY_SIZE(info))
		return -EINVAL;
	for (i = 0; i < nvqs; i++) {
		info[i].name = names[i];
		info[i].callback = callbacks[i];
	}
	return virtio_find_vqs(vdev, nvqs, vqs, info, NULL);
#else
	return virtio_find_vqs(vdev, nvqs, vqs, callbacks, names, NULL);
#endif
}

#endif /* _VBALLOON_COMPAT_H */
