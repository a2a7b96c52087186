/* SPDX-License-Identifier: GPL-2.0 */
/* The module's debugfs stats file: "key value" per line. */
#ifndef VB_LEVELS_H
#define VB_LEVELS_H

#include <stdio.h>

#define VB_STATS_PATH "/sys/kernel/debug/vballoon/stats"

struct vb_levels {
	unsigned int balloon_pages;
	unsigned int target_pages;
};

/* 0 when both balloon_pages and target_pages were found, else -ENOENT. */
int levels_parse(FILE *f, struct vb_levels *l);
int levels_read(const char *path, struct vb_levels *l);

#endif
