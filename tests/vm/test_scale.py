"""Scale: 100 reload cycles with the balloon inflated, then a kmemleak scan
where the kernel has kmemleak; and an OOM storm of 50 spikes. Long, so
they run only when VB_EXTENDED=1 (make check-debug sets it). Truth: vmstat,
meminfo, QMP, debugfs counters, kmemleak."""
import pytest

from conftest import module_guest
import scenario as sc
from kdebug import EXTENDED, KMEMLEAK, kmemleak_report, kmemleak_start

MEM = 1024
PRESSURE = 256
HOG = 300

pytestmark = [EXTENDED, pytest.mark.allow_oom]

vm = module_guest("scale", allow_oom=True, mem_mib=MEM, deflate_on_oom=True)


def test_100_reload_cycles_inflated(built, vm):
    g = vm
    leakcheck = g.run("test -e " + KMEMLEAK)[0] == 0
    if leakcheck:
        kmemleak_start(g)
    sc.reload_cycles(g, MEM, [960] * 100)
    if leakcheck:
        report = kmemleak_report(g)
        assert report.strip() == "", "kmemleak:\n" + report


def test_storm_of_50_spikes(built, vm):
    g = vm
    sc.load_driver(g, "vballoon", "reinflate_holdoff_ms=0")
    try:
        before, after, hogs = sc.storm(g, 50, PRESSURE, HOG)
    finally:
        g.set_balloon_mib(MEM)
        g.wait_actual(MEM, timeout=120)
        sc.unload_driver(g, "vballoon")
    assert [h for h in hogs if h["rc"] != 0] == []
    assert sc.delta(before, after, "oom_kill") == 0
    assert sc.rescue_calls(before, after) >= 50
    assert (sc.delta(before, after, "balloon_deflate") ==
            sc.delta(before, after, "oom_leaked_pages", "vb"))
