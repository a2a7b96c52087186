#!/usr/bin/env python3
"""make bench: vballoon against the in-tree virtio_balloon, side by side in
one guest boot (drivers swapped with rmmod/insmod on an empty balloon).

Measures inflate/deflate rate, OOM-rescue hog time and pages leaked, the
cost of running vbtrace, and vbtrace's lost events. Writes results.json,
results.md and rescue.png to --out (default build/bench). See bench/README.md.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "vm"))
from guest import Guest, PAGES_PER_MIB, cache_disk, kernel_abi  # noqa: E402
from splat import find_splats  # noqa: E402
import scenario as sc  # noqa: E402
sys.path.insert(0, HERE)
import freemem  # noqa: E402
import shapes  # noqa: E402

MEM = 1024          # guest RAM, MiB
PRESSURE = 256      # guest RAM left by the balloon during a rescue, MiB
POLL = 0.02         # host-side query-balloon period, s
TIGHT = "oom_escalate_pct=0 oom_pages=256 oom_reclaim=0"   # 1 MiB per OOM call: the real need
TRACER = "vbtrace"
GOALS = {"rescue_vs_none": 1.3, "over_leak": 1.25, "inflate_vs_intree": 1.0,
         "trace_overhead_pct": 3.0, "lost": 0}


# ---- setup ------------------------------------------------------------------

class LockedQMP:
    """The QMP socket is shared by the main thread and the sampler thread:
    serialise whole command/reply exchanges."""

    def __init__(self, qmp):
        self._qmp = qmp
        self._lock = threading.Lock()

    def execute(self, cmd, **args):
        with self._lock:
            return self._qmp.execute(cmd, **args)

    def __getattr__(self, name):
        return getattr(self._qmp, name)


def sh_out(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()


def machine_info():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    mem_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "cpu_model": cpu, "mem_mib": mem_kb // 1024,
            "host_kernel": platform.release(),
            "qemu": sh_out("qemu-system-x86_64 --version").splitlines()[0]}


def host_load():
    """QEMU processes not ours and the load average: other test runs on this
    host add noise, so the results say how busy it was."""
    return {"other_qemus": len(sh_out("pgrep -f '^qemu-system-x86_64 '").split()),
            "loadavg_1m": os.getloadavg()[0]}


def prepare(out):
    """Kernel folder and a private initramfs (other sessions may rebuild theirs)."""
    kd = os.environ.get("VB_KERNEL_DIR") or sh_out(
        "%s %s" % (os.path.join(TOP, "scripts", "fetch-kernel.sh"), os.environ.get("VB_KSERIES", "6.1")))
    abi = kernel_abi(kd)
    bdir = os.environ.get("VB_BUILD_DIR") or os.path.join(TOP, "build", abi)
    for need in (os.path.join(bdir, "vballoon.ko"), os.path.join(TOP, "build", "vbtrace")):
        if not os.path.exists(need):
            sys.exit("%s missing: run `make guest` first" % need)
    initrd = os.path.join(out, "initramfs.cpio.gz")
    subprocess.run([os.path.join(TOP, "tests", "vm", "mkrootfs.sh"), kd, initrd],
                   check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, VB_BUILD_DIR=bdir))
    return kd, initrd


def boot(kd, initrd, out, mem=MEM, smp=1):
    name = "bench-%d" % mem + ("-smp%d" % smp if smp > 1 else "")
    g = Guest(kd, initrd, mem_mib=mem, deflate_on_oom=True, name=name, smp=smp,
              log_dir=os.path.join(out, "vm"), qemu_args=cache_disk(out)).boot()
    g.qmp = LockedQMP(g.qmp)
    return g


# ---- guest actions ------------------------------------------------------------

def reload(g, driver, params=""):
    """Empty balloon, no balloon driver loaded, then a fresh `driver`: every
    measurement starts from the same driver state (hold-off timers, storm
    windows and escalation history are all reset)."""
    g.set_balloon_mib(g.mem_mib)
    for d in ("vballoon", "virtio_balloon"):
        if g.loaded(d):
            g.wait_actual(g.mem_mib, timeout=120, settle=0)
            sc.unload_driver(g, d)
    sc.load_driver(g, driver, params)
    g.wait_actual(g.mem_mib, settle=0)


def timed_resize(g, target_mib, timeout=120):
    """Host-side time from the QMP balloon command until actual == target."""
    start = g.actual_mib()
    t0 = time.monotonic()
    g.set_balloon_mib(target_mib)
    while g.actual_mib() != target_mib:
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("balloon did not reach %d MiB" % target_mib)
        time.sleep(POLL)
    secs = time.monotonic() - t0
    return {"from": start, "to": target_mib, "s": round(secs, 4),
            "mib_s": round(abs(start - target_mib) / secs, 2)}


def median_cycle(cycles):
    """The per-direction median of several inflate/deflate cycles."""
    return {k: dict(cycles[0][k], mib_s=statistics.median(c[k]["mib_s"] for c in cycles),
                    s=statistics.median(c[k]["s"] for c in cycles))
            for k in ("inflate", "deflate")}


def inflate_cycle(g, low):
    """Inflate MEM -> low, then deflate back; returns both timings."""
    return {"inflate": timed_resize(g, low), "deflate": timed_resize(g, MEM)}


class Sampler:
    """query-balloon every POLL s in a thread: (host wall time, actual MiB)."""

    def __init__(self, g):
        self.g, self.samples, self.stop = g, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            self.samples.append((time.time(), self.g.actual_mib()))
            self.stop.wait(POLL)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def rescue(g, hog_mib, pressure, work=None, prep=None, tol_mib=0):
    """sc.rescue's measurement, with the balloon level sampled host-side
    during the hog (time 0 = the hog command sent). work(g) replaces the
    plain hog (it returns what sc.run_hog does); prep(g) runs after the
    caches are dropped, before the first snapshot. tol_mib: how far short
    of the pressure a guest near its floor may stay."""
    if pressure is not None:
        g.set_balloon_mib(pressure)
        g.wait_actual(pressure, tol_mib=tol_mib, timeout=120)
    g.sh("echo 3 > /proc/sys/vm/drop_caches; sync")
    if prep:
        prep(g)
    before = sc.snapshot(g)
    with Sampler(g) as s:
        t0 = time.time()
        hog = work(g) if work else sc.run_hog(g, hog_mib)
        time.sleep(0.2)   # a few samples after the end
    after = sc.snapshot(g)
    return {
        "pressure_mib": pressure, "actual_before_mib": before["actual_mib"], "hog_mib": hog_mib, "rc": hog["rc"], "ms": hog["ms"],
        "cpu_ms": hog.get("cpu_ms"), "span_ms": hog.get("span_ms"),
        "survived": hog["rc"] == 0 and sc.delta(before, after, "oom_kill") == 0,
        "oom_kill": sc.delta(before, after, "oom_kill"),
        "leaked_pages": sc.delta(before, after, "balloon_deflate"),
        # The coarse estimate sc.rescue uses; "needed" proper is the tight run.
        "free_estimate_pages": max(0, hog_mib * PAGES_PER_MIB - before["meminfo"]["MemFree"] // 4),
        "vb_oom_calls": sc.delta(before, after, "oom_calls", "vb"),
        "vb_stall_storms": sc.delta(before, after, "oom_stall_storms", "vb"),
        "vb_rescue_calls": sc.rescue_calls(before, after),
        "vb_oom_releases": sc.delta(before, after, "oom_releases", "vb"),
        "vb_reclaim_pages": sc.delta(before, after, "oom_reclaim_pages", "vb"),
        "allocstall": sum(sc.delta(before, after, k) for k in after["vmstat"]
                          if k.startswith("allocstall")),
        "t0": t0, "samples": [(round(t - t0, 3), a) for t, a in s.samples],
    }


def start_tracer(g, args):
    """vbtrace in the background, shielded from the OOM killer; returns once
    its start record is out (programs attached)."""
    inner = "echo -1000 >/proc/self/oom_score_adj; exec vbtrace " + args
    g.bg_start(TRACER, "sh -c " + shlex.quote(inner))
    g.sh("f=/tmp/bg/{0}.out; i=0; until grep -q '\"type\":\"start\"' $f || [ $i -gt 200 ];"
         " do usleep 50000; i=$((i+1)); done; grep -q '\"type\":\"start\"' $f".format(TRACER))


def stop_tracer(g):
    """SIGINT; returns vbtrace's JSON records (the last is the summary)."""
    rc, out = g.bg_stop(TRACER, "INT")
    recs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    if not recs or recs[-1]["type"] != "summary":
        raise RuntimeError("vbtrace gave no summary (rc %d):\n%s" % (rc, out))
    return recs


