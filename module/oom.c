// SPDX-License-Identifier: GPL-2.0
/*
 * Deflate on OOM: out_of_memory() calls this notifier before it picks a
 * victim. Pages we free here make it return without killing anything.
 */
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/oom.h>

#include "vballoon.h"
#include "vballoon_trace.h"

static int vb_oom_notify(struct notifier_block *nb, unsigned long unused,
			 void *parm)
{
	struct vballoon *vb = container_of(nb, struct vballoon, oom_nb);
	struct vb_oom_params params = vb_oom_params_now();
	unsigned long *freed = parm;
	u64 start = ktime_get_ns();
	u64 now_ms = div_u64(start, NSEC_PER_MSEC);
	unsigned int asked, got;

	/* oom_lock serialises calls; the storm state needs no lock of its own. */
	asked = vb_oom_pages_to_leak(&vb->oom_storm, &params, now_ms);
	got = vb_leak(vb, asked);
	vb_oom_record(&vb->oom_storm, got, now_ms);

	/* Keep the resize work from taking the pages straight back. */
	WRITE_ONCE(vb->holdoff_until,
		   jiffies + msecs_to_jiffies(vb_holdoff_ms()));
	WRITE_ONCE(vb->oom_calls, vb->oom_calls + 1);
	WRITE_ONCE(vb->oom_leaked, vb->oom_leaked + got);
	*freed += got / VB_PAGES_PER_PAGE;

	trace_vballoon_oom_leak(asked, got, READ_ONCE(vb->num_pages),
				vb_target_pages(vb), ktime_get_ns() - start,
				vb->oom_storm.step);
	return NOTIFY_OK;
}

int vb_oom_register(struct vballoon *vb)
{
	if (!vb->deflate_on_oom)
		return 0;
	vb->oom_nb.notifier_call = vb_oom_notify;
	vb->oom_nb.priority = VB_OOM_PRIORITY;
	return register_oom_notifier(&vb->oom_nb);
}

void vb_oom_unregister(struct vballoon *vb)
{
	if (vb->deflate_on_oom)
		unregister_oom_notifier(&vb->oom_nb);
}
