"""Deflate on OOM, end to end: a real guest kernel, QEMU's balloon device
with deflate-on-oom on and off, and hogs that need more than is free.
Every claim is checked against /proc/vmstat, QMP or /proc/meminfo."""
import contextlib
import json
import os

import pytest

from conftest import module_guest, stop_guest
from guest import KERNEL_EXTRA_MIB, MIB, PAGES_PER_MIB, cache_disk
from qmp import TIMEOUT_SCALE
import scenario as sc

MEM = 1024          # guest RAM, MiB
PRESSURE = 256 + KERNEL_EXTRA_MIB   # guest RAM left by the balloon, MiB
HOG = 300           # more than is free under pressure, less than RAM

pytestmark = pytest.mark.allow_oom
# No re-inflation before a test's checks, however slow the kernel.
NO_REINFLATE = "reinflate_holdoff_ms=600000"



@pytest.fixture(scope="module")
def gon(boot_guest, build_dir):
    """deflate-on-oom on, and a disk whose reads fill page cache (/dev/vda)."""
    disk = cache_disk(os.path.join(build_dir, "vm"), name="oom-on")
    g = boot_guest("oom-on", mem_mib=MEM, deflate_on_oom=True, qemu_args=disk)
    yield g
    stop_guest(g, allow_oom=True)


goff = module_guest("oom-off", allow_oom=True, mem_mib=MEM, deflate_on_oom=False)


@contextlib.contextmanager
def driver(g, name="vballoon", params=""):
    """Load a driver on an empty balloon; give everything back afterwards."""
    for d in ("vballoon", "virtio_balloon"):
        sc.unload_driver(g, d)
    g.set_balloon_mib(MEM)
    sc.load_driver(g, name, params)
    g.wait_actual(MEM)
    try:
        yield g
    finally:
        g.set_balloon_mib(MEM)
        g.wait_actual(MEM, timeout=120)
        sc.unload_driver(g, name)


@pytest.mark.parametrize("stall_arm", [1, 0])
def test_rescue_keeps_hog_alive(gon, stall_arm):
    """With oom_stall_arm the first hopeless stall starts the rescue and no
    OOM call is needed; without it the OOM notifier starts it."""
    with driver(gon, params="%s oom_stall_arm=%d" % (NO_REINFLATE, stall_arm)) as g:
        sc.inflate_to(g, PRESSURE)
        g.qmp.clear_events()
        r = sc.rescue(g, "vballoon", HOG)
        assert r["rc"] == 0, r
        assert r["oom_kill"] == 0
        if stall_arm:
            assert r["vb_stall_storms"] >= 1, r
        else:
            assert r["vb_oom_calls"] > 0 and r["vb_stall_storms"] == 0, r
        assert r["leaked_pages"] > 0
        # Every page the kernel counted as deflated was an OOM leak.
        assert r["leaked_pages"] == r["vb_oom_leaked"]
        assert r["actual_after_mib"] > PRESSURE
        ev = g.qmp.wait_event("BALLOON_CHANGE", timeout=5,
                              predicate=lambda e: e["data"]["actual"] > PRESSURE * MIB)
        assert ev is not None


def test_no_rescue_without_feature(goff):
    with driver(goff) as g:
        sc.inflate_to(g, PRESSURE)
        r = sc.rescue(g, "vballoon", HOG)
        assert r["killed"], r
        assert r["oom_kill"] == 1
        assert r["leaked_pages"] == 0
        assert g.vb_stats()["oom_calls"] == 0
        assert g.vb_stats()["oom_stall_storms"] == 0
        assert g.vb_stats()["deflate_on_oom"] == 0
        assert g.actual_mib() == PRESSURE


def per_call(r):
    return r["vb_oom_leaked"] / r["vb_oom_calls"]


def test_oom_pages_at_run_time(gon):
    """Escalation and storm reclaim off: exactly the original design."""
    params = "oom_escalate_pct=0 oom_reclaim=0 reinflate_holdoff_ms=0"
    with driver(gon, params=params) as g:
        # Few calls each: one OOM call takes seconds on the debug kernel.
        for pages in (1024, 4096):
            assert sc.set_vb_param(g, "oom_pages", pages)[0] == 0
            sc.inflate_to(g, PRESSURE)
            r = sc.rescue(g, "vballoon", HOG)
            assert r["rc"] == 0 and r["oom_kill"] == 0
            assert r["vb_oom_calls"] > 0
            # Escalation off: exactly oom_pages per call, even above 256.
            assert r["vb_oom_leaked"] == pages * r["vb_oom_calls"]
            assert r["leaked_pages"] == r["vb_oom_leaked"]


