// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include "levels.h"

static void reset(struct vb_levels *l)
{
	memset(l, 0, sizeof(*l));
	l->deflate_on_oom = -1;
}

int levels_parse(FILE *f, struct vb_levels *l)
{
	char key[64], line[256];
	unsigned int val;
	int found = 0;

	reset(l);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %u", key, &val) != 2)
			continue;
		if (!strcmp(key, "balloon_pages")) {
			l->balloon_pages = val;
			found |= 1;
		} else if (!strcmp(key, "target_pages")) {
			l->target_pages = val;
			found |= 2;
		} else if (!strcmp(key, "deflate_on_oom")) {
			l->deflate_on_oom = !!val;
		}
	}
	l->known = found == 3;
	return l->known ? 0 : -ENOENT;
}

/* One decimal value from dir/name. */
static int read_uint(const char *dir, const char *name, unsigned int *v)
{
	char path[512];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fscanf(f, "%u", v);
	fclose(f);
	return n == 1 ? 0 : -EINVAL;
}

int levels_read_dir(const char *dir, struct vb_levels *l)
{
	unsigned int doom;
	int err;

	reset(l);
	err = read_uint(dir, "balloon_pages", &l->balloon_pages);
	if (!err)
		err = read_uint(dir, "target_pages", &l->target_pages);
	if (err)
		return err;
	if (!read_uint(dir, "deflate_on_oom", &doom))
		l->deflate_on_oom = !!doom;
	l->known = true;
	l->source = "sysfs";
	return 0;
}

static int read_debugfs(const char *path, struct vb_levels *l)
{
	FILE *f = fopen(path, "re");
	int err;

	if (!f)
		return -errno;
	err = levels_parse(f, l);
	fclose(f);
	if (!err)
		l->source = "debugfs";
	return err;
}

int levels_get(const char *pattern, const char *debugfs, struct vb_levels *l)
{
	int serr = -ENOENT, derr;
	glob_t g;

	if (!glob(pattern, 0, NULL, &g) && g.gl_pathc)
		serr = levels_read_dir(g.gl_pathv[0], l);
	globfree(&g);
	if (!serr)
		return 0;
	derr = read_debugfs(debugfs, l);
	if (!derr)
		return 0;
	reset(l);
	snprintf(l->reason, sizeof(l->reason), "sysfs %s: %s; debugfs %s: %s",
		 pattern, strerror(-serr), debugfs, strerror(-derr));
	return serr;
}
