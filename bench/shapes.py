"""The shape matrix: OOM rescue across guest sizes, balloon depths, spike
sizes, allocation patterns and vCPU counts, vballoon against the in-tree
driver, ABBA order in one boot per guest size and vCPU count. Spikes are sized from the free memory
measured at the shape's balloon depth. See bench/README.md."""
import os
import re
import statistics
import sys
import traceback

import run
from guest import PAGES_PER_MIB
import scenario as sc

GOALS = {"vs_none": 1.3, "vs_intree": 1.0, "over_leak": 1.25, "median_vs_none": 1.15}
PACE = (10, 100)        # slow grower: 10 MiB every 100 ms
CACHE_SHARE = 0.75      # page cache shape: this share of the free memory is cache
TOL_MIB = 2             # a driver may stop this short of a deep balloon
WARM_MARGIN_MIB = 16    # warm-up leaves this much of MemAvailable untouched
COLD_MARGIN_MIB = 16    # host-cold floor: the need plus this leaves the balloon

# name, guest MiB, balloon % of RAM, spike as a multiple of free memory, kind
SHAPES = [
    ("512-75-2x", 512, 75, 2.0, "spike"),
    ("512-50-0.5x", 512, 50, 0.5, "spike"),
    ("1024-75-1.5x", 1024, 75, 1.5, "spike"),
    ("1024-75-1.5x-slow", 1024, 75, 1.5, "slow"),
    ("1024-75-1.5x-two", 1024, 75, 1.5, "two"),
    ("1024-75-1.5x-cache", 1024, 75, 1.5, "cache"),
    ("1024-80-3x", 1024, 80, 3.0, "spike"),
    ("2048-50-1x", 2048, 50, 1.0, "spike"),
    ("2048-90-3x", 2048, 90, 3.0, "spike"),
    # A second vCPU: kswapd's releases run beside the workload, not between.
    ("1024-75-1.5x-2cpu", 1024, 75, 1.5, "spike", 2),
    ("2048-80-3x-2cpu", 2048, 80, 3.0, "spike", 2),
]
SMOKE = [("1024-75-1.5x-two", 1024, 75, 1.5, "two")]


def shape_dict(t):
    """(name, guest MiB, balloon %, spike × free, kind[, vCPUs])."""
    return {"smp": 1} | dict(zip(("name", "mem", "depth", "factor", "kind", "smp"), t))


def pressure_mib(s):
    return s["mem"] - s["mem"] * s["depth"] // 100


def calibrate(g, s):
    """Free memory at the shape's depth (vballoon inflated, caches dropped)
    sets the spike, and the page cache for the cache shape."""
    run.reload(g, "vballoon")
    sc.inflate_to(g, pressure_mib(s))
    g.sh("echo 3 > /proc/sys/vm/drop_caches; sync")
    free = g.meminfo()["MemFree"] // 1024
    zs = sc.zones(g).values()
    s.update(free_mib=free, hog_mib=max(8, int(free * s["factor"])),
             cache_mib=int(free * CACHE_SHARE) if s["kind"] == "cache" else 0,
             band_pages={w: sum(z[w] - z["min"] for z in zs) for w in ("low", "high")})


def warm(g):
    """Touch the free memory once: pages the balloon gave back are not
    resident on the host until touched, and the hog should not pay for
    that in one run and not in another (no pressure would look slow).
    MemAvailable leaves out the watermarks and lowmem reserves that MemFree
    counts, so the warm-up stays clear of reclaim and OOM calls."""
    mib = g.meminfo()["MemAvailable"] // 1024 - WARM_MARGIN_MIB
    if mib > 8:
        sc.run_hog(g, mib)


def workload(s):
    """(prep, work) for run.rescue: what the shape runs under pressure."""
    prep = warm
    if s["kind"] == "cache":
        def prep(g):
            warm(g)
            sc.fill_page_cache(g, s["cache_mib"])
    if s["kind"] == "slow":
        return prep, lambda g: sc.run_hog(g, s["hog_mib"], pace=PACE)
    if s["kind"] == "two":
        half = s["hog_mib"] // 2
        return prep, lambda g: sc.run_hogs(g, [half, s["hog_mib"] - half])
    return prep, lambda g: sc.run_hog(g, s["hog_mib"])


