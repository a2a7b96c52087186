// SPDX-License-Identifier: GPL-2.0
#include "check.h"
#include "expect.h"

static int parses(const char *s)
{
	struct vb_expect x;

	return expect_parse(s, &x) == 0;
}

static void test_valid(void)
{
	struct vb_expect x;
	char buf[64];

	CHECK(expect_parse("inflate_pages>=1000", &x) == 0);
	CHECK(x.kind == VB_M_PAGES && x.type == VB_INFLATE);
	CHECK(x.op == VB_GE && x.value == 1000);
	expect_format(&x, buf, sizeof(buf));
	CHECK_STR(buf, "inflate_pages >= 1000");

	CHECK(expect_parse("  oom_kill == 0 ", &x) == 0);
	CHECK(x.kind == VB_M_COUNT && x.type == VB_OOM_KILL && x.op == VB_EQ);
	CHECK(expect_parse("lost<1", &x) == 0);
	CHECK(x.kind == VB_M_LOST && x.op == VB_LT && x.value == 1);
	CHECK(expect_parse("deflate != 3", &x) == 0 && x.op == VB_NE);
	CHECK(expect_parse("oom_leak_pages>0", &x) == 0 && x.op == VB_GT);
	CHECK(x.kind == VB_M_PAGES && x.type == VB_OOM_LEAK);
	CHECK(expect_parse("oom_kill_pages <= 0", &x) == 0 && x.op == VB_LE);
	CHECK(expect_parse("inflate>=18446744073709551615", &x) == 0);
	CHECK(x.value == 18446744073709551615ULL);
}

static void test_invalid(void)
{
	static const char *const bad[] = {
		"", "   ", "inflate", "inflate >=", ">= 3", "foo >= 1",
		"inflate => 1", "inflate = 1", "inflate >= -1", "inflate >= +1",
		"inflate >= 1x", "inflate >= 0x10", "inflate >= 1 2",
		"inflate_page >= 1", "lost_pages >= 1", "INFLATE >= 1",
		"inflate >= 18446744073709551616", "inflate >== 1",
		"_pages >= 1", "inflate >= 1.5",
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parses(bad[i]))
			fprintf(stderr, "accepted: '%s'\n", bad[i]);
		CHECK(!parses(bad[i]));
	}
	CHECK(!parses(NULL));
}

static bool eval(const char *s, const struct vb_totals *t)
{
	struct vb_expect x;

	return expect_parse(s, &x) == 0 && expect_eval(&x, t);
}

static void test_eval(void)
{
	struct vb_totals t = { 0 };
	struct vb_expect x;

	t.count[VB_INFLATE] = 2;
	t.pages[VB_INFLATE] = 512;
	t.pages[VB_OOM_LEAK] = 256;
	t.lost = 1;
	CHECK(!eval("inflate_pages >= 1000", &t));
	CHECK(eval("inflate_pages >= 512", &t));
	CHECK(eval("inflate_pages <= 512", &t));
	CHECK(!eval("inflate_pages < 512", &t));
	CHECK(!eval("inflate_pages > 512", &t));
	CHECK(eval("inflate == 2", &t));
	CHECK(!eval("inflate != 2", &t));
	CHECK(eval("deflate == 0", &t));
	CHECK(eval("oom_leak_pages == 256", &t));
	CHECK(eval("oom_kill == 0", &t));
	CHECK(eval("lost == 1", &t));
	CHECK(expect_parse("inflate_pages>=1000", &x) == 0);
	CHECK(expect_actual(&x, &t) == 512);
}

void test_expect(void)
{
	test_valid();
	test_invalid();
	test_eval();
}
