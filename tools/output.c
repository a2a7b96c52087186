// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <string.h>
#include <time.h>
#include "json.h"
#include "opts.h"
#include "output.h"

#define NSEC_PER_SEC 1000000000ULL

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

void totals_sub(const struct vb_totals *a, const struct vb_totals *b,
		struct vb_totals *out)
{
	unsigned int i;

	for (i = 0; i < VB_NR_TYPES; i++) {
		out->count[i] = a->count[i] - b->count[i];
		out->pages[i] = a->pages[i] - b->pages[i];
	}
	out->lost = a->lost - b->lost;
}

static double mib(const struct vb_out *o, unsigned long long pages)
{
	return (double)pages * o->page_size / (1024.0 * 1024.0);
}

static void json_time(FILE *f, const char *type, unsigned long long wall_ns)
{
	char ts[40];

	fmt_rfc3339(ts, sizeof(ts), wall_ns);
	fprintf(f, "{\"type\":\"%s\",\"time\":\"%s\"", type, ts);
}

static void json_end(FILE *f)
{
	fputs("}\n", f);
	fflush(f);
}

/* The comm for a text line: non-printable bytes become '?'. */
static void text_comm(char *dst, const char *comm)
{
	size_t i, n = strnlen(comm, VB_COMM_LEN);

	for (i = 0; i < n; i++)
		dst[i] = isprint((unsigned char)comm[i]) ? comm[i] : '?';
	dst[n] = '\0';
}

static void start_text(const struct vb_out *o, const struct vb_start *s)
{
	unsigned int i;
	const char *sep = "";

	fprintf(stderr, "vbtrace %s: tracing ", VB_VERSION);
	for (i = 0; i < VB_NR_TYPES; i++) {
		if (s->mask & (1u << i)) {
			fprintf(stderr, "%s%s", sep, vb_type_name(i));
			sep = ",";
		}
	}
	fprintf(stderr, " (%s), balloon %u pages (%.1f MiB), target %u pages (%.1f MiB). Ctrl-C to end.\n",
		s->mode, s->balloon_pages, mib(o, s->balloon_pages),
		s->target_pages, mib(o, s->target_pages));
	fprintf(o->f, "%-12s %-8s %8s %8s %10s %8s %10s %8s  %s\n", "TIME",
		"EVENT", "PAGES", "MiB", "BALLOON", "MiB", "TARGET", "MiB",
		"DETAIL");
	fflush(o->f);
}

static void start_json(const struct vb_out *o, const struct vb_start *s)
{
	const char *sep = "";
	unsigned int i;

	json_time(o->f, "start", s->wall_ns);
	fprintf(o->f, ",\"version\":\"%s\",\"pid\":%d,\"events\":[",
		VB_VERSION, s->pid);
	for (i = 0; i < VB_NR_TYPES; i++) {
		if (s->mask & (1u << i)) {
			fprintf(o->f, "%s\"%s\"", sep, vb_type_name(i));
			sep = ",";
		}
	}
	fprintf(o->f, "],\"mode\":\"%s\",\"page_size\":%ld,\"balloon_pages\":%u,\"target_pages\":%u",
		s->mode, o->page_size, s->balloon_pages, s->target_pages);
	json_end(o->f);
}

void out_start(const struct vb_out *o, const struct vb_start *s)
{
	if (o->json)
		start_json(o, s);
	else
		start_text(o, s);
}

static void event_json(const struct vb_out *o, const struct vb_event *e,
		       unsigned long long wall_ns)
{
	FILE *f = o->f;

	json_time(f, vb_type_name(e->type), wall_ns);
	if (e->type == VB_OOM_KILL) {
		fprintf(f, ",\"pid\":%d,\"comm\":", e->pid);
		json_put_str(f, e->comm, strnlen(e->comm, VB_COMM_LEN));
	}
	fprintf(f, ",\"pages\":%u,\"balloon_pages\":%u,\"target_pages\":%u",
		e->pages, e->balloon_pages, e->target_pages);
	if (e->type == VB_OOM_LEAK)
		fprintf(f, ",\"asked\":%u,\"ns\":%llu,\"step\":%u", e->asked,
			e->ns, e->step);
	if (e->type == VB_OOM_KILL)
		fprintf(f, ",\"rescue_miss\":%s",
			e->balloon_pages ? "true" : "false");
	json_end(f);
}