def measure(g, s, driver, params="", pressure=True):
    """One run from a freshly loaded driver (no pressure: balloon empty)."""
    run.reload(g, driver, params)
    prep, work = workload(s)
    r = run.rescue(g, s["hog_mib"], pressure_mib(s) if pressure else None, work, prep, TOL_MIB)
    r.pop("samples")
    r["driver"], r["params"] = driver, params
    # Balloon given back before the measurement (the warm-up): should be 0.
    r["short_of_pressure_mib"] = (r["actual_before_mib"] - pressure_mib(s)) if pressure else 0
    return r


def measure_cold(g, s):
    """The floor for any balloon driver here: no pressure, but what the
    workload needs (the tight run's leak, plus COLD_MARGIN_MIB) leaves the
    balloon after the warm-up, so the host faults those pages in on their
    first touch, as in a rescue; no reclaim, no OOM path, no stall."""
    depth = pressure_mib(s)
    back = min(s["mem"], depth + s["need_mib"] + COLD_MARGIN_MIB)
    prep, work = workload(s)

    def cold_prep(g):
        g.set_balloon_mib(depth)
        g.wait_actual(depth, tol_mib=TOL_MIB, timeout=120)
        prep(g)
        g.set_balloon_mib(back)
        g.wait_actual(back, tol_mib=TOL_MIB, timeout=120)

    run.reload(g, "vballoon")
    r = run.rescue(g, s["hog_mib"], None, work, cold_prep, TOL_MIB)
    r.pop("samples")
    r["driver"], r["params"], r["balloon_back_mib"] = "vballoon", "", back - depth
    r["short_of_pressure_mib"] = 0
    return r


