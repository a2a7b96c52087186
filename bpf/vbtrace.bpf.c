// SPDX-License-Identifier: GPL-2.0
/*
 * vbtrace: count vballoon inflate/deflate/OOM-leak/report/hint events and
 * OOM kills, keep the last balloon level, and stream each event to user
 * space. Every program attaches without tracefs: tp_btf or raw_tp for the
 * driver's tracepoints, fentry or a perf-link kprobe for OOM kills.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "vbtrace.h"

char LICENSE[] SEC("license") = "GPL";

/* Bit (1 << enum vb_type) set: stream that type; counting is unconditional. */
const volatile unsigned int emit_mask = ~0u;

/*
 * Last level seen, seeded by user space from sysfs before attach. The
 * VB_F_LEVELS/VB_F_DOOM* bits of level_flags say what is known.
 */
unsigned int last_balloon_pages;
unsigned int last_target_pages;
unsigned int level_flags;

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

static __always_inline struct vb_totals *my_totals(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&totals, &zero);
}

/*
 * Per-CPU slot, but programs run with migration (not preemption)
 * disabled: two tasks on one CPU may interleave, so add atomically.
 */
static __always_inline void account(unsigned int type, unsigned int pages)
{
	struct vb_totals *t = my_totals();

	if (!t || type >= VB_NR_TYPES)
		return;
	__sync_fetch_and_add(&t->count[type], 1);
	__sync_fetch_and_add(&t->pages[type], pages);
}

static __always_inline unsigned int log2_slot(__u64 v)
{
	unsigned int slot = 0;
	int i;

	for (i = 0; i < VB_HIST_SLOTS - 1 && v > 1; i++) {
		v >>= 1;
		slot++;
	}
	return slot;
}

static __always_inline void account_ns(unsigned int hist, __u64 ns)
{
	struct vb_totals *t = my_totals();
	unsigned int slot = log2_slot(ns);

	if (!t || hist >= VB_NR_HISTS || slot >= VB_HIST_SLOTS)
		return;
	__sync_fetch_and_add(&t->hist[hist][slot], 1);
	__sync_fetch_and_add(&t->hist_ns[hist], ns);
}

/* The levels a record carries, read once so that its fields agree. */
struct levels {
	unsigned int balloon;
	unsigned int target;
	unsigned int flags;
};

static __always_inline struct levels shared_levels(void)
{
	return (struct levels){
		.balloon = *(volatile unsigned int *)&last_balloon_pages,
		.target = *(volatile unsigned int *)&last_target_pages,
		.flags = *(volatile unsigned int *)&level_flags,
	};
}

static __always_inline struct vb_event *reserve(unsigned int type,
						const struct levels *lv)
{
	struct vb_totals *t;
	struct vb_event *e;

	if (!(emit_mask & (1u << type)))
		return NULL;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		__builtin_memset(e, 0, sizeof(*e));
		e->type = type;
		e->ts_ns = bpf_ktime_get_boot_ns();
		e->balloon_pages = lv->balloon;
		e->target_pages = lv->target;
		e->flags = lv->flags;
		return e;
	}
	t = my_totals();
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

static __always_inline void set_levels(unsigned int balloon,
				       unsigned int target)
{
	last_balloon_pages = balloon;
	last_target_pages = target;
	level_flags |= VB_F_LEVELS;
}

/*
 * Inflate, deflate and OOM leak: keep the level, count, stream. The record
 * carries its own event's levels, whatever another CPU stored meanwhile.
 */
static __always_inline void on_event(unsigned int type, unsigned int pages,
				     unsigned int balloon, unsigned int target,
				     unsigned int asked, __u64 ns,
				     unsigned int step)
{
	struct levels lv;
	struct vb_event *e;

	set_levels(balloon, target);
	lv = shared_levels();
	lv.balloon = balloon;
	lv.target = target;
	account(type, pages);
	account_ns(type == VB_INFLATE ? VB_HIST_INFLATE :
		   type == VB_DEFLATE ? VB_HIST_DEFLATE : VB_HIST_OOM_LEAK, ns);
	e = reserve(type, &lv);
	if (!e)
		return;
	e->pages = pages;
	e->asked = asked;
	e->ns = ns;
	e->step = step;
	submit(e);
}

static __always_inline void on_move(unsigned int type, unsigned int pages,
				    unsigned int balloon, unsigned int target,
				    __u64 ns)
{
	on_event(type, pages, balloon, target, 0, ns, 0);
}

static __always_inline void on_leak(unsigned int asked, unsigned int freed,
				    unsigned int balloon, unsigned int target,
				    __u64 ns, unsigned int step)
{
	on_event(VB_OOM_LEAK, freed, balloon, target, asked, ns, step);
}

static __always_inline void on_report(unsigned int pages,
				      unsigned int entries, __u64 ns, int err)
{
	struct levels lv = shared_levels();
	struct vb_event *e;

	/* Pages count only when the host took them, as the driver counts. */
	account(VB_REPORT, err ? 0 : pages);
	account_ns(VB_HIST_REPORT, ns);
	e = reserve(VB_REPORT, &lv);
	if (!e)
		return;
	e->pages = pages;
	e->entries = entries;
	e->ns = ns;
	e->err = err;
	submit(e);
}

