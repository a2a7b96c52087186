"""vbtrace end-to-end: the tracer's records and totals against independent
counters (/proc/vmstat, the vballoon debugfs stats), its exit codes, and
OOM-kill records. Order per test: insmod, attach, trigger, detach, rmmod
(an attached tracer holds a reference on the module)."""
import json
import shlex
import time

import pytest

from conftest import module_guest
from guest import PAGES_PER_MIB

MEM = 1024
VBALLOON = "/lib/vb/vballoon.ko"
TYPES = ("inflate", "deflate", "oom_leak", "oom_kill")
KEYS = {
    "inflate": {"type", "time", "pages", "balloon_pages", "target_pages"},
    "oom_leak": {"type", "time", "pages", "balloon_pages", "target_pages",
                 "asked", "ns", "step"},
    "oom_kill": {"type", "time", "pid", "comm", "pages", "balloon_pages",
                 "target_pages", "rescue_miss"},
}
KEYS["deflate"] = KEYS["inflate"]


pytestmark = pytest.mark.usefixtures("built")


def fresh(g):
    """No tracer or driver loaded, full RAM, clean dmesg."""
    # A tracer left by a failed test would pin the module.
    g.run("p=$(pidof vbtrace) && kill -INT $p; i=0; while pidof vbtrace >/dev/null"
          " && [ $i -lt 50 ]; do usleep 100000; i=$((i+1)); done")
    g.set_balloon_mib(MEM)
    if g.loaded("vballoon"):
        g.wait_actual(MEM, timeout=60)
        g.sh("rmmod vballoon", timeout=120)
    g.take_dmesg()


vm_doom = module_guest("vbtrace-doom", allow_oom=True, mem_mib=MEM, deflate_on_oom=True)
vm_kill = module_guest("vbtrace-kill", allow_oom=True, mem_mib=MEM, deflate_on_oom=False)


def with_vballoon(g):
    fresh(g)
    g.sh("insmod " + VBALLOON)
    yield g
    fresh(g)


@pytest.fixture
def doom(vm_doom):
    yield from with_vballoon(vm_doom)


@pytest.fixture
def kill(vm_kill):
    yield from with_vballoon(vm_kill)


def records(out):
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def start_tracer(g, name, args):
    """vbtrace in the background, protected from the OOM killer; returns
    once its start record is out (programs attached)."""
    inner = "echo -1000 >/proc/self/oom_score_adj; exec vbtrace " + args
    g.bg_start(name, "sh -c " + shlex.quote(inner))
    rc, out = g.run("i=0; until grep -q '\"type\":\"start\"' /tmp/bg/{0}.out; do"
                    " usleep 100000; i=$((i+1)); [ $i -gt 100 ] && break; done;"
                    " cat /tmp/bg/{0}.out; grep -q start /tmp/bg/{0}.out".format(name))
    assert rc == 0, "vbtrace did not start:\n" + out


def stop_tracer(g, name):
    rc, out = g.bg_stop(name, "INT")
    recs = records(out)
    assert recs and recs[-1]["type"] == "summary", out
    return rc, out, recs


def check_schema(recs):
    for r in recs:
        if r["type"] in KEYS:
            assert set(r) == KEYS[r["type"]], r
            assert r["time"].endswith("Z") and "T" in r["time"], r


def event_pages(recs, typ):
    return sum(r["pages"] for r in recs if r["type"] == typ)


# ---------------------------------------------------------------------------

def test_environment_errors(vm_doom):
    """Exit 3 with advice when vballoon is not loaded, 2 on bad usage."""
    g = vm_doom
    fresh(g)
    rc, out = g.run("vbtrace -d 1")
    assert rc == 3 and "insmod vballoon.ko" in out, out
    rc, out = g.run("vbtrace -j -d 1 2>/dev/null")
    assert rc == 3 and records(out)[0]["type"] == "error", out
    for bad in ("-d 0", "-d abc", "-i -1", "-e inflate,bogus", "-x 'inflate >> 1'", "extra"):
        rc, out = g.run("vbtrace " + bad)
        assert rc == 2 and "Usage:" in out, (bad, out)


def test_inflate_deflate_totals(doom):
    """Summary page totals equal the vmstat deltas; nothing lost; the
    per-event records and the interval deltas add up to the summary."""
    g = doom
    want = (MEM - 512) * PAGES_PER_MIB
    vs0, st0 = g.vmstat(), g.vb_stats()
    start_tracer(g, "t1", "-j -i 1 -x 'inflate_pages>=%d' -x 'oom_kill==0'" % want)
    g.set_balloon_mib(512)
    g.wait_actual(512, timeout=90)
    g.set_balloon_mib(MEM)
    g.wait_actual(MEM, timeout=90)
    time.sleep(1.5)
    rc, out, recs = stop_tracer(g, "t1")
    vs1, st1 = g.vmstat(), g.vb_stats()
    assert rc == 0, out
    check_schema(recs)

    start = recs[0]
    assert start["type"] == "start" and start["mode"] == "tp_btf", start
    assert start["balloon_pages"] == st0["balloon_pages"]
    s = recs[-1]
    d_inflate = vs1["balloon_inflate"] - vs0["balloon_inflate"]
    d_deflate = vs1["balloon_deflate"] - vs0["balloon_deflate"]
    assert d_inflate == want and d_deflate == want
    assert s["pages"]["inflate"] == d_inflate
    assert s["pages"]["deflate"] == d_deflate
    assert s["pages"]["inflate"] == st1["inflated_pages"] - st0["inflated_pages"]
    assert s["lost"] == 0
    assert all(e["ok"] for e in s["expect"]), s
    for t in ("inflate", "deflate"):
        assert event_pages(recs, t) == s["pages"][t]
        assert sum(1 for r in recs if r["type"] == t) == s["counts"][t]
        assert sum(r["pages"][t] for r in recs if r["type"] == "interval") <= s["pages"][t]
    last = [r for r in recs if r["type"] in ("inflate", "deflate")][-1]
    assert last["balloon_pages"] == st1["balloon_pages"] == 0


