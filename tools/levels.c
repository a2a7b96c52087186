// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include "levels.h"

int levels_parse(FILE *f, struct vb_levels *l)
{
	struct vb_levels v = { 0, 0 };
	char key[64], line[256];
	unsigned int val;
	int found = 0;

	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %u", key, &val) != 2)
			continue;
		if (!strcmp(key, "balloon_pages")) {
			v.balloon_pages = val;
			found |= 1;
		} else if (!strcmp(key, "target_pages")) {
			v.target_pages = val;
			found |= 2;
		}
	}
	if (found != 3)
		return -ENOENT;
	*l = v;
	return 0;
}

int levels_read(const char *path, struct vb_levels *l)
{
	FILE *f = fopen(path, "re");
	int err;

	if (!f)
		return -errno;
	err = levels_parse(f, l);
	fclose(f);
	return err;
}
