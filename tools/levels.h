/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The driver's balloon level, target and deflate-on-OOM state: from its
 * sysfs group (the stable ABI), else from debugfs (debug only).
 */
#ifndef VB_LEVELS_H
#define VB_LEVELS_H

#include <stdbool.h>
#include <stdio.h>

#define VB_SYSFS_GLOB "/sys/bus/virtio/drivers/vballoon/virtio*/vballoon"
#define VB_STATS_PATH "/sys/kernel/debug/vballoon/stats"

struct vb_levels {
	bool known;			/* balloon_pages and target_pages */
	unsigned int balloon_pages;
	unsigned int target_pages;
	int deflate_on_oom;		/* 0, 1, or -1: unknown */
	const char *source;		/* "sysfs" or "debugfs" when known */
	char reason[192];		/* why not, when !known */
};

/* debugfs "key value" lines; 0 when both levels were found. */
int levels_parse(FILE *f, struct vb_levels *l);
/* One sysfs group folder; 0 when both levels were read. */
int levels_read_dir(const char *dir, struct vb_levels *l);
/* sysfs (first match of glob), else debugfs; fills reason on failure. */
int levels_get(const char *glob, const char *debugfs, struct vb_levels *l);

#endif
