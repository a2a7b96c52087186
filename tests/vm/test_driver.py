"""Driver-core end-to-end tests: QMP balloon requests against /proc/vmstat,
/proc/meminfo, query-balloon and the vballoon debugfs counters.

Tests run against the drivers named in VB_DRIVERS (comma-separated,
default "vballoon"; vballoon is skipped while it is not built). Add
"virtio_balloon", the in-tree driver, as a reference that validates the
harness itself: VB_DRIVERS=vballoon,virtio_balloon."""
import os
import time

import pytest

from conftest import guest_problems, stop_guest
from guest import PAGES_PER_MIB
import scenario as sc

MEM = 1024
ALL_DRIVERS = ("vballoon", "virtio_balloon")
DRIVERS = os.environ.get("VB_DRIVERS", "vballoon").split(",")


@pytest.fixture(scope="module")
def vm(boot_guest):
    g = boot_guest("driver", mem_mib=MEM)
    g.base_memtotal_kb = g.meminfo()["MemTotal"]
    yield g
    stop_guest(g)


@pytest.fixture(scope="module")
def vm_doom(boot_guest):
    """deflate-on-oom guest: the only setting in which a near-zero target
    must leave the guest alive (without it the guest OOM-panics by design)."""
    g = boot_guest("driver-doom", mem_mib=MEM, deflate_on_oom=True)
    g.base_memtotal_kb = g.meminfo()["MemTotal"]
    yield g
    stop_guest(g, allow_oom=True)


@pytest.fixture(scope="module", params=DRIVERS)
def drv(request, build_dir):
    """Which driver the test drives; vballoon is skipped until built."""
    if request.param == "vballoon" and not os.path.exists(os.path.join(build_dir, "vballoon.ko")):
        pytest.skip("vballoon.ko not built in %s (VB_DRIVERS=virtio_balloon runs "
                    "the in-tree reference)" % build_dir)
    return request.param


def unload_all(g):
    for m in ALL_DRIVERS:
        if g.loaded(m):
            g.sh("rmmod " + m, timeout=120)


def cleanup(g):
    """Deflate fully and unload; fail on a splat or on memory not returned."""
    g.set_balloon_mib(MEM)
    try:
        if any(g.loaded(m) for m in ALL_DRIVERS):
            g.wait_actual(MEM, timeout=60)
        unload_all(g)
    finally:
        problems = guest_problems(g, allow_oom=g.deflate_on_oom)
    if problems:
        pytest.fail("kernel splat during cleanup:\n" + "\n".join(problems))
    assert g.meminfo()["MemTotal"] == g.base_memtotal_kb, "memory not returned after cleanup"


@pytest.fixture
def clean(vm, drv):
    """A guest with no balloon driver and a full-RAM host target; the same
    again afterwards, with a splat check of the cleanup itself."""
    unload_all(vm)
    vm.set_balloon_mib(MEM)
    vm.take_dmesg()
    yield vm
    if vm.alive():
        cleanup(vm)


def load(g, drv, params=""):
    rc, out = g.insmod("/lib/vb/%s.ko" % drv, params)
    assert rc == 0, "insmod %s failed: %s\n%s" % (drv, out, g.dmesg())


@pytest.fixture
def loaded(clean, drv):
    load(clean, drv)
    clean.wait_actual(MEM, timeout=30)
    return clean


def balloon_pages(vs):
    """Pages in the balloon according to the balloon-compaction counters."""
    return vs["balloon_inflate"] - vs["balloon_deflate"]


def check_debugfs(g, drv, pages):
    """vballoon's own counters must agree with the independent sources."""
    if drv != "vballoon":
        return
    st = g.vb_stats()
    assert st, "no /sys/kernel/debug/vballoon/stats"
    assert st["balloon_pages"] == pages, st
    return st


def inflate_to(g, mib, timeout=90):
    g.set_balloon_mib(mib)
    return g.wait_actual(mib, timeout=timeout)


# ---------------------------------------------------------------------------

def test_bind(loaded, drv):
    """insmod binds the virtio balloon device; nothing is ballooned yet."""
    out = loaded.sh("for d in /sys/bus/virtio/devices/*; do "
                    "[ \"$(cat $d/device)\" = 0x0005 ] && basename $(readlink -f $d/driver/module); done; true")
    assert out.split() == [drv]
    assert loaded.actual_mib() == MEM
    st = check_debugfs(loaded, drv, 0)
    if st:
        assert st["target_pages"] == 0 and st["deflate_on_oom"] == 0, st


