// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include "hist.h"
#include "json.h"
#include "opts.h"
#include "output.h"

#define NSEC_PER_SEC 1000000000ULL
/* Balloon units are 4 KiB whatever the guest page size. */
#define VB_UNIT_BYTES 4096.0

void fmt_hms(char *buf, size_t len, unsigned long long wall_ns)
{
	time_t sec = wall_ns / NSEC_PER_SEC;
	struct tm tm;

	localtime_r(&sec, &tm);
	snprintf(buf, len, "%02d:%02d:%02d.%03llu", tm.tm_hour, tm.tm_min,
		 tm.tm_sec, wall_ns % NSEC_PER_SEC / 1000000);
}

void fmt_rfc3339(char *buf, size_t len, unsigned long long wall_ns)
{
	time_t sec = wall_ns / NSEC_PER_SEC;
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06lluZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, wall_ns % NSEC_PER_SEC / 1000);
}

/* Every field of vb_totals is a u64 counter: treat it as an array. */
#define TOTALS_WORDS (sizeof(struct vb_totals) / sizeof(unsigned long long))
_Static_assert(sizeof(struct vb_totals) % sizeof(unsigned long long) == 0,
	       "vb_totals holds u64 counters only");

void totals_sub(const struct vb_totals *a, const struct vb_totals *b,
		struct vb_totals *out)
{
	const unsigned long long *pa = (const void *)a, *pb = (const void *)b;
	unsigned long long *po = (void *)out;
	size_t i;

	for (i = 0; i < TOTALS_WORDS; i++)
		po[i] = pa[i] - pb[i];
}

void totals_add(struct vb_totals *sum, const struct vb_totals *v)
{
	const unsigned long long *pv = (const void *)v;
	unsigned long long *ps = (void *)sum;
	size_t i;

	for (i = 0; i < TOTALS_WORDS; i++)
		ps[i] += pv[i];
}

static double mib(unsigned long long pages)
{
	return pages * VB_UNIT_BYTES / (1024.0 * 1024.0);
}

/* End a line or record; remember the first write error. */
static void end_line(struct vb_out *o, const char *end)
{
	errno = 0;
	fputs(end, o->f);
	if ((fflush(o->f) || ferror(o->f)) && !o->err)
		o->err = errno ? errno : EIO;
}

static void json_head(struct vb_out *o, const char *type,
		      unsigned long long wall_ns)
{
	char ts[40];

	fmt_rfc3339(ts, sizeof(ts), wall_ns);
	fprintf(o->f, "{\"type\":\"%s\",\"time\":\"%s\"", type, ts);
}

/* ,"key":"value" or ,"key":null */
static void json_kstr(FILE *f, const char *key, const char *val)
{
	fprintf(f, ",\"%s\":", key);
	if (val)
		json_put_str(f, val, strlen(val));
	else
		fputs("null", f);
}

static void json_kuint(FILE *f, const char *key, bool known,
		       unsigned long long v)
{
	if (known)
		fprintf(f, ",\"%s\":%llu", key, v);
	else
		fprintf(f, ",\"%s\":null", key);
}

static void json_kbool(FILE *f, const char *key, int v)
{
	fprintf(f, ",\"%s\":%s", key, v < 0 ? "null" : v ? "true" : "false");
}

static void json_levels(FILE *f, const struct vb_levels *l)
{
	json_kuint(f, "balloon_pages", l->known, l->balloon_pages);
	json_kuint(f, "target_pages", l->known, l->target_pages);
	json_kbool(f, "deflate_on_oom", l->deflate_on_oom);
	json_kstr(f, "levels_source", l->known ? l->source : NULL);
	json_kstr(f, "levels_reason", l->known ? NULL : l->reason);
}

/* The comm for a text line: non-printable bytes become '?'. */
static void text_comm(char *dst, const char *comm)
{
	size_t i, n = strnlen(comm, VB_COMM_LEN);

	for (i = 0; i < n; i++)
		dst[i] = isprint((unsigned char)comm[i]) ? comm[i] : '?';
	dst[n] = '\0';
}

static void fmt_level(char *buf, size_t len, bool known, unsigned int v)
{
	if (known)
		snprintf(buf, len, "%u", v);
	else
		snprintf(buf, len, "?");
}

static void type_list(FILE *f, unsigned int mask, bool json)
{
	const char *sep = "";
	unsigned int i;

	for (i = 0; i < VB_NR_TYPES; i++) {
		if (!(mask & (1u << i)))
			continue;
		fprintf(f, json ? "%s\"%s\"" : "%s%s", sep, vb_type_name(i));
		sep = ",";
	}
}

/* One "; "-separated cause per line, so that each fits a terminal. */
static void reason_text(const char *r)
{
	const char *sep;

	fputs("Balloon level unknown:\n", stderr);
	while ((sep = strstr(r, "; "))) {
		fprintf(stderr, "  %.*s\n", (int)(sep - r), r);
		r = sep + 2;
	}
	fprintf(stderr, "  %s\n", r);
}

