// SPDX-License-Identifier: GPL-2.0
/*
 * vbtrace: trace vballoon balloon events and OOM kills, print them as text
 * or NDJSON, keep a Prometheus textfile, and check --expect totals at exit.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
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
#include "prom.h"

#define VB_MAX_EXPECT 32
#define POLL_MS 100
#define MODULE_BTF "/sys/kernel/btf/vballoon"

enum { EXIT_OK, EXIT_EXPECT, EXIT_USAGE, EXIT_ENV };
enum { OPT_STATS = 1000, OPT_PROM, OPT_OOM_HOOK };

/* How the OOM kill program attaches, best first. */
enum oom_hook { HOOK_FENTRY, HOOK_KPROBE, HOOK_NONE };
static const char *const hook_names[] = { "fentry", "kprobe", NULL };

static struct env {
	bool json, quiet, verbose, stats, hist;
	double duration, interval;
	const char *prom;
	unsigned int mask;
	enum oom_hook first_hook;	/* --oom-hook: where to start trying */
	struct vb_expect expect[VB_MAX_EXPECT];
	int nexpect;
	/* Raw values, checked at the end so that -j may come last. */
	const char *duration_arg, *interval_arg, *events_arg, *hook_arg;
	const char *expect_arg[VB_MAX_EXPECT];
} env = { .mask = VB_ALL_EVENTS };

static struct vb_out out;
static unsigned long long boot_to_wall;	/* wall ns = boot ns + this */
static volatile sig_atomic_t exiting;
static bool libbpf_hush;		/* during load attempts */
static char first_warn[200];		/* libbpf's first warning while hushed */
static bool usage_reported;		/* an error record is out already */

const char *argp_program_version = "vbtrace " VB_VERSION;
static const char doc[] =
"Trace vballoon balloon events and OOM kills.\v"
"EXPR is NAME OP N: NAME is an event count (inflate, deflate, oom_leak,\n"
"oom_kill, report, hint), <event>_pages (page total) or lost; OP is one of\n"
">= <= == != > <.\n"
"\n"
"EXAMPLES:\n"
"    vbtrace                  # live text lines until Ctrl-C\n"
"    vbtrace -j -i 5          # NDJSON records, totals every 5 s\n"
"    vbtrace -q -d 60 -x 'oom_kill == 0'   # check a 60 s run\n"
"    vbtrace -e oom_kill,oom_leak -H       # OOM only, with histograms\n"
"    vbtrace -q --prom /var/lib/prometheus/node-exporter/vballoon.prom\n"
"\n"
"Exit: 0 ok (also when stdout's reader goes away), 1 an expectation\n"
"failed, 2 usage, 3 environment or write error.";

static const struct argp_option opts[] = {
	{ "json", 'j', NULL, 0, "NDJSON output, one record per line", 0 },
	{ "duration", 'd', "SEC", 0, "Stop after SEC seconds", 0 },
	{ "interval", 'i', "SEC", 0, "Per-interval totals every SEC (>= 0.1) seconds", 0 },
	{ "events", 'e', "LIST", 0, "Events to print (default all): inflate,deflate,oom_leak,oom_kill,report,hint", 0 },
	{ "expect", 'x', "EXPR", 0, "Check EXPR on the totals at exit (repeatable)", 0 },
	{ "quiet", 'q', NULL, 0, "No per-event lines; intervals and summary only", 0 },
	{ "hist", 'H', NULL, 0, "Log2 histograms of inflate, deflate, OOM release, report and hint times at exit", 0 },
	{ "prom", OPT_PROM, "FILE", 0, "Keep a Prometheus textfile, rewritten every interval (default 15 s)", 0 },
	{ "oom-hook", OPT_OOM_HOOK, "HOOK", 0, "OOM kill hook: auto (default: fentry, else kprobe), fentry, kprobe or none", 0 },
	{ "stats", OPT_STATS, NULL, 0, "Measure BPF run time (turns on kernel-wide BPF stats while running)", 0 },
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
	if (env.json && !out.err)
		out_error(&out, msg, now_ns(CLOCK_REALTIME));
	return code;
}