def test_inflate_deflate(loaded, drv):
    """Inflate to 512 MiB and back: vmstat, MemTotal, QMP and debugfs agree."""
    g = loaded
    want = (MEM - 512) * PAGES_PER_MIB
    vs0, mt0, st0 = g.vmstat(), g.meminfo()["MemTotal"], g.vb_stats()

    t = time.monotonic()
    assert inflate_to(g, 512) == 512
    print("inflate 1024->512 MiB: %.2fs" % (time.monotonic() - t))
    vs1, mt1 = g.vmstat(), g.meminfo()["MemTotal"]
    assert vs1["balloon_inflate"] - vs0["balloon_inflate"] == want
    assert vs1["balloon_deflate"] == vs0["balloon_deflate"]
    assert mt0 - mt1 == want * 4  # kB, exact: each balloon page leaves MemTotal
    st1 = check_debugfs(g, drv, want)
    if st1:
        assert st1["target_pages"] == want
        assert st1["inflated_pages"] - st0["inflated_pages"] == want

    t = time.monotonic()
    assert inflate_to(g, MEM) == MEM
    print("deflate 512->1024 MiB: %.2fs" % (time.monotonic() - t))
    vs2, mt2 = g.vmstat(), g.meminfo()["MemTotal"]
    assert vs2["balloon_deflate"] - vs1["balloon_deflate"] == want
    assert mt2 == mt0
    st2 = check_debugfs(g, drv, 0)
    if st2:
        assert st2["deflated_pages"] - st1["deflated_pages"] == want
        assert st2["target_pages"] == 0


def test_quick_target_changes(loaded, drv):
    """Targets set back to back without waiting: the last one wins."""
    g = loaded
    vs0, mt0 = g.vmstat(), g.meminfo()["MemTotal"]
    for mib in (600, 300, 800, 450):
        g.set_balloon_mib(mib)
        time.sleep(0.1)
    assert g.wait_actual(450, timeout=90, settle=2.0) == 450
    want = (MEM - 450) * PAGES_PER_MIB
    vs1 = g.vmstat()
    assert balloon_pages(vs1) - balloon_pages(vs0) == want
    assert mt0 - g.meminfo()["MemTotal"] == want * 4
    check_debugfs(g, drv, want)


def test_guest_stats(loaded, drv):
    """guest-stats reported to QEMU match /proc/meminfo, read just before
    and just after the guest built the report: free memory may move
    between the two reads (one run saw 53 MiB in under a second)."""
    g = loaded
    g.qom_set("guest-stats-polling-interval", 1)
    try:
        deadline = time.monotonic() + 30
        last = g.qom_get("guest-stats")["last-update"]
        # Two fresh reports, so the one compared is not stale; meminfo
        # read after the first brackets the second.
        for i in range(2):
            while g.qom_get("guest-stats")["last-update"] == last:
                assert time.monotonic() < deadline, "no guest-stats update"
                time.sleep(0.5)
            last = g.qom_get("guest-stats")["last-update"]
            if i == 0:
                before = g.meminfo()
        stats = g.qom_get("guest-stats")["stats"]
        after = g.meminfo()
    finally:
        g.qom_set("guest-stats-polling-interval", 0)
    assert stats["stat-total-memory"] == after["MemTotal"] * 1024
    lo, hi = sorted((before["MemFree"] * 1024, after["MemFree"] * 1024))
    free = stats["stat-free-memory"]
    assert lo - (8 << 20) <= free <= hi + (8 << 20), (
        "free memory %d outside [%d, %d] +- 8 MiB" % (free, lo, hi))


def test_compaction(loaded, drv):
    """Compaction with an inflated, interleaved balloon: balloon pages are
    migrated, no splat, balloon level kept."""
    g = loaded
    sc.fragment_and_inflate(g, MEM, 512)
    vs0, mt0 = g.vmstat(), g.meminfo()["MemTotal"]
    t = time.monotonic()
    tries = sc.compact_migrating(g, MEM, 512)
    vs1 = g.vmstat()
    migrated = vs1["balloon_migrate"] - vs0["balloon_migrate"]
    print("compact_memory: %.2fs, %d tries, balloon_migrate +%d"
          % (time.monotonic() - t, tries, migrated))
    assert migrated > 0, "compaction migrated no balloon page"
    assert balloon_pages(vs1) == balloon_pages(vs0)
    assert g.meminfo()["MemTotal"] == mt0
    assert g.actual_mib() == 512
    check_debugfs(g, drv, (MEM - 512) * PAGES_PER_MIB)
    # The host must still be able to take the migrated pages back.
    assert inflate_to(g, MEM) == MEM
    assert balloon_pages(g.vmstat()) == 0


def test_rmmod_inflated_and_reload(loaded, drv):
    """rmmod returns every page; a second insmod re-inflates to the target."""
    g = loaded
    inflate_to(g, 512)
    vs0 = g.vmstat()
    g.sh("rmmod " + drv, timeout=120)
    vs1 = g.vmstat()
    assert vs1["balloon_deflate"] - vs0["balloon_deflate"] == (MEM - 512) * PAGES_PER_MIB
    assert g.meminfo()["MemTotal"] == g.base_memtotal_kb
    assert g.wait_actual(MEM, timeout=10) == MEM
    load(g, drv)
    assert g.wait_actual(512, timeout=90) == 512
    assert g.meminfo()["MemTotal"] == g.base_memtotal_kb - (MEM - 512) * 1024
    check_debugfs(g, drv, (MEM - 512) * PAGES_PER_MIB)