/* The banner goes to stderr, within 80 columns like the records. */
static void start_text(struct vb_out *o, const struct vb_start *s)
{
	const struct vb_levels *l = s->levels;

	fprintf(stderr, "vbtrace %s (%s, OOM kills: %s). Ctrl-C to end.\n",
		VB_VERSION, s->mode, s->oom_hook ? s->oom_hook : "not traced");
	fputs("Tracing ", stderr);
	type_list(stderr, s->mask, false);
	fputs(".\n", stderr);
	if (l->known)
		fprintf(stderr, "Balloon %u pages (%.1f MiB), target %u (%.1f MiB), from %s.\n",
			l->balloon_pages, mib(l->balloon_pages),
			l->target_pages, mib(l->target_pages), l->source);
	else
		reason_text(l->reason);
	fprintf(o->f, "%-12s %-8s %8s %8s %8s  %s", "TIME", "EVENT", "PAGES",
		"BALLOON", "TARGET", "DETAIL");
	end_line(o, "\n");
}

static void start_json(struct vb_out *o, const struct vb_start *s)
{
	FILE *f = o->f;

	json_head(o, "start", s->wall_ns);
	fprintf(f, ",\"version\":\"%s\",\"pid\":%d,\"events\":[", VB_VERSION,
		s->pid);
	type_list(f, s->mask, true);
	fputc(']', f);
	json_kstr(f, "mode", s->mode);
	json_kstr(f, "mode_reason", s->mode_reason);
	json_kstr(f, "oom_hook", s->oom_hook);
	json_kstr(f, "oom_hook_reason", s->oom_reason);
	fprintf(f, ",\"page_size\":%ld", o->page_size);
	json_levels(f, s->levels);
	end_line(o, "}\n");
}

void out_start(struct vb_out *o, const struct vb_start *s)
{
	if (o->json)
		start_json(o, s);
	else
		start_text(o, s);
}

/* Rescue miss: 1, 0, or -1 when the levels or deflate-on-OOM are unknown. */
static int miss_state(const struct vb_event *e)
{
	unsigned int need = VB_F_LEVELS | VB_F_DOOM_KNOWN;

	if (e->constraint != VB_CONSTRAINT_NONE)
		return 0;
	if ((e->flags & need) != need)
		return -1;
	return !!(e->flags & VB_F_MISS);
}

static int doom_state(const struct vb_event *e)
{
	if (!(e->flags & VB_F_DOOM_KNOWN))
		return -1;
	return !!(e->flags & VB_F_DOOM);
}

static void kill_json(FILE *f, const struct vb_event *e)
{
	bool lv = e->flags & VB_F_LEVELS;

	fprintf(f, ",\"pid\":%d,\"comm\":", e->pid);
	json_put_str(f, e->comm, strnlen(e->comm, VB_COMM_LEN));
	fprintf(f, ",\"uid\":%u,\"oom_score_adj\":%d,\"rss_pages\":%llu,\"anon_pages\":%llu",
		e->uid, e->oom_score_adj, e->rss_pages, e->anon_pages);
	fprintf(f, ",\"constraint\":\"%s\",\"total_pages\":%llu,\"pages\":0",
		vb_constraint_name(e->constraint), e->total_pages);
	json_kuint(f, "balloon_pages", lv, e->balloon_pages);
	json_kuint(f, "target_pages", lv, e->target_pages);
	json_kbool(f, "deflate_on_oom", doom_state(e));
	json_kbool(f, "rescue_miss", miss_state(e));
}

static void event_json(struct vb_out *o, const struct vb_event *e,
		       unsigned long long wall_ns)
{
	FILE *f = o->f;

	json_head(o, vb_type_name(e->type), wall_ns);
	switch (e->type) {
	case VB_OOM_KILL:
		kill_json(f, e);
		break;
	case VB_REPORT:
		fprintf(f, ",\"pages\":%u,\"entries\":%u,\"ns\":%llu,\"err\":%d",
			e->pages, e->entries, e->ns, e->err);
		break;
	case VB_HINT:
		fprintf(f, ",\"pages\":%u,\"blocks\":%u,\"cmd_id\":%u,\"ns\":%llu",
			e->pages, e->blocks, e->cmd_id, e->ns);
		break;
	default:
		fprintf(f, ",\"pages\":%u,\"balloon_pages\":%u,\"target_pages\":%u",
			e->pages, e->balloon_pages, e->target_pages);
		fprintf(f, ",\"ns\":%llu", e->ns);
		if (e->type == VB_OOM_LEAK)
			fprintf(f, ",\"asked\":%u,\"step\":%u", e->asked,
				e->step);
	}
	end_line(o, "}\n");
}

