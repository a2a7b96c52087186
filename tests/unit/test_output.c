// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include "check.h"
#include "levels.h"
#include "output.h"

/* 2026-11-26T12:00:00.123456789Z */
#define T0 (1795694400ULL * 1000000000ULL + 123456789ULL)

static char *mem;
static size_t memlen;

static struct vb_out mem_out(bool json)
{
	free(mem);
	mem = NULL;
	return (struct vb_out){ open_memstream(&mem, &memlen), json, 4096 };
}

static void test_time(void)
{
	char buf[40];

	fmt_rfc3339(buf, sizeof(buf), T0);
	CHECK_STR(buf, "2026-11-26T12:00:00.123456Z");
	fmt_hms(buf, sizeof(buf), T0);
	CHECK_STR(buf, "12:00:00.123");
}

static void test_events_json(void)
{
	struct vb_event e = { .type = VB_OOM_KILL, .pid = 42,
			      .balloon_pages = 1024, .target_pages = 2048 };
	struct vb_out o = mem_out(true);

	memcpy(e.comm, "a\"b\xff", 4);
	out_event(&o, &e, T0);
	fclose(o.f);
	CHECK_STR(mem, "{\"type\":\"oom_kill\",\"time\":\"2026-11-26T12:00:00.123456Z\","
		  "\"pid\":42,\"comm\":\"a\\\"b\\ufffd\",\"pages\":0,"
		  "\"balloon_pages\":1024,\"target_pages\":2048,\"rescue_miss\":true}\n");

	e = (struct vb_event){ .type = VB_OOM_LEAK, .pages = 256, .asked = 512,
			       .ns = 12345, .step = 2, .balloon_pages = 10 };
	o = mem_out(true);
	out_event(&o, &e, T0);
	fclose(o.f);
	CHECK(strstr(mem, "\"type\":\"oom_leak\"") != NULL);
	CHECK(strstr(mem, "\"pages\":256,\"balloon_pages\":10,\"target_pages\":0,"
		     "\"asked\":512,\"ns\":12345,\"step\":2}") != NULL);
}

static void test_events_text(void)
{
	struct vb_event e = { .type = VB_OOM_KILL, .pid = 7,
			      .balloon_pages = 256 };
	struct vb_out o = mem_out(false);

	memcpy(e.comm, "x\ny", 3);
	out_event(&o, &e, T0);
	e.balloon_pages = 0;
	out_event(&o, &e, T0);
	fclose(o.f);
	CHECK(strstr(mem, "pid=7 comm=x?y held=256 RESCUE MISS\n") != NULL);
	CHECK(strstr(mem, "held=0\n") != NULL);
	CHECK(!strncmp(mem, "12:00:00.123 oom_kill", 21));
}

static void test_summary(void)
{
	struct vb_totals t = { .count = { 3, 1, 0, 0 },
			       .pages = { 768, 256, 0, 0 }, .lost = 0 };
	struct vb_period p = { .wall_ns = T0, .seconds = 2.5, .totals = &t };
	struct vb_expect x[2];
	struct vb_out o = mem_out(true);

	expect_parse("inflate_pages>=1000", &x[0]);
	expect_parse("oom_kill==0", &x[1]);
	out_summary(&o, &p, x, 2);
	fclose(o.f);
	CHECK(strstr(mem, "\"counts\":{\"inflate\":3,\"deflate\":1,\"oom_leak\":0,\"oom_kill\":0}") != NULL);
	CHECK(strstr(mem, "\"pages\":{\"inflate\":768,\"deflate\":256,\"oom_leak\":0,\"oom_kill\":0},\"lost\":0") != NULL);
	CHECK(strstr(mem, "{\"expr\":\"inflate_pages >= 1000\",\"actual\":768,\"ok\":false}") != NULL);
	CHECK(strstr(mem, "\"ok\":false}\n") != NULL);
	CHECK(strstr(mem, "\"duration_s\":2.500") != NULL);
}

static void test_levels(void)
{
	static const char stats[] =
		"balloon_pages 1024\ntarget_pages 2048\ninflated_pages 5\n";
	struct vb_levels l;
	FILE *f;

	f = fmemopen((void *)stats, sizeof(stats) - 1, "r");
	CHECK(levels_parse(f, &l) == 0);
	CHECK(l.balloon_pages == 1024 && l.target_pages == 2048);
	fclose(f);
	f = fmemopen((void *)"balloon_pages 1\n", 16, "r");
	CHECK(levels_parse(f, &l) != 0);
	fclose(f);
	CHECK(levels_read("/nonexistent/stats", &l) != 0);
}

void test_output(void)
{
	test_time();
	test_events_json();
	test_events_text();
	test_summary();
	test_levels();
	free(mem);
}