@pytest.mark.parametrize("bad", ["0", "-1", "262145", "99999999999", "abc", ""])
def test_invalid_oom_pages_refused(gon, bad):
    with driver(gon, params="oom_pages=300") as g:
        g.take_dmesg()
        rc, out = sc.set_vb_param(g, "oom_pages", "'%s'" % bad)
        assert rc != 0
        assert "Invalid argument" in out
        assert sc.get_vb_param(g, "oom_pages") == 300
        # One line, without the newline echo wrote.
        assert "oom_pages=%s out of range [1, 262144]" % bad in g.dmesg()


def test_empty_balloon_means_normal_oom_kill(gon):
    with driver(gon) as g:
        r = sc.rescue(g, "vballoon", MEM + 256)
        assert r["killed"]
        assert r["oom_kill"] == 1
        assert r["leaked_pages"] == 0
        assert g.vb_stats()["balloon_pages"] == 0


def test_exhausted_balloon_then_oom_kill(gon):
    with driver(gon, params=NO_REINFLATE) as g:
        sc.inflate_to(g, MEM - 32)           # a 32 MiB balloon
        r = sc.rescue(g, "vballoon", MEM + 256)
        assert r["killed"] and r["oom_kill"] == 1
        # Everything was given back before the kill, and no more.
        assert r["leaked_pages"] == 32 * PAGES_PER_MIB
        assert g.vb_stats()["balloon_pages"] == 0
        assert g.actual_mib() == MEM


def test_memcg_oom_does_not_deflate(gon):
    """The kernel calls OOM notifiers for global OOMs only (6.1, 6.12):
    a cgroup hitting memory.max is killed with the balloon untouched."""
    with driver(gon) as g:
        sc.inflate_to(g, PRESSURE + 256)
        g.sh("echo +memory > /sys/fs/cgroup/cgroup.subtree_control;"
             " mkdir -p /sys/fs/cgroup/t; echo 64M > /sys/fs/cgroup/t/memory.max")
        before = sc.snapshot(g)
        rc, out = g.run("echo $$ > /sys/fs/cgroup/t/cgroup.procs; exec hog 128")
        after = sc.snapshot(g)
        assert rc == 137, out
        assert sc.delta(before, after, "oom_kill") == 1
        assert sc.delta(before, after, "balloon_deflate") == 0
        assert sc.rescue_calls(before, after) == 0
        g.sh("rmdir /sys/fs/cgroup/t")


def test_oom_storm(gon):
    """20 hogs in a row, the host keeping its target: with no hold-off the
    balloon re-inflates between hogs, so every hog needs a rescue."""
    with driver(gon, params="reinflate_holdoff_ms=0") as g:
        before, after, hogs = sc.storm(g, 20, PRESSURE, HOG)
        assert [h for h in hogs if h["rc"] != 0] == []
        assert sc.delta(before, after, "oom_kill") == 0
        assert sc.rescue_calls(before, after) >= 20
        assert (sc.delta(before, after, "balloon_deflate") ==
                sc.delta(before, after, "oom_leaked_pages", "vb"))


def test_reinflate_holdoff(gon):
    # Scaled: on a slow kernel the hog outlasts a 6 s hold-off on its own.
    hold_ms = int(6000 * TIMEOUT_SCALE)
    with driver(gon, params="reinflate_holdoff_ms=%d" % hold_ms) as g:
        sc.inflate_to(g, PRESSURE)
        r = sc.rescue(g, "vballoon", HOG)
        assert r["rc"] == 0 and r["vb_oom_leaked"] > 0
        left = g.vb_stats()["holdoff_ms_left"]
        assert 0 < left <= hold_ms
        # The host insists on its target: nothing moves during the hold-off.
        high = g.actual_mib()
        assert high > PRESSURE
        g.set_balloon_mib(PRESSURE)
        margin_ms = int(1500 * TIMEOUT_SCALE)
        rc, _ = g.run("usleep %d" % (max(0, left - margin_ms) * 1000), timeout=30)
        assert g.actual_mib() == high
        assert g.vb_stats()["balloon_pages"] == (MEM - high) * PAGES_PER_MIB
        # After it, the driver converges on the target again.
        g.wait_actual(PRESSURE, timeout=60)
        assert g.vb_stats()["holdoff_ms_left"] == 0


