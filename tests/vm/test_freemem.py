"""Free memory back to the host (issue 8): feature negotiation, free page
reporting, page poison, the 6.12 stats tags and the wakeup source (hinting
is in test_freehint.py). Truth comes from the host side: QEMU's own VmRSS,
QMP, the negotiated bits in sysfs, and the guest's meminfo."""
import os
import time

import pytest

from conftest import stop_guest
from freemem import (F_FREE_PAGE_HINT, F_PAGE_POISON, F_REPORTING, F_STATS_VQ, HINT, IOTHREAD,
                     MEM, REPORT, U64_UNSET, check_order_param, features_with, held_spike, reports_idle,
                     spike, wait_for, wait_free_back)
from guest import PAGES_PER_MIB
import scenario as sc
from scenario import trace_start, trace_stop

KNOWN_STATS = ("stat-swap-in", "stat-swap-out", "stat-major-faults", "stat-minor-faults",
               "stat-free-memory", "stat-total-memory", "stat-available-memory",
               "stat-disk-caches", "stat-htlb-pgalloc", "stat-htlb-pgfail")


# ---- guests ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def both(boot_guest, build_dir):
    """Host offers reporting and hinting; page-poison on (QEMU's default)."""
    if not os.path.exists(os.path.join(build_dir, "vballoon.ko")):
        pytest.skip("vballoon.ko not built")
    g = boot_guest("fm-both", mem_mib=MEM, device_props=REPORT + "," + HINT, qemu_args=IOTHREAD)
    yield g
    stop_guest(g)


@pytest.fixture
def vb_both(both):
    sc.unload_driver(both, "virtio_balloon")
    sc.load_driver(both, "vballoon")
    yield both
    if both.alive() and both.loaded("vballoon"):
        sc.unload_driver(both, "vballoon")


# ---- negotiation ------------------------------------------------------------------

MATRIX = [
    # (name, device properties, kernel command line, expected extra bits,
    #  whether a freed spike leaves QEMU's RSS: None = not checked)
    ("neither", "free-page-reporting=off,free-page-hint=off", "", set(), None),
    ("report", REPORT, "", {F_REPORTING}, None),
    ("hint", HINT, "", {F_FREE_PAGE_HINT}, None),
    # poison_val 0: QEMU discards reported pages, init_on_free expects zeroes.
    ("init_on_free+poison", REPORT + ",page-poison=on", "init_on_free=1",
     {F_PAGE_POISON, F_REPORTING}, True),
    ("init_on_free-poison", REPORT + ",page-poison=off", "init_on_free=1", set(), None),
    # poison_val 0xaaaaaaaa: QEMU must keep the pages (it only acks them).
    ("page_poison+poison", REPORT + ",page-poison=on", "page_poison=1",
     {F_PAGE_POISON, F_REPORTING}, False),
]


def rss_back_after_spike(g, mib=300, watch=20):
    """Does a freed spike leave QEMU's RSS (by at least half) in watch s?"""
    sc.load_driver(g, "vballoon")
    try:
        peak = held_spike(g, mib)
        deadline = time.monotonic() + watch
        while time.monotonic() < deadline:
            if peak - g.qemu_rss_mib() >= mib / 2:
                return True
            time.sleep(0.5)
        return False
    finally:
        sc.unload_driver(g, "vballoon")


@pytest.mark.parametrize("name,props,append,extra,rss_back", MATRIX, ids=[m[0] for m in MATRIX])
def test_negotiation_matrix(boot_guest, build_dir, name, props, append, extra, rss_back):
    """Each host offer gives the expected bits, the same as the in-tree
    driver's in the same boot. Page poison only when the guest fills freed
    pages; reporting never without it then. poison_val is checked by what
    the host does with reported pages."""
    if not os.path.exists(os.path.join(build_dir, "vballoon.ko")):
        pytest.skip("vballoon.ko not built")
    g = boot_guest("fm-neg-" + name, mem_mib=MEM, device_props=props,
                   qemu_args=IOTHREAD if "hint" in props else (), append=append)
    try:
        ours = features_with(g, "vballoon")
        theirs = features_with(g, "virtio_balloon")
        print("%s: vballoon %s, in-tree %s" % (name, sorted(ours), sorted(theirs)))
        assert ours & {F_FREE_PAGE_HINT, F_PAGE_POISON, F_REPORTING} == extra
        assert F_STATS_VQ in ours and 32 in ours  # VERSION_1
        # Device bits (0..23) and VERSION_1 as the in-tree driver's; ring
        # transport bits (24..31) are the core driver's business.
        dev = set(range(24)) | {32}
        assert ours & dev == theirs & dev
        if rss_back is not None:
            assert rss_back_after_spike(g) == rss_back
    finally:
        stop_guest(g)


# ---- reporting ------------------------------------------------------------------------

