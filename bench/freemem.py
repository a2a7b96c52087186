"""make bench, free memory rows (issue 8): memory the host gets back after a
freed spike, and migration size, vballoon against the in-tree driver.

Two guest boots, each shared by both drivers (swapped with rmmod/insmod on
an empty balloon, order alternating per spike size):

  report+hint  free-page-reporting=on, free-page-hint=on: QEMU's VmRSS after
               a hog of S MiB exits (returned MiB, seconds to 90 % of it),
               then a migration to `exec:cat > /dev/null` (both features)
  hint only    free-page-hint=on: a migration with no driver loaded first
               (neither feature), then --hint-reps pairs, one per driver
               (hinting alone); the same for a fragmented shape, a spike
               that exits while a process started alongside holds memory

QEMU 7.2 sends less in a migration that follows a hinted one, even with no
driver, so every "neither" migration runs before the first hinted one.
"""
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "vm"))
from guest import Guest, PAGES_PER_MIB  # noqa: E402
from splat import find_splats  # noqa: E402
import scenario as sc  # noqa: E402

MEM = 1024
IOTHREAD = ["-object", "iothread,id=io0"]
BOOTS = {"report_hint": "free-page-reporting=on,free-page-hint=on,iothread=io0",
         "hint": "free-page-hint=on,iothread=io0"}
DRIVERS = ("vballoon", "virtio_balloon")
WATCH_S = 20        # how long RSS is watched after a spike
FRAG = (300, 200)   # fragmented shape: spike MiB, MiB held alongside it
SAMPLE_S = 0.1


def boot(kd, initrd, out, name, props, append=""):
    return Guest(kd, initrd, mem_mib=MEM, name="bench-" + name, device_props=props,
                 qemu_args=IOTHREAD, log_dir=os.path.join(out, "vm"), append=append).boot()


def use(g, driver):
    """Only `driver` loaded (None: none), with an empty balloon; vballoon
    with the run's module parameters (g.vb_params)."""
    g.set_balloon_mib(MEM)
    for d in DRIVERS:
        if d != driver and g.loaded(d):
            sc.unload_driver(g, d)
    if driver and not g.loaded(driver):
        sc.load_driver(g, driver, g.vb_params if driver == "vballoon" else "")


def spike(g, mib):
    r = sc.run_hog(g, mib, timeout=300)
    if r["rc"] != 0:
        raise RuntimeError("hog %d failed: %s" % (mib, r["out"]))


