"""Robustness: device hot-unplug with the balloon inflated, and repeated
module reloads under an inflated balloon. Truth: /proc/vmstat deltas,
/proc/meminfo and QMP."""
import pytest

from conftest import stop_guest
from guest import PAGES_PER_MIB
import scenario as sc

MEM = 1024


@pytest.fixture
def guest(boot_guest):
    g = boot_guest("robust", mem_mib=MEM, deflate_on_oom=False)
    yield g
    stop_guest(g)


def test_reload_cycles(guest):
    sc.reload_cycles(guest, MEM, [512, 768] * 4)


def test_hot_unplug_returns_everything(guest):
    g = guest
    total0 = g.meminfo()["MemTotal"]
    vs0 = g.vmstat()
    sc.load_driver(g, "vballoon")
    sc.inflate_to(g, 384)
    g.qmp.clear_events()
    g.qmp.execute("device_del", id="balloon0")
    assert g.qmp.wait_event("DEVICE_DELETED", timeout=60) is not None
    vs1 = g.vmstat()
    assert vs1["balloon_inflate"] - vs0["balloon_inflate"] == (MEM - 384) * PAGES_PER_MIB
    assert vs1["balloon_deflate"] - vs0["balloon_deflate"] == (MEM - 384) * PAGES_PER_MIB
    assert g.meminfo()["MemTotal"] == total0
    with pytest.raises(Exception, match="DeviceNotActive|No balloon"):
        g.qmp.execute("query-balloon")
    # The driver is unbound, not wedged: rmmod works.
    assert g.run("ls /sys/kernel/debug/vballoon")[0] != 0
    g.sh("rmmod vballoon")


@pytest.fixture
def legacy(boot_guest):
    g = boot_guest("legacy", mem_mib=MEM, device_props="disable-modern=on")
    yield g
    stop_guest(g)


def test_legacy_transport(legacy):
    """A legacy (virtio 0.9.5) device: same behaviour, same accounting."""
    g = legacy
    total0 = g.meminfo()["MemTotal"]
    vs0 = g.vmstat()
    sc.load_driver(g, "vballoon")
    # Negotiated feature bits: STATS_VQ (1) yes, VIRTIO_F_VERSION_1 (32) no.
    feats = g.sh("cat /sys/bus/virtio/drivers/vballoon/virtio*/features").strip()
    assert feats[1] == "1" and feats[32] == "0", feats
    sc.inflate_to(g, 640)
    vs1 = g.vmstat()
    assert vs1["balloon_inflate"] - vs0["balloon_inflate"] == (MEM - 640) * PAGES_PER_MIB
    assert total0 - g.meminfo()["MemTotal"] == (MEM - 640) * 1024
    assert g.vb_stats()["balloon_pages"] == (MEM - 640) * PAGES_PER_MIB
    sc.unload_driver(g, "vballoon")
    assert g.actual_mib() == MEM
