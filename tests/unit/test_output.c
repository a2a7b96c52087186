// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "hist.h"
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
	return (struct vb_out){ open_memstream(&mem, &memlen), json, 4096, 0 };
}

/* Every line of mem fits VB_TEXT_COLS. */
static bool lines_fit(void)
{
	const char *p = mem, *nl;

	for (; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p) - 1;
		if (nl - p > VB_TEXT_COLS) {
			fprintf(stderr, "long line: %.*s\n", (int)(nl - p), p);
			return false;
		}
	}
	return true;
}

static void test_time(void)
{
	char buf[40];

	fmt_rfc3339(buf, sizeof(buf), T0);
	CHECK_STR(buf, "2026-11-26T12:00:00.123456Z");
	fmt_hms(buf, sizeof(buf), T0);
	CHECK_STR(buf, "12:00:00.123");
}

static const unsigned int known = VB_F_LEVELS | VB_F_DOOM_KNOWN | VB_F_DOOM;

static struct vb_event kill_event(unsigned int constraint, unsigned int flags)
{
	struct vb_event e = { .type = VB_OOM_KILL, .pid = 42, .uid = 1000,
			      .oom_score_adj = 500, .rss_pages = 300,
			      .anon_pages = 200, .total_pages = 262144,
			      .constraint = constraint, .flags = flags,
			      .balloon_pages = 1024, .target_pages = 2048 };

	memcpy(e.comm, "a\"b\xff", 4);
	return e;
}

static void test_kill_json(void)
{
	struct vb_event e = kill_event(VB_CONSTRAINT_NONE, known | VB_F_MISS);
	struct vb_out o = mem_out(true);

	out_event(&o, &e, T0);
	fclose(o.f);
	CHECK_STR(mem, "{\"type\":\"oom_kill\",\"time\":\"2026-11-26T12:00:00.123456Z\","
		  "\"pid\":42,\"comm\":\"a\\\"b\\ufffd\",\"uid\":1000,"
		  "\"oom_score_adj\":500,\"rss_pages\":300,\"anon_pages\":200,"
		  "\"constraint\":\"none\",\"total_pages\":262144,\"pages\":0,"
		  "\"balloon_pages\":1024,\"target_pages\":2048,"
		  "\"deflate_on_oom\":true,\"rescue_miss\":true}\n");

	/* memcg: never a miss, whatever the balloon holds. */
	e = kill_event(VB_CONSTRAINT_MEMCG, known);
	o = mem_out(true);
	out_event(&o, &e, T0);
	fclose(o.f);
	CHECK(strstr(mem, "\"constraint\":\"memcg\"") != NULL);
	CHECK(strstr(mem, "\"rescue_miss\":false}") != NULL);

	/* Unknown levels: null, never 0. */
	e = kill_event(VB_CONSTRAINT_NONE, 0);
	o = mem_out(true);
	out_event(&o, &e, T0);
	fclose(o.f);
	CHECK(strstr(mem, "\"balloon_pages\":null,\"target_pages\":null,"
		     "\"deflate_on_oom\":null,\"rescue_miss\":null}") != NULL);
}

static void test_events_json(void)
{
	struct vb_event e = { .type = VB_OOM_LEAK, .pages = 256, .asked = 512,
			      .ns = 12345, .step = 2, .balloon_pages = 10 };
	struct vb_out o = mem_out(true);

	out_event(&o, &e, T0);
	fclose(o.f);
	CHECK(strstr(mem, "\"type\":\"oom_leak\"") != NULL);
	CHECK(strstr(mem, "\"pages\":256,\"balloon_pages\":10,\"target_pages\":0,"
		     "\"ns\":12345,\"asked\":512,\"step\":2}") != NULL);

	e = (struct vb_event){ .type = VB_REPORT, .pages = 4096,
			       .entries = 4, .ns = 900, .err = -5 };
	o = mem_out(true);
	out_event(&o, &e, T0);
	fclose(o.f);
	CHECK(strstr(mem, "{\"type\":\"report\",") == mem);
	CHECK(strstr(mem, "\"pages\":4096,\"entries\":4,\"ns\":900,\"err\":-5}\n") != NULL);

	e = (struct vb_event){ .type = VB_HINT, .pages = 8192, .blocks = 8,
			       .cmd_id = 7, .ns = 1000000 };
	o = mem_out(true);
	out_event(&o, &e, T0);
	fclose(o.f);
	CHECK(strstr(mem, "{\"type\":\"hint\",") == mem);
	CHECK(strstr(mem, "\"pages\":8192,\"blocks\":8,\"cmd_id\":7,\"ns\":1000000}\n") != NULL);
}