static void usage_error(struct argp_state *state, const char *what,
			const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "invalid %s: '%s'", what, arg);
	if (env.json)
		out_error(&out, msg, now_ns(CLOCK_REALTIME));
	usage_reported = true;
	fprintf(stderr, "vbtrace: %s\n", msg);
	argp_state_help(state, stderr, ARGP_HELP_USAGE | ARGP_HELP_SEE |
			ARGP_HELP_EXIT_ERR);
}

/* argp exits by itself on its own errors: still give -j users a record. */
static void on_usage_exit(int status, void *arg)
{
	(void)arg;
	if (status == EXIT_USAGE && env.json && !usage_reported)
		out_error(&out, "invalid command line (see stderr)",
			  now_ns(CLOCK_REALTIME));
}

/* "auto" tries fentry, then kprobe; a named hook is tried alone. */
static int parse_hook(const char *s)
{
	static const char *const names[] = { "fentry", "kprobe", "none" };
	unsigned int i;

	if (!strcmp(s, "auto"))
		return 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			env.first_hook = i;
			return 0;
		}
	}
	return -EINVAL;
}

static void validate(struct argp_state *state)
{
	int i;

	if (env.duration_arg && parse_seconds(env.duration_arg, &env.duration))
		usage_error(state, "duration (want seconds > 0)", env.duration_arg);
	if (env.interval_arg && (parse_seconds(env.interval_arg, &env.interval) ||
				 env.interval < VB_MIN_INTERVAL))
		usage_error(state, "interval (want seconds >= 0.1)", env.interval_arg);
	if (env.events_arg && parse_events(env.events_arg, &env.mask))
		usage_error(state, "event list (want names from inflate,deflate,oom_leak,oom_kill,report,hint)",
			    env.events_arg);
	for (i = 0; i < env.nexpect; i++)
		if (expect_parse(env.expect_arg[i], &env.expect[i]))
			usage_error(state, "expectation (want NAME OP N)",
				    env.expect_arg[i]);
	if (env.prom && !*env.prom)
		usage_error(state, "--prom file", env.prom);
	if (env.hook_arg && parse_hook(env.hook_arg))
		usage_error(state, "--oom-hook (want auto, fentry, kprobe or none)",
			    env.hook_arg);
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
	case 'H':
		env.hist = true;
		break;
	case OPT_STATS:
		env.stats = true;
		break;
	case OPT_PROM:
		env.prom = arg;
		break;
	case OPT_OOM_HOOK:
		env.hook_arg = arg;
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

/* Is -j in this short-option cluster ("-qj"), before any option value? */
static bool cluster_has_j(const char *a)
{
	if (a[0] != '-' || a[1] == '-')
		return false;
	for (a++; *a && !strchr("deix", *a); a++)
		if (*a == 'j')
			return true;
	return false;
}

/* -j must shape argp's own errors too, wherever it stands. */
static void prescan_json(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json") || cluster_has_j(argv[i]))
			env.json = true;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	va_list copy;

	/* Kept for the fallback message: the real cause, not just errno. */
	if (libbpf_hush && level == LIBBPF_WARN && !first_warn[0]) {
		va_copy(copy, args);
		vsnprintf(first_warn, sizeof(first_warn), fmt, copy);
		va_end(copy);
		first_warn[strcspn(first_warn, "\n")] = '\0';
	}
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
	/* A closed stdout would be reused by the next open(). */
	if (fcntl(STDOUT_FILENO, F_GETFD) < 0)
		return fail(EXIT_ENV, "stdout is closed");
	if (!has_bpf_caps())
		return fail(EXIT_ENV, "permission denied: run as root (or with CAP_BPF and CAP_PERFMON)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return fail(EXIT_ENV, "the kernel has no BTF (/sys/kernel/btf/vmlinux): boot a kernel built with CONFIG_DEBUG_INFO_BTF=y");
	if (access("/sys/module/vballoon", F_OK))
		return fail(EXIT_ENV, "vballoon is not loaded: load it: insmod vballoon.ko");
	return 0;
}

struct load_info {
	const char *mode;		/* "tp_btf" or "raw_tp" */
	enum oom_hook hook;
	char mode_reason[320];
	char oom_reason[480];
};

#define SET_BOTH(skel, name, btf) do {					\
	bpf_program__set_autoload((skel)->progs.btf_##name, (btf));	\
	bpf_program__set_autoload((skel)->progs.raw_##name, !(btf));	\
} while (0)

/* tp_btf needs the module's BTF; raw_tp works without it. */
static void pick_programs(struct vbtrace_bpf *skel, bool btf,
			  enum oom_hook hook)
{
	SET_BOTH(skel, inflate, btf);
	SET_BOTH(skel, deflate, btf);
	SET_BOTH(skel, oom_leak, btf);
	SET_BOTH(skel, report, btf);
	SET_BOTH(skel, hint, btf);
	bpf_program__set_autoload(skel->progs.fentry_oom_kill,
				  hook == HOOK_FENTRY);
	/*
	 * An fentry program that loads can still fail to attach (a kernel
	 * without CONFIG_FUNCTION_TRACER has no patchable nop at the entry:
	 * EBUSY), so "auto" loads the kprobe beside it as the fallback.
	 */
	bpf_program__set_autoload(skel->progs.kprobe_oom_kill,
				  hook == HOOK_KPROBE ||
				  (hook == HOOK_FENTRY && !env.hook_arg));
}

static int open_load(struct vbtrace_bpf **skelp, bool btf, enum oom_hook hook)
{
	struct vbtrace_bpf *skel;
	int err;

	skel = vbtrace_bpf__open();
	if (!skel)
		return -errno;
	/* Quiet runs need only the counters: no records, no wakeups. */
	skel->rodata->emit_mask = env.quiet ? 0 : env.mask;
	pick_programs(skel, btf, hook);
	err = vbtrace_bpf__load(skel);
	if (err) {
		vbtrace_bpf__destroy(skel);
		return err;
	}
	*skelp = skel;
	return 0;
}

/* Best OOM hook that loads with this balloon mode; says why in oom_reason. */
static int load_hooks(struct vbtrace_bpf **skel, bool btf,
		      struct load_info *li)
{
	size_t n = 0;
	int err = 0;

	snprintf(li->oom_reason, sizeof(li->oom_reason), "%s",
		 env.first_hook == HOOK_NONE ? "--oom-hook none" : "");
	for (li->hook = env.first_hook; li->hook <= HOOK_NONE; li->hook++) {
		/* A hook named by --oom-hook is tried alone. */
		if (env.hook_arg && li->hook != env.first_hook &&
		    li->hook != HOOK_NONE)
			continue;
		first_warn[0] = '\0';
		err = open_load(skel, btf, li->hook);
		if (!err)
			return 0;
		if (li->hook != HOOK_NONE && n < sizeof(li->oom_reason))
			n += snprintf(li->oom_reason + n,
				      sizeof(li->oom_reason) - n, "%s%s: %s (%s)",
				      n ? "; " : "", hook_names[li->hook],
				      strerror(-err), first_warn);
	}
	return err;
}

/* tp_btf when the module has BTF, else (or if that fails) raw_tp. */
static int load(struct vbtrace_bpf **skel, struct load_info *li)
{
	bool btf = !access(MODULE_BTF, R_OK);
	int err;

	libbpf_hush = true;
	if (btf) {
		err = load_hooks(skel, true, li);
		if (!err) {
			li->mode = "tp_btf";
			libbpf_hush = false;
			return 0;
		}
		/* Listing module BTF objects takes CAP_SYS_ADMIN. */
		snprintf(li->mode_reason, sizeof(li->mode_reason),
			 "tp_btf failed: %s (%s)%s", strerror(-err), first_warn,
			 err == -EPERM ? ", module BTF needs CAP_SYS_ADMIN" : "");
	} else {
		snprintf(li->mode_reason, sizeof(li->mode_reason),
			 "no module BTF (%s): %s", MODULE_BTF, strerror(errno));
	}
	li->mode = "raw_tp";
	err = load_hooks(skel, false, li);
	libbpf_hush = false;
	if (err)
		return fail(EXIT_ENV, "cannot load the BPF programs (%s): rerun with -v for libbpf's log",
			    strerror(-err));
	fprintf(stderr, "vbtrace: warning: using raw_tp: %s\n", li->mode_reason);
	return 0;
}

#define VB_MAX_LINKS 16

struct links {
	struct bpf_link *l[VB_MAX_LINKS];
	int n;
};

static void detach(struct links *ls)
{
	while (ls->n)
		bpf_link__destroy(ls->l[--ls->n]);
}

static bool is_oom_prog(struct vbtrace_bpf *skel, struct bpf_program *p)
{
	return p == skel->progs.fentry_oom_kill ||
	       p == skel->progs.kprobe_oom_kill;
}

/* The first loaded OOM hook that attaches, in hook order; at most one. */
static void attach_oom(struct vbtrace_bpf *skel, struct links *ls,
		       struct load_info *li)
{
	struct bpf_program *progs[] = {
		[HOOK_FENTRY] = skel->progs.fentry_oom_kill,
		[HOOK_KPROBE] = skel->progs.kprobe_oom_kill,
	};
	size_t n = strlen(li->oom_reason), size = sizeof(li->oom_reason);
	struct bpf_link *l;
	enum oom_hook h;
	int err;

	libbpf_hush = true;	/* a failed hook is reported once, below */
	for (h = HOOK_FENTRY; h < HOOK_NONE; h++) {
		if (!bpf_program__autoload(progs[h]) || ls->n == VB_MAX_LINKS)
			continue;
		l = bpf_program__attach(progs[h]);
		if (l) {
			ls->l[ls->n++] = l;
			li->hook = h;
			libbpf_hush = false;
			return;
		}
		err = errno;
		if (n < size)
			n += snprintf(li->oom_reason + n, size - n,
				      "%sattaching %s: %s", n ? "; " : "",
				      hook_names[h], strerror(err));
	}
	libbpf_hush = false;
	li->hook = HOOK_NONE;
}

/*
 * Attach each loaded program (never through tracefs). The OOM hook is
 * optional: without it, balloon tracing goes on.
 */
static int attach(struct vbtrace_bpf *skel, struct links *ls,
		  struct load_info *li)
{
	struct bpf_program *p;
	struct bpf_link *l;
	int err;

	bpf_object__for_each_program(p, skel->obj) {
		if (!bpf_program__autoload(p) || is_oom_prog(skel, p) ||
		    ls->n == VB_MAX_LINKS)
			continue;
		l = bpf_program__attach(p);
		if (!l) {
			err = errno;
			return fail(EXIT_ENV, "cannot attach %s (%s): rerun with -v for libbpf's log",
				    bpf_program__name(p), strerror(err));
		}
		ls->l[ls->n++] = l;
	}
	if (li->hook != HOOK_NONE)
		attach_oom(skel, ls, li);
	if (li->hook == HOOK_NONE && env.first_hook != HOOK_NONE)
		fprintf(stderr, "vbtrace: warning: OOM kills not traced (%s)\n",
			li->oom_reason);
	else if (li->hook != HOOK_NONE && li->oom_reason[0])
		fprintf(stderr, "vbtrace: warning: OOM kills by %s (%s)\n",
			hook_names[li->hook], li->oom_reason);
	return 0;
}

static unsigned int level_flags(const struct vb_levels *l)
{
	unsigned int f = 0;

	if (l->known)
		f |= VB_F_LEVELS;
	if (l->deflate_on_oom >= 0)
		f |= VB_F_DOOM_KNOWN;
	if (l->deflate_on_oom > 0)
		f |= VB_F_DOOM;
	return f;
}

/* sysfs, else debugfs, else the last level an event carried. */
static void current_levels(struct vbtrace_bpf *skel, struct vb_levels *l)
{
	if (!levels_get(VB_SYSFS_GLOB, VB_STATS_PATH, l))
		return;
	if (!(skel->bss->level_flags & VB_F_LEVELS))
		return;
	l->known = true;
	l->source = "last event";
	l->balloon_pages = skel->bss->last_balloon_pages;
	l->target_pages = skel->bss->last_target_pages;
}

static int read_totals(struct vbtrace_bpf *skel, struct vb_totals *sum)
{
	int ncpu = libbpf_num_possible_cpus(), i, err;
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
	for (i = 0; !err && i < ncpu; i++)
		totals_add(sum, &v[i]);
	free(v);
	return err;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct vb_event *e = data;

	(void)ctx;
	if (env.quiet || size < sizeof(*e))
		return 0;
	out_event(&out, e, e->ts_ns + boot_to_wall);
	/* A write error stops ring_buffer__poll(); the loop reports it. */
	return out.err ? -out.err : 0;
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
	unsigned long long start, next_tick, last_tick;
	double tick_s;		/* interval records and/or --prom rewrites */
	struct vb_totals prev;
	int stats_fd;		/* keeps BPF run-time stats on; -1 if off */
	double start_cpu_s;
};

/* EPIPE: the reader is gone, a clean stop. Else exit 3. */
static int write_status(void)
{
	if (!out.err)
		return 0;
	if (out.err == EPIPE)
		return -EPIPE;
	fprintf(stderr, "vbtrace: write error on stdout: %s\n",
		strerror(out.err));
	return EXIT_ENV;
}

static int write_prom(const struct vb_totals *t, const struct vb_levels *l)
{
	int err;

	if (!env.prom)
		return 0;
	err = prom_update(env.prom, t, l);
	if (err)
		return fail(EXIT_ENV, "cannot write %s: %s", env.prom,
			    strerror(-err));
	return 0;
}

static int snapshot(const struct run_state *s, struct vb_totals *t,
		    struct vb_levels *l)
{
	int err = read_totals(s->skel, t);

	if (err)
		return fail(EXIT_ENV, "cannot read the totals map: %s", strerror(-err));
	current_levels(s->skel, l);
	return 0;
}

/* The textfile exists from the start; its first rewrite is a tick away. */
static int prom_first(const struct run_state *s)
{
	struct vb_totals t;
	struct vb_levels l;
	int err;

	if (!env.prom)
		return 0;
	err = snapshot(s, &t, &l);
	return err ? err : write_prom(&t, &l);
}

static int tick(struct run_state *s, unsigned long long now)
{
	struct vb_totals cur, delta;
	struct vb_period p;
	struct vb_levels l;
	int err;

	ring_buffer__consume(s->rb);
	err = snapshot(s, &cur, &l);
	if (err)
		return err;
	if (env.interval) {
		totals_sub(&cur, &s->prev, &delta);
		p = (struct vb_period){
			.wall_ns = now_ns(CLOCK_REALTIME),
			.seconds = (now - s->last_tick) / 1e9,
			.totals = &delta,
			.levels = &l,
		};
		out_interval(&out, &p);
	}
	s->prev = cur;
	s->last_tick = now;
	/* After a stall, skip the missed ticks instead of bursting. */
	s->next_tick += s->tick_s * 1e9;
	if (s->next_tick <= now)
		s->next_tick = now + s->tick_s * 1e9;
	return write_prom(&cur, &l);
}

/* Milliseconds until the next tick or the end, capped at POLL_MS. */
static int poll_timeout(const struct run_state *s, unsigned long long now)
{
	unsigned long long next = now + POLL_MS * 1000000ULL;
	unsigned long long end = s->start + env.duration * 1e9;

	if (s->tick_s && s->next_tick < next)
		next = s->next_tick;
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
		if (!out.err && err >= 0)
			/* Records submitted without a wakeup (vbtrace.bpf.c). */
			err = ring_buffer__consume(s->rb);
		if (out.err)
			return write_status();
		if (err < 0 && err != -EINTR)
			return fail(EXIT_ENV, "polling the ring buffer: %s", strerror(-err));
		now = now_ns(CLOCK_MONOTONIC);
		if (s->tick_s && now >= s->next_tick) {
			err = tick(s, now);
			if (err || (err = write_status()))
				return err;
		}
		if (env.duration && now >= end)
			break;
	}
	return 0;
}

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

/* The summary record and, with -H, the histograms. */
static int summarise(const struct run_state *s, const struct vb_totals *t)
{
	struct vb_period p;
	struct vb_cost c;

	tracing_cost(s, &c);
	p = (struct vb_period){
		.wall_ns = now_ns(CLOCK_REALTIME),
		.seconds = (now_ns(CLOCK_MONOTONIC) - s->start) / 1e9,
		.totals = t,
		.cost = &c,
	};
	out_summary(&out, &p, env.expect, env.nexpect);
	if (env.hist)
		out_hists(&out, t, p.wall_ns);
	return write_status();
}

/* On stderr, so that a failed expectation shows even with stdout gone. */
static int judge(const struct vb_totals *t)
{
	char expr[64];
	int i, rc = EXIT_OK;

	for (i = 0; i < env.nexpect; i++) {
		if (expect_eval(&env.expect[i], t))
			continue;
		expect_format(&env.expect[i], expr, sizeof(expr));
		fprintf(stderr, "vbtrace: expectation failed: %s (actual %llu)\n",
			expr, expect_actual(&env.expect[i], t));
		rc = EXIT_EXPECT;
	}
	return rc;
}

/*
 * Called after detach. With stdout's reader gone (EPIPE), only the
 * --prom file and the expectations are left to do.
 */
static int finish(struct run_state *s, bool gone)
{
	struct vb_totals t;
	struct vb_levels l;
	int err;

	if (!gone)
		ring_buffer__consume(s->rb);
	err = snapshot(s, &t, &l);
	if (!err)
		err = write_prom(&t, &l);
	if (err)
		return err;
	if (!gone) {
		err = summarise(s, &t);
		if (err && err != -EPIPE)
			return err;
	}
	return judge(&t);
}

/*
 * Levels and the start time are taken before attach, so that no event
 * precedes the start record.
 */
static int start(struct vbtrace_bpf *skel, struct links *ls,
		 struct load_info *li)
{
	struct vb_levels l;
	struct vb_start st;
	int err;

	if (levels_get(VB_SYSFS_GLOB, VB_STATS_PATH, &l))
		fprintf(stderr, "vbtrace: warning: balloon level unknown until the first event (%s)\n",
			l.reason);
	skel->bss->last_balloon_pages = l.balloon_pages;
	skel->bss->last_target_pages = l.target_pages;
	skel->bss->level_flags = level_flags(&l);
	calibrate_clock();
	st = (struct vb_start){
		.wall_ns = now_ns(CLOCK_REALTIME),
		.pid = getpid(),
		.mask = env.mask,
		.mode = li->mode,
		.mode_reason = li->mode_reason[0] ? li->mode_reason : NULL,
		.levels = &l,
	};
	err = attach(skel, ls, li);
	if (err)
		return err;
	st.oom_hook = hook_names[li->hook];
	st.oom_reason = li->oom_reason[0] ? li->oom_reason : NULL;
	if (!env.quiet || env.json)
		out_start(&out, &st);
	return write_status();
}

static int trace(struct vbtrace_bpf *skel, struct load_info *li)
{
	struct run_state s = { .skel = skel, .stats_fd = -1 };
	struct links ls = { .n = 0 };
	int err;

	s.rb = ring_buffer__new(bpf_map__fd(skel->maps.events), handle_event,
				NULL, NULL);
	if (!s.rb)
		return fail(EXIT_ENV, "cannot create the ring buffer: %s",
			    strerror(errno));
	/* Kernel-wide while on: only when asked for. */
	if (env.stats) {
		s.stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (s.stats_fd < 0)
			fprintf(stderr, "vbtrace: warning: --stats: %s\n",
				strerror(errno));
	}
	s.tick_s = env.interval ? env.interval : env.prom ? VB_PROM_INTERVAL : 0;
	err = start(skel, &ls, li);
	s.start = now_ns(CLOCK_MONOTONIC);
	s.start_cpu_s = cpu_seconds();
	s.last_tick = s.start;
	s.next_tick = s.start + s.tick_s * 1e9;
	if (!err)
		err = prom_first(&s);
	if (!err)
		err = poll_loop(&s);
	/* Before the last drain, so that no event is counted after it. */
	detach(&ls);
	if (!err || err == -EPIPE)
		err = finish(&s, err == -EPIPE);
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
	sigaction(SIGHUP, &sa, NULL);
	/* A gone reader shows as EPIPE, whatever the parent set. */
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	static const struct argp argp = { opts, parse_arg, NULL, doc, NULL, NULL, NULL };
	struct vbtrace_bpf *skel = NULL;
	struct load_info li = { .mode = NULL };
	int err;

	out = (struct vb_out){ stdout, false, sysconf(_SC_PAGESIZE), 0 };
	prescan_json(argc, argv);
	out.json = env.json;
	on_exit(on_usage_exit, NULL);
	argp_err_exit_status = EXIT_USAGE;
	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	usage_reported = true;	/* parsing is over */
	if (err)
		return EXIT_USAGE;
	out.json = env.json;
	libbpf_set_print(libbpf_print);
	err = check_env();
	if (err)
		return err;
	set_signals();
	err = load(&skel, &li);
	if (err)
		return err;
	err = trace(skel, &li);
	vbtrace_bpf__destroy(skel);
	return err;
}
