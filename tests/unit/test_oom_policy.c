// SPDX-License-Identifier: GPL-2.0
/* The driver's OOM escalation policy (module/oom_policy.c), on the host. */
#include "check.h"
#include "oom_policy.h"

static const struct vb_oom_params defaults = {
	.base_pages = 256, .escalate_pct = 25, .max_pages = 65536,
	.window_ms = 1000, .pace_ms = 100,
};

/* One OOM call at now_ms that frees what it asked for. */
static u32 call(struct vb_oom_storm *s, const struct vb_oom_params *p,
		u64 now_ms)
{
	u32 n = vb_oom_pages_to_leak(s, p, now_ms);

	vb_oom_record(s, n, now_ms, true);
	return n;
}

static void test_first_call_is_base(void)
{
	struct vb_oom_storm s = { 0 };

	CHECK(call(&s, &defaults, 5000) == 256);
	CHECK(s.step == 0 && s.leaked == 256);
}

static void test_escalation_grows_by_share(void)
{
	struct vb_oom_storm s = { 0 };
	u64 t = 1000, total = 0;
	u32 n, prev = 0;
	int i;

	for (i = 0; i < 40; i++, t += 5) {
		n = call(&s, &defaults, t);
		/* Never shrinks within a storm, never above the cap. */
		CHECK(n >= prev && n <= defaults.max_pages);
		/* Each call adds at most 25 % of what the storm leaked before. */
		if (total * 25 / 100 > 256)
			CHECK(n == total * 25 / 100 || n == defaults.max_pages);
		total += n;
		prev = n;
	}
	CHECK(s.step == 39);
	CHECK(prev == defaults.max_pages);
}

static void test_quiet_period_resets(void)
{
	struct vb_oom_storm s = { 0 };
	int i;

	for (i = 0; i < 20; i++)
		call(&s, &defaults, 100 + i);
	CHECK(s.step == 19);
	/* Exactly at the window edge the storm goes on... */
	CHECK(call(&s, &defaults, 119 + 1000) > 256);
	/* ...one millisecond past it a new storm starts at the base. */
	CHECK(call(&s, &defaults, 119 + 2001) == 256);
	CHECK(s.step == 0 && s.leaked == 256);
}

static void test_escalation_off_is_fixed(void)
{
	struct vb_oom_params p = defaults;
	struct vb_oom_storm s = { 0 };
	int i, fixed = 1;

	p.escalate_pct = 0;
	p.base_pages = 512;
	for (i = 0; i < 100; i++)
		fixed &= call(&s, &p, 10 + i) == 512;
	CHECK(fixed);
}

static void test_cap_below_base_keeps_base(void)
{
	struct vb_oom_params p = defaults;
	struct vb_oom_storm s = { 0 };
	int i;

	p.max_pages = 100;
	for (i = 0; i < 10; i++)
		CHECK(call(&s, &p, 10 + i) == 256);
}

static void test_over_leak_bound(void)
{
	/* Past the first four base calls, leaked/needed is within 1.25. */
	u64 need;

	for (need = 1; need < 400000; need = need * 3 + 17) {
		struct vb_oom_storm s = { 0 };
		u64 t = 0;

		while (s.leaked < need)
			call(&s, &defaults, t++);
		CHECK(need <= 4 * 256 || s.leaked * 100 <= need * 125);
	}
}

static void test_clock_going_backwards_starts_new_storm(void)
{
	struct vb_oom_storm s = { 0 };

	call(&s, &defaults, 5000);
	call(&s, &defaults, 5001);
	CHECK(call(&s, &defaults, 10) == 256 && s.step == 0);
}

/* Storm reclaim of pages at now_ms with deficit pages short. */
static u32 reclaim(struct vb_oom_storm *s, const struct vb_oom_params *p,
		   u64 now_ms, u64 deficit)
{
	u32 n = vb_reclaim_pages_to_leak(s, p, deficit, now_ms);

	vb_oom_record(s, n, now_ms, false);
	return n;
}

