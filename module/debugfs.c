// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/vballoon/stats: read-only "key value" lines, for
 * people and for vbtrace's interval records. Values are pages (4 KiB).
 */
#include <linux/debugfs.h>
#include <linux/jiffies.h>
#include <linux/seq_file.h>

#include "vballoon.h"

static int vb_stats_show(struct seq_file *m, void *unused)
{
	struct vballoon *vb = m->private;
	unsigned int left = jiffies_to_msecs(vb_holdoff_left(vb));

	seq_printf(m, "balloon_pages %u\n", READ_ONCE(vb->num_pages));
	seq_printf(m, "target_pages %u\n", vb_target_pages(vb));
	seq_printf(m, "inflated_pages %llu\n", READ_ONCE(vb->inflated));
	seq_printf(m, "deflated_pages %llu\n", READ_ONCE(vb->deflated));
	seq_printf(m, "oom_calls %llu\n", READ_ONCE(vb->oom_calls));
	seq_printf(m, "oom_releases %llu\n", READ_ONCE(vb->oom_releases));
	seq_printf(m, "oom_leaked_pages %llu\n", READ_ONCE(vb->oom_leaked));
	seq_printf(m, "oom_reclaim_pages %llu\n", READ_ONCE(vb->oom_reclaimed));
	seq_printf(m, "oom_stall_storms %llu\n",
		   READ_ONCE(vb->oom_stall_storms));
	seq_printf(m, "oom_step %u\n", READ_ONCE(vb->oom_step));
	seq_printf(m, "oom_untold_pages %u\n", READ_ONCE(vb->nr_untold));
	seq_printf(m, "deflate_on_oom %d\n", vb->deflate_on_oom);
	seq_printf(m, "holdoff_ms_left %u\n", left);
	seq_printf(m, "dead %d\n", READ_ONCE(vb->dead));
	seq_printf(m, "reported_pages %llu\n", READ_ONCE(vb->reported));
	seq_printf(m, "report_batches %llu\n", READ_ONCE(vb->report_batches));
	seq_printf(m, "hinted_pages %llu\n", READ_ONCE(vb->hinted));
	seq_printf(m, "hint_runs %llu\n", READ_ONCE(vb->hint_runs));
	seq_printf(m, "hint_held_pages %lu\n",
		   vb_hint_held_pages(vb) * VB_PAGES_PER_PAGE);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vb_stats);

void vb_debugfs_init(struct vballoon *vb)
{
	/* debugfs failures are not fatal: the driver works without it. */
	vb->debugfs = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("stats", 0444, vb->debugfs, vb, &vb_stats_fops);
}

void vb_debugfs_exit(struct vballoon *vb)
{
	debugfs_remove_recursive(vb->debugfs);
}
