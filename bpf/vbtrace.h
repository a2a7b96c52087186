/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The record that crosses the vbtrace ring buffer, and the totals map
 * value. Shared by bpf/vbtrace.bpf.c and tools/; keep it free of kernel
 * and libc headers so both sides (and the host unit tests) include it.
 */
#ifndef VBTRACE_H
#define VBTRACE_H

enum vb_type {
	VB_INFLATE,
	VB_DEFLATE,
	VB_OOM_LEAK,
	VB_OOM_KILL,
	VB_REPORT,
	VB_HINT,
	VB_NR_TYPES,
};

/* The kernel's enum oom_constraint, in its order. */
enum vb_constraint {
	VB_CONSTRAINT_NONE,
	VB_CONSTRAINT_CPUSET,
	VB_CONSTRAINT_MEMPOLICY,
	VB_CONSTRAINT_MEMCG,
	VB_NR_CONSTRAINTS,
};

/* Log2 histograms of durations in ns: slot k counts [2^k, 2^(k+1)). */
enum vb_hist {
	VB_HIST_INFLATE,
	VB_HIST_DEFLATE,
	VB_HIST_OOM_LEAK,
	VB_HIST_REPORT,
	VB_HIST_HINT,
	VB_NR_HISTS,
};
#define VB_HIST_SLOTS 40		/* up to 2^40 ns, about 18 min */

/* vb_event.flags */
#define VB_F_LEVELS	(1u << 0)	/* balloon/target levels are known */
#define VB_F_DOOM_KNOWN	(1u << 1)	/* deflate-on-OOM state is known */
#define VB_F_DOOM	(1u << 2)	/* deflate-on-OOM was on */
#define VB_F_MISS	(1u << 3)	/* oom_kill: a rescue miss */

#define VB_COMM_LEN 16

struct vb_event {
	unsigned long long ts_ns;	/* bpf_ktime_get_boot_ns() */
	unsigned long long ns;		/* duration (host round trips, release) */
	unsigned long long rss_pages;	/* oom_kill: victim file+anon+shmem */
	unsigned long long anon_pages;	/* oom_kill: victim anon */
	unsigned long long total_pages;	/* oom_kill: memory the OOM judged */
	unsigned int type;		/* enum vb_type */
	unsigned int pages;		/* moved pages; oom_leak: freed */
	unsigned int balloon_pages;	/* level afterwards / at the kill */
	unsigned int target_pages;
	unsigned int asked;		/* oom_leak */
	unsigned int step;		/* oom_leak */
	unsigned int entries;		/* report: scatterlist entries */
	unsigned int blocks;		/* hint */
	unsigned int cmd_id;		/* hint */
	int err;			/* report: 0 or -errno */
	int pid;			/* oom_kill victim (tgid) */
	unsigned int uid;		/* oom_kill victim */
	int oom_score_adj;		/* oom_kill victim */
	unsigned int constraint;	/* oom_kill: enum vb_constraint */
	unsigned int flags;		/* VB_F_* */
	char comm[VB_COMM_LEN];		/* oom_kill victim */
	unsigned int pad;
};

/* One per-CPU slot; user space sums the CPUs. Never lossy. */
struct vb_totals {
	unsigned long long count[VB_NR_TYPES];
	unsigned long long pages[VB_NR_TYPES];
	unsigned long long lost;	/* failed ring buffer reservations */
	/* oom_kill counts by constraint and rescue miss (0 no, 1 yes) */
	unsigned long long kills[VB_NR_CONSTRAINTS][2];
	unsigned long long hist[VB_NR_HISTS][VB_HIST_SLOTS];
	unsigned long long hist_ns[VB_NR_HISTS];	/* sum of durations */
};

#endif /* VBTRACE_H */