def one_rep(g, shapes, rep, ab=None):
    """Per shape: no pressure, then both drivers (and vballoon with the ab
    parameters, if given), ABBA over reps; the tight run (1 MiB per OOM
    call: the real need) in the first rep only, then the host-cold floor
    for that need."""
    arms = [("vballoon", "vballoon", ""), ("virtio_balloon", "virtio_balloon", "")]
    if ab:
        arms.append(("ab", "vballoon", ab))
    if rep % 2:
        arms.reverse()
    out = {}
    for s in shapes:
        r = {"none": measure(g, s, "vballoon", pressure=False)}
        for key, d, params in arms:
            r[key] = measure(g, s, d, params)
        if rep == 0:
            r["tight"] = measure(g, s, "vballoon", run.TIGHT)
            s["need_mib"] = -(-r["tight"]["leaked_pages"] // PAGES_PER_MIB)
        if s["need_mib"]:
            r["cold"] = measure_cold(g, s)
        out[s["name"]] = r
        print("  rep %d %s: none %s host-cold %s vballoon %s in-tree %s%s ms" % (
            rep, s["name"], r["none"]["ms"], r.get("cold", {}).get("ms"), r["vballoon"]["ms"],
            r["virtio_balloon"]["ms"], " a/b %s" % r["ab"]["ms"] if ab else ""), file=sys.stderr)
    return out


# ---- where the time goes ----------------------------------------------------------

TRACE = "/sys/kernel/tracing"
TRACE_KB = 16384
# kprobes: (event, function); each also gets a kretprobe, event + "_ret".
PROBES = (("oom", "out_of_memory"), ("dequeue", "balloon_page_list_dequeue"),
          ("free", "put_pages_list"))
EVENTS = ("vballoon/vballoon_oom_leak", "vmscan/mm_vmscan_direct_reclaim_begin",
          "vmscan/mm_vmscan_direct_reclaim_end", "oom/reclaim_retry_zone",
          "vmscan/mm_vmscan_kswapd_wake", "vmscan/mm_vmscan_kswapd_sleep") + tuple(
              "vbbench/" + e + r for e, _ in PROBES for r in ("", "_ret"))
LINE = re.compile(r"^\s*(.+?)-(\d+)\s+\[\d+\]\s+(?:\S+\s+)?([\d.]+):\s+(\w+):\s*(.*)$")


def trace_start(g):
    """The vballoon tracepoint, the kernel's direct reclaim and reclaim retry
    tracepoints, and kprobes on out_of_memory() and on the two halves of a
    release (taking pages off the balloon list, freeing them), in tracefs
    (one clock)."""
    # No $retval: a kernel with BTF refuses it on a void function.
    probes = "".join("echo 'p:vbbench/%s %s' >> $T/kprobe_events; echo 'r:vbbench/%s_ret %s'"
                     " >> $T/kprobe_events; " % (e, f, e, f) for e, f in PROBES)
    g.sh("set -e; T=%s; echo 0 > $T/tracing_on; echo > $T/trace; echo 0 > $T/options/overwrite;"
         " echo > $T/kprobe_events; %s"
         " for e in %s; do echo 1 > $T/events/$e/enable; done; echo 1 > $T/tracing_on"
         % (TRACE, probes, " ".join(EVENTS)))


def trace_stop(g):
    """The records, and how many the full buffer dropped (overwrite is off:
    the start is kept, a truncated end shows)."""
    text = g.sh("T=%s; echo 0 > $T/tracing_on; cat $T/trace; for e in %s; do echo 0 >"
                " $T/events/$e/enable; done; echo > $T/kprobe_events; echo > $T/trace"
                % (TRACE, " ".join(EVENTS)), timeout=120)
    dropped = sum(int(l.split(":")[1]) for l in g.sh(
        "cat %s/per_cpu/cpu*/stats" % TRACE).splitlines() if l.startswith("dropped events"))
    evs = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            kv = dict(x.split("=", 1) for x in m.group(5).split() if "=" in x)
            kv["comm"] = m.group(1).strip()
            evs.append((float(m.group(3)), int(m.group(2)), m.group(4), kv, m.group(5)))
    return evs, dropped


def release_halves(leaks, halves):
    """ms in each kprobed half, counting only calls inside a release of the
    same task (a release's tracepoint fires at its end, with its length):
    the worker deflating or inflating calls the same functions."""
    out = {"dequeue": 0.0, "free": 0.0}
    for pid, name, t_in, t_out in halves:
        if any(p == pid and t - ns / 1e9 <= t_in and t_out <= t
               for t, _, ns, _, _, p in leaks):
            out[name] += (t_out - t_in) * 1000
    return out


def breakdown(evs):
    """Times in ms from the hog's start marker: first stall to first OOM
    call, OOM calls, storms (a storm restarts at step 0 once its window
    expired), release time (and its two halves) against direct reclaim
    time."""
    marks = [t for t, _, n, _, txt in evs if n == "tracing_mark_write"]
    t0 = marks[0]
    t1 = marks[1] if len(marks) > 1 else evs[-1][0]
    ms = lambda t: round((t - t0) * 1000, 1)
    begin, reclaim_ms, oom_in, oom_ms = {}, 0.0, {}, 0.0
    stalls, ooms, leaks, retries, gaps = [], [], [], 0, []
    last_leak, kswapd_on, kswapd_ms = None, None, 0.0
    half_in, halves = {}, []
    for t, pid, n, kv, _ in evs:
        if n == "mm_vmscan_kswapd_wake" and kswapd_on is None:
            kswapd_on = max(t, t0)
        elif n == "mm_vmscan_kswapd_sleep" and kswapd_on is not None:
            kswapd_ms += (t - kswapd_on) * 1000
            kswapd_on = None
        elif n == "mm_vmscan_direct_reclaim_begin":
            begin[pid] = t
            stalls.append(t)
        elif n == "mm_vmscan_direct_reclaim_end" and pid in begin:
            reclaim_ms += (t - begin.pop(pid)) * 1000
        elif n == "oom":
            oom_in[pid] = t
            ooms.append(t)
            # The allocator's futile retries: first stall since the last release.
            first = next((x for x in stalls if last_leak is None or x > last_leak), t)
            gaps.append((t - first) * 1000)
        elif n == "oom_ret" and pid in oom_in:
            oom_ms += (t - oom_in.pop(pid)) * 1000
        elif n in ("dequeue", "free"):
            half_in[(pid, n)] = t
        elif n in ("dequeue_ret", "free_ret") and (pid, n[:-4]) in half_in:
            halves.append((pid, n[:-4], half_in.pop((pid, n[:-4])), t))
        elif n == "vballoon_oom_leak":
            leaks.append((t, int(kv["freed"]), int(kv["ns"]), int(kv["step"]),
                          kv["comm"].startswith("kswapd"), pid))
            last_leak = t
        elif n == "reclaim_retry_zone":
            retries += 1
    if kswapd_on is not None:
        kswapd_ms += (t1 - kswapd_on) * 1000
    release_ms = sum(x[2] for x in leaks) / 1e6
    half_ms = release_halves(leaks, halves)
    return {
        "span_ms": ms(t1),
        "first_stall_ms": ms(stalls[0]) if stalls else None,
        "first_oom_ms": ms(ooms[0]) if ooms else None,
        "first_stall_to_first_oom_ms": round((ooms[0] - stalls[0]) * 1000, 1) if stalls and ooms else None,
        "first_release_ms": ms(leaks[0][0]) if leaks else None,
        "first_stall_to_first_release_ms": round((leaks[0][0] - stalls[0]) * 1000, 1)
        if stalls and leaks else None,
        "stall_to_oom_ms_total": round(sum(gaps), 1),
        "oom_calls": len(ooms), "oom_path_ms": round(oom_ms, 1),
        "storms": sum(1 for x in leaks if x[3] == 0),
        "window_expiries": max(0, sum(1 for x in leaks if x[3] == 0) - 1),
        "releases": len(leaks), "released_pages": sum(x[1] for x in leaks),
        "release_ms": round(release_ms, 1),
        "releases_by_kswapd": sum(1 for x in leaks if x[4]),
        "release_ms_by_kswapd": round(sum(x[2] for x in leaks if x[4]) / 1e6, 1),
        # Inside releases: balloon_page_list_dequeue(), put_pages_list().
        "release_dequeue_ms": round(half_ms["dequeue"], 1),
        "release_free_ms": round(half_ms["free"], 1),
        "kswapd_awake_ms": round(kswapd_ms, 1),
        "direct_reclaims": len(stalls), "direct_reclaim_ms": round(reclaim_ms, 1),
        "reclaim_retry_zone": retries,
        "last_release_ms": ms(leaks[-1][0]) if leaks else None,
    }


KSWAPD_NS = ("for p in /proc/[0-9]*; do if [ \"$(cat $p/comm 2>/dev/null)\" = kswapd0 ];"
             " then cut -d' ' -f1 $p/schedstat; fi; done")


def kswapd_ns(g):
    """kswapd0's time on the CPU so far (schedstat), ns."""
    return int(g.sh(KSWAPD_NS).split()[0])


def traced_rescue(g, s):
    """One vballoon rescue of shape s with tracefs recording; vbtrace runs
    alongside, its totals cross-check the tracepoint records."""
    run.reload(g, "vballoon")
    sc.inflate_to(g, pressure_mib(s))
    g.sh("echo 3 > /proc/sys/vm/drop_caches; sync")
    prep, work = workload(s)
    if prep:
        prep(g)
    run.start_tracer(g, "-j -q")
    try:
        before = sc.snapshot(g)
        trace_start(g)
        kswapd0 = kswapd_ns(g)
        g.sh("echo vbstart > %s/trace_marker" % TRACE)
        hog = work(g)
        g.sh("echo vbend > %s/trace_marker" % TRACE)
        kswapd1 = kswapd_ns(g)
        evs, dropped = trace_stop(g)
        after = sc.snapshot(g)
    finally:
        summary = run.stop_tracer(g)[-1]
    b = breakdown(evs)
    b["kswapd_cpu_ms"] = round((kswapd1 - kswapd0) / 1e6, 1)
    b.update(shape=s["name"], hog_ms=hog["ms"], hog_cpu_ms=hog["cpu_ms"], rc=hog["rc"], trace_dropped=dropped,
             vb_oom_calls=sc.delta(before, after, "oom_calls", "vb"),
             vb_stall_storms=sc.delta(before, after, "oom_stall_storms", "vb"),
             vb_oom_releases=sc.delta(before, after, "oom_releases", "vb"),
             vmstat_deflate=sc.delta(before, after, "balloon_deflate"),
             allocstall=sum(sc.delta(before, after, k) for k in after["vmstat"]
                            if k.startswith("allocstall")),
             vbtrace_oom_leak=summary["counts"]["oom_leak"],
             vbtrace_oom_leak_pages=summary["pages"]["oom_leak"], vbtrace_lost=summary["lost"])
    return b


# ---- driver and report -------------------------------------------------------------

def run_boot(kd, initrd, out, mem, smp, shapes, reps, guest=None, ab=None):
    """All reps of the shapes of one guest size and vCPU count in one boot
    (guest: reuse that one, already warm), then a traced rescue of its
    worst shape."""
    g = guest or run.boot(kd, initrd, out, mem, smp)
    try:
        # The trace buffer, allocated before free memory is measured.
        g.sh("echo %d > %s/buffer_size_kb" % (TRACE_KB, TRACE))
        if not guest:
            run.reload(g, "vballoon")        # warm-up: first touch of guest RAM
            sc.run_hog(g, mem * 3 // 4)
        for s in shapes:
            calibrate(g, s)
        reps_out = [one_rep(g, shapes, i, ab) for i in range(reps)]
        for s in shapes:
            s["reps"] = [r[s["name"]] for r in reps_out]
            s["summary"] = summarize(s, s["reps"])
        rescued = [s for s in shapes if s["summary"]["needed_pages"]] or shapes
        worst = max(rescued, key=lambda s: s["summary"]["vs_none"]["median"])
        try:
            trace = traced_rescue(g, worst)
        except Exception as e:      # the matrix stands without it
            traceback.print_exc()
            trace = {"shape": worst["name"], "error": repr(e)}
        run.reload(g, "vballoon")
        sc.unload_driver(g, "vballoon")
        return trace, run.find_splats(g.take_dmesg(), allow_oom=True)
    finally:
        if not guest:
            g.shutdown()


def ratio(a, b):
    return a / b if a is not None and b else None


def diff(a, b):
    return a - b if a is not None and b is not None else None


SINGLE_HOG = ("spike", "cache")     # one hog that never sleeps


def cold_split(s, r):
    """One rep's vballoon wall time over host-cold, as (hog CPU over
    host-cold's, time the hog was off the CPU): the hog's own page faults
    against the rest of the vCPU (kswapd's releases, workers, interrupts).
    Only for one hog that never sleeps: (None, None) otherwise."""
    if s["kind"] not in SINGLE_HOG:
        return None, None
    vb, cold = r["vballoon"], r.get("cold", {})
    return (diff(vb.get("cpu_ms"), cold.get("cpu_ms")), diff(vb["ms"], vb.get("cpu_ms")))


def summarize(s, reps):
    """Paired per-rep ratios; needed is the tight run's leak (first rep)."""
    needed = reps[0]["tight"]["leaked_pages"]
    per = lambda f: run.spread([f(r) for r in reps])
    ms = lambda k: (lambda r: r[k]["ms"])
    return {
        "hog_ms_none": per(ms("none")), "hog_ms_vballoon": per(ms("vballoon")),
        "hog_ms_intree": per(ms("virtio_balloon")),
        "vs_none": per(lambda r: ratio(r["vballoon"]["ms"], r["none"]["ms"])),
        "intree_vs_none": per(lambda r: ratio(r["virtio_balloon"]["ms"], r["none"]["ms"])),
        "vs_intree": per(lambda r: ratio(r["vballoon"]["ms"], r["virtio_balloon"]["ms"])),
        "cold_vs_none": per(lambda r: ratio(r.get("cold", {}).get("ms"), r["none"]["ms"])),
        "vs_cold": per(lambda r: ratio(r["vballoon"]["ms"], r.get("cold", {}).get("ms"))),
        "over_cold_ms": per(lambda r: diff(r["vballoon"]["ms"], r.get("cold", {}).get("ms"))),
        "cpu_over_cold_ms": per(lambda r: cold_split(s, r)[0]),
        "off_cpu_ms": per(lambda r: cold_split(s, r)[1]),
        "needed_pages": needed,
        "over_leak": per(lambda r: ratio(r["vballoon"]["leaked_pages"], needed)),
        # Storm reclaim refills free memory into the watermark band, where
        # kswapd sleeps; the tight run leaves it at min: the leak's floor.
        "band_floor": {w: ratio(needed + b, needed) for w, b in s["band_pages"].items()},
        "intree_over_leak": per(lambda r: ratio(r["virtio_balloon"]["leaked_pages"], needed)),
        "oom_calls_vballoon": per(lambda r: r["vballoon"]["vb_oom_calls"]),
        "stall_storms_vballoon": per(lambda r: r["vballoon"].get("vb_stall_storms", 0)),
        # Balloon already given back when the measured workload started.
        "pre_leak_mib": max(r[k]["actual_before_mib"] - pressure_mib(s) for r in reps
                            for k in ("vballoon", "virtio_balloon", "tight", "ab") if k in r),
        "survived": all(r[k]["survived"] for r in reps for k in r if k != "ab"),
    } | ab_summary(reps, per, needed)


def ab_summary(reps, per, needed):
    """vballoon with the ab parameters, paired with the default in each rep."""
    if "ab" not in reps[0]:
        return {}
    return {"ab_vs_none": per(lambda r: ratio(r["ab"]["ms"], r["none"]["ms"])),
            "ab_vs_vballoon": per(lambda r: ratio(r["ab"]["ms"], r["vballoon"]["ms"])),
            "ab_vs_intree": per(lambda r: ratio(r["ab"]["ms"], r["virtio_balloon"]["ms"])),
            "ab_vs_cold": per(lambda r: ratio(r["ab"]["ms"], r.get("cold", {}).get("ms"))),
            "ab_over_leak": per(lambda r: ratio(r["ab"]["leaked_pages"], needed)),
            "ab_survived": all(r["ab"]["survived"] for r in reps)}


def met(st, s):
    """Goals of one shape. A shape that needed nothing (the control) has
    one goal: the balloon stayed shut."""
    if not st["needed_pages"]:
        shut = all(r["vballoon"]["leaked_pages"] == 0 for r in s["reps"])
        return "met (balloon shut)" if shut else "NOT met (balloon opened)"
    ok = (st["vs_none"]["median"] <= GOALS["vs_none"] and st["vs_intree"]["median"] <= GOALS["vs_intree"]
          and (st["over_leak"] is None or st["over_leak"]["median"] <= GOALS["over_leak"]))
    return "met" if ok and st["survived"] else "NOT met"


def band_markdown(res):
    """The leak's floor for the shapes over the leak goal."""
    over = [s for s in res["shapes"] if s["summary"]["over_leak"]
            and s["summary"]["over_leak"]["median"] > GOALS["over_leak"]]
    if not over:
        return []
    return ["", "Leaked over %.3g× needed: " % GOALS["over_leak"] + "; ".join(
        "%s, %.3g× with the zones' watermark band (low − min to high − min) %d to %d pages"
        " against %d needed: a floor of %.3g× to %.3g×" % (
            s["name"], s["summary"]["over_leak"]["median"], s["band_pages"]["low"],
            s["band_pages"]["high"], s["summary"]["needed_pages"],
            s["summary"]["band_floor"]["low"], s["summary"]["band_floor"]["high"])
        for s in over) + ". Storm reclaim leaves free memory in that band, where kswapd"
        " stops; the tight run (256 pages an OOM call) leaves it at the min watermark."]


def markdown(res):
    f = run.fmt
    out = ["# vballoon shape matrix (%s, guest %s, %d reps, wall %.1f min)" % (
               res["date"], res["guest_abi"], res["reps"], res["wall_s"] / 60), "",
           "Median (min–max) over reps, ratios paired within a rep, ABBA order in one boot"
           " per guest size and vCPU count. Goals per shape: vballoon ≤ %.2g× no pressure, ≤ in-tree,"
           " leaked ≤ %.3g× needed." % (GOALS["vs_none"], GOALS["over_leak"]), "",
           "| shape | guest MiB | vCPUs | balloon % | free MiB | spike MiB | kind | no pressure ms |"
           " vballoon / none | in-tree / none | vballoon / in-tree | host-cold / none |"
           " vballoon / host-cold | leaked / needed |"
           " in-tree leaked / needed | needed pages | OOM calls | stall storms | pre-leak MiB | goals |",
           "| --- " * 20 + "|"]
    for s in res["shapes"]:
        st = s["summary"]
        out.append("| %s | %d | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %.0f | %s |" % (
            s["name"], s["mem"], s["smp"], s["depth"], s["free_mib"], s["hog_mib"], s["kind"],
            f(st["hog_ms_none"]), f(st["vs_none"]), f(st["intree_vs_none"]), f(st["vs_intree"]),
            f(st.get("cold_vs_none")), f(st.get("vs_cold")), f(st["over_leak"]), f(st["intree_over_leak"]), st["needed_pages"],
            f(st["oom_calls_vballoon"]), f(st.get("stall_storms_vballoon")), st["pre_leak_mib"],
            met(st, s)))
    out += ["", "Host-cold: no pressure, but the needed pages (plus %d MiB) leave the balloon"
            " after the warm-up, so the host faults them in on first touch as in a rescue: the"
            " floor for any balloon driver under TCG." % COLD_MARGIN_MIB]
    out += band_markdown(res)
    out += ["", "OOM calls: vballoon's notifier calls during the measured workload. Stall storms:"
            " storms a stalled allocation started before any OOM call (oom_stall_arm). Pre-leak: the most"
            " balloon any pressured run had already given back when its workload started (the"
            " warm-up's doing), MiB; 0 means every run started at full depth."]
    med = res["median_vs_none"]
    out += ["", "Median over the shapes that needed the balloon of vballoon / no pressure: %.3g (goal ≤ %.3g: %s)." % (
        med, GOALS["median_vs_none"], "met" if med <= GOALS["median_vs_none"] else "NOT met")]
    out += cold_markdown(res)
    out += ab_markdown(res)
    b = res.get("breakdown")
    if b:
        out += ["", "## Where the time goes: %s (worst shape), one traced vballoon rescue" % b["shape"], "",
                "| measure | value |", "| --- | --- |"]
        out += ["| %s | %s |" % (k, v) for k, v in b.items() if k != "shape"]
        out += ["", "Traced worst shape of each boot: " + ", ".join(
            "%s (hog %s ms, %s OOM calls, %s storms, %s started by a stall, first stall to"
            " first release %s ms)" % (
                x["shape"], x.get("hog_ms"), x.get("oom_calls"), x.get("storms"),
                x.get("vb_stall_storms"), x.get("first_stall_to_first_release_ms"))
            for x in res["breakdowns"]) + "."]
    out += ["", "Host load: %(s)s other QEMU processes, load %(sl).1f at start; %(e)s, %(el).1f"
            " at end." % {"s": res["host_load"]["start"]["other_qemus"],
                          "sl": res["host_load"]["start"]["loadavg_1m"],
                          "e": res["host_load"]["end"]["other_qemus"],
                          "el": res["host_load"]["end"]["loadavg_1m"]}]
    return "\n".join(out) + "\n"


def cold_markdown(res):
    """vballoon's time over host-cold, split by the hog's own CPU time."""
    f = run.fmt
    single = [s for s in res["shapes"] if s["summary"]["needed_pages"]
              and s["summary"].get("off_cpu_ms")]
    if not single:
        return []
    out = ["", "## vballoon over host-cold: the hog's CPU time against its time off the CPU", "",
           "| shape | vballoon − host-cold ms | hog CPU, vballoon − host-cold ms |"
           " hog off the CPU, vballoon ms |", "| --- " * 4 + "|"]
    for s in single:
        st = s["summary"]
        out.append("| %s | %s | %s | %s |" % (s["name"], f(st["over_cold_ms"]),
                                              f(st["cpu_over_cold_ms"]), f(st["off_cpu_ms"])))
    out += ["", "Medians (min–max) of per-rep differences, single-hog shapes. The hog's CPU time"
            " (its allocation loop's) includes its page faults and the host's faults on first"
            " touch. Off the"
            " CPU, its vCPU ran something else: kswapd's releases (the traced rescue's"
            " kswapd_cpu_ms against release_ms_by_kswapd), workers, interrupts. With a second"
            " vCPU kswapd runs beside the hog. Both sides are whole ms, so ±2 ms is rounding."]
    return out


def ab_markdown(res):
    """The A/B arm's table: vballoon with res["ab"] against its defaults."""
    if not res.get("ab"):
        return []
    f = run.fmt
    out = ["", "## A/B: vballoon with `%s` against its defaults, same reps" % res["ab"], "",
           "| shape | A/B / none | default / none | A/B / default | A/B / in-tree | A/B / host-cold |"
           " default / host-cold | A/B leaked / needed | default leaked / needed | A/B survived |",
           "| --- " * 10 + "|"]
    rescued = [s for s in res["shapes"] if s["summary"]["needed_pages"]]
    for s in rescued:
        st = s["summary"]
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            s["name"], f(st["ab_vs_none"]), f(st["vs_none"]), f(st["ab_vs_vballoon"]), f(st["ab_vs_intree"]),
            f(st["ab_vs_cold"]), f(st["vs_cold"]), f(st["ab_over_leak"]), f(st["over_leak"]),
            "yes" if st["ab_survived"] else "NO"))
    if rescued:
        med = lambda k: statistics.median(s["summary"][k]["median"] for s in rescued)
        out += ["", "Median over these shapes: A/B / none %.3g, default / none %.3g, A/B / default"
                " %.3g." % (med("ab_vs_none"), med("vs_none"), med("ab_vs_vballoon"))]
    return out