def settle(g, quiet_s=3.0, timeout=30):
    """Wait until QEMU's RSS stops falling (earlier frees reported)."""
    deadline = time.monotonic() + timeout
    last, since = g.qemu_rss_mib(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        r = g.qemu_rss_mib()
        if last - r > 2:
            last, since = r, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return g.qemu_rss_mib()


def rss_return(g, mib):
    """RSS sampled from before a hog of mib until WATCH_S after its exit (a
    report pass may start while the hog still runs): MiB returned (peak
    minus the low after the exit) and seconds from the exit to 90 % of it."""
    before = settle(g)
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((time.monotonic(), g.qemu_rss_mib()))
            time.sleep(SAMPLE_S)

    th = threading.Thread(target=sample)
    th.start()
    try:
        spike(g, mib)
        t0 = time.monotonic()
        time.sleep(WATCH_S)
    finally:
        stop.set()
        th.join()
    peak = max(r for _, r in samples)
    after = [(t - t0, r) for t, r in samples if t >= t0]
    low = min(r for _, r in after)
    returned = peak - low
    t90 = next((t for t, r in after if peak - r >= 0.9 * returned), None) if returned > 1 else None
    return {"spike_mib": mib, "rss_before_mib": round(before), "rss_peak_mib": round(peak),
            "rss_after_mib": round(low), "returned_mib": round(returned),
            "s_to_90pct": round(t90, 2) if t90 is not None else None,
            "samples": [(round(t, 2), round(r)) for t, r in after[::5]]}


def migrate_mib(g, timeout=300):
    """Migrate to nowhere; the MiB sent. A completed migration leaves the
    source paused: resume it."""
    g.qmp.execute("migrate", uri="exec:cat > /dev/null")
    deadline = time.monotonic() + timeout
    while True:
        m = g.qmp.execute("query-migrate")
        if m.get("status") in ("completed", "failed", "cancelled"):
            break
        if time.monotonic() > deadline:
            raise TimeoutError("migration did not end")
        time.sleep(0.5)
    if m["status"] == "completed":
        g.qmp.execute("cont")
    else:
        raise RuntimeError("migration %s" % m["status"])
    return round(m["ram"]["transferred"] / 2 ** 20, 1)


def report_hint_boot(g, sizes):
    rows = []
    for i, mib in enumerate(sizes):
        order = DRIVERS if i % 2 == 0 else DRIVERS[::-1]
        for d in order:
            use(g, d)
            r = rss_return(g, mib)
            r["driver"] = d
            r["migration_both_mib"] = migrate_mib(g)
            rows.append(r)
            print("freemem %s %d MiB: returned %s MiB, 90%% in %s s, migration %s MiB"
                  % (d, mib, r["returned_mib"], r["s_to_90pct"], r["migration_both_mib"]),
                  file=sys.stderr)
    return rows


def hint_shapes(sizes):
    """(label, spike MiB, MiB held alongside) per hinting-only shape."""
    return [(str(m), m, 0) for m in sizes] + [("%d, %d held" % FRAG, FRAG[0], FRAG[1])]


def shaped_spike(g, mib, held):
    if held:
        sc.fragmented_spike(g, mib, held)
    else:
        spike(g, mib)


def hinted_migration(g, d, shape, rep, neither):
    label, mib, held = shape
    use(g, d)
    shaped_spike(g, mib, held)
    st = g.vb_stats() if d == "vballoon" else {}
    if st:
        sc.trace_start(g, "vballoon_hint")
    row = {"driver": d, "shape": label, "spike_mib": mib, "held_mib": held, "rep": rep,
           "migration_hint_mib": migrate_mib(g), "neither_mib": neither[label],
           "hinted_pages": (g.vb_stats().get("hinted_pages", 0) -
                            st.get("hinted_pages", 0)) if st else None}
    if st:
        first = (sc.trace_stop(g, "vballoon_hint") or [None])[0]
        row["first_run"] = first and {"mib": round(first["pages"] / PAGES_PER_MIB, 1),
                                      "ms": round(first["ns"] / 1e6, 1), "blocks": first["blocks"]}
    if held:
        sc.release_held(g)
    return row


def hint_boot(g, sizes, reps):
    """Per shape one unhinted migration, then reps pairs of hinted ones
    (one per driver, order alternating), each after a fresh spike: the
    saving races QEMU's migration thread, so one pair alone says little."""
    rows, neither = [], {}
    shapes = hint_shapes(sizes)
    use(g, None)
    for label, mib, held in shapes:   # before any hinted migration
        shaped_spike(g, mib, held)
        neither[label] = migrate_mib(g)
        if held:
            sc.release_held(g)
    for rep in range(reps):
        for i, shape in enumerate(shapes):
            order = DRIVERS if (i + rep) % 2 == 0 else DRIVERS[::-1]
            rows += [hinted_migration(g, d, shape, rep, neither) for d in order]
    return rows


def run(kd, initrd, out, sizes=(200, 400, 600), hint_reps=3, append="", vb_params=""):
    """append: extra guest kernel arguments (e.g. init_on_alloc=0);
    vb_params: vballoon's module parameters (e.g. hint_order=0)."""
    res = {"sizes": list(sizes), "hint_reps": hint_reps, "append": append,
           "vb_params": vb_params, "splats": []}
    boots = (("report_hint", report_hint_boot), ("hint", lambda g, s: hint_boot(g, s, hint_reps)))
    for name, fn in boots:
        g = boot(kd, initrd, out, name, BOOTS[name], append)
        g.vb_params = vb_params
        try:
            spike(g, 200)             # warm-up: first touch of guest RAM
            res[name] = fn(g, sizes)
            use(g, None)
            res["splats"] += find_splats(g.take_dmesg())
        finally:
            g.shutdown()
    res["summary"] = summarize(res)
    return res


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def hint_summary(rows, label):
    """Hinting-only migration per driver: median MiB over reps, and the
    median of the per-rep ratios vballoon / in-tree (paired in one rep)."""
    by = {d: {r["rep"]: r["migration_hint_mib"] for r in rows
              if r["shape"] == label and r["driver"] == d} for d in DRIVERS}
    v, t = by["vballoon"], by["virtio_balloon"]
    paired = [round(v[k] / t[k], 3) for k in sorted(v) if k in t and t[k]]
    return ({d: round(median(by[d].values()), 1) for d in DRIVERS},
            {"median": round(median(paired), 3) if paired else None, "reps": paired})


def summarize(res):
    """Per shape: both drivers and the ratios vballoon / in-tree. Only the
    plain spikes have report+hint figures."""
    out = []
    for label, mib, held in hint_shapes(res["sizes"]):
        rh = {r["driver"]: r for r in res["report_hint"] if r["spike_mib"] == mib and not held}
        hint_mib, hint_ratio = hint_summary(res["hint"], label)
        row = {"shape": label, "spike_mib": mib, "held_mib": held,
               "neither_mib": next(r["neither_mib"] for r in res["hint"] if r["shape"] == label)}
        for d in DRIVERS:
            x = rh.get(d, {})
            row[d] = {k: x.get(k) for k in ("returned_mib", "s_to_90pct", "migration_both_mib")}
            row[d]["migration_hint_mib"] = hint_mib[d]
        v, t = row["vballoon"], row["virtio_balloon"]
        row["ratios"] = {k: (round(v[k] / t[k], 3) if v[k] and t[k] else None)
                         for k in ("returned_mib", "s_to_90pct", "migration_both_mib")}
        row["ratios"]["migration_hint_mib"] = hint_ratio["median"]
        row["migration_hint_ratio_reps"] = hint_ratio["reps"]
        runs = [r["first_run"] for r in res["hint"] if r["shape"] == label and r.get("first_run")]
        row["first_run_mib_s"] = (round(median([x["mib"] / x["ms"] * 1000 for x in runs if x["ms"]]))
                                  if runs else None)
        row["first_run_mib"] = round(median([x["mib"] for x in runs]), 1) if runs else None
        out.append(row)
    return out


def cells(*xs):
    """A table row; no figure (a shape without that boot) is a dash."""
    return "| " + " | ".join("—" if x is None else str(x) for x in xs) + " |"


def markdown(res):
    extra = [x for x in (res.get("append"), res.get("vb_params") and "vballoon " + res["vb_params"]) if x]
    lines = ["", "## Free memory back to the host (guest %s)" % ", ".join(
                 [res.get("guest_abi", "")] + extra), "",
             "Returned: QEMU VmRSS peak (sampled from the hog's start) minus the low within "
             "%d s after it exits; "
             "90 %%: seconds from its exit. Migration: `ram.transferred` to "
             "`exec:cat > /dev/null`. Ratios: vballoon / in-tree (goals: returned ≥ 1, "
             "time ≤ 1, migration ≤ 1). Hinting only: median of %d reps, each a "
             "fresh spike and a pair of migrations in alternating order; its ratio is the "
             "median of the per-rep ratios, listed below the table. \"%d, %d held\": "
             "a %d MiB spike exits while a process started alongside it keeps %d MiB, "
             "so the free memory is fragmented (hinting only)." % (
                 (WATCH_S, res.get("hint_reps", 1)) + FRAG + FRAG), "",
             "| spike MiB | driver | returned MiB | s to 90 % | migration, both on | "
             "migration, hinting only | migration, neither |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in res["summary"]:
        for d in DRIVERS:
            x = row[d]
            lines.append(cells(row["shape"], d, x["returned_mib"], x["s_to_90pct"],
                               x["migration_both_mib"], x["migration_hint_mib"],
                               row["neither_mib"]))
        r = row["ratios"]
        lines.append(cells(row["shape"], "ratio", r["returned_mib"], r["s_to_90pct"],
                           r["migration_both_mib"], r["migration_hint_mib"], None))
    lines.append("")
    for row in res["summary"]:
        lines.append("- %s MiB, hinting-only ratio per rep: %s; vballoon's first hint run "
                     "(median): %s MiB at %s MiB/s" % (
                         row["shape"], ", ".join(str(x) for x in row.get("migration_hint_ratio_reps", [])),
                         row.get("first_run_mib"), row.get("first_run_mib_s")))
    return "\n".join(lines) + "\n"