static __always_inline void on_hint(unsigned int pages, unsigned int blocks,
				    unsigned int cmd_id, __u64 ns)
{
	struct levels lv = shared_levels();
	struct vb_event *e;

	account(VB_HINT, pages);
	account_ns(VB_HIST_HINT, ns);
	e = reserve(VB_HINT, &lv);
	if (!e)
		return;
	e->pages = pages;
	e->blocks = blocks;
	e->cmd_id = cmd_id;
	e->ns = ns;
	submit(e);
}

/*
 * Each vballoon event has two programs: tp_btf (typed arguments, needs the
 * module's BTF) and raw_tp (the same arguments as a u64 array). User space
 * autoloads one of the two sets.
 */
#define VB_PROGS(event, args, call)					\
SEC("tp_btf/vballoon_" #event)						\
int BPF_PROG(btf_##event, args)						\
{									\
	call;								\
	return 0;							\
}									\
SEC("raw_tp/vballoon_" #event)						\
int BPF_PROG(raw_##event, args)						\
{									\
	call;								\
	return 0;							\
}

#define VB_COMMA ,
#define MOVE_ARGS unsigned int pages VB_COMMA unsigned int balloon VB_COMMA \
	unsigned int target VB_COMMA __u64 ns

VB_PROGS(inflate, MOVE_ARGS, on_move(VB_INFLATE, pages, balloon, target, ns))
VB_PROGS(deflate, MOVE_ARGS, on_move(VB_DEFLATE, pages, balloon, target, ns))
VB_PROGS(oom_leak, unsigned int asked VB_COMMA unsigned int freed VB_COMMA
	 unsigned int balloon VB_COMMA unsigned int target VB_COMMA __u64 ns
	 VB_COMMA unsigned int step,
	 on_leak(asked, freed, balloon, target, ns, step))
VB_PROGS(report, unsigned int pages VB_COMMA unsigned int entries VB_COMMA
	 __u64 ns VB_COMMA int err, on_report(pages, entries, ns, err))
VB_PROGS(hint, unsigned int pages VB_COMMA unsigned int blocks VB_COMMA
	 unsigned int cmd_id VB_COMMA __u64 ns,
	 on_hint(pages, blocks, cmd_id, ns))

/*
 * mm RSS counters: an atomic_long_t array up to 6.1, an array of
 * percpu_counter since 6.2 (its count is the batched, approximate sum).
 */
struct mm_rss_stat___old {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___old {
	struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

struct percpu_counter___new {
	s64 count;
} __attribute__((preserve_access_index));

struct mm_struct___new {
	struct percpu_counter___new rss_stat[4];
} __attribute__((preserve_access_index));

/* MM_FILEPAGES 0, MM_ANONPAGES 1, MM_SHMEMPAGES 3 on every kernel here. */
#define MM_COUNTER(mm, i)						\
	(bpf_core_type_exists(struct mm_rss_stat___old) ?		\
	 BPF_CORE_READ((struct mm_struct___old *)(mm),			\
		       rss_stat.count[i].counter) :			\
	 BPF_CORE_READ((struct mm_struct___new *)(mm), rss_stat[i].count))

static __always_inline __u64 clamp0(long v)
{
	return v > 0 ? v : 0;
}

static __always_inline void victim(struct task_struct *task,
				   struct vb_event *e)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);

	e->pid = BPF_CORE_READ(task, tgid);
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	e->oom_score_adj = BPF_CORE_READ(task, signal, oom_score_adj);
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), task->comm);
	if (!mm)
		return;
	e->anon_pages = clamp0(MM_COUNTER(mm, 1));
	e->rss_pages = clamp0(MM_COUNTER(mm, 0)) + e->anon_pages +
		       clamp0(MM_COUNTER(mm, 3));
}

/* A global OOM kill while the balloon held pages it could have given. */
static __always_inline bool rescue_miss(unsigned int constraint,
					unsigned int flags,
					unsigned int balloon)
{
	unsigned int need = VB_F_LEVELS | VB_F_DOOM_KNOWN | VB_F_DOOM;

	return constraint == VB_CONSTRAINT_NONE && (flags & need) == need &&
	       balloon > 0;
}

static __always_inline void on_oom_kill(struct oom_control *oc)
{
	unsigned int constraint = BPF_CORE_READ(oc, constraint);
	struct levels lv = shared_levels();
	struct vb_totals *t = my_totals();
	bool miss = rescue_miss(constraint, lv.flags, lv.balloon);
	struct vb_event *e;

	account(VB_OOM_KILL, 0);
	if (t && constraint < VB_NR_CONSTRAINTS)
		__sync_fetch_and_add(&t->kills[constraint][miss], 1);
	e = reserve(VB_OOM_KILL, &lv);
	if (!e)
		return;
	e->constraint = constraint;
	e->total_pages = BPF_CORE_READ(oc, totalpages);
	if (miss)
		e->flags |= VB_F_MISS;
	victim(BPF_CORE_READ(oc, chosen), e);
	submit(e);
}

/* Where the OOM killer acts on its choice, for global and memcg OOMs. */
SEC("fentry/oom_kill_process")
int BPF_PROG(fentry_oom_kill, struct oom_control *oc, const char *message)
{
	on_oom_kill(oc);
	return 0;
}

SEC("kprobe/oom_kill_process")
int BPF_KPROBE(kprobe_oom_kill, struct oom_control *oc)
{
	on_oom_kill(oc);
	return 0;
}