static const char *const short_constraint[VB_NR_CONSTRAINTS] = {
	"global", "cpuset", "mempol", "memcg",
};

/* The DETAIL column of a text line; truncated to fit VB_TEXT_COLS. */
static void text_detail(char *d, size_t len, const struct vb_event *e)
{
	char comm[VB_COMM_LEN + 1];
	int miss = miss_state(e);

	switch (e->type) {
	case VB_INFLATE:
	case VB_DEFLATE:
		snprintf(d, len, "%lluus", e->ns / 1000);
		break;
	case VB_OOM_LEAK:
		snprintf(d, len, "asked=%u %lluus step=%u", e->asked,
			 e->ns / 1000, e->step);
		break;
	case VB_REPORT:
		snprintf(d, len, "entries=%u %lluus err=%d", e->entries,
			 e->ns / 1000, e->err);
		break;
	case VB_HINT:
		snprintf(d, len, "blocks=%u cmd=%u %llums", e->blocks,
			 e->cmd_id, e->ns / 1000000);
		break;
	case VB_OOM_KILL:
		text_comm(comm, e->comm);
		snprintf(d, len, "%s%s %d %s", miss > 0 ? "MISS " :
			 miss < 0 ? "MISS? " : "",
			 e->constraint < VB_NR_CONSTRAINTS ?
			 short_constraint[e->constraint] : "?", e->pid,
			 *comm ? comm : "?");
		break;
	default:
		*d = '\0';
	}
}

static void event_text(struct vb_out *o, const struct vb_event *e,
		       unsigned long long wall_ns)
{
	char ts[32], bal[16], tgt[16], detail[128], line[160];
	bool lv = e->type != VB_OOM_KILL || e->flags & VB_F_LEVELS;
	bool moves = e->type != VB_REPORT && e->type != VB_HINT;
	int n;

	fmt_hms(ts, sizeof(ts), wall_ns);
	fmt_level(bal, sizeof(bal), lv, e->balloon_pages);
	fmt_level(tgt, sizeof(tgt), lv, e->target_pages);
	text_detail(detail, sizeof(detail), e);
	/* A kill moves no balloon pages: PAGES is the victim's RSS. */
	n = snprintf(line, sizeof(line), "%-12s %-8s %8llu %8s %8s  ", ts,
		     vb_type_name(e->type), e->type == VB_OOM_KILL ?
		     e->rss_pages : e->pages, moves ? bal : "-",
		     moves ? tgt : "-");
	/* Cut the detail, not the numbers, to stay within the columns. */
	fprintf(o->f, "%s%.*s", line, n < VB_TEXT_COLS ? VB_TEXT_COLS - n : 0,
		detail);
	end_line(o, "\n");
}

void out_event(struct vb_out *o, const struct vb_event *e,
	       unsigned long long wall_ns)
{
	if (o->json)
		event_json(o, e, wall_ns);
	else
		event_text(o, e, wall_ns);
}

static void json_kills(FILE *f, const struct vb_totals *t)
{
	unsigned long long misses = 0;
	unsigned int c;

	fputs(",\"oom_kills\":{", f);
	for (c = 0; c < VB_NR_CONSTRAINTS; c++) {
		fprintf(f, "%s\"%s\":%llu", c ? "," : "", vb_constraint_name(c),
			t->kills[c][0] + t->kills[c][1]);
		misses += t->kills[c][1];
	}
	fprintf(f, "},\"rescue_misses\":%llu", misses);
}

/* "counts":{...},"pages":{...},"lost":N,"oom_kills":{...},... */
static void json_totals(FILE *f, const struct vb_totals *t)
{
	unsigned int i;

	fputs(",\"counts\":{", f);
	for (i = 0; i < VB_NR_TYPES; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", vb_type_name(i),
			t->count[i]);
	fputs("},\"pages\":{", f);
	for (i = 0; i < VB_NR_TYPES; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", vb_type_name(i),
			t->pages[i]);
	fprintf(f, "},\"lost\":%llu", t->lost);
	json_kills(f, t);
}

static void text_level(char *buf, size_t len, const struct vb_levels *l,
		       unsigned int v)
{
	if (l->known)
		snprintf(buf, len, "%u (%.1f MiB)", v, mib(v));
	else
		snprintf(buf, len, "?");
}

static void interval_text(struct vb_out *o, const struct vb_period *p)
{
	const struct vb_totals *t = p->totals;
	char ts[32], bal[40], tgt[40];
	unsigned int i;

	fmt_hms(ts, sizeof(ts), p->wall_ns);
	text_level(bal, sizeof(bal), p->levels, p->levels->balloon_pages);
	text_level(tgt, sizeof(tgt), p->levels, p->levels->target_pages);
	fprintf(o->f, "%-12s %-8s balloon %s target %s lost %llu", ts,
		"interval", bal, tgt, t->lost);
	end_line(o, "\n");
	for (i = 0; i < VB_NR_TYPES; i++) {
		if (!t->count[i])
			continue;
		fprintf(o->f, "%-12s %-8s %8llu events %10llu pages", "",
			vb_type_name(i), t->count[i], t->pages[i]);
		end_line(o, "\n");
	}
}

