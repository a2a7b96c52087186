/* SPDX-License-Identifier: GPL-2.0 */
/* vbtrace output: text lines and NDJSON records. Pure, no libbpf. */
#ifndef VB_OUTPUT_H
#define VB_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>
#include "vbtrace.h"
#include "expect.h"
#include "levels.h"

#define VB_VERSION "0.2.0"
#define VB_TEXT_COLS 80

struct vb_out {
	FILE *f;
	bool json;
	long page_size;
	int err;		/* first write error (errno), sticky */
};

struct vb_start {
	unsigned long long wall_ns;
	int pid;
	unsigned int mask;
	const char *mode;		/* "tp_btf" or "raw_tp" */
	const char *mode_reason;	/* why not tp_btf, or NULL */
	const char *oom_hook;		/* "fentry", "kprobe" or NULL */
	const char *oom_reason;		/* why no (or a lesser) hook, or NULL */
	const struct vb_levels *levels;
};

/* What tracing cost: in-kernel BPF run time (--stats) and own CPU time. */
struct vb_cost {
	bool bpf_stats;
	unsigned long long bpf_runs;
	unsigned long long bpf_ns;
	double cpu_s;
};

struct vb_period {
	unsigned long long wall_ns;
	double seconds;
	const struct vb_totals *totals;
	const struct vb_cost *cost;	/* summary records only */
	const struct vb_levels *levels;	/* interval records only */
};

void fmt_hms(char *buf, size_t len, unsigned long long wall_ns);
void fmt_rfc3339(char *buf, size_t len, unsigned long long wall_ns);
void totals_sub(const struct vb_totals *a, const struct vb_totals *b,
		struct vb_totals *out);
void totals_add(struct vb_totals *sum, const struct vb_totals *v);

void out_start(struct vb_out *o, const struct vb_start *s);
void out_event(struct vb_out *o, const struct vb_event *e,
	       unsigned long long wall_ns);
void out_interval(struct vb_out *o, const struct vb_period *p);
void out_summary(struct vb_out *o, const struct vb_period *p,
		 const struct vb_expect *x, int nx);
void out_hists(struct vb_out *o, const struct vb_totals *t,
	       unsigned long long wall_ns);
void out_error(struct vb_out *o, const char *msg, unsigned long long wall_ns);

#endif
