// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include "check.h"
#include "prom.h"

static char *mem;
static size_t memlen;

static void render(const struct vb_totals *t, const struct vb_levels *l)
{
	FILE *f;

	free(mem);
	f = open_memstream(&mem, &memlen);
	prom_write(f, t, l);
	fclose(f);
}

static void test_metrics(void)
{
	struct vb_levels l = { .known = true, .balloon_pages = 65536,
			       .target_pages = 65536, .deflate_on_oom = 1 };
	struct vb_totals t = { .count = { 64, 3, 2, 1, 0, 0 },
			       .pages = { 65536, 3072, 512, 0, 0, 0 },
			       .lost = 0 };

	t.kills[VB_CONSTRAINT_MEMCG][0] = 1;
	t.hist[VB_HIST_OOM_LEAK][11] = 1;	/* 2048..4095 ns */
	t.hist[VB_HIST_OOM_LEAK][20] = 1;	/* about 1 ms */
	t.hist_ns[VB_HIST_OOM_LEAK] = 1500000;
	render(&t, &l);
	CHECK(strstr(mem, "# TYPE vballoon_balloon_pages gauge\nvballoon_balloon_pages 65536\n") != NULL);
	CHECK(strstr(mem, "vballoon_target_pages 65536\n") != NULL);
	CHECK(strstr(mem, "# TYPE vballoon_events_total counter\n") != NULL);
	CHECK(strstr(mem, "vballoon_events_total{event=\"inflate\"} 64\n") != NULL);
	CHECK(strstr(mem, "vballoon_events_total{event=\"hint\"} 0\n") != NULL);
	CHECK(strstr(mem, "vballoon_event_pages_total{event=\"deflate\"} 3072\n") != NULL);
	CHECK(strstr(mem, "vballoon_event_pages_total{event=\"oom_leak\"} 512\n") != NULL);
	CHECK(strstr(mem, "vballoon_lost_events_total 0\n") != NULL);
	CHECK(strstr(mem, "vballoon_oom_kills_total{constraint=\"memcg\",rescue_miss=\"false\"} 1\n") != NULL);
	CHECK(strstr(mem, "vballoon_oom_kills_total{constraint=\"none\",rescue_miss=\"true\"} 0\n") != NULL);
	CHECK(strstr(mem, "# TYPE vballoon_oom_release_seconds histogram\n") != NULL);
	CHECK(strstr(mem, "vballoon_oom_release_seconds_bucket{le=\"1.024e-06\"} 0\n") != NULL);
	CHECK(strstr(mem, "vballoon_oom_release_seconds_bucket{le=\"4.096e-06\"} 1\n") != NULL);
	CHECK(strstr(mem, "vballoon_oom_release_seconds_bucket{le=\"0.002097152\"} 2\n") != NULL);
	CHECK(strstr(mem, "vballoon_oom_release_seconds_bucket{le=\"+Inf\"} 2\n") != NULL);
	CHECK(strstr(mem, "vballoon_oom_release_seconds_sum 0.001500000\n") != NULL);
	CHECK(strstr(mem, "vballoon_oom_release_seconds_count 2\n") != NULL);

	/* Unknown levels are left out, never 0. */
	l.known = false;
	render(&t, &l);
	CHECK(strstr(mem, "# TYPE vballoon_balloon_pages gauge\n# HELP") != NULL);
	CHECK(strstr(mem, "\nvballoon_balloon_pages ") == NULL);
}

/* The file appears whole: no temporary file is left, mode 0644. */
static void test_update(void)
{
	char dir[] = "/tmp/vbpromXXXXXX", path[300];
	struct vb_levels l = { .known = true, .deflate_on_oom = 0 };
	struct vb_totals t = { .lost = 5 };
	struct dirent *d;
	struct stat st;
	int files = 0;
	DIR *dp;

	if (!mkdtemp(dir))
		return;
	snprintf(path, sizeof(path), "%s/vballoon.prom", dir);
	CHECK(prom_update(path, &t, &l) == 0);
	CHECK(prom_update(path, &t, &l) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
	dp = opendir(dir);
	while (dp && (d = readdir(dp)))
		files += d->d_name[0] != '.';
	if (dp)
		closedir(dp);
	CHECK(files == 1);
	CHECK(prom_update("/nonexistent/dir/x.prom", &t, &l) < 0);
	unlink(path);
	rmdir(dir);
}

void test_prom(void)
{
	test_metrics();
	test_update();
	free(mem);
}
