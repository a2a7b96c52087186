"""The host's view: what QEMU's balloon device actually received.

QEMU's own trace events (log backend) write one `virtqueue_pop` line per
element the device takes off a virtqueue and one
`virtio_balloon_handle_output` line (or `virtio_balloon_bad_addr`) per PFN
it handles from that element. Counting the PFN lines after each pop gives
the PFNs per element: no element may carry more than 256, the most a host
such as Firecracker accepts (MAX_PAGES_IN_DESC), for inflate, deflate, OOM
release and migration. The PFN totals must also equal the guest's
/proc/vmstat deltas, which proves the trace complete. vballoon tells the
host of an OOM release's pages once the storm is over (oom_tell_late), so
that phase waits for them, and for the driver's untold count to reach 0;
the queue of each element shows they come before it inflates again. The
in-tree virtio_balloon runs too: it sends 256 and validates the test."""
import json
import os

import pytest

from conftest import stop_guest
from freemem import wait_for
import scenario as sc

MEM = 1024
LOW = 512            # inflate and migration level, MiB: at 768, compaction
                     # sometimes reached no balloon page
PRESSURE = 256       # OOM phase level, MiB
HOG = 300
MAX_PFNS = 256       # virtio_balloon's VIRTIO_BALLOON_ARRAY_PFNS_MAX
POP = "virtqueue_pop"
PFN_EVENTS = ("virtio_balloon_handle_output", "virtio_balloon_bad_addr")

pytestmark = pytest.mark.allow_oom


class QemuTrace:
    """QEMU's trace log, read in slices between two marks."""

    def __init__(self, log_dir, name):
        self.events = os.path.join(log_dir, name + "-trace-events")
        self.log = os.path.join(log_dir, name + "-trace.log")
        with open(self.events, "w") as f:
            f.write("\n".join((POP,) + PFN_EVENTS) + "\n")
        if os.path.exists(self.log):
            os.unlink(self.log)

    def qemu_args(self):
        return ["-trace", "events=%s,file=%s" % (self.events, self.log)]

    def mark(self):
        return os.path.getsize(self.log) if os.path.exists(self.log) else 0

    def pops_since(self, mark):
        """[vq, PFNs] per balloon element popped since mark, in order
        (elements of other queues, such as stats, carry no PFN lines and are
        left out)."""
        with open(self.log, "rb") as f:
            f.seek(mark)
            text = f.read().decode(errors="replace")
        pops = []
        for line in text.splitlines():
            if POP in line:
                pops.append([line.split()[2], 0])     # "virtqueue_pop vq 0x... elem ..."
            elif pops and any(e in line for e in PFN_EVENTS):
                pops[-1][1] += 1
        return [p for p in pops if p[1]]

    def elements_since(self, mark):
        """PFNs per balloon element popped since mark."""
        return [n for _, n in self.pops_since(mark)]


@pytest.fixture(scope="module")
def traced(boot_guest, build_dir):
    log_dir = os.path.join(build_dir, "vm")
    os.makedirs(log_dir, exist_ok=True)
    trace = QemuTrace(log_dir, "hostview")
    g = boot_guest("hostview", mem_mib=MEM, deflate_on_oom=True,
                   qemu_args=trace.qemu_args())
    g.trace = trace
    yield g
    stop_guest(g, allow_oom=True)


def use_driver(g, build_dir, name):
    """Only driver name bound, balloon empty; empty and unloaded after."""
    if name == "vballoon" and not os.path.exists(os.path.join(build_dir, "vballoon.ko")):
        pytest.skip("vballoon.ko not built")
    for d in ("vballoon", "virtio_balloon"):
        sc.unload_driver(g, d)
    g.set_balloon_mib(MEM)
    sc.load_driver(g, name)
    g.wait_actual(MEM)
    yield name
    g.set_balloon_mib(MEM)
    g.wait_actual(MEM, timeout=120)
    sc.unload_driver(g, name)


@pytest.fixture(params=["virtio_balloon", "vballoon"])
def driver(request, traced, build_dir):
    yield from use_driver(traced, build_dir, request.param)


@pytest.fixture
def vballoon(traced, build_dir):
    yield from use_driver(traced, build_dir, "vballoon")


def phase(g, action):
    """Run action(); return (PFNs per element on the wire, vmstat delta)."""
    mark, vs0 = g.trace.mark(), g.vmstat()
    action()
    vs1 = g.vmstat()
    return (g.trace.elements_since(mark),
            {k: vs1.get(k, 0) - vs0.get(k, 0)
             for k in ("balloon_inflate", "balloon_deflate", "balloon_migrate", "oom_kill")})