@pytest.mark.allow_oom
def test_extreme_targets(vm_doom, drv):
    """Target ~0 (QEMU's smallest: 1 byte) and above RAM, with deflate-on-oom:
    the guest lives, the driver keeps answering and deflates when the target
    goes up. (Without deflate-on-oom a 1-byte target starves a guest with
    no reclaimable memory into "System is deadlocked on memory", with the
    in-tree driver too, so that is not a driver-core contract.)"""
    g = vm_doom
    unload_all(g)
    g.set_balloon_mib(MEM)
    g.take_dmesg()
    try:
        load(g, drv)
        g.wait_actual(MEM, timeout=30)
        g.set_balloon_bytes(1)
        deadline = time.monotonic() + 90
        while g.actual_mib() > MEM / 2:
            assert time.monotonic() < deadline, "balloon did not inflate"
            time.sleep(0.5)
        time.sleep(5)  # let it push against the OOM/leak boundary a while
        print("target 1 byte: actual %.1f MiB" % g.actual_mib())
        for _ in range(3):
            assert g.run("echo alive", timeout=60) == (0, "alive\n")
        assert g.loaded(drv)
        if drv == "vballoon":
            assert g.vb_stats(), "debugfs stats not readable"
        g.set_balloon_mib(2 * MEM)  # QEMU clamps to RAM size
        assert g.wait_actual(MEM, timeout=90) == MEM
        assert balloon_pages(g.vmstat()) == 0
        assert g.meminfo()["MemTotal"] == g.base_memtotal_kb
        check_debugfs(g, drv, 0)
    finally:
        if g.alive():
            cleanup(g)


BAD_PARAMS = [
    ("oom_pages", "0"), ("oom_pages", "-1"), ("oom_pages", "262145"), ("oom_pages", "abc"),
    ("oom_escalate_pct", "1001"), ("oom_escalate_pct", "-5"),
    ("oom_max_pages", "0"), ("oom_max_pages", "1048577"),
    ("oom_window_ms", "0"), ("oom_window_ms", "60001"),
    ("oom_pace_ms", "60001"), ("oom_pace_ms", "-1"),
    ("oom_tell_late", "2"), ("oom_tell_late", "-1"),
    ("reinflate_holdoff_ms", "3600001"), ("reinflate_holdoff_ms", "-1"),
]
GOOD_EDGES = ("oom_pages=262144 oom_escalate_pct=1000 oom_max_pages=1048576 "
              "oom_window_ms=60000 oom_pace_ms=60000 oom_tell_late=0 reinflate_holdoff_ms=3600000")


def test_bad_params(clean, drv):
    """Out-of-range or junk parameters: insmod fails with a message; sysfs
    writes of bad values fail with the old value kept."""
    if drv != "vballoon":
        pytest.skip("parameter contract is vballoon's")
    g = clean
    failures = []
    for name, val in BAD_PARAMS:
        g.take_dmesg()
        rc, out = g.insmod("/lib/vb/vballoon.ko", "%s=%s" % (name, val))
        log = g.dmesg()
        if rc == 0:
            failures.append("%s=%s accepted" % (name, val))
            g.sh("rmmod vballoon", timeout=120)
            continue
        if g.loaded("vballoon"):
            failures.append("%s=%s: insmod failed but module loaded" % (name, val))
        if not any(name in l and "vballoon" in l for l in log.splitlines()):
            failures.append("%s=%s: no dmesg line naming the parameter:\n%s" % (name, val, log))
        elif val.lstrip("-").isdigit() and not any(
                "%s=%s" % (name, val) in l and "out of range" in l for l in log.splitlines()):
            failures.append("%s=%s: no 'out of range' line:\n%s" % (name, val, log))
    assert not failures, "\n".join(failures)

    # Boundary values are valid.
    load(g, "vballoon", GOOD_EDGES)
    g.sh("rmmod vballoon", timeout=120)

    load(g, "vballoon", "oom_pages=512")
    p = "/sys/module/vballoon/parameters/"
    assert g.sh("cat %soom_pages" % p).strip() == "512"
    for name, val in BAD_PARAMS:
        old = g.sh("cat %s%s" % (p, name)).strip()
        rc, _ = g.run("echo %s > %s%s" % (val, p, name))
        assert rc != 0, "sysfs accepted %s=%s" % (name, val)
        assert g.sh("cat %s%s" % (p, name)).strip() == old
    g.sh("echo 1024 > %soom_pages" % p)
    assert g.sh("cat %soom_pages" % p).strip() == "1024"
