"""Free page hinting (issue 8), judged from the host: QMP query-migrate's
ram.transferred, and the guest's own memory while the host holds hints."""
import os
import time

import pytest

from conftest import stop_guest
from freemem import (BLOCK_PAGES, HINT, IOTHREAD, MEM, cancel_migration, check_order_param,
                     default_bw, finish_migration, kswapd_settled, migrate, migrate_status, spike,
                     vb_stat, wait_for, wait_free_back)
from guest import PAGES_PER_MIB
import scenario as sc
from scenario import trace_start, trace_stop


@pytest.fixture(scope="module")
def hint_only(boot_guest, build_dir):
    if not os.path.exists(os.path.join(build_dir, "vballoon.ko")):
        pytest.skip("vballoon.ko not built")
    g = boot_guest("fm-hint", mem_mib=MEM, device_props=HINT, qemu_args=IOTHREAD)
    yield g
    stop_guest(g)


@pytest.fixture
def vb_hint(hint_only):
    g = hint_only
    sc.unload_driver(g, "virtio_balloon")
    if not g.loaded("vballoon"):
        sc.load_driver(g, "vballoon")
    g.bw = default_bw(g)
    yield g
    if g.alive():
        if migrate_status(g).get("status") == "active":
            cancel_migration(g, g.bw)
        if g.loaded("vballoon"):
            sc.unload_driver(g, "vballoon")


# ---- hinting ----------------------------------------------------------------------------

def test_migration_hint_sends_less(vb_hint):
    """After a freed 400 MiB spike, a migration with hinting sends less
    than one without (the driver unloaded), and completes. Without comes
    first: after a hinted migration QEMU 7.2 sends less in the next one
    even with no driver, which would flatter the baseline."""
    g = vb_hint
    sc.unload_driver(g, "vballoon")
    spike(g, 400)
    migrate(g)
    m0 = finish_migration(g)
    sc.load_driver(g, "vballoon")
    spike(g, 400)
    st0 = g.vb_stats()
    migrate(g)
    m1 = finish_migration(g)
    st1 = g.vb_stats()
    with_hint = m1["ram"]["transferred"] / 2 ** 20
    without = m0["ram"]["transferred"] / 2 ** 20
    print("migration: %.0f MiB with hinting, %.0f MiB without; hinted %d pages in %d runs"
          % (with_hint, without, st1["hinted_pages"] - st0["hinted_pages"],
             st1["hint_runs"] - st0["hint_runs"]))
    assert m1["status"] == "completed" and m0["status"] == "completed"
    assert st1["hint_runs"] > st0["hint_runs"]
    assert st1["hinted_pages"] - st0["hinted_pages"] >= 300 * PAGES_PER_MIB
    assert st1["hint_held_pages"] == 0          # DONE gave them back
    assert with_hint < without - 200


def test_hint_trace_matches_counters(vb_hint):
    """One vballoon_hint event per run; pages add up to hinted_pages."""
    g = vb_hint
    spike(g, 200)
    st0 = g.vb_stats()
    trace_start(g, "vballoon_hint")
    migrate(g)
    finish_migration(g)
    st1 = g.vb_stats()
    recs = trace_stop(g, "vballoon_hint")
    assert len(recs) == st1["hint_runs"] - st0["hint_runs"] > 0
    assert sum(r["pages"] for r in recs) == st1["hinted_pages"] - st0["hinted_pages"]
    assert all(r["blocks"] <= r["pages"] <= r["blocks"] * BLOCK_PAGES and r["cmd_id"] > 1
               for r in recs)


def test_hint_order_param(vb_hint):
    """Bad hint_order values are refused with EINVAL; the old value stays."""
    check_order_param(vb_hint, "hint_order", 10)


def hint_fragmented(g, order):
    """A fragmented freed spike, then a slow migration with hint_order set:
    once a run has ended and holds its blocks, the guest's MemFree (kB),
    its zones (/proc/zoneinfo), the pages kswapd scanned from the run's
    start until then, and the run's trace records; then cancel, and the
    blocks come back."""
    assert sc.set_vb_param(g, "hint_order", str(order))[0] == 0
    sc.fragmented_spike(g, 300, 200)
    try:
        scan0 = kswapd_settled(g)
        trace_start(g, "vballoon_hint")
        hold_blocks(g)
        time.sleep(2)       # held: would kswapd now refill the zones?
        free, zs = g.meminfo()["MemFree"], sc.zones(g)
        scanned = g.vmstat().get("pgscan_kswapd", 0) - scan0
        recs = trace_stop(g, "vballoon_hint")
        cancel_migration(g, g.bw)
        wait_for(lambda: vb_stat(g, "hint_held_pages") == 0, 30, what="DONE frees blocks")
        return {"free_kb": free, "zones": zs, "kswapd_scanned": scanned, "recs": recs}
    finally:
        sc.set_vb_param(g, "hint_order", "10")
        sc.release_held(g)


