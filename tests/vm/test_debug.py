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
from kdebug import (FAIL_PAGE_ALLOC, fail_page_alloc, fail_page_alloc_left,
                    kmemleak_report, kmemleak_start, need)

MEM = 1024
vm = module_guest("debug", mem_mib=MEM)


@pytest.fixture
def clean(built, vm):
    """No driver, full RAM target, before and after: a failed test must not
    leave vballoon loaded for the next one."""
    sc.unload_driver(vm, "vballoon")
    vm.set_balloon_mib(MEM)
    yield vm
    vm.set_balloon_mib(MEM)
    sc.unload_driver(vm, "vballoon")


def test_kmemleak_after_reload_cycles(clean):
    g = clean
    kmemleak_start(g)
    sc.reload_cycles(g, MEM, [768] * 10)
    report = kmemleak_report(g)
    assert report.strip() == "", "kmemleak:\n" + report


def test_inflate_with_page_alloc_failures(clean):
    """Allocation failures during inflation: the driver backs off and still
    reaches the exact target; nothing leaks, nothing warns."""
    g = clean
    need(g, FAIL_PAGE_ALLOC)
    kmemleak_start(g)
    sc.load_driver(g, "vballoon")
    g.wait_actual(MEM)
    total0, vs0 = g.meminfo()["MemTotal"], g.vmstat()
    armed = 16
    fail_page_alloc(g, armed, 10)
    try:
        # Only QMP while armed: the guest's agent stays idle.
        sc.inflate_to(g, 768, timeout=300)
        left = fail_page_alloc_left(g)
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