def test_failed_expectation(doom):
    """Exit 1 and the failing expression with its actual value."""
    g = doom
    rc, out = g.run("vbtrace -q -d 0.5 -x 'inflate_pages >= 1000' -x 'lost == 0'")
    assert rc == 1, out
    assert "expectation failed: inflate_pages >= 1000 (actual 0)" in out
    assert "lost == 0" not in out.split("expectation failed")[-1]


def test_oom_leak_totals(doom):
    """OOM leak records and totals equal the driver's own counters and the
    vmstat deflate delta; no process was killed."""
    g = doom
    g.set_balloon_mib(256)
    g.wait_actual(256, timeout=120)
    g.sh("echo 3 > /proc/sys/vm/drop_caches")
    vs0, st0 = g.vmstat(), g.vb_stats()
    start_tracer(g, "t2", "-j -x 'oom_leak>=1' -x 'oom_kill==0'")
    rc_hog, hog = g.run("hog 600", timeout=180)
    time.sleep(1)
    rc, out, recs = stop_tracer(g, "t2")
    vs1, st1 = g.vmstat(), g.vb_stats()
    assert rc_hog == 0, hog
    assert rc == 0, out
    check_schema(recs)
    s = recs[-1]
    leaked = st1["oom_leaked_pages"] - st0["oom_leaked_pages"]
    assert leaked > 0
    assert s["pages"]["oom_leak"] == leaked == event_pages(recs, "oom_leak")
    # One record per release: OOM notifier calls and storm reclaim.
    assert s["counts"]["oom_leak"] == st1["oom_releases"] - st0["oom_releases"]
    assert st1["oom_calls"] > st0["oom_calls"]
    assert vs1["balloon_deflate"] - vs0["balloon_deflate"] == leaked + s["pages"]["deflate"]
    assert vs1.get("oom_kill", 0) - vs0.get("oom_kill", 0) == s["counts"]["oom_kill"] == 0
    leaks = [r for r in recs if r["type"] == "oom_leak"]
    assert leaks[-1]["balloon_pages"] == st1["balloon_pages"]


@pytest.mark.allow_oom
def test_oom_kill_rescue_miss(kill):
    """Without deflate-on-OOM the hog is killed with the balloon full: the
    record names it and flags a rescue miss at the balloon's level."""
    g = kill
    g.set_balloon_mib(256)
    g.wait_actual(256, timeout=120)
    vs0, st0 = g.vmstat(), g.vb_stats()
    start_tracer(g, "t3", "-j -e oom_kill -x 'oom_kill>=1'")
    rc_hog, hog = g.run("hog 400", timeout=180)
    time.sleep(1)
    rc, out, recs = stop_tracer(g, "t3")
    vs1 = g.vmstat()
    assert rc_hog in (137, -9), hog
    assert rc == 0, out
    check_schema(recs)
    kills = [r for r in recs if r["type"] == "oom_kill"]
    assert len(kills) == recs[-1]["counts"]["oom_kill"] == vs1["oom_kill"] - vs0["oom_kill"]
    k = kills[0]
    assert k["comm"] == "hog" and k["pid"] > 0, k
    assert k["balloon_pages"] == st0["balloon_pages"] > 0
    assert k["rescue_miss"] is True and k["pages"] == 0
    assert not [r for r in recs if r["type"] in ("inflate", "deflate")]


def test_interval_records_each_second(doom):
    """-i 1 gives one interval record a second, with the current levels."""
    g = doom
    rc, out = g.run("vbtrace -j -q -i 1 -d 3.5", timeout=30)
    assert rc == 0, out
    recs = records(out)
    ivs = [r for r in recs if r["type"] == "interval"]
    assert len(ivs) == 3, out
    for r in ivs:
        assert abs(r["interval_s"] - 1.0) < 0.2, r
        assert r["balloon_pages"] == g.vb_stats()["balloon_pages"]
    assert recs[-1]["type"] == "summary"


def test_rmmod_after_tracer_exits(doom):
    """The tracer pins the module while attached, and only then."""
    g = doom
    start_tracer(g, "t4", "-j -q")
    rc, out = g.run("rmmod vballoon")
    assert rc != 0 and g.loaded("vballoon"), out
    rc, out, _ = stop_tracer(g, "t4")
    assert rc == 0, out
    g.sh("rmmod vballoon")
    assert not g.loaded("vballoon")
    g.sh("insmod " + VBALLOON)

