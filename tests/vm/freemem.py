"""Helpers for the free-memory tests (test_freemem.py, test_freehint.py):
host-side views (QEMU's VmRSS, QMP migration) and the negotiated bits."""
import time

from qmp import TIMEOUT_SCALE
import scenario as sc

MEM = 1024
IOTHREAD = ["-object", "iothread,id=io0"]
REPORT = "free-page-reporting=on"
HINT = "free-page-hint=on,iothread=io0"
BLOCK_PAGES = 1024   # a hint block at hint_order 10 (the default): 4 MiB
U64_UNSET = (1 << 64) - 1
F_STATS_VQ, F_DEFLATE_ON_OOM, F_FREE_PAGE_HINT, F_PAGE_POISON, F_REPORTING = 1, 2, 3, 4, 5


# ---- helpers ------------------------------------------------------------------

def balloon_features(g):
    """Negotiated feature bits of the balloon device (sysfs), as a set."""
    out = g.sh("for d in /sys/bus/virtio/devices/*; do "
               "[ \"$(cat $d/device)\" = 0x0005 ] && cat $d/features; done; true").split()
    assert len(out) == 1, out
    return {i for i, c in enumerate(out[0]) if c == "1"}


def features_with(g, driver):
    sc.load_driver(g, driver)
    try:
        return balloon_features(g)
    finally:
        sc.unload_driver(g, driver)


def vb_stat(g, key):
    return g.vb_stats()[key]


def wait_for(pred, timeout, step=0.5, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(step)


def reports_idle(read, quiet_s=5, timeout=90):
    """Wait until page reporting is idle (its work runs 2 s after pages are
    freed): no batch for quiet_s. read() gives the driver's counters;
    returns them then."""
    t_end = time.monotonic() + timeout * TIMEOUT_SCALE
    last = read()
    while time.monotonic() < t_end:
        time.sleep(quiet_s)
        now = read()
        if now["report_batches"] == last["report_batches"]:
            return now
        last = now
    raise AssertionError("page reporting did not go idle in %d s" % timeout)


def migrate(g, max_bw=None):
    """Start a migration to nowhere; max_bw (bytes/s) keeps it running."""
    if max_bw is not None:
        g.qmp.execute("migrate-set-parameters", **{"max-bandwidth": max_bw})
    g.qmp.execute("migrate", uri="exec:cat > /dev/null")


def migrate_status(g):
    return g.qmp.execute("query-migrate")


def finish_migration(g, timeout=300):
    """Wait for the migration to end, resume the guest (a completed
    migration leaves the source paused); return query-migrate."""
    m = wait_for(lambda: (lambda s: s if s.get("status") in ("completed", "failed", "cancelled")
                          else None)(migrate_status(g)), timeout, what="migration end")
    if m["status"] == "completed":
        g.qmp.execute("cont")
    return m


def cancel_migration(g, bw):
    g.qmp.execute("migrate_cancel")
    finish_migration(g, timeout=60)
    g.qmp.execute("migrate-set-parameters", **{"max-bandwidth": bw})


def default_bw(g):
    return g.qmp.execute("query-migrate-parameters")["max-bandwidth"]


def check_order_param(g, name, default):
    """Bad values of an order parameter (0..10) are refused with EINVAL and
    the old value (the default) stays; good ones are taken."""
    assert sc.get_vb_param(g, name) == default
    for bad in ("11", "-1", "abc", "99999999999"):
        rc, out = sc.set_vb_param(g, name, bad)
        assert rc != 0 and "Invalid argument" in out, (bad, out)
        assert sc.get_vb_param(g, name) == default
    assert sc.set_vb_param(g, name, "5")[0] == 0
    assert sc.get_vb_param(g, name) == 5
    assert sc.set_vb_param(g, name, str(default))[0] == 0


def spike(g, mib):
    """A process touches mib and exits: that memory is free again."""
    r = sc.run_hog(g, mib, timeout=240)
    assert r["rc"] == 0, r


def held_spike(g, mib):
    """A process touches mib and holds it; returns QEMU's RSS (MiB) while it
    holds, then ends it. Read after an exiting spike, the peak would already
    have lost what reporting gave back during the exit (the work runs 2 s
    after pages are freed)."""
    g.bg_start("spike", "hog %d 600" % mib)
    wait_for(lambda: "hog mib=" in g.run("cat /tmp/bg/spike.out")[1], 240,
             what="a hog of %d MiB holding" % mib)
    peak = g.qemu_rss_mib()
    g.bg_stop("spike", sig="TERM")
    return peak


def wait_free_back(g, free0, slack_kib, timeout=20):
    """MemFree back to free0 (kB) within slack. Freed pages may sit on the
    per-CPU lists for a while (6.12 sizes them dynamically), which MemFree
    does not count: give their drain time."""
    return wait_for(lambda: (lambda f: f if f >= free0 - slack_kib else None)(g.meminfo()["MemFree"]),
                    timeout, what="MemFree back to %d kB" % free0)


def kswapd_settled(g, quiet_s=1.0, timeout=20):
    """Wait until kswapd has scanned nothing for quiet_s; its pgscan count."""
    def quiet():
        n = g.vmstat().get("pgscan_kswapd", 0)
        time.sleep(quiet_s)
        return [n] if g.vmstat().get("pgscan_kswapd", 0) == n else None
    return wait_for(quiet, timeout, what="kswapd idle")[0]