static void test_events_text(void)
{
	struct vb_event e = kill_event(VB_CONSTRAINT_NONE, known | VB_F_MISS);
	struct vb_out o = mem_out(false);

	memcpy(e.comm, "x\nyyyyyyyyyyyyy", 15);
	e.pid = 4194304;
	e.balloon_pages = 99999999;
	out_event(&o, &e, T0);
	e = kill_event(VB_CONSTRAINT_MEMCG, known);
	out_event(&o, &e, T0);
	e = kill_event(VB_CONSTRAINT_NONE, 0);
	out_event(&o, &e, T0);
	e = (struct vb_event){ .type = VB_OOM_LEAK, .pages = 4294967295u,
			       .asked = 4294967295u, .ns = ~0ULL,
			       .step = 4294967295u, .flags = VB_F_LEVELS };
	out_event(&o, &e, T0);
	e = (struct vb_event){ .type = VB_HINT, .pages = 1, .blocks = 2,
			       .cmd_id = 3, .ns = 4000000 };
	out_event(&o, &e, T0);
	fclose(o.f);
	CHECK(lines_fit());
	CHECK(strstr(mem, " MISS global 4194304 x?yyyy") != NULL);
	CHECK(strstr(mem, "  memcg 42 a\"b?\n") != NULL);
	CHECK(strstr(mem, "       ?        ?  MISS? global 42") != NULL);
	CHECK(strstr(mem, "hint            1        -        -  blocks=2 cmd=3 4ms\n") != NULL);
	CHECK(!strncmp(mem, "12:00:00.123 oom_kill", 21));
}

static void test_summary(void)
{
	struct vb_totals t = { .count = { 3, 1, 0, 2, 5, 1 },
			       .pages = { 768, 256, 0, 0, 100, 50 } };
	struct vb_period p = { .wall_ns = T0, .seconds = 2.5, .totals = &t };
	struct vb_cost c = { .bpf_stats = false, .cpu_s = 0.25 };
	struct vb_expect x[3];
	struct vb_out o = mem_out(true);

	t.kills[VB_CONSTRAINT_NONE][1] = 1;
	t.kills[VB_CONSTRAINT_MEMCG][0] = 1;
	expect_parse("inflate_pages>=1000", &x[0]);
	expect_parse("oom_kill==2", &x[1]);
	expect_parse("report_pages == 100", &x[2]);
	p.cost = &c;
	out_summary(&o, &p, x, 3);
	fclose(o.f);
	CHECK(strstr(mem, "\"counts\":{\"inflate\":3,\"deflate\":1,\"oom_leak\":0,"
		     "\"oom_kill\":2,\"report\":5,\"hint\":1}") != NULL);
	CHECK(strstr(mem, "\"pages\":{\"inflate\":768,\"deflate\":256,\"oom_leak\":0,"
		     "\"oom_kill\":0,\"report\":100,\"hint\":50},\"lost\":0") != NULL);
	CHECK(strstr(mem, "\"oom_kills\":{\"none\":1,\"cpuset\":0,\"mempolicy\":0,"
		     "\"memcg\":1},\"rescue_misses\":1") != NULL);
	CHECK(strstr(mem, "{\"expr\":\"inflate_pages >= 1000\",\"actual\":768,\"ok\":false}") != NULL);
	CHECK(strstr(mem, "{\"expr\":\"report_pages == 100\",\"actual\":100,\"ok\":true}") != NULL);
	CHECK(strstr(mem, "\"cost\":{\"bpf_stats\":false,\"bpf_runs\":null,"
		     "\"bpf_ns\":null,\"cpu_s\":0.250}}\n") != NULL);
	CHECK(strstr(mem, "\"duration_s\":2.500") != NULL);

	o = mem_out(false);
	out_summary(&o, &p, x, 3);
	fclose(o.f);
	CHECK(lines_fit());
	CHECK(strstr(mem, "report            5 events          100 pages        0.4 MiB\n") != NULL);
	CHECK(strstr(mem, "not measured (--stats)") != NULL);
	CHECK(strstr(mem, "rescue misses 1\n") != NULL);
}

static void test_interval_unknown(void)
{
	struct vb_totals t = { .count = { 1 }, .pages = { 256 } };
	struct vb_levels l = { .known = false, .deflate_on_oom = -1,
			       .reason = "no sysfs" };
	struct vb_period p = { .wall_ns = T0, .seconds = 1, .totals = &t,
			       .levels = &l };
	struct vb_out o = mem_out(true);

	out_interval(&o, &p);
	fclose(o.f);
	CHECK(strstr(mem, "\"balloon_pages\":null,\"target_pages\":null,"
		     "\"deflate_on_oom\":null,\"levels_source\":null,"
		     "\"levels_reason\":\"no sysfs\"}\n") != NULL);
	o = mem_out(false);
	out_interval(&o, &p);
	fclose(o.f);
	CHECK(lines_fit());
	CHECK(strstr(mem, "interval balloon ? target ? lost 0\n") != NULL);
	CHECK(strstr(mem, "inflate         1 events        256 pages\n") != NULL);
}

