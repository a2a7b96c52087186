/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vballoon tracepoints: the ABI between the driver and bpf/.
 * Arguments are scalars only (no pointers, no physical addresses), so BPF
 * reads them as typed tp_btf arguments or as a raw_tp u64 array, in the
 * order given here. Change them deliberately, never in passing.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vballoon

#if !defined(_VBALLOON_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _VBALLOON_TRACE_H

#include <linux/tracepoint.h>

DECLARE_EVENT_CLASS(vballoon_move,
	TP_PROTO(unsigned int pages, unsigned int balloon_pages,
		 unsigned int target_pages, u64 ns),
	TP_ARGS(pages, balloon_pages, target_pages, ns),
	TP_STRUCT__entry(
		__field(unsigned int, pages)
		__field(unsigned int, balloon_pages)
		__field(unsigned int, target_pages)
		__field(u64, ns)
	),
	TP_fast_assign(
		__entry->pages = pages;
		__entry->balloon_pages = balloon_pages;
		__entry->target_pages = target_pages;
		__entry->ns = ns;
	),
	TP_printk("pages=%u balloon_pages=%u target_pages=%u ns=%llu",
		  __entry->pages, __entry->balloon_pages, __entry->target_pages,
		  __entry->ns)
);

/*
 * Pages handed to the host in one inflate request; levels are afterwards,
 * ns is the host round trip.
 */
DEFINE_EVENT(vballoon_move, vballoon_inflate,
	TP_PROTO(unsigned int pages, unsigned int balloon_pages,
		 unsigned int target_pages, u64 ns),
	TP_ARGS(pages, balloon_pages, target_pages, ns));

/* Pages taken back from the host towards the target (not OOM leaks). */
DEFINE_EVENT(vballoon_move, vballoon_deflate,
	TP_PROTO(unsigned int pages, unsigned int balloon_pages,
		 unsigned int target_pages, u64 ns),
	TP_ARGS(pages, balloon_pages, target_pages, ns));

/* One OOM notifier call: asked/freed pages, level after, time, escalation. */
TRACE_EVENT(vballoon_oom_leak,
	TP_PROTO(unsigned int asked, unsigned int freed,
		 unsigned int balloon_pages, unsigned int target_pages,
		 u64 ns, unsigned int step),
	TP_ARGS(asked, freed, balloon_pages, target_pages, ns, step),
	TP_STRUCT__entry(
		__field(unsigned int, asked)
		__field(unsigned int, freed)
		__field(unsigned int, balloon_pages)
		__field(unsigned int, target_pages)
		__field(u64, ns)
		__field(unsigned int, step)
	),
	TP_fast_assign(
		__entry->asked = asked;
		__entry->freed = freed;
		__entry->balloon_pages = balloon_pages;
		__entry->target_pages = target_pages;
		__entry->ns = ns;
		__entry->step = step;
	),
	TP_printk("asked=%u freed=%u balloon_pages=%u target_pages=%u ns=%llu step=%u",
		  __entry->asked, __entry->freed, __entry->balloon_pages,
		  __entry->target_pages, __entry->ns, __entry->step)
);

/*
 * One free page reporting batch handed to the host (VIRTIO_BALLOON_F_REPORTING):
 * pages (4 KiB units) in entries scatterlist entries, time from queueing to
 * the host's answer, and 0 or the negative errno the batch failed with.
 */
TRACE_EVENT(vballoon_report,
	TP_PROTO(unsigned int pages, unsigned int entries, u64 ns, int err),
	TP_ARGS(pages, entries, ns, err),
	TP_STRUCT__entry(
		__field(unsigned int, pages)
		__field(unsigned int, entries)
		__field(u64, ns)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->pages = pages;
		__entry->entries = entries;
		__entry->ns = ns;
		__entry->err = err;
	),
	TP_printk("pages=%u entries=%u ns=%llu err=%d",
		  __entry->pages, __entry->entries, __entry->ns, __entry->err)
);

/*
 * One free page hinting run (VIRTIO_BALLOON_F_FREE_PAGE_HINT) for the
 * host's command id, ended by the host's STOP or by the guest running out
 * of free blocks: pages (4 KiB units) hinted in blocks, and its duration.
 */
TRACE_EVENT(vballoon_hint,
	TP_PROTO(unsigned int pages, unsigned int blocks, unsigned int cmd_id,
		 u64 ns),
	TP_ARGS(pages, blocks, cmd_id, ns),
	TP_STRUCT__entry(
		__field(unsigned int, pages)
		__field(unsigned int, blocks)
		__field(unsigned int, cmd_id)
		__field(u64, ns)
	),
	TP_fast_assign(
		__entry->pages = pages;
		__entry->blocks = blocks;
		__entry->cmd_id = cmd_id;
		__entry->ns = ns;
	),
	TP_printk("pages=%u blocks=%u cmd_id=%u ns=%llu",
		  __entry->pages, __entry->blocks, __entry->cmd_id,
		  __entry->ns)
);

#endif /* _VBALLOON_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE vballoon_trace
#include <trace/define_trace.h>