static void test_reclaim_needs_storm_and_deficit(void)
{
	struct vb_oom_storm s = { 0 };

	/* No storm: reclaim never opens the balloon, whatever the deficit. */
	CHECK(vb_reclaim_pages_to_leak(&s, &defaults, 5000, 100) == 0);
	call(&s, &defaults, 100);
	/* Every zone at its high watermark: kswapd keeps up, nothing. */
	CHECK(vb_reclaim_pages_to_leak(&s, &defaults, 0, 100) == 0);
	CHECK(s.leaked == 256);
}

static void test_reclaim_sized_from_deficit(void)
{
	struct vb_oom_storm s = { 0 };

	call(&s, &defaults, 100);
	CHECK(vb_reclaim_pages_to_leak(&s, &defaults, 10, 100) == 256);
	CHECK(vb_reclaim_pages_to_leak(&s, &defaults, 3000, 100) == 3000);
	CHECK(vb_reclaim_pages_to_leak(&s, &defaults, 1000000, 100) == 65536);
}

static void test_reclaim_grows_with_storm(void)
{
	struct vb_oom_storm s = { 0 };

	call(&s, &defaults, 100);
	s.leaked = 100000;
	CHECK(vb_reclaim_pages_to_leak(&s, &defaults, 10, 100) == 25000);
	CHECK(vb_reclaim_pages_to_leak(&s, &defaults, 30000, 100) == 30000);
}

static void test_reclaim_escalation_off(void)
{
	struct vb_oom_params p = defaults;
	struct vb_oom_storm s = { 0 };

	p.escalate_pct = 0;
	call(&s, &p, 100);
	s.leaked = 100000;
	CHECK(vb_reclaim_pages_to_leak(&s, &p, 10, 100) == 256);
	CHECK(vb_reclaim_pages_to_leak(&s, &p, 3000, 100) == 3000);
}

static void test_reclaim_over_leak_bound(void)
{
	/* Each release is used up before the next deficit: at most 1.25
	 * times the need, plus the watermark gap (the deficit floor). */
	const u64 gap = 1500;
	u64 need;

	for (need = 1; need < 400000; need = need * 3 + 17) {
		struct vb_oom_storm s = { 0 };
		u64 t = 0;

		call(&s, &defaults, t);
		while (s.leaked < need)
			CHECK(reclaim(&s, &defaults, ++t, gap) > 0);
		CHECK(s.leaked * 100 <= need * 125 + gap * 100);
	}
}

static void test_reclaim_paced(void)
{
	struct vb_oom_storm s = { 0 };

	call(&s, &defaults, 0);
	s.leaked = 100000;
	/* 4000 pages used up in 200 ms: 2000 per 100 ms of pace, not 25000. */
	reclaim(&s, &defaults, 100, 4000);
	CHECK(vb_reclaim_pages_to_leak(&s, &defaults, 10, 300) == 2000);
	/* Never below the deficit, nor oom_pages. */
	CHECK(vb_reclaim_pages_to_leak(&s, &defaults, 3000, 300) == 3000);
	CHECK(vb_reclaim_pages_to_leak(&s, &defaults, 10, 100000) == 256);
	/* Used up fast: the share of the storm bounds it as before. */
	CHECK(vb_reclaim_pages_to_leak(&s, &defaults, 10, 101) == 26000);
}

static void test_reclaim_pace_param(void)
{
	struct vb_oom_params p = defaults;
	struct vb_oom_storm s = { 0 };

	call(&s, &p, 0);
	s.leaked = 100000;
	reclaim(&s, &p, 100, 4000);
	p.pace_ms = 300;	/* 4000 pages in 200 ms: 6000 per 300 ms */
	CHECK(vb_reclaim_pages_to_leak(&s, &p, 10, 300) == 6000);
	p.pace_ms = 0;		/* no pace: the share of the storm */
	CHECK(vb_reclaim_pages_to_leak(&s, &p, 10, 300) == 26000);
}

static u64 max_u64(u64 a, u64 b)
{
	return a > b ? a : b;
}

/* Over-leak of a workload using rate pages per ms, each release used up
 * before the next deficit, from a storm that starts with an OOM call. */
static u64 slow_grower_over(const struct vb_oom_params *p, u64 rate,
			    u64 need, u64 gap)
{
	struct vb_oom_storm s = { 0 };
	u64 t = 0;
	u32 n = call(&s, p, t);

	while (s.leaked < need) {
		t += (n + rate - 1) / rate;
		n = reclaim(&s, p, t, gap);
	}
	return s.leaked - need;
}