static void test_hists(void)
{
	struct vb_totals t = { .count = { 0 } };
	struct vb_out o = mem_out(false);

	t.hist[VB_HIST_OOM_LEAK][10] = 4;
	t.hist[VB_HIST_OOM_LEAK][12] = 2;
	out_hists(&o, &t, T0);
	fclose(o.f);
	CHECK(lines_fit());
	CHECK(strstr(mem, "oom_release time:") != NULL);
	CHECK(strstr(mem, "        1024 -> 2047         : 4        |******************************|") != NULL);
	CHECK(strstr(mem, "        2048 -> 4095         : 0        |") != NULL);
	CHECK(strstr(mem, "report time") == NULL);
	o = mem_out(true);
	out_hists(&o, &t, T0);
	fclose(o.f);
	CHECK(strstr(mem, "\"name\":\"oom_release\",\"unit\":\"ns\",\"buckets\":"
		     "[{\"lo\":1024,\"hi\":2047,\"count\":4},{\"lo\":4096,\"hi\":8191,\"count\":2}]}") != NULL);
}

static void test_error_record(void)
{
	struct vb_out o = mem_out(true);

	out_error(&o, "bad \"thing\"", T0);
	fclose(o.f);
	CHECK_STR(mem, "{\"type\":\"error\",\"time\":\"2026-11-26T12:00:00.123456Z\","
		  "\"message\":\"bad \\\"thing\\\"\"}\n");
}

/* /dev/full gives ENOSPC, a closed pipe EPIPE: both must stick. */
static void test_write_errors(void)
{
	struct vb_event e = { .type = VB_INFLATE, .pages = 1 };
	struct vb_out o = { fopen("/dev/full", "w"), true, 4096, 0 };
	int fds[2];

	if (o.f) {
		out_event(&o, &e, T0);
		CHECK(o.err == ENOSPC);
		out_event(&o, &e, T0);
		CHECK(o.err == ENOSPC);
		fclose(o.f);
	}
	signal(SIGPIPE, SIG_IGN);
	CHECK(!pipe(fds));
	close(fds[0]);
	o = (struct vb_out){ fdopen(fds[1], "w"), false, 4096, 0 };
	out_event(&o, &e, T0);
	CHECK(o.err == EPIPE);
	fclose(o.f);
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static void test_levels(void)
{
	static const char stats[] =
		"balloon_pages 1024\ntarget_pages 2048\ndeflate_on_oom 1\n";
	char dir[] = "/tmp/vbunitXXXXXX", sys[300], pat[300], dbg[300];
	struct vb_levels l;
	FILE *f;

	f = fmemopen((void *)stats, sizeof(stats) - 1, "r");
	CHECK(levels_parse(f, &l) == 0);
	CHECK(l.balloon_pages == 1024 && l.target_pages == 2048);
	CHECK(l.deflate_on_oom == 1 && l.known);
	fclose(f);
	f = fmemopen((void *)"balloon_pages 1\n", 16, "r");
	CHECK(levels_parse(f, &l) != 0 && !l.known);
	fclose(f);

	if (!mkdtemp(dir))
		return;
	snprintf(sys, sizeof(sys), "%s/virtio3", dir);
	snprintf(pat, sizeof(pat), "%s/virtio*", dir);
	snprintf(dbg, sizeof(dbg), "%s/stats", dir);
	/* Nothing there: unknown, with both causes. */
	CHECK(levels_get(pat, dbg, &l) != 0 && !l.known);
	CHECK(strstr(l.reason, "sysfs") && strstr(l.reason, "debugfs"));
	CHECK(l.deflate_on_oom == -1);
	/* debugfs only. */
	put_file(dir, "stats", stats);
	CHECK(levels_get(pat, dbg, &l) == 0 && !strcmp(l.source, "debugfs"));
	/* sysfs wins. */
	mkdir(sys, 0755);
	put_file(sys, "balloon_pages", "7\n");
	put_file(sys, "target_pages", "9\n");
	put_file(sys, "deflate_on_oom", "0\n");
	CHECK(levels_get(pat, dbg, &l) == 0 && !strcmp(l.source, "sysfs"));
	CHECK(l.balloon_pages == 7 && l.target_pages == 9);
	CHECK(l.deflate_on_oom == 0);
	unlink(dbg);
	snprintf(pat, sizeof(pat), "rm -rf %s", dir);
	CHECK(system(pat) == 0);
}

void test_output(void)
{
	test_time();
	test_kill_json();
	test_events_json();
	test_events_text();
	test_summary();
	test_interval_unknown();
	test_hists();
	test_error_record();
	test_write_errors();
	test_levels();
	free(mem);
}
