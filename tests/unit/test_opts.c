// SPDX-License-Identifier: GPL-2.0
#include "check.h"
#include "opts.h"

static void test_seconds(void)
{
	static const char *const bad[] = {
		"", "0", "0.0", "-1", "+1", "abc", "1s", "nan", "inf",
		"1e99", "1e3", "1.2.3", ".", " 1", "1 ", "-0.5", "0x10",
	};
	unsigned int i;
	double v;

	CHECK(parse_seconds("5", &v) == 0 && v == 5);
	CHECK(parse_seconds("0.5", &v) == 0 && v == 0.5);
	CHECK(parse_seconds(".25", &v) == 0 && v == 0.25);
	CHECK(parse_seconds("3600", &v) == 0 && v == 3600);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!parse_seconds(bad[i], &v))
			fprintf(stderr, "accepted seconds: '%s'\n", bad[i]);
		CHECK(parse_seconds(bad[i], &v) != 0);
	}
	CHECK(parse_seconds(NULL, &v) != 0);
}

static void test_events(void)
{
	static const char *const bad[] = {
		"", ",", "inflate,", ",inflate", "inflate,,deflate", "oom",
		"Inflate", "inflate deflate", "oom_kill_pages", "lost",
	};
	unsigned int i, m;

	CHECK(parse_events("inflate", &m) == 0 && m == 1u << VB_INFLATE);
	CHECK(parse_events("oom_leak,oom_kill", &m) == 0);
	CHECK(m == ((1u << VB_OOM_LEAK) | (1u << VB_OOM_KILL)));
	CHECK(parse_events("inflate,deflate,oom_leak,oom_kill,report,hint", &m) == 0);
	CHECK(m == VB_ALL_EVENTS);
	CHECK(parse_events("all", &m) == 0 && m == VB_ALL_EVENTS);
	CHECK(parse_events("deflate,deflate", &m) == 0 && m == 1u << VB_DEFLATE);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = 0;
		if (!parse_events(bad[i], &m))
			fprintf(stderr, "accepted events: '%s'\n", bad[i]);
		CHECK(parse_events(bad[i], &m) != 0);
	}
}

static void test_names(void)
{
	CHECK_STR(vb_type_name(VB_OOM_LEAK), "oom_leak");
	CHECK_STR(vb_type_name(99), "unknown");
	CHECK(vb_type_from_name("deflate", 7) == VB_DEFLATE);
	CHECK(vb_type_from_name("deflatex", 7) == VB_DEFLATE);
	CHECK(vb_type_from_name("defl", 4) == -1);
	CHECK(vb_type_from_name("report", 6) == VB_REPORT);
	CHECK(vb_type_from_name("hint", 4) == VB_HINT);
	CHECK_STR(vb_constraint_name(VB_CONSTRAINT_MEMCG), "memcg");
	CHECK_STR(vb_constraint_name(VB_CONSTRAINT_NONE), "none");
	CHECK_STR(vb_constraint_name(7), "unknown");
}

void test_opts(void)
{
	test_seconds();
	test_events();
	test_names();
}