static void test_reclaim_slow_grower_bound(void)
{
	/* The over-leak is at most pace_ms of the workload's use, the
	 * watermark gap or oom_pages, not a quarter of the need. */
	static const u32 paces[] = { 1, 100, 300, 1000 };
	struct vb_oom_params p = defaults;
	const u64 gap = 1500;
	u64 rate, need;
	unsigned int i;

	for (i = 0; i < sizeof(paces) / sizeof(paces[0]); i++) {
		p.pace_ms = paces[i];
		for (rate = 1; rate <= 4096; rate *= 4)
			for (need = 1000; need < 400000; need = need * 3 + 17)
				CHECK(slow_grower_over(&p, rate, need, gap) <=
				      max_u64(max_u64(gap, 256),
					      rate * p.pace_ms));
	}
}

static void test_reclaim_release_keeps_storm_armed(void)
{
	struct vb_oom_storm s = { 0 };

	/* No storm: a release does not start one. */
	vb_oom_extend(&s, 256, 50);
	CHECK(!s.active && !vb_oom_armed(&s, &defaults, 50));
	call(&s, &defaults, 1000);
	vb_oom_extend(&s, 256, 1900);
	CHECK(vb_oom_armed(&s, &defaults, 2900));
	CHECK(!vb_oom_armed(&s, &defaults, 2901));
	/* A reclaim that got nothing does not extend it. */
	vb_oom_extend(&s, 0, 2500);
	CHECK(!vb_oom_armed(&s, &defaults, 2901));
	/* The extended storm goes on: no reset at 2800. */
	reclaim(&s, &defaults, 2600, 500);
	CHECK(call(&s, &defaults, 2800) == 256);
	CHECK(s.step == 2 && s.leaked == 256 + 500 + 256);
}

static void test_stall_starts_storm_like_oom_call(void)
{
	struct vb_oom_storm s = { 0 };
	u32 n;

	/* Nothing short: no release, no storm. */
	CHECK(vb_stall_pages_to_leak(&s, &defaults, 0, 100) == 0);
	CHECK(!s.active);
	/* Sized from the deficit, at least oom_pages, capped. */
	CHECK(vb_stall_pages_to_leak(&s, &defaults, 10, 100) == 256);
	CHECK(vb_stall_pages_to_leak(&s, &defaults, 3000, 100) == 3000);
	CHECK(vb_stall_pages_to_leak(&s, &defaults, 1000000, 100) == 65536);
	n = vb_stall_pages_to_leak(&s, &defaults, 3000, 100);
	vb_oom_record(&s, n, 100, true);
	CHECK(s.active && s.step == 0 && s.leaked == 3000);
	CHECK(vb_oom_armed(&s, &defaults, 1100));
	/* An armed storm is storm reclaim's, not another start. */
	CHECK(vb_stall_pages_to_leak(&s, &defaults, 3000, 600) == 0);
	CHECK(reclaim(&s, &defaults, 600, 3000) == 3000);
	CHECK(s.step == 1 && s.leaked == 6000);
	/* Once the window is over, a stall starts a fresh storm. */
	CHECK(vb_stall_pages_to_leak(&s, &defaults, 500, 1601) == 500);
	CHECK(!s.active && s.leaked == 0 && s.step == 0);
}

void test_oom_policy(void)
{
	test_stall_starts_storm_like_oom_call();
	test_reclaim_needs_storm_and_deficit();
	test_reclaim_sized_from_deficit();
	test_reclaim_grows_with_storm();
	test_reclaim_escalation_off();
	test_reclaim_over_leak_bound();
	test_reclaim_paced();
	test_reclaim_pace_param();
	test_reclaim_slow_grower_bound();
	test_reclaim_release_keeps_storm_armed();
	test_first_call_is_base();
	test_escalation_grows_by_share();
	test_quiet_period_resets();
	test_escalation_off_is_fixed();
	test_cap_below_base_keeps_base();
	test_over_leak_bound();
	test_clock_going_backwards_starts_new_storm();
}
