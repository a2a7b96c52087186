"""Other virtqueue layouts: the packed ring, no event index, no indirect
descriptors. Each is a device property; the guest's negotiated feature
bits prove it took effect, and inflate/deflate must still move exactly the
requested pages (/proc/vmstat, /proc/meminfo, QMP, debugfs)."""
import os

import pytest

from conftest import stop_guest
from guest import PAGES_PER_MIB
import scenario as sc
from kdebug import EXTENDED

MEM = 1024
LOW = 640
pytestmark = EXTENDED
DRIVERS = os.environ.get("VB_DRIVERS", "vballoon").split(",")

# property -> (virtio feature bit, negotiated value under that property)
LAYOUTS = {
    "packed=on": (34, "1"),          # VIRTIO_F_RING_PACKED
    "event_idx=off": (29, "0"),      # VIRTIO_RING_F_EVENT_IDX
    "indirect_desc=off": (28, "0"),  # VIRTIO_RING_F_INDIRECT_DESC
}


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def layout(request, boot_guest):
    g = boot_guest("layout-" + request.param.split("=")[0], mem_mib=MEM,
                   device_props=request.param)
    g.layout = request.param
    yield g
    stop_guest(g)


@pytest.mark.parametrize("drv", DRIVERS)
def test_exact_inflate_deflate(layout, drv, build_dir):
    g = layout
    if drv == "vballoon" and not os.path.exists(os.path.join(build_dir, "vballoon.ko")):
        pytest.skip("vballoon.ko not built")
    total0, vs0 = g.meminfo()["MemTotal"], g.vmstat()
    sc.load_driver(g, drv)
    bit, want = LAYOUTS[g.layout]
    feats = g.sh("cat /sys/bus/virtio/drivers/%s/virtio*/features" % drv).strip()
    assert feats[bit] == want, "%s: feature bit %d is %s" % (g.layout, bit, feats[bit])
    pages = (MEM - LOW) * PAGES_PER_MIB
    try:
        sc.inflate_to(g, LOW)
        vs1 = g.vmstat()
        assert vs1["balloon_inflate"] - vs0["balloon_inflate"] == pages
        assert total0 - g.meminfo()["MemTotal"] == pages * 4
        if drv == "vballoon":
            assert g.vb_stats()["balloon_pages"] == pages
        sc.inflate_to(g, MEM)
        vs2 = g.vmstat()
        assert vs2["balloon_deflate"] - vs1["balloon_deflate"] == pages
        assert vs2["balloon_inflate"] == vs1["balloon_inflate"]
        assert g.meminfo()["MemTotal"] == total0
    finally:
        g.set_balloon_mib(MEM)
        sc.unload_driver(g, drv)
    assert g.actual_mib() == MEM
