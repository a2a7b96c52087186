// SPDX-License-Identifier: GPL-2.0
/*
 * vbtrace: trace vballoon inflate/deflate/OOM-leak events and OOM kills,
 * print them as text or NDJSON, and check --expect totals at exit.
 */
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "vbtrace.h"
#include "vbtrace.skel.h"
#include "expect.h"
#include "levels.h"
#include "opts.h"
#include "output.h"

#define VB_MAX_EXPECT 32
#define POLL_MS 100

enum { EXIT_OK, EXIT_EXPECT, EXIT_USAGE, EXIT_ENV };

static struct env {
	bool json, quiet, verbose;
	double duration, interval;
	unsigned int mask;
	struct vb_expect expect[VB_MAX_EXPECT];
	int nexpect;
	/* Raw values, checked at the end so that -j may come last. */
	const char *duration_arg, *interval_arg, *events_arg;
	const char *expect_arg[VB_MAX_EXPECT];
} env = { .mask = VB_ALL_EVENTS };

static struct vb_out out;
static unsigned long long boot_to_wall;	/* wall ns = boot ns + this */
static volatile sig_atomic_t exiting;
static bool libbpf_hush;		/* during the tp_btf attempt */

const char *argp_program_version = "vbtrace " VB_VERSION;
static const char doc[] =
"Trace vballoon balloon events and OOM kills.\v"
"EXPR is NAME OP N: NAME is inflate, deflate, oom_leak, oom_kill (counts),\n"
"<type>_pages (page totals) or lost; OP is one of >= <= == != > <.\n"
"Exit: 0 ok, 1 an expectation failed, 2 usage, 3 environment.";

static const struct argp_option opts[] = {
	{ "json", 'j', NULL, 0, "NDJSON output, one record per line", 0 },
	{ "duration", 'd', "SEC", 0, "Stop after SEC seconds", 0 },
	{ "interval", 'i', "SEC", 0, "Print per-interval totals every SEC seconds", 0 },
	{ "events", 'e', "LIST", 0, "Events to print: inflate,deflate,oom_leak,oom_kill (default all)", 0 },
	{ "expect", 'x', "EXPR", 0, "Check EXPR on the totals at exit (repeatable)", 0 },
	{ "quiet", 'q', NULL, 0, "No per-event lines; intervals and summary only", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf debug output", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show this help", 0 },
	{},
};

static unsigned long long now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Print the message to stderr, and as an error record in JSON mode. */
static int fail(int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vbtrace: %s\n", msg);
	if (env.json)
		out_error_json(stdout, msg);
	return code;
}

static void usage_error(struct argp_state *state, const char *what,
			const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "invalid %s: '%s'", what, arg);
	if (env.json)
		out_error_json(stdout, msg);
	fprintf(stderr, "vbtrace: %s\n", msg);
	argp_state_help(state, stderr, ARGP_HELP_USAGE | ARGP_HELP_SEE |
			ARGP_HELP_EXIT_ERR);
}