static void event_text(const struct vb_out *o, const struct vb_event *e,
		       unsigned long long wall_ns)
{
	char ts[32], comm[VB_COMM_LEN + 1];
	FILE *f = o->f;

	fmt_hms(ts, sizeof(ts), wall_ns);
	fprintf(f, "%-12s %-8s %8u %8.1f %10u %8.1f %10u %8.1f", ts,
		vb_type_name(e->type), e->pages, mib(o, e->pages),
		e->balloon_pages, mib(o, e->balloon_pages), e->target_pages,
		mib(o, e->target_pages));
	if (e->type == VB_OOM_LEAK)
		fprintf(f, "  asked=%u took=%lluus step=%u", e->asked,
			e->ns / 1000, e->step);
	if (e->type == VB_OOM_KILL) {
		text_comm(comm, e->comm);
		fprintf(f, "  pid=%d comm=%s held=%u%s", e->pid,
			*comm ? comm : "?", e->balloon_pages,
			e->balloon_pages ? " RESCUE MISS" : "");
	}
	fputc('\n', f);
	fflush(f);
}

void out_event(const struct vb_out *o, const struct vb_event *e,
	       unsigned long long wall_ns)
{
	if (o->json)
		event_json(o, e, wall_ns);
	else
		event_text(o, e, wall_ns);
}

/* "counts":{...},"pages":{...},"lost":N */
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
}

void out_interval(const struct vb_out *o, const struct vb_period *p)
{
	const struct vb_totals *t = p->totals;
	char ts[32];
	unsigned int i;

	if (o->json) {
		json_time(o->f, "interval", p->wall_ns);
		fprintf(o->f, ",\"interval_s\":%.3f", p->seconds);
		json_totals(o->f, t);
		fprintf(o->f, ",\"balloon_pages\":%u,\"target_pages\":%u",
			p->balloon_pages, p->target_pages);
		json_end(o->f);
		return;
	}
	fmt_hms(ts, sizeof(ts), p->wall_ns);
	fprintf(o->f, "%-12s %-8s", ts, "interval");
	for (i = 0; i < VB_NR_TYPES; i++)
		fprintf(o->f, " %s=%llu/%llu", vb_type_name(i), t->count[i],
			t->pages[i]);
	fprintf(o->f, " lost=%llu balloon=%u (%.1f MiB) target=%u (%.1f MiB)\n",
		t->lost, p->balloon_pages, mib(o, p->balloon_pages),
		p->target_pages, mib(o, p->target_pages));
	fflush(o->f);
}

static void summary_json(const struct vb_out *o, const struct vb_period *p,
			 const struct vb_expect *x, int nx)
{
	bool ok = true, pass;
	char expr[64];
	int i;

	json_time(o->f, "summary", p->wall_ns);
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
	if (p->cost)
		fprintf(o->f, ",\"cost\":{\"bpf_stats\":%s,\"bpf_runs\":%llu,\"bpf_ns\":%llu,\"cpu_s\":%.3f}",
			p->cost->bpf_stats ? "true" : "false", p->cost->bpf_runs,
			p->cost->bpf_ns, p->cost->cpu_s);
	json_end(o->f);
}

static void summary_text(const struct vb_out *o, const struct vb_period *p,
			 const struct vb_expect *x, int nx)
{
	const struct vb_totals *t = p->totals;
	char expr[64];
	unsigned int i;
	int j;

	fprintf(o->f, "--- vbtrace summary: %.3f s ---\n", p->seconds);
	for (i = 0; i < VB_NR_TYPES; i++)
		fprintf(o->f, "%-8s %10llu events %12llu pages %10.1f MiB\n",
			vb_type_name(i), t->count[i], t->pages[i],
			mib(o, t->pages[i]));
	fprintf(o->f, "lost     %10llu events\n", t->lost);
	if (p->cost && p->cost->bpf_stats)
		fprintf(o->f, "cost     %10llu BPF runs, %.3f ms in BPF, %.3f s vbtrace CPU\n",
			p->cost->bpf_runs, p->cost->bpf_ns / 1e6, p->cost->cpu_s);
	else if (p->cost)
		fprintf(o->f, "cost     BPF run time unknown, %.3f s vbtrace CPU\n",
			p->cost->cpu_s);
	for (j = 0; j < nx; j++) {
		expect_format(&x[j], expr, sizeof(expr));
		fprintf(o->f, "expect   %s: %s (actual %llu)\n", expr,
			expect_eval(&x[j], t) ? "ok" : "FAILED",
			expect_actual(&x[j], t));
	}
	fflush(o->f);
}

void out_summary(const struct vb_out *o, const struct vb_period *p,
		 const struct vb_expect *x, int nx)
{
	if (o->json)
		summary_json(o, p, x, nx);
	else
		summary_text(o, p, x, nx);
}

void out_error_json(FILE *f, const char *msg)
{
	fputs("{\"type\":\"error\",\"message\":", f);
	json_put_str(f, msg, strlen(msg));
	json_end(f);
}