def test_rescue_timing_same_boot(gon, build_dir):
    """A measurement, not a timed assertion: the same hog with no pressure,
    with vballoon under pressure and with the in-tree driver under the same
    pressure, in one boot. Results go to build/<abi>/rescue.json."""
    runs = []
    with driver(gon) as g:
        sc.run_hog(g, HOG)                    # warm the host's page tables
        runs.append(sc.rescue(g, "none", HOG))
        runs.append(sc.rescue(g, "vballoon", HOG, PRESSURE))
    with driver(gon, "virtio_balloon") as g:
        runs.append(sc.rescue(g, "virtio_balloon", HOG, PRESSURE))
    for r in runs:
        r.pop("out", None)
        assert r["rc"] == 0 and r["oom_kill"] == 0, r
    base, vb, intree = (r["ms"] for r in runs)
    result = {"runs": runs, "vballoon_vs_no_pressure": round(vb / base, 2),
              "vballoon_vs_intree": round(vb / intree, 2),
              "intree_vs_no_pressure": round(intree / base, 2)}
    with open(os.path.join(build_dir, "rescue.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))


def test_storm_reclaim_replaces_oom_rounds(gon):
    """With storm reclaim the same spike needs fewer OOM calls: reclaim
    takes the pages that later OOM rounds would have released. The storm
    starts from an OOM call here (oom_stall_arm=0)."""
    calls = {}
    for reclaim in (0, 1):
        with driver(gon, params="oom_stall_arm=0 oom_reclaim=%d" % reclaim) as g:
            sc.inflate_to(g, PRESSURE)
            r = sc.rescue(g, "vballoon", HOG)
            st = g.vb_stats()
            assert r["rc"] == 0 and r["oom_kill"] == 0, r
            assert r["leaked_pages"] == st["oom_leaked_pages"]
            assert (st["oom_reclaim_pages"] > 0) == bool(reclaim)
            calls[reclaim] = st["oom_calls"]
    assert calls[1] < calls[0], calls


def test_reclaim_outside_storm_leaves_balloon(gon):
    """Outside an OOM storm the balloon offers reclaim nothing: dropping
    caches (which runs every shrinker) leaves it untouched."""
    with driver(gon) as g:
        sc.inflate_to(g, PRESSURE)
        before = sc.snapshot(g)
        g.sh("echo 3 > /proc/sys/vm/drop_caches; echo 1 > /proc/sys/vm/compact_memory")
        after = sc.snapshot(g)
        assert sc.delta(before, after, "balloon_deflate") == 0
        assert after["vb"]["balloon_pages"] == (MEM - PRESSURE) * PAGES_PER_MIB
        assert g.actual_mib() == PRESSURE


def test_page_cache_pressure_leaves_balloon(gon):
    """Page cache pressure alone keeps the balloon shut: a hog that needs
    more than is free, but less than free plus clean page cache, gets it
    from reclaim, which drops cache. No storm starts, by a stall or by an
    OOM call, and no balloon page moves. (A bigger hog here makes the
    kernel reclaim all of the cache and call the OOM killer, with
    oom_stall_arm=0 too: the shortage is then real.)"""
    with driver(gon) as g:
        sc.inflate_to(g, PRESSURE)
        g.sh("echo 3 > /proc/sys/vm/drop_caches")
        free = g.meminfo()["MemFree"] // 1024
        sc.fill_page_cache(g, free * 3 // 4)
        before = sc.snapshot(g)
        hog_mib = free * 5 // 8   # free memory, then part of the cache
        hog = sc.run_hog(g, hog_mib)
        after = sc.snapshot(g)
        assert hog["rc"] == 0 and sc.delta(before, after, "oom_kill") == 0, hog
        # The hog's memory beyond what was free came from reclaimed cache.
        needed = hog_mib * PAGES_PER_MIB - before["meminfo"]["MemFree"] // 4
        steal = sc.delta(before, after, "pgsteal_file")
        stalls = sum(sc.delta(before, after, k) for k in after["vmstat"]
                     if k.startswith("allocstall"))
        print("page cache pressure: needed %d pages, reclaimed %d, allocstall %d"
              % (needed, steal, stalls))
        assert needed > 0 and steal >= needed, (needed, steal)
        assert sc.delta(before, after, "balloon_deflate") == 0
        assert sc.rescue_calls(before, after) == 0
        assert after["vb"]["balloon_pages"] == (MEM - PRESSURE) * PAGES_PER_MIB
        assert g.actual_mib() == PRESSURE


def test_drop_caches_in_storm_window_leaves_balloon(gon):
    """Inside an armed storm only the allocator's own reclaim takes balloon
    pages: drop_caches, which runs every shrinker, takes none."""
    params = "oom_window_ms=60000 " + NO_REINFLATE
    with driver(gon, params=params) as g:
        sc.inflate_to(g, PRESSURE)
        r = sc.rescue(g, "vballoon", HOG)
        assert r["rc"] == 0 and r["oom_kill"] == 0, r
        before = sc.snapshot(g)
        g.sh("echo 3 > /proc/sys/vm/drop_caches")
        after = sc.snapshot(g)
        assert sc.delta(before, after, "balloon_deflate") == 0
        assert after["vb"]["balloon_pages"] == before["vb"]["balloon_pages"]
        assert after["vb"]["oom_releases"] == before["vb"]["oom_releases"]