def test_fragmented_hint_goes_below_largest_order(vb_hint):
    """Memory freed among a live process's pages is left in blocks below
    4 MiB. With the default hint_order=10 (upstream's choice) a run hints
    4 MiB blocks only; with 0 it hints smaller blocks too, but stops at
    each zone's high watermark (/proc/zoneinfo): kswapd scans nothing
    (/proc/vmstat) while the blocks are held."""
    g = vb_hint
    h10 = hint_fragmented(g, 10)
    h0 = hint_fragmented(g, 0)
    print("while held: hint_order=10 %s; hint_order=0 %s" % (h10, h0))
    assert h10["recs"] and all(r["pages"] == r["blocks"] * BLOCK_PAGES for r in h10["recs"])
    recs0 = h0["recs"]
    assert recs0 and recs0[0]["pages"] < recs0[0]["blocks"] * 1024
    # Blocks below 4 MiB never take a zone below its high watermark
    # (boosted ones included: "high" in /proc/zoneinfo counts the boost);
    # the 4 MiB blocks before them are taken regardless, as upstream, so
    # the last one may leave it up to 1024 pages short. Either way no zone
    # is below low, where kswapd would wake to refill it.
    for name, z in h0["zones"].items():
        assert z["free"] >= z["high"] - 1024 and z["free"] >= z["low"], (name, z)
    assert h0["kswapd_scanned"] == 0, h0


def hold_blocks(g):
    """A slow migration: the host asks for hints, and the blocks stay held
    until it ends. Returns the pages held (4 KiB units) once a run ended."""
    runs = vb_stat(g, "hint_runs")
    migrate(g, max_bw=2 << 20)
    wait_for(lambda: vb_stat(g, "hint_runs") > runs, 60, what="a hint run")
    return wait_for(lambda: vb_stat(g, "hint_held_pages"), 10, what="hinted blocks held")


def test_oom_spike_while_blocks_held(vb_hint):
    """Hinted blocks hold nearly all free memory; a spike larger than what
    is left gets them back through reclaim, and nobody is OOM-killed."""
    g = vb_hint
    held = hold_blocks(g)
    mi = g.meminfo()
    vs0 = g.vmstat()
    hog = min(600, (mi["MemAvailable"] + held * 4) // 1024 - 150)
    print("held %d MiB, MemFree %d MiB, hog %d MiB" % (held // PAGES_PER_MIB, mi["MemFree"] // 1024, hog))
    assert hog > mi["MemFree"] // 1024 + 100
    r = sc.run_hog(g, hog, timeout=240)
    vs1 = g.vmstat()
    assert r["rc"] == 0, r
    assert vs1["oom_kill"] == vs0["oom_kill"]
    assert vb_stat(g, "hint_held_pages") < held
    cancel_migration(g, g.bw)
    wait_for(lambda: vb_stat(g, "hint_held_pages") == 0, 30, what="DONE frees blocks")


def test_rmmod_while_blocks_held(vb_hint):
    g = vb_hint
    free0 = g.meminfo()["MemFree"]
    held = hold_blocks(g)
    t0 = time.monotonic()
    g.sh("rmmod vballoon", timeout=60)
    assert time.monotonic() - t0 < 30
    free1 = wait_free_back(g, free0, 32 * 1024)
    print("rmmod with %d MiB held: MemFree %d -> %d kB" % (held // PAGES_PER_MIB, free0, free1))
    cancel_migration(g, g.bw)


def test_unplug_after_hint_run(vb_hint):
    """Last on this guest. QEMU refuses device_del during a migration, so
    the device goes right after a cancelled one, with DONE in flight."""
    g = vb_hint
    free0 = g.meminfo()["MemFree"]
    hold_blocks(g)
    rc = None
    try:
        g.qmp.execute("device_del", id="balloon0")
        rc = "accepted during migration"
    except Exception as e:
        print("device_del during migration: %s" % e)
    cancel_migration(g, g.bw)
    if rc is None:
        g.qmp.clear_events()
        g.qmp.execute("device_del", id="balloon0")
    assert g.qmp.wait_event("DEVICE_DELETED", timeout=60)
    wait_free_back(g, free0, 32 * 1024)
    g.sh("rmmod vballoon")