def guest_clock_offset(g, tries=5):
    """Guest CLOCK_REALTIME minus host time.time(), from the fastest of a few
    agent round trips (busybox adjtimex prints microseconds; date does not)."""
    best = None
    for _ in range(tries):
        h0 = time.time()
        out = g.sh("adjtimex")
        h1 = time.time()
        kv = {l.split(":")[0].strip().split()[-1]: l.split(":")[1].strip()
              for l in out.splitlines() if "time.tv_" in l}
        guest = int(kv["time.tv_sec"]) + int(kv["time.tv_usec"]) / 1e6
        if best is None or h1 - h0 < best[1]:
            best = (guest - (h0 + h1) / 2, h1 - h0)
    return {"offset_s": best[0], "rtt_s": best[1]}


def rfc3339(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


# ---- the benchmark --------------------------------------------------------------

def traced_block(g, p, r):
    """Tracing cost and loss. Inflate cycles alternate untraced and traced
    (vbtrace -j streaming every record; -q would only count in the kernel),
    because back-to-back TCG inflates vary by 10 % and more: the overhead
    is the ratio of the two medians. Then a traced OOM rescue, last because
    its re-inflation hold-off would stall the next inflate: the highest
    event rate the scenarios produce."""
    untraced, traced, summaries, cost = list(r["cycles"]["vballoon"]), [], [], []
    for _ in range(p["trace_pairs"]):
        start_tracer(g, "-j --stats")
        traced.append(inflate_cycle(g, p["low"]))
        summaries.append(stop_tracer(g)[-1])
        untraced.append(inflate_cycle(g, p["low"]))
        cost.append(cpu_share(summaries[-1]["cost"], traced[-1]))
    start_tracer(g, "-j --stats")
    r["rescue"]["vballoon_traced"] = rescue(g, p["hog"], p["pressure"])
    g.set_balloon_mib(MEM)
    g.wait_actual(MEM, timeout=120, settle=0)
    summaries.append(stop_tracer(g)[-1])
    r["inflate"]["vballoon_traced"] = median_cycle(traced)
    r["trace_inflate_s"] = {"untraced": [c["inflate"]["s"] for c in untraced],
                            "traced": [c["inflate"]["s"] for c in traced]}
    r["trace_summary"] = summaries[-1]          # the rescue pass
    r["trace_lost"] = max(x["lost"] for x in summaries)
    r["trace_cpu_pct"] = cost


def cpu_share(cost, cycle):
    """CPU that tracing used (BPF programs, as the kernel timed them, plus
    vbtrace itself) as a % of the traced inflate+deflate time. On one vCPU
    this bounds the slowdown tracing can cause, without the run-to-run noise
    of comparing wall-clock times."""
    busy = cycle["inflate"]["s"] + cycle["deflate"]["s"]
    return round(100 * (cost["bpf_ns"] / 1e9 + cost["cpu_s"]) / busy, 3)


def one_rep(g, p, rep):
    """One repetition of every measurement. Drivers alternate order per rep
    so slow drift on a shared host does not favour one of them; the traced
    inflate directly follows the untraced one in the same driver instance;
    the no-pressure hog brackets the pressure runs (the faster counts)."""
    r = {"inflate": {}, "rescue": {}, "cycles": {}}
    order = ("vballoon", "virtio_balloon") if rep % 2 == 0 else ("virtio_balloon", "vballoon")
    for d in order:
        reload(g, d)
        # Several cycles per driver: one TCG inflate varies by 10 % and more.
        r["cycles"][d] = [inflate_cycle(g, p["low"]) for _ in range(p["cycles"])]
        r["inflate"][d] = median_cycle(r["cycles"][d])
        if d == "vballoon":
            traced_block(g, p, r)

    pressured = [(d, d, "") for d in order]
    settings = ([("none", "vballoon", "")] + pressured +
                [("none_after", "vballoon", ""), ("vballoon_tight", "vballoon", TIGHT)])
    for name, d, params in settings:
        reload(g, d, params)
        r["rescue"][name] = rescue(g, p["hog"], None if name.startswith("none") else p["pressure"])
    return r


def plot_run(g, p):
    """A vballoon rescue with vbtrace printing oom_leak records: QMP samples
    and trace events of the same rescue, on one time axis."""
    reload(g, "vballoon")
    start_tracer(g, "-j -e oom_leak")
    clock = guest_clock_offset(g)
    run = rescue(g, p["hog"], p["pressure"])
    g.set_balloon_mib(MEM)
    g.wait_actual(MEM, timeout=120, settle=0)
    recs = stop_tracer(g)
    run["clock"] = clock
    run["events"] = [(round(rfc3339(e["time"]) - clock["offset_s"] - run["t0"], 3),
                      e["balloon_pages"], e["pages"])
                     for e in recs if e["type"] == "oom_leak"]
    run["trace_summary"] = recs[-1]
    return run


# ---- statistics and report -------------------------------------------------------

def spread(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": round(statistics.median(xs), 4), "min": round(min(xs), 4),
            "max": round(max(xs), 4), "n": len(xs)}


def ratio(a, b):
    return a / b if a is not None and b else None


def summarize(reps):
    """Per-rep paired ratios (same rep, same minute of host load), then
    median and min-max over reps."""
    def per(f):
        return spread([f(r) for r in reps])

    def rate(d, kind):
        return lambda r: r["inflate"][d][kind]["mib_s"]

    def ms(s):
        if s == "none":   # the physical limit: the faster bracketing run
            return lambda r: min(r["rescue"]["none"]["ms"], r["rescue"]["none_after"]["ms"])
        return lambda r: r["rescue"][s]["ms"]

    def leak(s):
        return lambda r: r["rescue"][s]["leaked_pages"]

    s = {}
    for d in ("vballoon", "virtio_balloon", "vballoon_traced"):
        s["inflate_mib_s_" + d] = per(rate(d, "inflate"))
        s["deflate_mib_s_" + d] = per(rate(d, "deflate"))
    for k in ("none", "vballoon", "virtio_balloon", "vballoon_tight", "vballoon_traced"):
        s["hog_ms_" + k] = per(ms(k))
        s["leaked_pages_" + k] = per(leak(k))
    s["inflate_vs_intree"] = per(lambda r: ratio(rate("vballoon", "inflate")(r), rate("virtio_balloon", "inflate")(r)))
    s["deflate_vs_intree"] = per(lambda r: ratio(rate("vballoon", "deflate")(r), rate("virtio_balloon", "deflate")(r)))
    s["rescue_vs_none"] = per(lambda r: ratio(ms("vballoon")(r), ms("none")(r)))
    s["intree_rescue_vs_none"] = per(lambda r: ratio(ms("virtio_balloon")(r), ms("none")(r)))
    s["rescue_vs_intree"] = per(lambda r: ratio(ms("vballoon")(r), ms("virtio_balloon")(r)))
    s["over_leak"] = per(lambda r: ratio(leak("vballoon")(r), leak("vballoon_tight")(r)))
    s["leak_vs_intree"] = per(lambda r: ratio(leak("vballoon")(r), leak("virtio_balloon")(r)))
    s["intree_over_leak"] = per(lambda r: ratio(leak("virtio_balloon")(r), leak("vballoon_tight")(r)))
    s["trace_overhead_pct"] = per(lambda r: 100 * (ratio(
        statistics.median(r["trace_inflate_s"]["traced"]),
        statistics.median(r["trace_inflate_s"]["untraced"])) - 1))
    s["trace_cpu_pct"] = per(lambda r: statistics.median(r["trace_cpu_pct"]))
    s["trace_rescue_overhead_pct"] = per(lambda r: 100 * (ratio(ms("vballoon_traced")(r), ms("vballoon")(r)) - 1))
    s["lost"] = per(lambda r: r["trace_lost"])
    s["all_survived"] = all(x["survived"] for r in reps for x in r["rescue"].values())
    return s


def fmt(st, unit=""):
    if not st:
        return "n/a"
    f = "%.0f" if abs(st["median"]) >= 100 else "%.3g"
    return (f + "%s (" + f + "–" + f + ")") % (st["median"], unit, st["min"], st["max"])


def markdown(res):
    s, p = res["summary"], res["params"]
    rows = [
        ("rescue hog time / no pressure, vballoon", "rescue_vs_none", "≤ %.2g" % GOALS["rescue_vs_none"],
         lambda m: m <= GOALS["rescue_vs_none"]),
        ("rescue hog time / no pressure, in-tree (baseline ~2.4)", "intree_rescue_vs_none", "—", None),
        ("rescue hog time, vballoon / in-tree", "rescue_vs_intree", "—", None),
        ("leaked / needed, vballoon", "over_leak", "≤ %.3g" % GOALS["over_leak"],
         lambda m: m <= GOALS["over_leak"]),
        ("leaked / needed, in-tree", "intree_over_leak", "—", None),
        ("pages leaked, vballoon / in-tree", "leak_vs_intree", "—", None),
        ("inflate rate, vballoon / in-tree", "inflate_vs_intree", "≥ %.2g" % GOALS["inflate_vs_intree"],
         lambda m: m >= GOALS["inflate_vs_intree"]),
        ("deflate rate, vballoon / in-tree", "deflate_vs_intree", "—", None),
        ("tracing CPU cost, % of traced inflate+deflate time (bounds the slowdown)",
         "trace_cpu_pct", "≤ %g" % GOALS["trace_overhead_pct"],
         lambda m: m <= GOALS["trace_overhead_pct"]),
        ("tracing overhead on inflate time (wall clock, noisy), %", "trace_overhead_pct", "—", None),
        ("tracing overhead on rescue hog time, %", "trace_rescue_overhead_pct", "—", None),
        ("vbtrace lost events (max over reps)", "lost", "= 0",
         lambda m: s["lost"] and s["lost"]["max"] == 0),
    ]
    out = ["# vballoon benchmark (%s, guest %s, %d rep%s)" % (
               res["date"], res["guest_abi"], p["reps"], "s" if p["reps"] > 1 else ""), "",
           "Median (min–max) over reps; ratios are paired within a rep.", "",
           "| measure | value | goal | met |", "| --- | --- | --- | --- |"]
    for label, key, goal, ok in rows:
        st = s.get(key)
        val = str(st["max"]) if key == "lost" and st else fmt(st)
        met = "—" if ok is None or not st else ("met" if ok(st["median"]) else "NOT met")
        out.append("| %s | %s | %s | %s |" % (label, val, goal, met))
    out += ["", "| raw medians | vballoon | in-tree | vballoon traced |", "| --- | --- | --- | --- |"]
    for what, key in (("inflate %d→%d MiB/s" % (MEM, p["low"]), "inflate_mib_s_"),
                      ("deflate %d→%d MiB/s" % (p["low"], MEM), "deflate_mib_s_")):
        out.append("| %s | %s | %s | %s |" % (what, fmt(s[key + "vballoon"]),
                                               fmt(s[key + "virtio_balloon"]), fmt(s[key + "vballoon_traced"])))
    out.append("| hog %d MiB at %d MiB, ms | %s | %s | %s |" % (
        p["hog"], p["pressure"], fmt(s["hog_ms_vballoon"]), fmt(s["hog_ms_virtio_balloon"]),
        fmt(s["hog_ms_vballoon_traced"])))
    out.append("| pages leaked | %s | %s | %s |" % (
        fmt(s["leaked_pages_vballoon"]), fmt(s["leaked_pages_virtio_balloon"]),
        fmt(s["leaked_pages_vballoon_traced"])))
    out += ["", "No pressure (faster of the two bracketing runs): hog %s ms. Needed (vballoon `%s`): %s pages. All hogs survived: %s." % (
        fmt(s["hog_ms_none"]), TIGHT, fmt(s["leaked_pages_vballoon_tight"]), s["all_survived"]),
        "Host load: %(s)s other QEMU processes and load %(sl).1f at start, %(e)s and %(el).1f at end"
        " on %(n)d CPUs (noise if other guests ran)." % {
            "s": res["host_load"]["start"]["other_qemus"], "sl": res["host_load"]["start"]["loadavg_1m"],
            "e": res["host_load"]["end"]["other_qemus"], "el": res["host_load"]["end"]["loadavg_1m"],
            "n": res["machine"]["nproc"]}]
    return "\n".join(out) + "\n"


def plot(res, out):
    """Balloon size during a rescue: QMP samples for both drivers and the
    vbtrace oom_leak records of the vballoon run."""
    files = {}

    def dat(name, rows):
        files[name] = os.path.join(out, "rescue-%s.dat" % name)
        with open(files[name], "w") as f:
            f.writelines("%s %s\n" % row for row in rows)

    pr = res["plot_run"]
    it = res["reps"][-1]["rescue"]["virtio_balloon"]
    dat("vballoon-qmp", [(t, MEM - a) for t, a in pr["samples"]])
    dat("vballoon-vbtrace", [(t, round(b / PAGES_PER_MIB, 2)) for t, b, _ in pr["events"]])
    dat("intree-qmp", [(t, MEM - a) for t, a in it["samples"]])
    png = os.path.join(out, "rescue.png")
    script = """
set terminal pngcairo size 1000,600 noenhanced
set output '{png}'
set title 'OOM rescue: hog {hog} MiB with the balloon holding {held} MiB of {mem} MiB'
set xlabel 'seconds since hog start'
set ylabel 'balloon size (MiB)'
set grid
set key top right
plot '{a}' using 1:2 with steps lw 2 title 'vballoon (QMP query-balloon)', \\
     '{b}' using 1:2 with points pt 7 ps 0.5 title 'vballoon (vbtrace oom_leak balloon_pages)', \\
     '{c}' using 1:2 with steps lw 2 title 'in-tree virtio_balloon (QMP query-balloon)'
""".format(png=png, hog=res["params"]["hog"], held=MEM - res["params"]["pressure"], mem=MEM,
           a=files["vballoon-qmp"], b=files["vballoon-vbtrace"], c=files["intree-qmp"])
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return png


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="1 rep, small sizes (~2 min)")
    ap.add_argument("--out", default=os.path.join(TOP, "build", "bench"))
    ap.add_argument("--no-freemem", action="store_true", help="skip the free memory rows")
    ap.add_argument("--freemem-only", action="store_true",
                    help="only the free memory rows (results-freemem.{json,md})")
    ap.add_argument("--freemem-sizes", default="200,400,600", help="spike sizes, MiB")
    ap.add_argument("--freemem-append", default="",
                    help="extra guest kernel arguments for the free memory boots")
    ap.add_argument("--freemem-params", default="", metavar="PARAMS",
                    help="vballoon module parameters for the free memory rows (e.g. hint_order=0)")
    ap.add_argument("--hint-reps", type=int, default=3,
                    help="pairs of hinting-only migrations per spike size")
    ap.add_argument("--shapes", action="store_true",
                    help="only the shape matrix (results-shapes.{json,md})")
    ap.add_argument("--no-shapes", action="store_true", help="skip the shape matrix")
    ap.add_argument("--shape-reps", type=int, default=3)
    ap.add_argument("--shape-names", help="comma list: only these shapes of the matrix")
    ap.add_argument("--ab-params", metavar="PARAMS",
                    help="shape matrix: one more vballoon arm per rep with these module"
                         " parameters (e.g. oom_pace_ms=300), paired with the defaults")
    a = ap.parse_args()
    if a.ab_params and (a.smoke or a.no_shapes or a.freemem_only):
        ap.error("--ab-params applies to the shape matrix: not with --smoke, --no-shapes"
                 " or --freemem-only")
    if a.freemem_params and (a.smoke or a.no_freemem or a.shapes):
        ap.error("--freemem-params applies to the free memory rows: not with --smoke,"
                 " --no-freemem or --shapes")
    p = ({"reps": 1, "low": 768, "hog": 200, "trace_pairs": 1, "cycles": 1} if a.smoke else
         {"reps": a.reps, "low": 256, "hog": 300, "trace_pairs": 3, "cycles": 3})
    p.update(mem=MEM, pressure=PRESSURE, poll_s=POLL, smp=1, device="virtio-balloon-pci,deflate-on-oom=on",
             tight_params=TIGHT, smoke=a.smoke)
    os.makedirs(a.out, exist_ok=True)

    kd, initrd = prepare(a.out)
    sizes = [int(x) for x in a.freemem_sizes.split(",")]
    if a.freemem_only:
        return freemem_only(kd, initrd, a.out, sizes, a.hint_reps, a.freemem_append,
                            a.freemem_params)
    if a.shapes:
        return shapes_only(kd, initrd, a.out, a.shape_reps, a.shape_names, a.ab_params)
    res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": machine_info(), "guest_abi": kernel_abi(kd), "params": p,
           "host_load": {"start": host_load()}}
    g = boot(kd, initrd, a.out)
    try:
        res["boot_s"] = round(g.boot_seconds, 1)
        reload(g, "vballoon")             # warm-up, not counted: first touch
        inflate_cycle(g, p["low"])        # of guest RAM on the host is slow
        sc.run_hog(g, p["hog"])
        res["reps"] = []
        for i in range(p["reps"]):
            res["reps"].append(one_rep(g, p, i))
            print("rep %d/%d done" % (i + 1, p["reps"]), file=sys.stderr)
        res["plot_run"] = plot_run(g, p)
        reload(g, "vballoon")
        sc.unload_driver(g, "vballoon")
        res["splats"] = find_splats(g.take_dmesg(), allow_oom=True)
        if a.smoke:    # the shape matrix's code path, in this boot
            t0 = time.monotonic()
            res["shapes"] = shapes.matrix(kd, initrd, a.out, 1, shapes.SMOKE, guest=g)
            res["shapes"]["wall_s"] = round(time.monotonic() - t0, 1)
    finally:
        g.shutdown()
    if not (a.smoke or a.no_freemem):
        res["freemem"] = freemem.run(kd, initrd, a.out, sizes, a.hint_reps, a.freemem_append,
                                     a.freemem_params)
        res["freemem"]["guest_abi"] = res["guest_abi"]
    res["host_load"]["end"] = host_load()
    res["summary"] = summarize(res["reps"])
    res["plot"] = plot(res, a.out)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = markdown(res)
    if "freemem" in res:
        md += freemem.markdown(res["freemem"])
    if "shapes" in res:
        res["shapes"].update(date=res["date"], guest_abi=res["guest_abi"], host_load=res["host_load"])
        md += "\n" + shapes.markdown(res["shapes"])
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(md)
    print(md)
    print("results: %s\nplot: %s" % (os.path.join(a.out, "results.json"), res["plot"]))
    if not (a.smoke or a.no_shapes):
        shapes_only(kd, initrd, a.out, a.shape_reps, a.shape_names, a.ab_params)


def shapes_only(kd, initrd, out, reps, names=None, ab=None):
    """The shape matrix (bench/shapes.py) in its own files."""
    t0 = time.monotonic()
    res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": machine_info(), "guest_abi": kernel_abi(kd), "host_load": {"start": host_load()}}
    chosen = [t for t in shapes.SHAPES if not names or t[0] in names.split(",")]
    res.update(shapes.matrix(kd, initrd, out, reps, chosen, ab=ab))
    res["host_load"]["end"] = host_load()
    res["wall_s"] = round(time.monotonic() - t0, 1)
    md = shapes.write(res, out)
    print(md)


def freemem_only(kd, initrd, out, sizes, hint_reps, append="", vb_params=""):
    """The free memory rows alone (bench/freemem.py), in their own files."""
    res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": machine_info(), "guest_abi": kernel_abi(kd), "host_load": {"start": host_load()}}
    res.update(freemem.run(kd, initrd, out, sizes, hint_reps, append, vb_params))
    res["host_load"]["end"] = host_load()
    with open(os.path.join(out, "results-freemem.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = freemem.markdown(res)
    with open(os.path.join(out, "results-freemem.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
