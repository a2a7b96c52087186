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
	VB_NR_TYPES,
};

#define VB_COMM_LEN 16

struct vb_event {
	unsigned long long ts_ns;	/* bpf_ktime_get_boot_ns() */
	unsigned long long ns;		/* oom_leak: time the notifier took */
	unsigned int type;		/* enum vb_type */
	unsigned int pages;		/* moved pages; oom_leak: freed */
	unsigned int balloon_pages;	/* level afterwards / at the kill */
	unsigned int target_pages;
	unsigned int asked;		/* oom_leak only */
	unsigned int step;		/* oom_leak only */
	int pid;			/* oom_kill victim */
	char comm[VB_COMM_LEN];		/* oom_kill victim, may be empty */
	unsigned int pad;
};

/* One per-CPU slot; user space sums the CPUs. Never lossy. */
struct vb_totals {
	unsigned long long count[VB_NR_TYPES];
	unsigned long long pages[VB_NR_TYPES];
	unsigned long long lost;	/* failed ring buffer reservations */
};

#endif /* VBTRACE_H */
