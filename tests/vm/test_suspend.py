"""S3 suspend and resume with the balloon inflated, and with an OOM storm
armed: the driver's freeze and restore. QEMU offers S3 with
PIIX4_PM.disable_s3=0; QMP query-status says "suspended" while the guest
sleeps and system_wakeup resumes it. Afterwards the balloon must follow
the host's targets exactly (QMP, /proc/vmstat, debugfs)."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import module_guest
from guest import KERNEL_EXTRA_MIB, PAGES_PER_MIB
import scenario as sc
from kdebug import EXTENDED

MEM = 1024
PRESSURE = 256 + KERNEL_EXTRA_MIB
HOG = 300

pytestmark = [EXTENDED, pytest.mark.allow_oom]

vm = module_guest("suspend", allow_oom=True, mem_mib=MEM, deflate_on_oom=True,
                  qemu_args=["-global", "PIIX4_PM.disable_s3=0"])


@pytest.fixture
def vb(built, vm, request):
    """vballoon loaded with the test's parameters on an empty balloon."""
    params = getattr(request, "param", "")
    sc.unload_driver(vm, "vballoon")
    vm.set_balloon_mib(MEM)
    sc.load_driver(vm, "vballoon", params)
    vm.wait_actual(MEM)
    yield vm
    vm.set_balloon_mib(MEM)
    vm.wait_actual(MEM, timeout=120)
    sc.unload_driver(vm, "vballoon")


def suspend_resume(g):
    """S3 (deep) and back. The write to /sys/power/state returns only after
    resume, so it runs on the agent in a thread while QMP wakes the guest."""
    g.sh("grep -q deep /sys/power/mem_sleep && echo deep > /sys/power/mem_sleep")
    g.qmp.clear_events()
    with ThreadPoolExecutor(1) as pool:
        write = pool.submit(g.run, "echo mem > /sys/power/state", 180)
        g.qmp.wait_event("SUSPEND", timeout=60)
        assert g.qmp.execute("query-status")["status"] == "suspended"
        g.qmp.execute("system_wakeup")
        g.qmp.wait_event("WAKEUP", timeout=60)
        rc, out = write.result()
    assert rc == 0, out
    assert g.qmp.execute("query-status")["status"] == "running"


def follows(g, mib):
    """The balloon reaches mib and every source agrees on it."""
    assert sc.inflate_to(g, mib, timeout=180) == mib
    vs = g.vmstat()
    pages = (MEM - mib) * PAGES_PER_MIB
    assert vs["balloon_inflate"] - vs["balloon_deflate"] == pages
    assert g.vb_stats()["balloon_pages"] == pages


def test_suspend_inflated(vb):
    g = vb
    follows(g, 512)
    deflated0 = g.vmstat()["balloon_deflate"]
    suspend_resume(g)
    # Freeze gave every page back (the host was told), restore re-inflates.
    assert g.vmstat()["balloon_deflate"] - deflated0 == (MEM - 512) * PAGES_PER_MIB
    follows(g, 512)      # the host's target survives the sleep
    follows(g, 384)
    follows(g, 768)


@pytest.mark.parametrize("vb", ["oom_window_ms=60000 reinflate_holdoff_ms=0"], indirect=True)
def test_suspend_with_storm_armed(vb):
    """A rescue arms the storm for 60 s; suspend inside that window."""
    g = vb
    sc.inflate_to(g, PRESSURE)
    before = sc.snapshot(g)
    hog = sc.run_hog(g, HOG)
    assert hog["rc"] == 0, hog
    assert sc.rescue_calls(before, sc.snapshot(g)) > 0
    suspend_resume(g)
    follows(g, 512)
    follows(g, PRESSURE)
    # The storm machinery still rescues after resume.
    hog = sc.run_hog(g, HOG)
    assert hog["rc"] == 0 and g.vmstat().get("oom_kill", 0) == 0, hog
