"""Checks that need the debug kernel (make check-debug): kmemleak after
reload cycles, and page allocation failures injected into inflation.
Skipped on kernels without kmemleak or fail_page_alloc in debugfs.
Truth: /proc/vmstat, /proc/meminfo, QMP, the kernel's own fault-injection
and kmemleak bookkeeping; lockdep, KASAN and warnings are caught by the
dmesg check after every test (splat.py)."""
import pytest

from conftest import module_guest
from guest import PAGES_PER_MIB
import scenario as sc

MEM = 1024
KMEMLEAK = "/sys/kernel/debug/kmemleak"
FAIL = "/sys/kernel/debug/fail_page_alloc"
MIN_AGE_S = 5.5      # kmemleak reports only objects older than 5 s

vm = module_guest("debug", mem_mib=MEM)


def need(g, path):
    if g.run("test -e " + path)[0] != 0:
        pytest.skip(path + " not in this kernel (make check-debug)")


def kmemleak_start(g):
    """Manual scans only: the scan thread is suspected of stalling TCG
    guests, and a cleared list makes the report this test's alone."""
    need(g, KMEMLEAK)
    g.sh("echo scan=off > %s; echo clear > %s" % (KMEMLEAK, KMEMLEAK))


def kmemleak_report(g):
    """Scan twice, the second time after kmemleak's minimum object age, so
    that an object leaked just now is reported; return the report."""
    g.sh("echo scan > " + KMEMLEAK, timeout=600)
    g.sh("usleep %d" % (MIN_AGE_S * 1e6), timeout=30)
    g.sh("echo scan > " + KMEMLEAK, timeout=600)
    return g.sh("cat " + KMEMLEAK)


def reload_cycles(g, n, low_mib):
    """n times: insmod, inflate to low_mib, rmmod with the pages inside.
    Every cycle gives back exactly what it took (vmstat, MemTotal, QMP)."""
    total0 = g.meminfo()["MemTotal"]
    want = (MEM - low_mib) * PAGES_PER_MIB
    for i in range(n):
        vs0 = g.vmstat()
        sc.load_driver(g, "vballoon")
        sc.inflate_to(g, low_mib)
        sc.unload_driver(g, "vballoon")
        vs1 = g.vmstat()
        assert vs1["balloon_inflate"] - vs0["balloon_inflate"] == want, "cycle %d" % i
        assert vs1["balloon_deflate"] - vs0["balloon_deflate"] == want, "cycle %d" % i
        assert g.meminfo()["MemTotal"] == total0, "cycle %d" % i
        assert g.actual_mib() == MEM, "cycle %d" % i
        g.set_balloon_mib(MEM)


def test_kmemleak_after_reload_cycles(built, vm):
    g = vm
    kmemleak_start(g)
    reload_cycles(g, 10, 768)
    report = kmemleak_report(g)
    assert report.strip() == "", "kmemleak:\n" + report


def fail_page_alloc(g, times, probability):
    """Arm (times > 0) or disarm fail_page_alloc for kernel workers only:
    the driver inflates from a system_freezable_wq worker, and the agent's
    shell and pipes must not fail. Sleeping, highmem and order-0
    allocations are exempt by default; the balloon's are all three."""
    workers = "$(ps -o pid,comm | awk '$2 ~ /^kworker/ {print $1}')"
    on = 1 if times else 0
    g.sh("cd %s; echo Y > task-filter; echo N > ignore-gfp-wait; "
         "echo N > ignore-gfp-highmem; echo 0 > min-order; echo 0 > verbose; "
         "echo 1 > interval; echo %d > times; echo %d > probability; "
         "for p in %s; do echo %d > /proc/$p/make-it-fail 2>/dev/null; done; true"
         % (FAIL, times, probability if on else 0, workers, on))


def test_inflate_with_page_alloc_failures(built, vm):
    """Allocation failures during inflation: the driver backs off and still
    reaches the exact target; nothing leaks, nothing warns."""
    g = vm
    need(g, FAIL)
    kmemleak_start(g)
    sc.load_driver(g, "vballoon")
    g.wait_actual(MEM)
    total0, vs0 = g.meminfo()["MemTotal"], g.vmstat()
    armed = 16
    fail_page_alloc(g, armed, 10)
    try:
        # Only QMP while armed: the guest's agent stays idle.
        sc.inflate_to(g, 768, timeout=300)
        left = int(g.sh("cat %s/times" % FAIL))
    finally:
        fail_page_alloc(g, 0, 0)
    injected = armed - left
    assert injected > 0, "no allocation failure was injected"
    pages = (MEM - 768) * PAGES_PER_MIB
    vs1 = g.vmstat()
    assert vs1["balloon_inflate"] - vs0["balloon_inflate"] == pages
    assert total0 - g.meminfo()["MemTotal"] == pages * 4
    assert g.vb_stats()["balloon_pages"] == pages
    sc.inflate_to(g, MEM)
    sc.unload_driver(g, "vballoon")
    assert g.vmstat()["balloon_deflate"] - vs0["balloon_deflate"] == pages
    assert g.meminfo()["MemTotal"] == total0
    print("fail_page_alloc: %d failures injected" % injected)
    report = kmemleak_report(g)
    assert report.strip() == "", "kmemleak:\n" + report