static void validate(struct argp_state *state)
{
	int i;

	if (env.duration_arg && parse_seconds(env.duration_arg, &env.duration))
		usage_error(state, "duration (want seconds > 0)", env.duration_arg);
	if (env.interval_arg && parse_seconds(env.interval_arg, &env.interval))
		usage_error(state, "interval (want seconds > 0)", env.interval_arg);
	if (env.events_arg && parse_events(env.events_arg, &env.mask))
		usage_error(state, "event list (want inflate,deflate,oom_leak,oom_kill)",
			    env.events_arg);
	for (i = 0; i < env.nexpect; i++)
		if (expect_parse(env.expect_arg[i], &env.expect[i]))
			usage_error(state, "expectation (want NAME OP N)",
				    env.expect_arg[i]);
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'j':
		env.json = true;
		break;
	case 'q':
		env.quiet = true;
		break;
	case 'v':
		env.verbose = true;
		break;
	case 'd':
		env.duration_arg = arg;
		break;
	case 'i':
		env.interval_arg = arg;
		break;
	case 'e':
		env.events_arg = arg;
		break;
	case 'x':
		if (env.nexpect == VB_MAX_EXPECT)
			usage_error(state, "expectation (too many)", arg);
		env.expect_arg[env.nexpect++] = arg;
		break;
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case ARGP_KEY_ARG:
		argp_usage(state);
		break;
	case ARGP_KEY_END:
		validate(state);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	if (!env.verbose && (level == LIBBPF_DEBUG || libbpf_hush))
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

/* Root, or CAP_SYS_ADMIN, or CAP_BPF together with CAP_PERFMON. */
static bool has_bpf_caps(void)
{
	unsigned long long eff = 0;
	char line[256];
	FILE *f;

	if (geteuid() == 0)
		return true;
	f = fopen("/proc/self/status", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (eff >> 21 & 1) || ((eff >> 39 & 1) && (eff >> 38 & 1));
}

static int check_env(void)
{
	if (!has_bpf_caps())
		return fail(EXIT_ENV, "permission denied: run as root (or with CAP_BPF and CAP_PERFMON)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return fail(EXIT_ENV, "the kernel has no BTF (/sys/kernel/btf/vmlinux): boot a kernel built with CONFIG_DEBUG_INFO_BTF=y");
	if (access("/sys/module/vballoon", F_OK))
		return fail(EXIT_ENV, "vballoon is not loaded: load it: insmod vballoon.ko");
	return 0;
}

/* tp_btf needs the module's BTF; raw_tp works without it. */
static void pick_programs(struct vbtrace_bpf *skel, bool btf)
{
	bpf_program__set_autoload(skel->progs.btf_inflate, btf);
	bpf_program__set_autoload(skel->progs.btf_deflate, btf);
	bpf_program__set_autoload(skel->progs.btf_oom_leak, btf);
	bpf_program__set_autoload(skel->progs.raw_inflate, !btf);
	bpf_program__set_autoload(skel->progs.raw_deflate, !btf);
	bpf_program__set_autoload(skel->progs.raw_oom_leak, !btf);
}

static int open_load(struct vbtrace_bpf **skelp, bool btf)
{
	struct vbtrace_bpf *skel;
	int err;

	skel = vbtrace_bpf__open();
	if (!skel)
		return -errno;
	/* Quiet runs need only the counters: no records, no wakeups. */
	skel->rodata->emit_mask = env.quiet ? 0 : env.mask;
	pick_programs(skel, btf);
	err = vbtrace_bpf__load(skel);
	if (err) {
		vbtrace_bpf__destroy(skel);
		return err;
	}
	*skelp = skel;
	return 0;
}

/* Prefer tp_btf when the module has BTF, else (or if that fails) raw_tp. */
static int load(struct vbtrace_bpf **skel, const char **mode)
{
	int err = -ENOENT;

	if (!access("/sys/kernel/btf/vballoon", F_OK)) {
		/* The raw_tp retry reports its own errors, if any. */
		libbpf_hush = true;
		err = open_load(skel, true);
		libbpf_hush = false;
		*mode = "tp_btf";
		if (!err)
			return 0;
		fprintf(stderr, "vbtrace: warning: tp_btf failed (%s), using raw_tp\n",
			strerror(-err));
	}
	*mode = "raw_tp";
	err = open_load(skel, false);
	if (err)
		return fail(EXIT_ENV, "cannot load the BPF programs (%s): rerun with -v for libbpf's log",
			    strerror(-err));
	return 0;
}

static void current_levels(struct vbtrace_bpf *skel, struct vb_levels *l)
{
	if (!levels_read(VB_STATS_PATH, l))
		return;
	l->balloon_pages = skel->bss->last_balloon_pages;
	l->target_pages = skel->bss->last_target_pages;
}

static int read_totals(struct vbtrace_bpf *skel, struct vb_totals *sum)
{
	int ncpu = libbpf_num_possible_cpus(), i, j, err;
	struct vb_totals *v;
	__u32 key = 0;

	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	err = bpf_map__lookup_elem(skel->maps.totals, &key, sizeof(key), v,
				   ncpu * sizeof(*v), 0);
	memset(sum, 0, sizeof(*sum));
	for (i = 0; !err && i < ncpu; i++) {
		for (j = 0; j < VB_NR_TYPES; j++) {
			sum->count[j] += v[i].count[j];
			sum->pages[j] += v[i].pages[j];
		}
		sum->lost += v[i].lost;
	}
	free(v);
	return err;
}

/* The victim may not be current; /proc still has it until it is reaped. */
static void comm_from_proc(struct vb_event *e)
{
	char path[64];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", e->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	n = fread(e->comm, 1, VB_COMM_LEN - 1, f);
	fclose(f);
	e->comm[n] = '\0';
	e->comm[strcspn(e->comm, "\n")] = '\0';
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct vb_event e;

	(void)ctx;
	if (env.quiet || size < sizeof(e))
		return 0;
	/* Ring buffer memory is read-only to us: copy before filling in. */
	memcpy(&e, data, sizeof(e));
	if (e.type == VB_OOM_KILL && !e.comm[0] && e.pid > 0)
		comm_from_proc(&e);
	out_event(&out, &e, e.ts_ns + boot_to_wall);
	return 0;
}

/* Offset from CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) to wall time. */
static void calibrate_clock(void)
{
	unsigned long long b1, w, b2;

	b1 = now_ns(CLOCK_BOOTTIME);
	w = now_ns(CLOCK_REALTIME);
	b2 = now_ns(CLOCK_BOOTTIME);
	boot_to_wall = w - (b1 + (b2 - b1) / 2);
}

struct run_state {
	struct vbtrace_bpf *skel;
	struct ring_buffer *rb;
	unsigned long long start, next_interval, last_interval;
	struct vb_totals prev;
	int stats_fd;		/* keeps BPF run-time stats on; -1 if refused */
	double start_cpu_s;
};

static int print_interval(struct run_state *s, unsigned long long now)
{
	struct vb_totals cur, delta;
	struct vb_period p;
	struct vb_levels l;
	int err;

	ring_buffer__consume(s->rb);
	err = read_totals(s->skel, &cur);
	if (err)
		return fail(EXIT_ENV, "cannot read the totals map: %s", strerror(-err));
	totals_sub(&cur, &s->prev, &delta);
	current_levels(s->skel, &l);
	p = (struct vb_period){
		.wall_ns = now_ns(CLOCK_REALTIME),
		.seconds = (now - s->last_interval) / 1e9,
		.totals = &delta,
		.balloon_pages = l.balloon_pages,
		.target_pages = l.target_pages,
	};
	out_interval(&out, &p);
	s->prev = cur;
	s->last_interval = now;
	s->next_interval += env.interval * 1e9;
	return 0;
}

/* Milliseconds until the next interval or the end, capped at POLL_MS. */
static int poll_timeout(const struct run_state *s, unsigned long long now)
{
	unsigned long long next = now + POLL_MS * 1000000ULL;
	unsigned long long end = s->start + env.duration * 1e9;

	if (env.interval && s->next_interval < next)
		next = s->next_interval;
	if (env.duration && end < next)
		next = end;
	return next > now ? (next - now + 999999) / 1000000 : 0;
}

static int poll_loop(struct run_state *s)
{
	unsigned long long now, end = s->start + env.duration * 1e9;
	int err;

	while (!exiting) {
		now = now_ns(CLOCK_MONOTONIC);
		err = ring_buffer__poll(s->rb, poll_timeout(s, now));
		if (err < 0 && err != -EINTR)
			return fail(EXIT_ENV, "polling the ring buffer: %s", strerror(-err));
		/* Records submitted without a wakeup (see vbtrace.bpf.c). */
		ring_buffer__consume(s->rb);
		now = now_ns(CLOCK_MONOTONIC);
		if (env.interval && now >= s->next_interval) {
			err = print_interval(s, now);
			if (err)
				return err;
		}
		if (env.duration && now >= end)
			break;
	}
	return 0;
}

/* Drain, summarise from the map totals, and judge the expectations. */
/* Sum the run time the kernel measured for our loaded programs. */
static void bpf_cost(struct vbtrace_bpf *skel, struct vb_cost *c)
{
	struct bpf_program *prog;
	struct bpf_prog_info info;
	__u32 len;
	int fd;

	bpf_object__for_each_program(prog, skel->obj) {
		fd = bpf_program__fd(prog);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		c->bpf_runs += info.run_cnt;
		c->bpf_ns += info.run_time_ns;
	}
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* CPU time counts from the start record: loading BTF is not tracing. */
static void tracing_cost(const struct run_state *s, struct vb_cost *c)
{
	*c = (struct vb_cost){
		.bpf_stats = s->stats_fd >= 0,
		.cpu_s = cpu_seconds() - s->start_cpu_s,
	};
	if (c->bpf_stats)
		bpf_cost(s->skel, c);
}

static int finish(struct run_state *s)
{
	struct vb_totals t;
	struct vb_period p;
	struct vb_cost c;
	char expr[64];
	int i, rc = EXIT_OK, err;

	ring_buffer__consume(s->rb);
	err = read_totals(s->skel, &t);
	if (err)
		return fail(EXIT_ENV, "cannot read the totals map: %s", strerror(-err));
	tracing_cost(s, &c);
	p = (struct vb_period){
		.wall_ns = now_ns(CLOCK_REALTIME),
		.seconds = (now_ns(CLOCK_MONOTONIC) - s->start) / 1e9,
		.totals = &t,
		.cost = &c,
	};
	out_summary(&out, &p, env.expect, env.nexpect);
	for (i = 0; i < env.nexpect; i++) {
		if (expect_eval(&env.expect[i], &t))
			continue;
		expect_format(&env.expect[i], expr, sizeof(expr));
		fprintf(stderr, "vbtrace: expectation failed: %s (actual %llu)\n",
			expr, expect_actual(&env.expect[i], &t));
		rc = EXIT_EXPECT;
	}
	return rc;
}

static int start(struct vbtrace_bpf *skel, const char *mode)
{
	struct vb_levels l = { 0, 0 };
	struct vb_start st;
	int err;

	if (levels_read(VB_STATS_PATH, &l))
		fprintf(stderr, "vbtrace: warning: cannot read %s (is debugfs mounted?): levels start at 0\n",
			VB_STATS_PATH);
	skel->bss->last_balloon_pages = l.balloon_pages;
	skel->bss->last_target_pages = l.target_pages;
	err = vbtrace_bpf__attach(skel);
	if (err)
		return fail(EXIT_ENV, "cannot attach (%s): rerun with -v for libbpf's log",
			    strerror(-err));
	calibrate_clock();
	st = (struct vb_start){
		.wall_ns = now_ns(CLOCK_REALTIME),
		.pid = getpid(),
		.mask = env.mask,
		.mode = mode,
		.balloon_pages = l.balloon_pages,
		.target_pages = l.target_pages,
	};
	if (!env.quiet || env.json)
		out_start(&out, &st);
	return 0;
}

static int trace(struct vbtrace_bpf *skel, const char *mode)
{
	struct run_state s = { .skel = skel };
	int err;

	s.rb = ring_buffer__new(bpf_map__fd(skel->maps.events), handle_event,
				NULL, NULL);
	if (!s.rb)
		return fail(EXIT_ENV, "cannot create the ring buffer: %s",
			    strerror(errno));
	/* Optional: the summary then reports what the programs cost. */
	s.stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	err = start(skel, mode);
	if (!err) {
		s.start = now_ns(CLOCK_MONOTONIC);
		s.start_cpu_s = cpu_seconds();
		s.last_interval = s.start;
		s.next_interval = s.start + env.interval * 1e9;
		err = poll_loop(&s);
	}
	if (!err)
		err = finish(&s);
	if (s.stats_fd >= 0)
		close(s.stats_fd);
	ring_buffer__free(s.rb);
	return err;
}

static void set_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* No SA_RESTART: a signal must interrupt the poll. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int main(int argc, char **argv)
{
	static const struct argp argp = { opts, parse_arg, NULL, doc, NULL, NULL, NULL };
	struct vbtrace_bpf *skel = NULL;
	const char *mode;
	int err;

	argp_err_exit_status = EXIT_USAGE;
	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return EXIT_USAGE;
	out = (struct vb_out){ stdout, env.json, sysconf(_SC_PAGESIZE) };
	libbpf_set_print(libbpf_print);
	err = check_env();
	if (err)
		return err;
	set_signals();
	err = load(&skel, &mode);
	if (err)
		return err;
	err = trace(skel, mode);
	vbtrace_bpf__destroy(skel);
	return err;
}