UNTOLD_TIMEOUT_S = 30   # the storm window (1 s) and the worker's tells


def oom_spike(g, driver):
    """The hog, then until the host has been told of every page released."""
    def spike():
        mark, vs0 = g.trace.mark(), g.vmstat()
        sc.run_hog(g, HOG)
        want = g.vmstat()["balloon_deflate"] - vs0["balloon_deflate"]
        wait_for(lambda: sum(g.trace.elements_since(mark)) >= want, UNTOLD_TIMEOUT_S,
                 what="the host told of all %d released pages" % want)
        if driver == "vballoon":
            assert g.vb_stats()["oom_untold_pages"] == 0

    sc.inflate_to(g, PRESSURE)
    return phase(g, spike)


def test_elements_at_most_256_pfns(traced, driver, build_dir):
    g = traced
    seen = {}
    seen["inflate"] = phase(g, lambda: sc.fragment_and_inflate(g, MEM, LOW))
    seen["migration"] = phase(g, lambda: sc.compact_migrating(g, MEM, LOW))
    seen["deflate"] = phase(g, lambda: sc.inflate_to(g, MEM))
    seen["oom release"] = oom_spike(g, driver)

    summary = {k: {"elements": len(el), "max_pfns": max(el, default=0),
                   "pfns": sum(el), "vmstat": d} for k, (el, d) in seen.items()}
    record(build_dir, driver, summary)
    print(driver, json.dumps(summary))

    # The trace is complete: every PFN on the wire is one the guest counted
    # (a migrated page is two: the new one inflated, the old one deflated).
    for k, v in summary.items():
        d = v["vmstat"]
        assert v["pfns"] == d["balloon_inflate"] + d["balloon_deflate"] + 2 * d["balloon_migrate"], (k, v)
    assert summary["inflate"]["vmstat"]["balloon_inflate"] > 0
    assert summary["deflate"]["vmstat"]["balloon_deflate"] > 0
    assert summary["migration"]["vmstat"]["balloon_migrate"] > 0, "compaction migrated no balloon page"
    oom = summary["oom release"]["vmstat"]
    assert oom["oom_kill"] == 0 and oom["balloon_deflate"] > 0, oom
    over = {k: v["max_pfns"] for k, v in summary.items() if v["max_pfns"] > MAX_PFNS}
    assert not over, "%s sent elements over %d PFNs: %s" % (driver, MAX_PFNS, over)


def record(build_dir, driver, summary):
    """Keep the figures for the report: build/<abi>/hostview.json."""
    path = os.path.join(build_dir, "hostview.json")
    data = {}
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
    data[driver] = summary
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


def test_late_tells_come_before_reinflation(traced, vballoon):
    """oom_tell_late (default): an OOM release tells the host after the
    storm, and before the worker inflates again. On the wire: every released
    PFN is on the deflate queue before the first inflate element that takes
    the balloon back to the host's target (after reinflate_holdoff_ms)."""
    g = traced
    m0 = g.trace.mark()
    sc.inflate_to(g, PRESSURE)
    inflate_vq = {vq for vq, _ in g.trace.pops_since(m0)}
    assert len(inflate_vq) == 1, inflate_vq
    m1, vs0 = g.trace.mark(), g.vmstat()
    r = sc.run_hog(g, HOG)
    assert r["rc"] == 0, r
    released = g.vmstat()["balloon_deflate"] - vs0["balloon_deflate"]
    assert released > 0, "the hog got no balloon page"

    def reinflated():
        pops = g.trace.pops_since(m1)
        first = next((i for i, (vq, _) in enumerate(pops) if vq in inflate_vq), None)
        if first is None or sum(n for vq, n in pops if vq in inflate_vq) < released:
            return None
        return pops, first
    pops, first = wait_for(reinflated, 120, what="the balloon back at the host's target")
    told_first = sum(n for _, n in pops[:first])
    print("released %d, told before the first re-inflation %d, %d elements before it"
          % (released, told_first, first))
    assert {vq for vq, _ in pops[:first]} & inflate_vq == set()
    assert told_first == released
    assert g.vb_stats()["oom_untold_pages"] == 0
    assert g.wait_actual(PRESSURE, timeout=60) == PRESSURE