void out_interval(struct vb_out *o, const struct vb_period *p)
{
	if (!o->json) {
		interval_text(o, p);
		return;
	}
	json_head(o, "interval", p->wall_ns);
	fprintf(o->f, ",\"interval_s\":%.3f", p->seconds);
	json_totals(o->f, p->totals);
	json_levels(o->f, p->levels);
	end_line(o, "}\n");
}

static void summary_json(struct vb_out *o, const struct vb_period *p,
			 const struct vb_expect *x, int nx)
{
	const struct vb_cost *c = p->cost;
	bool ok = true, pass;
	char expr[64];
	int i;

	json_head(o, "summary", p->wall_ns);
	json_totals(o->f, p->totals);
	fprintf(o->f, ",\"duration_s\":%.3f,\"expect\":[", p->seconds);
	for (i = 0; i < nx; i++) {
		pass = expect_eval(&x[i], p->totals);
		ok &= pass;
		expect_format(&x[i], expr, sizeof(expr));
		fprintf(o->f, "%s{\"expr\":\"%s\",\"actual\":%llu,\"ok\":%s}",
			i ? "," : "", expr, expect_actual(&x[i], p->totals),
			pass ? "true" : "false");
	}
	fprintf(o->f, "],\"ok\":%s", ok ? "true" : "false");
	if (c) {
		fprintf(o->f, ",\"cost\":{\"bpf_stats\":%s",
			c->bpf_stats ? "true" : "false");
		json_kuint(o->f, "bpf_runs", c->bpf_stats, c->bpf_runs);
		json_kuint(o->f, "bpf_ns", c->bpf_stats, c->bpf_ns);
		fprintf(o->f, ",\"cpu_s\":%.3f}", c->cpu_s);
	}
	end_line(o, "}\n");
}

static void summary_text(struct vb_out *o, const struct vb_period *p,
			 const struct vb_expect *x, int nx)
{
	const struct vb_totals *t = p->totals;
	const struct vb_cost *c = p->cost;
	unsigned long long misses = 0;
	char expr[64];
	unsigned int i;
	int j;

	fprintf(o->f, "--- vbtrace summary: %.3f s ---\n", p->seconds);
	for (i = 0; i < VB_NR_TYPES; i++)
		fprintf(o->f, "%-8s %10llu events %12llu pages %10.1f MiB\n",
			vb_type_name(i), t->count[i], t->pages[i],
			mib(t->pages[i]));
	fprintf(o->f, "lost     %10llu events\n", t->lost);
	fputs("kills   ", o->f);
	for (i = 0; i < VB_NR_CONSTRAINTS; i++) {
		fprintf(o->f, " %s %llu", vb_constraint_name(i),
			t->kills[i][0] + t->kills[i][1]);
		misses += t->kills[i][1];
	}
	fprintf(o->f, ", rescue misses %llu\n", misses);
	if (c && c->bpf_stats)
		fprintf(o->f, "cost     %llu BPF runs, %.3f ms in BPF, %.3f s CPU\n",
			c->bpf_runs, c->bpf_ns / 1e6, c->cpu_s);
	else if (c)
		fprintf(o->f, "cost     BPF time not measured (--stats), %.3f s CPU\n",
			c->cpu_s);
	for (j = 0; j < nx; j++) {
		expect_format(&x[j], expr, sizeof(expr));
		fprintf(o->f, "expect   %s: %s (actual %llu)\n", expr,
			expect_eval(&x[j], t) ? "ok" : "FAILED",
			expect_actual(&x[j], t));
	}
	end_line(o, "");
}

void out_summary(struct vb_out *o, const struct vb_period *p,
		 const struct vb_expect *x, int nx)
{
	if (o->json)
		summary_json(o, p, x, nx);
	else
		summary_text(o, p, x, nx);
}

void out_hists(struct vb_out *o, const struct vb_totals *t,
	       unsigned long long wall_ns)
{
	unsigned int h;

	for (h = 0; h < VB_NR_HISTS; h++) {
		if (o->json) {
			json_head(o, "hist", wall_ns);
			hist_json(o->f, h, t->hist[h]);
			end_line(o, "}\n");
		} else {
			hist_text(o->f, h, t->hist[h]);
			end_line(o, "");
		}
	}
}

void out_error(struct vb_out *o, const char *msg, unsigned long long wall_ns)
{
	json_head(o, "error", wall_ns);
	json_kstr(o->f, "message", msg);
	end_line(o, "}\n");
}