def test_rss_comes_back_after_spike(vb_both):
    """At least half of a freed 400 MiB spike leaves QEMU's RSS within 30 s;
    the driver's counters and its tracepoint agree it reported pages."""
    g = vb_both
    spike(g, 100)               # warm: first touch of guest RAM on the host
    time.sleep(4)
    st0 = g.vb_stats()
    base = g.qemu_rss_mib()
    peak = held_spike(g, 400)
    t0 = time.monotonic()
    low = wait_for(lambda: (lambda r: r if peak - r >= 200 else None)(g.qemu_rss_mib()), 30,
                   what="RSS back by 200 MiB (peak %.0f)" % peak)
    print("RSS %.0f -> peak %.0f -> %.0f MiB in %.1f s" % (base, peak, low, time.monotonic() - t0))
    st1 = g.vb_stats()
    assert st1["reported_pages"] - st0["reported_pages"] >= 200 * PAGES_PER_MIB
    assert st1["report_batches"] > st0["report_batches"]


def test_report_trace_matches_counters(vb_both):
    """vballoon_report events (tracefs) add up to the driver's counters."""
    g = vb_both
    spike(g, 100)
    st0 = reports_idle(g.vb_stats)
    trace_start(g, "vballoon_report")
    spike(g, 300)
    wait_for(lambda: g.vb_stats()["report_batches"] > st0["report_batches"], 60,
             what="a report batch")
    st1 = reports_idle(g.vb_stats)
    recs = trace_stop(g, "vballoon_report")
    ok = [r for r in recs if r["err"] == 0]
    assert ok, recs
    assert sum(r["pages"] for r in ok) == st1["reported_pages"] - st0["reported_pages"]
    assert len(ok) == st1["report_batches"] - st0["report_batches"]
    assert all(0 < r["entries"] <= 32 and r["ns"] > 0 for r in ok)


def test_report_order_param(vb_both):
    """Bad report_order values are refused with EINVAL; the old value stays."""
    check_order_param(vb_both, "report_order", 0)


def test_stats_known_tags_arrive(vb_both):
    """The guest sends the 6.12 tags too; QEMU 7.2 drops those and still
    shows every tag it knows."""
    g = vb_both
    g.qom_set("guest-stats-polling-interval", 1)
    try:
        last = g.qom_get("guest-stats")["last-update"]
        wait_for(lambda: g.qom_get("guest-stats")["last-update"] != last, 30, what="stats update")
        time.sleep(1.5)
        stats = g.qom_get("guest-stats")["stats"]
    finally:
        g.qom_set("guest-stats-polling-interval", 0)
    for k in KNOWN_STATS:
        assert stats.get(k, U64_UNSET) != U64_UNSET, (k, stats)
    assert stats["stat-total-memory"] == g.meminfo()["MemTotal"] * 1024


def test_wakeup_source(vb_both):
    """The device can wake the system; with wakeup enabled, a balloon
    request counts as a wakeup event."""
    g = vb_both
    d = g.sh("for d in /sys/bus/virtio/devices/*; do "
             "[ \"$(cat $d/device)\" = 0x0005 ] && echo $d; done; true").strip()
    assert g.sh("cat %s/power/wakeup" % d).strip() == "disabled"
    g.sh("echo enabled > %s/power/wakeup" % d)
    n0 = int(g.sh("cat %s/power/wakeup_active_count" % d))
    sc.inflate_to(g, MEM - 64)
    sc.inflate_to(g, MEM)
    n1 = int(g.sh("cat %s/power/wakeup_active_count" % d))
    assert n1 > n0
    wait_for(lambda: g.sh("cat %s/power/wakeup_active" % d).strip() == "0", 10, what="relaxed")
    g.sh("echo disabled > %s/power/wakeup" % d)


REPORTED = "$(sed -n 's/^reported_pages //p' /sys/kernel/debug/vballoon/stats)"


def after_first_batch(cmd):
    """A guest script: wait until a reporting pass has handed its first
    batch to the host (the pass goes on), then run cmd at once."""
    return ("r0=%s; i=0; while [ %s = $r0 ] && [ $i -lt 2000 ]; do usleep 5000; i=$((i+1)); done; "
            "echo pages_seen=$((%s - r0)); %s" % (REPORTED, REPORTED, REPORTED, cmd))


def rmmod_during_reporting(g):
    """Free a spike, then unload while its reporting pass runs: rmmod
    returns, every page is free again."""
    free0 = g.meminfo()["MemFree"]
    spike(g, 300)
    t0 = time.monotonic()
    out = g.sh(after_first_batch("rmmod vballoon"), timeout=60)
    took = time.monotonic() - t0
    free1 = wait_free_back(g, free0, 16 * 1024)
    print("rmmod during reporting: %s, %.1f s, MemFree %d -> %d kB" % (out.strip(), took, free0, free1))
    assert "pages_seen=0" not in out
    assert took < 30


def test_rmmod_during_reporting(vb_both):
    g = vb_both
    for _ in range(3):
        rmmod_during_reporting(g)
        sc.load_driver(g, "vballoon")


def test_unplug_during_reporting(vb_both):
    """Last test on this guest: the device goes away mid-report."""
    g = vb_both
    total0 = g.meminfo()["MemTotal"]
    free0 = g.meminfo()["MemFree"]
    spike(g, 300)
    g.qmp.clear_events()
    g.sh(after_first_batch("true"), timeout=60)
    g.qmp.execute("device_del", id="balloon0")
    assert g.qmp.wait_event("DEVICE_DELETED", timeout=60)
    assert g.meminfo()["MemTotal"] == total0
    wait_free_back(g, free0, 16 * 1024)
    g.sh("rmmod vballoon")