def matrix(kd, initrd, out, reps, shapes=SHAPES, guest=None, ab=None):
    """Every shape, one boot per guest size and vCPU count (guest: reuse it
    for its own); the worst shape of each boot is traced. ab: module
    parameters of an extra vballoon arm in every rep. Returns the results
    dict."""
    shapes = [shape_dict(t) for t in shapes]
    res = {"reps": reps, "pace": PACE, "cache_share": CACHE_SHARE, "shapes": shapes,
           "splats": [], "breakdowns": [], "ab": ab}
    for mem, smp in sorted({(s["mem"], s["smp"]) for s in shapes}):
        reuse = guest if guest and (guest.mem_mib, guest.smp) == (mem, smp) else None
        trace, splats = run_boot(kd, initrd, out, mem, smp, [
            s for s in shapes if (s["mem"], s["smp"]) == (mem, smp)], reps, reuse, ab)
        res["breakdowns"].append(trace)
        res["splats"] += splats
    rescued = [s for s in shapes if s["summary"]["needed_pages"]] or shapes   # not the control
    res["median_vs_none"] = statistics.median(s["summary"]["vs_none"]["median"] for s in rescued)
    worst = max(rescued, key=lambda s: s["summary"]["vs_none"]["median"])
    res["breakdown"] = next(b for b in res["breakdowns"] if b["shape"] == worst["name"])
    return res


def write(res, out, stem="results-shapes"):
    import json
    with open(os.path.join(out, stem + ".json"), "w") as f:
        json.dump(res, f, indent=1)
    md = markdown(res)
    with open(os.path.join(out, stem + ".md"), "w") as f:
        f.write(md)
    return md
