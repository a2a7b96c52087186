"""bench/run.py --smoke end to end: every section of results.json is there
and sane. Checks structure and correctness, never timing."""
import json
import os
import subprocess
import sys

import pytest

from guest import PAGES_PER_MIB, TOP

RUN = os.path.join(TOP, "bench", "run.py")
DRIVERS = ("vballoon", "virtio_balloon", "vballoon_traced")
SETTINGS = ("none", "none_after", "vballoon", "virtio_balloon", "vballoon_tight", "vballoon_traced")


@pytest.fixture(scope="module")
def bench(tmp_path_factory, built):
    out = tmp_path_factory.mktemp("bench")
    p = subprocess.run([sys.executable, RUN, "--smoke", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    with open(out / "results.json") as f:
        return out, json.load(f), p.stdout


def test_metadata(bench):
    _, res, _ = bench
    m = res["machine"]
    assert m["nproc"] >= 1 and m["mem_mib"] > 0 and m["cpu_model"] and m["host_kernel"]
    assert "QEMU" in m["qemu"]
    assert res["guest_abi"] and res["date"]
    assert res["params"]["smoke"] and res["params"]["reps"] == len(res["reps"]) == 1
    assert res["splats"] == []


def test_inflate_section(bench):
    _, res, _ = bench
    p = res["params"]
    for d in DRIVERS:
        c = res["reps"][0]["inflate"][d]
        assert (c["inflate"]["from"], c["inflate"]["to"]) == (p["mem"], p["low"]), c
        assert (c["deflate"]["from"], c["deflate"]["to"]) == (p["low"], p["mem"]), c
        assert c["inflate"]["mib_s"] > 0 and c["deflate"]["mib_s"] > 0


def test_rescue_section(bench):
    _, res, _ = bench
    p = res["params"]
    held = (p["mem"] - p["pressure"]) * PAGES_PER_MIB
    for name in SETTINGS:
        r = res["reps"][0]["rescue"][name]
        assert r["survived"] and r["rc"] == 0 and r["oom_kill"] == 0, (name, r)
        assert r["ms"] > 0 and r["samples"], name
        if name.startswith("none"):
            assert r["pressure_mib"] is None and r["leaked_pages"] == 0
        else:
            # Rescued by the balloon: something leaked, never more than it held.
            assert r["pressure_mib"] == p["pressure"]
            assert 0 < r["leaked_pages"] <= held, (name, r)
    assert res["reps"][0]["rescue"]["vballoon"]["vb_rescue_calls"] > 0


def test_trace_section(bench):
    _, res, _ = bench
    s = res["reps"][0]["trace_summary"]
    assert s["type"] == "summary" and isinstance(s["lost"], int) and s["lost"] >= 0
    assert s["cost"]["bpf_stats"] and s["cost"]["bpf_runs"] >= sum(s["counts"].values())
    assert s["counts"]["inflate"] > 0 and s["counts"]["oom_leak"] > 0
    # The tracer saw exactly the pages the kernel counted for the traced rescue.
    assert s["pages"]["oom_leak"] == res["reps"][0]["rescue"]["vballoon_traced"]["leaked_pages"]


def test_plot_run_and_outputs(bench):
    out, res, stdout = bench
    pr = res["plot_run"]
    assert pr["survived"] and pr["events"] and pr["samples"]
    # Balloon levels in the trace only go down during a rescue.
    levels = [b for _, b, _ in pr["events"]]
    assert levels == sorted(levels, reverse=True)
    assert (out / "rescue.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "results.md").read_text()
    assert md in stdout
    for row in ("rescue hog time / no pressure", "leaked / needed", "inflate rate",
                "tracing CPU cost", "tracing overhead on inflate time", "lost events"):
        assert row in md


def test_summary_sane(bench):
    _, res, _ = bench
    s = res["summary"]
    for k in ("inflate_vs_intree", "rescue_vs_none", "intree_rescue_vs_none",
              "rescue_vs_intree", "over_leak", "intree_over_leak"):
        assert s[k]["median"] > 0, k
    assert s["lost"]["max"] == res["reps"][0]["trace_lost"]
    assert 0 < s["trace_cpu_pct"]["median"] < 100
    assert s["all_survived"] is True


def test_shapes_section(bench):
    """The shape matrix's smoke subset: every run survived, the no-pressure
    run took nothing from the balloon, the others something."""
    _, res, stdout = bench
    m = res["shapes"]
    assert [s["name"] for s in m["shapes"]] and m["splats"] == []
    for s in m["shapes"]:
        held = s["mem"] * s["depth"] // 100 * PAGES_PER_MIB
        assert s["hog_mib"] > 0 and s["free_mib"] > 0
        runs = s["reps"][0]
        assert set(runs) == {"none", "vballoon", "virtio_balloon", "tight", "cold"}
        hogs = 2 if s["kind"] == "two" else 1
        for name, r in runs.items():
            assert r["survived"] and r["oom_kill"] == 0, (name, r)
            # The hogs' CPU time fits in the vCPUs over their wall time (from
            # the first start to the last end), 2 ms of rounding per hog.
            wall = r["span_ms"] if hogs > 1 else r["ms"]
            assert 0 < r["cpu_ms"] <= min(hogs, s["smp"]) * wall + 2 * hogs, (name, r)
        assert runs["none"]["leaked_pages"] == 0
        # The host-cold floor starts with the need (and the margin) out of
        # the balloon, as QMP saw it.
        need = -(-runs["tight"]["leaked_pages"] // PAGES_PER_MIB)
        pressure = s["mem"] - held // PAGES_PER_MIB
        assert abs(runs["cold"]["actual_before_mib"] - (pressure + need + 16)) <= 2
        for name in ("vballoon", "virtio_balloon", "tight"):
            assert 0 < runs[name]["leaked_pages"] <= held, name
        assert s["summary"]["needed_pages"] == runs["tight"]["leaked_pages"]
        assert s["summary"]["vs_none"]["median"] > 0
    assert "| shape |" in stdout and "Where the time goes" in stdout


def test_shapes_breakdown(bench):
    """The traced rescue's records against independent counters: tracepoint
    and vbtrace pages against /proc/vmstat, kprobed out_of_memory() calls
    against the driver's notifier calls, direct reclaims against allocstall
    (a bound)."""
    _, res, _ = bench
    b = res["shapes"]["breakdown"]
    assert b["rc"] == 0 and b["vbtrace_lost"] == 0
    assert b["released_pages"] == b["vmstat_deflate"] == b["vbtrace_oom_leak_pages"] > 0
    assert b["releases"] == b["vbtrace_oom_leak"] == b["vb_oom_releases"]
    assert b["oom_calls"] == b["vb_oom_calls"]
    assert b["vb_oom_calls"] + b["vb_stall_storms"] >= 1
    # Equal on 6.1; one 6.12 run counted 35 allocstalls for 18 traced
    # direct reclaims (not explained yet), so only the bound is checked.
    assert 0 < b["direct_reclaims"] <= b["allocstall"]
    assert b["storms"] >= 1 and b["window_expiries"] == b["storms"] - 1
    # kswapd's run time (schedstat) covers the releases it made (tracepoint
    # ktime); 10 % and 1 ms for interrupt time that schedstat may leave out.
    assert b["kswapd_cpu_ms"] >= 0.9 * b["release_ms_by_kswapd"] - 1
    # The kprobed halves of the releases lie inside the releases' own time.
    assert b["release_dequeue_ms"] > 0 and b["release_free_ms"] > 0
    assert b["release_dequeue_ms"] + b["release_free_ms"] <= b["release_ms"] + 0.2
    # The first release follows a stall (storm reclaim) or an OOM call.
    assert 0 <= b["first_stall_ms"] <= b["first_release_ms"] <= b["span_ms"]
    if b["first_oom_ms"] is not None:
        assert b["first_stall_ms"] <= b["first_oom_ms"] <= b["span_ms"]
