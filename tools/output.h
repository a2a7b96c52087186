/* SPDX-License-Identifier: GPL-2.0 */
/* vbtrace output: text lines and NDJSON records. Pure, no libbpf. */
#ifndef VB_OUTPUT_H
#define VB_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>
#include "vbtrace.h"
#include "expect.h"

#define VB_VERSION "0.1.0"

struct vb_out {
	FILE *f;
	bool json;
	long page_size;
};

struct vb_start {
	unsigned long long wall_ns;
	int pid;
	unsigned int mask;
	const char *mode;		/* "tp_btf" or "raw_tp" */
	unsigned int balloon_pages;
	unsigned int target_pages;
};

/* What tracing cost: in-kernel BPF run time (if stats could be enabled) and
 * vbtrace's own CPU time. */
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
	unsigned int balloon_pages;	/* interval records only */
	unsigned int target_pages;
};

void fmt_hms(char *buf, size_t len, unsigned long long wall_ns);
void fmt_rfc3339(char *buf, size_t len, unsigned long long wall_ns);
void totals_sub(const struct vb_totals *a, const struct vb_totals *b,
		struct vb_totals *out);

void out_start(const struct vb_out *o, const struct vb_start *s);
void out_event(const struct vb_out *o, const struct vb_event *e,
	       unsigned long long wall_ns);
void out_interval(const struct vb_out *o, const struct vb_period *p);
void out_summary(const struct vb_out *o, const struct vb_period *p,
		 const struct vb_expect *x, int nx);
void out_error_json(FILE *f, const char *msg);

#endif
