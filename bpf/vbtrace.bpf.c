// SPDX-License-Identifier: GPL-2.0
/*
 * vbtrace: count vballoon inflate/deflate/OOM-leak events and OOM kills,
 * keep the last balloon level, and stream each event to user space.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "vbtrace.h"

char LICENSE[] SEC("license") = "GPL";

/* Bit (1 << enum vb_type) set: stream that type; counting is unconditional. */
const volatile unsigned int emit_mask = ~0u;

/* Last level seen; seeded by user space from debugfs before attach. */
unsigned int last_balloon_pages;
unsigned int last_target_pages;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vb_totals);
} totals SEC(".maps");

/*
 * Own view of the mark_victim record, so the object builds against any
 * vmlinux.h: CO-RE matches it by name and reports whether comm exists.
 */
struct trace_event_raw_mark_victim___vb {
	int pid;
	__u32 __data_loc_comm;
} __attribute__((preserve_access_index));

static __always_inline void account(unsigned int type, unsigned int pages)
{
	struct vb_totals *t;
	__u32 zero = 0;

	if (type >= VB_NR_TYPES)
		return;
	t = bpf_map_lookup_elem(&totals, &zero);
	if (!t)
		return;
	/*
	 * Per-CPU slot, but programs run with migration (not preemption)
	 * disabled: two tasks on one CPU may interleave, so add atomically.
	 */
	__sync_fetch_and_add(&t->count[type], 1);
	__sync_fetch_and_add(&t->pages[type], pages);
}

static __always_inline struct vb_event *reserve(unsigned int type)
{
	struct vb_totals *t;
	struct vb_event *e;
	__u32 zero = 0;

	if (!(emit_mask & (1u << type)))
		return NULL;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		__builtin_memset(e, 0, sizeof(*e));
		e->type = type;
		e->ts_ns = bpf_ktime_get_boot_ns();
		return e;
	}
	t = bpf_map_lookup_elem(&totals, &zero);
	if (t)
		__sync_fetch_and_add(&t->lost, 1);
	return NULL;
}

/*
 * Wake user space only when the ring is filling up: it polls every 100 ms
 * anyway, and a wakeup per record costs the traced task a context switch.
 */
#define VB_WAKE_BYTES (64 * 1024)

static __always_inline void submit(struct vb_event *e)
{
	long flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= VB_WAKE_BYTES)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

/* Every vballoon event: keep the level, count it, stream it if wanted. */
static __always_inline void on_event(unsigned int type, unsigned int pages,
				     unsigned int balloon, unsigned int target,
				     unsigned int asked, __u64 ns,
				     unsigned int step)
{
	struct vb_event *e;

	last_balloon_pages = balloon;
	last_target_pages = target;
	account(type, pages);
	e = reserve(type);
	if (!e)
		return;
	e->pages = pages;
	e->balloon_pages = balloon;
	e->target_pages = target;
	e->asked = asked;
	e->ns = ns;
	e->step = step;
	submit(e);
}

static __always_inline void on_move(unsigned int type, unsigned int pages,
				    unsigned int balloon, unsigned int target)
{
	on_event(type, pages, balloon, target, 0, 0, 0);
}

static __always_inline void on_leak(unsigned int asked, unsigned int freed,
				    unsigned int balloon, unsigned int target,
				    __u64 ns, unsigned int step)
{
	on_event(VB_OOM_LEAK, freed, balloon, target, asked, ns, step);
}

/*
 * Each vballoon event has two programs: tp_btf (typed arguments, needs the
 * module's BTF) and raw_tp (the same arguments as a u64 array). User space
 * autoloads one of the two sets.
 */
#define VB_MOVE_PROGS(event, type)					\
SEC("tp_btf/vballoon_" #event)						\
int BPF_PROG(btf_##event, unsigned int pages, unsigned int balloon,	\
	     unsigned int target)					\
{									\
	on_move(type, pages, balloon, target);				\
	return 0;							\
}									\
SEC("raw_tp/vballoon_" #event)						\
int BPF_PROG(raw_##event, unsigned int pages, unsigned int balloon,	\
	     unsigned int target)					\
{									\
	on_move(type, pages, balloon, target);				\
	return 0;							\
}

VB_MOVE_PROGS(inflate, VB_INFLATE)
VB_MOVE_PROGS(deflate, VB_DEFLATE)

#define VB_LEAK_PROG(kind, name)					\
SEC(#kind "/vballoon_oom_leak")						\
int BPF_PROG(name, unsigned int asked, unsigned int freed,		\
	     unsigned int balloon, unsigned int target, __u64 ns,	\
	     unsigned int step)						\
{									\
	on_leak(asked, freed, balloon, target, ns, step);		\
	return 0;							\
}

VB_LEAK_PROG(tp_btf, btf_oom_leak)
VB_LEAK_PROG(raw_tp, raw_oom_leak)

static __always_inline void victim_comm(struct trace_event_raw_mark_victim___vb *ctx,
					struct vb_event *e)
{
	__u32 loc;

	if (bpf_core_field_exists(ctx->__data_loc_comm)) {
		/* __data_loc: low 16 bits offset from the record, high length. */
		loc = BPF_CORE_READ(ctx, __data_loc_comm);
		bpf_probe_read_kernel_str(e->comm, sizeof(e->comm),
					  (void *)ctx + (loc & 0xffff));
	}
}

SEC("tp/oom/mark_victim")
int oom_kill(struct trace_event_raw_mark_victim___vb *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct vb_event *e;
	int pid;

	account(VB_OOM_KILL, 0);
	e = reserve(VB_OOM_KILL);
	if (!e)
		return 0;
	pid = BPF_CORE_READ(ctx, pid);
	e->pid = pid;
	e->balloon_pages = last_balloon_pages;
	e->target_pages = last_target_pages;
	if (pid == (int)(id >> 32) || pid == (int)(__u32)id)
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	else
		victim_comm(ctx, e);
	submit(e);
	return 0;
}
