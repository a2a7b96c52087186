// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hist.h"
#include "opts.h"
#include "prom.h"

/* Histogram buckets: 2^10 ns (1 us) to 2^35 ns (34 s), then +Inf. */
#define PROM_FIRST_SLOT 9
#define PROM_LAST_SLOT 34

static void head(FILE *f, const char *name, const char *type,
		 const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* An unknown level is left out, never written as 0. */
static void levels(FILE *f, const struct vb_levels *l)
{
	head(f, "vballoon_balloon_pages", "gauge",
	     "Pages (4 KiB) in the balloon.");
	if (l->known)
		fprintf(f, "vballoon_balloon_pages %u\n", l->balloon_pages);
	head(f, "vballoon_target_pages", "gauge",
	     "Balloon size (4 KiB pages) the host asks for.");
	if (l->known)
		fprintf(f, "vballoon_target_pages %u\n", l->target_pages);
}

static void per_event(FILE *f, const char *name, const char *help,
		      const unsigned long long *v)
{
	unsigned int i;

	head(f, name, "counter", help);
	for (i = 0; i < VB_NR_TYPES; i++)
		fprintf(f, "%s{event=\"%s\"} %llu\n", name, vb_type_name(i),
			v[i]);
}

static void kills(FILE *f, const struct vb_totals *t)
{
	static const char name[] = "vballoon_oom_kills_total";
	unsigned int c, m;

	head(f, name, "counter",
	     "OOM kills by constraint; rescue_miss: a global kill while the balloon held pages with deflate-on-OOM on.");
	for (c = 0; c < VB_NR_CONSTRAINTS; c++)
		for (m = 0; m < 2; m++)
			fprintf(f, "%s{constraint=\"%s\",rescue_miss=\"%s\"} %llu\n",
				name, vb_constraint_name(c),
				m ? "true" : "false", t->kills[c][m]);
}

static void release_hist(FILE *f, const struct vb_totals *t)
{
	static const char name[] = "vballoon_oom_release_seconds";
	const unsigned long long *s = t->hist[VB_HIST_OOM_LEAK];
	unsigned long long cum = 0;
	unsigned int i;

	head(f, name, "histogram", "Time one OOM release took.");
	for (i = 0; i < VB_HIST_SLOTS; i++) {
		cum += s[i];
		if (i >= PROM_FIRST_SLOT && i <= PROM_LAST_SLOT)
			fprintf(f, "%s_bucket{le=\"%.9g\"} %llu\n", name,
				hist_slot_hi(i) / 1e9, cum);
	}
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	fprintf(f, "%s_sum %.9f\n", name, t->hist_ns[VB_HIST_OOM_LEAK] / 1e9);
	fprintf(f, "%s_count %llu\n", name, cum);
}

void prom_write(FILE *f, const struct vb_totals *t, const struct vb_levels *l)
{
	levels(f, l);
	per_event(f, "vballoon_events_total", "vballoon events traced.",
		  t->count);
	per_event(f, "vballoon_event_pages_total",
		  "Pages (4 KiB) the traced events moved.", t->pages);
	head(f, "vballoon_lost_events_total", "counter",
	     "Event records the ring buffer had no room for (counted anyway).");
	fprintf(f, "vballoon_lost_events_total %llu\n", t->lost);
	kills(f, t);
	release_hist(f, t);
}

int prom_update(const char *path, const struct vb_totals *t,
		const struct vb_levels *l)
{
	size_t n = strlen(path) + sizeof(".XXXXXX");
	char *tmp = malloc(n);
	int fd, err = 0;
	FILE *f;

	if (!tmp)
		return -ENOMEM;
	/* Not *.prom: the collector must never read a half-written file. */
	snprintf(tmp, n, "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		free(tmp);
		return err;
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
	} else {
		prom_write(f, t, l);
		errno = 0;
		if (fchmod(fd, 0644) || fflush(f) || ferror(f))
			err = errno ? -errno : -EIO;
		if (fclose(f) && !err)
			err = -errno;
	}
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	free(tmp);
	return err;
}
