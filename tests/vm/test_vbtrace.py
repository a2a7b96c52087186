"""vbtrace end-to-end: the tracer's records and totals against independent
counters (/proc/vmstat, the vballoon sysfs and debugfs counters), its exit
codes, OOM-kill records (memcg against global), runs without debugfs,
tracefs or root, write errors, and the Prometheus textfile through the real
promtool and node_exporter. Order per test: insmod, attach, trigger, detach, rmmod
(an attached tracer holds a reference on the module)."""
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import module_guest
from guest import KERNEL_EXTRA_MIB, PAGES_PER_MIB
from qmp import TIMEOUT_SCALE

MEM = 1024
LOW = 256 + KERNEL_EXTRA_MIB    # little left for the guest: hogs need the balloon
VBALLOON = "/lib/vb/vballoon.ko"
TYPES = ("inflate", "deflate", "oom_leak", "oom_kill", "report", "hint")
LEVEL_KEYS = {"balloon_pages", "target_pages", "deflate_on_oom",
              "levels_source", "levels_reason"}
KEYS = {
    "start": {"type", "time", "version", "pid", "events", "mode", "mode_reason",
              "oom_hook", "oom_hook_reason", "page_size"} | LEVEL_KEYS,
    "inflate": {"type", "time", "pages", "balloon_pages", "target_pages", "ns"},
    "oom_leak": {"type", "time", "pages", "balloon_pages", "target_pages",
                 "asked", "ns", "step"},
    "oom_kill": {"type", "time", "pid", "comm", "uid", "oom_score_adj",
                 "rss_pages", "anon_pages", "constraint", "total_pages",
                 "pages", "balloon_pages", "target_pages", "deflate_on_oom",
                 "rescue_miss"},
    "report": {"type", "time", "pages", "entries", "ns", "err"},
    "hint": {"type", "time", "pages", "blocks", "cmd_id", "ns"},
    "error": {"type", "time", "message"},
}
KEYS["deflate"] = KEYS["inflate"]
SYSFS = "/sys/bus/virtio/drivers/vballoon/virtio*/vballoon"


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
    wait_output(g, name, '"type":"start"')


def wait_output(g, name, marker):
    """Until background job name has printed marker (vbtrace prints its
    start record or banner once its programs are attached); 10 s, scaled."""
    m = shlex.quote(marker)
    rc, out = g.run("i=0; until grep -qF {m} /tmp/bg/{n}.out; do usleep 100000;"
                    " i=$((i+1)); [ $i -gt {t} ] && break; done; cat /tmp/bg/{n}.out;"
                    " grep -qF {m} /tmp/bg/{n}.out".format(m=m, n=name, t=int(100 * TIMEOUT_SCALE)))
    assert rc == 0, "vbtrace did not start:\n" + out


def stop_tracer(g, name):
    rc, out = g.bg_stop(name, "INT")
    recs = records(out)
    # -H puts its histogram records after the summary.
    body = [r for r in recs if r["type"] != "hist"]
    assert body and body[-1]["type"] == "summary", out
    return rc, out, recs


def sysfs(g):
    """The driver's sysfs counters (the ABI vbtrace reads levels from)."""
    out = g.sh("cd %s && grep . *" % SYSFS)
    return {k: int(v) for k, v in (l.split(":", 1) for l in out.split())}


def check_schema(recs):
    for r in recs:
        if r["type"] in KEYS:
            assert set(r) == KEYS[r["type"]], r
            assert r["time"].endswith("Z") and "T" in r["time"], r


def check_auto_hook(g, start):
    """--oom-hook auto: fentry where the kernel can patch function entries
    (CONFIG_FUNCTION_TRACER, so __fentry__ is in kallsyms); elsewhere the
    fentry program loads but cannot attach and the kprobe takes over."""
    if g.run("grep -qw __fentry__ /proc/kallsyms")[0] == 0:
        assert start["oom_hook"] == "fentry", start
    else:
        assert start["oom_hook"] == "kprobe", start
        assert start["oom_hook_reason"].startswith("attaching fentry: "), start


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
    start_tracer(g, "t1", "-j -H -i 1 -x 'inflate_pages>=%d' -x 'oom_kill==0'" % want)
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
    assert start["levels_source"] == "sysfs", start
    check_auto_hook(g, start)
    assert start["balloon_pages"] == st0["balloon_pages"]
    assert start["deflate_on_oom"] is True
    hists = {r["name"]: r for r in recs if r["type"] == "hist"}
    recs = [r for r in recs if r["type"] != "hist"]
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
        # -H: one host round trip per request, each with its duration.
        assert sum(b["count"] for b in hists[t]["buckets"]) == s["counts"][t]
        assert all(r["ns"] > 0 for r in recs if r["type"] == t)
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
    # Slow kernels (rt, debug) outlast the default hold-off: no re-inflation.
    g.sh("echo 600000 > /sys/module/vballoon/parameters/reinflate_holdoff_ms")
    g.set_balloon_mib(LOW)
    g.wait_actual(LOW, timeout=120)
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
    assert (st1["oom_calls"] + st1["oom_stall_storms"] >
            st0["oom_calls"] + st0["oom_stall_storms"])
    assert vs1["balloon_deflate"] - vs0["balloon_deflate"] == leaked + s["pages"]["deflate"]
    assert vs1.get("oom_kill", 0) - vs0.get("oom_kill", 0) == s["counts"]["oom_kill"] == 0
    leaks = [r for r in recs if r["type"] == "oom_leak"]
    assert leaks[-1]["balloon_pages"] == st1["balloon_pages"]


@pytest.mark.allow_oom
def test_oom_kill_without_deflate_on_oom(kill):
    """Without deflate-on-OOM the hog is killed with the balloon full: the
    record names it, at the balloon's level, as a global kill that is no
    rescue miss (the driver was not allowed to give pages back)."""
    g = kill
    g.set_balloon_mib(LOW)
    g.wait_actual(LOW, timeout=120)
    vs0, st0 = g.vmstat(), sysfs(g)
    start_tracer(g, "t3", "-j -e oom_kill -x 'oom_kill>=1'")
    rc_hog, hog = g.run("hog 400", timeout=180)
    time.sleep(1)
    rc, out, recs = stop_tracer(g, "t3")
    vs1 = g.vmstat()
    assert rc_hog in (137, -9), hog
    assert rc == 0, out
    check_schema(recs)
    assert recs[0]["deflate_on_oom"] is False and st0["deflate_on_oom"] == 0
    kills = [r for r in recs if r["type"] == "oom_kill"]
    assert len(kills) == recs[-1]["counts"]["oom_kill"] == vs1["oom_kill"] - vs0["oom_kill"]
    k = kills[0]
    assert k["comm"] == "hog" and k["pid"] > 0, k
    assert k["constraint"] == "none" and k["deflate_on_oom"] is False, k
    assert k["balloon_pages"] == st0["balloon_pages"] > 0
    assert k["rescue_miss"] is False and k["pages"] == 0
    check_victim(g, k)
    assert recs[-1]["rescue_misses"] == 0
    assert not [r for r in recs if r["type"] in ("inflate", "deflate")]


def check_victim(g, k):
    """The victim's RSS, uid and oom_score_adj as the kernel's own
    "Killed process" line reports them (same counters, read a moment
    later: allow one per-task RSS batch of 64 pages)."""
    m = re.findall(r"Killed process %d \(([^)]*)\) total-vm:\d+kB, anon-rss:(\d+)kB, "
                   r"file-rss:(\d+)kB, shmem-rss:(\d+)kB, UID:(\d+) .*oom_score_adj:(-?\d+)"
                   % k["pid"], g.dmesg())
    assert m, k
    comm, anon, file_, shmem, uid, adj = m[-1]
    assert comm == k["comm"] and int(uid) == k["uid"] and int(adj) == k["oom_score_adj"], (m, k)
    assert abs(int(anon) // 4 - k["anon_pages"]) <= 64, (m, k)
    assert abs((int(anon) + int(file_) + int(shmem)) // 4 - k["rss_pages"]) <= 64, (m, k)
    assert k["anon_pages"] > 0


def memcg_kill(g, mib=128):
    """A hog in a 64 MiB cgroup: a memcg OOM kill, the balloon untouched."""
    g.sh("echo +memory > /sys/fs/cgroup/cgroup.subtree_control;"
         " mkdir -p /sys/fs/cgroup/vbt; echo 64M > /sys/fs/cgroup/vbt/memory.max")
    rc, out = g.run("echo $$ > /sys/fs/cgroup/vbt/cgroup.procs; exec hog %d" % mib,
                    timeout=120)
    assert rc == 137, out
    g.sh("rmdir /sys/fs/cgroup/vbt")


def sysrq_kill(g):
    """A global OOM kill that the balloon cannot prevent: sysrq-f kills
    even after the OOM notifier gave pages back. Returns the victim pid."""
    g.bg_start("victim", "sh -c 'echo 1000 >/proc/self/oom_score_adj; exec hog 100 120'")
    g.sh("i=0; until grep -q mib= /tmp/bg/victim.out; do usleep 100000;"
         " i=$((i+1)); [ $i -gt 300 ] && break; done; cat /tmp/bg/victim.out")
    pid = int(g.sh("cat /tmp/bg/victim.pid"))
    g.sh("echo 1 > /proc/sys/kernel/sysrq; echo f > /proc/sysrq-trigger")
    rc, _ = g.bg_wait("victim", timeout=60)
    assert rc in (137, -9), rc
    return pid


@pytest.mark.allow_oom
def test_memcg_kill_is_no_miss_global_kill_is(doom):
    """With deflate-on-OOM on and pages in the balloon, a memcg kill is no
    rescue miss (memcg OOMs never reach the balloon), a global one is."""
    g = doom
    g.set_balloon_mib(MEM - 256)
    g.wait_actual(MEM - 256, timeout=120)
    vs0, st0 = g.vmstat(), sysfs(g)
    start_tracer(g, "t5", "-j -e oom_kill")
    memcg_kill(g)
    pid = sysrq_kill(g)
    time.sleep(1)
    rc, out, recs = stop_tracer(g, "t5")
    vs1, st1 = g.vmstat(), sysfs(g)
    assert rc == 0, out
    check_schema(recs)
    kills = [r for r in recs if r["type"] == "oom_kill"]
    with open(os.path.join(g.log_dir, "oom_kill_records.json"), "w") as f:
        json.dump(kills, f, indent=1)
    assert len(kills) == 2 == vs1["oom_kill"] - vs0["oom_kill"], out
    memcg, glob = kills
    assert memcg["constraint"] == "memcg" and memcg["rescue_miss"] is False, memcg
    assert memcg["comm"] == "hog" and memcg["balloon_pages"] == st0["balloon_pages"]
    # The cgroup's limit, not the machine, bounds a memcg OOM.
    assert memcg["total_pages"] == 64 * PAGES_PER_MIB, memcg
    check_victim(g, memcg)
    check_victim(g, glob)
    assert glob["constraint"] == "none" and glob["rescue_miss"] is True, glob
    assert glob["pid"] == pid and glob["oom_score_adj"] == 1000 and glob["uid"] == 0
    assert glob["deflate_on_oom"] is True and glob["balloon_pages"] > 0
    assert glob["rss_pages"] >= 100 * PAGES_PER_MIB, glob
    assert st1["oom_calls"] == st0["oom_calls"] + 1  # the sysrq OOM only
    s = recs[-1]
    assert s["oom_kills"] == {"none": 1, "cpuset": 0, "mempolicy": 0, "memcg": 1}
    assert s["rescue_misses"] == 1


@pytest.mark.parametrize("prom", ["", "--prom /tmp/iv.prom"])
def test_interval_records_each_second(doom, prom):
    """-i 1 gives one interval record a second, with the current levels;
    --prom's first write must not shift the ticks. The last half second
    is only in the summary."""
    g = doom
    rc, out = g.run("vbtrace -j -q -i 1 -d 3.5 " + prom, timeout=30)
    assert rc == 0, out
    recs = records(out)
    ivs = [r for r in recs if r["type"] == "interval"]
    assert len(ivs) == 3, out
    for r in ivs:
        assert abs(r["interval_s"] - 1.0) < 0.2, r
        assert r["balloon_pages"] == sysfs(g)["balloon_pages"]
        assert r["levels_source"] == "sysfs" and r["levels_reason"] is None
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



def test_no_debugfs_no_tracefs(doom):
    """Every program attaches without tracefs, and the levels come from
    sysfs: with debugfs and tracefs unmounted nothing is lost."""
    g = doom
    g.set_balloon_mib(MEM - 64)
    g.wait_actual(MEM - 64, timeout=60)
    st = sysfs(g)
    g.sh("umount /sys/kernel/debug/tracing 2>/dev/null; umount /sys/kernel/tracing"
         " 2>/dev/null; umount /sys/kernel/debug; ! grep -E 'tracefs|debugfs' /proc/mounts")
    try:
        rc, out = g.run("vbtrace -j -d 1 -x 'lost==0'", timeout=60)
    finally:
        g.sh("mount -t debugfs debugfs /sys/kernel/debug;"
             " mount -t tracefs tracefs /sys/kernel/tracing")
    assert rc == 0, out
    recs = records(out)
    check_schema(recs)
    start = recs[0]
    assert start["mode"] == "tp_btf", start
    check_auto_hook(g, start)
    assert start["levels_source"] == "sysfs", start
    assert start["balloon_pages"] == st["balloon_pages"] == 64 * PAGES_PER_MIB
    assert start["target_pages"] == st["target_pages"]


def test_no_levels_is_null_not_zero(doom):
    """Without sysfs or debugfs levels (sysfs hidden by a tmpfs), the start
    and interval records say null with the reason, never 0."""
    g = doom
    g.set_balloon_mib(MEM - 64)
    g.wait_actual(MEM - 64, timeout=60)
    g.sh("mount -t tmpfs none /sys/bus/virtio/drivers/vballoon; umount /sys/kernel/debug")
    try:
        rc, out = g.run("vbtrace -j -q -i 0.5 -d 1.2", timeout=60)
    finally:
        g.sh("umount /sys/bus/virtio/drivers/vballoon; mount -t debugfs debugfs /sys/kernel/debug")
    assert rc == 0, out
    recs = records(out)
    check_schema(recs)
    for r in [recs[0]] + [r for r in recs if r["type"] == "interval"]:
        assert r["balloon_pages"] is None and r["target_pages"] is None, r
        assert "sysfs" in r["levels_reason"] and "debugfs" in r["levels_reason"], r
    assert "level unknown" in out


def test_nonroot_cap_bpf_perfmon(doom):
    """A user with only CAP_BPF and CAP_PERFMON traces through raw_tp (the
    module's BTF needs CAP_SYS_ADMIN), says why, reads levels from sysfs
    and counts what /proc/vmstat counts."""
    g = doom
    g.sh("chmod 755 / /bin /lib; chmod 1777 /tmp/bg")
    caps = g.sh("caprun 1000 grep -E '^(Uid|CapEff)' /proc/self/status")
    assert "CapEff:\t000000c000000000" in caps and "1000" in caps, caps
    want = 128 * PAGES_PER_MIB
    vs0 = g.vmstat()
    inner = "exec caprun 1000 vbtrace -j -x 'inflate_pages>=%d'" % want
    g.bg_start("t6", "sh -c " + shlex.quote(inner))
    g.sh("i=0; until grep -q '\"type\":\"start\"' /tmp/bg/t6.out; do usleep 100000;"
         " i=$((i+1)); [ $i -gt 300 ] && break; done; cat /tmp/bg/t6.out")
    g.set_balloon_mib(MEM - 128)
    g.wait_actual(MEM - 128, timeout=90)
    time.sleep(0.5)
    rc, out, recs = stop_tracer(g, "t6")
    vs1, st = g.vmstat(), sysfs(g)
    assert rc == 0, out
    check_schema(recs)
    start = recs[0]
    assert start["mode"] == "raw_tp" and "tp_btf failed" in start["mode_reason"], start
    assert start["levels_source"] == "sysfs", start
    assert "using raw_tp" in out
    assert recs[-1]["pages"]["inflate"] == vs1["balloon_inflate"] - vs0["balloon_inflate"] == want
    infl = [r for r in recs if r["type"] == "inflate"]
    assert infl[-1]["balloon_pages"] == st["balloon_pages"]


def test_write_errors(doom):
    """/dev/full: exit 3 with the cause; a closed stdout: exit 3."""
    g = doom
    for mode in ("-j", ""):
        rc, out = g.run("vbtrace %s -d 1 >/dev/full" % mode, timeout=60)
        assert rc == 3 and "No space left on device" in out, (mode, out)
    rc, out = g.run("vbtrace -j -d 1 >&-", timeout=60)
    assert rc == 3 and "stdout is closed" in out, out


def test_closed_pipe_with_sigpipe_ignored(doom):
    """With SIGPIPE ignored (systemd's default), a reader that goes away
    stops vbtrace promptly with status 0."""
    g = doom
    rc, out = g.run("trap '' PIPE; t0=$(date +%s); (vbtrace -j -i 0.2 -d 60;"
                    " echo $? >/tmp/vbt.rc) | head -n 1; wait; t1=$(date +%s);"
                    " echo rc=$(cat /tmp/vbt.rc) secs=$((t1-t0))", timeout=90)
    assert rc == 0, out
    assert '"type":"start"' in out.splitlines()[0], out
    res = dict(kv.split("=") for kv in out.split()[-2:])
    assert res["rc"] == "0" and int(res["secs"]) < 10, out


def test_closed_pipe_still_judges_expectations(doom):
    """A reader that goes away does not hide a failed --expect: status 1,
    and stderr names it with the actual count, which equals the driver's
    (nothing inflated meanwhile)."""
    g = doom
    st0 = sysfs(g)
    rc, out = g.run("trap '' PIPE; (vbtrace -j -i 0.2 -d 60 -x 'inflate_pages >= 1'"
                    " 2>/tmp/vbt.err; echo $? >/tmp/vbt.rc) | head -n 1; wait;"
                    " echo rc=$(cat /tmp/vbt.rc); cat /tmp/vbt.err", timeout=90)
    assert rc == 0, out
    d = sysfs(g)["inflated_pages"] - st0["inflated_pages"]
    assert "rc=1" in out.splitlines(), out
    assert "expectation failed: inflate_pages >= 1 (actual %d)" % d in out, out


def test_sighup_like_sigterm(doom):
    """SIGHUP ends a run like SIGTERM: summary, status 0."""
    g = doom
    start_tracer(g, "t7", "-j")
    rc, out = g.bg_stop("t7", "HUP")
    assert rc == 0 and records(out)[-1]["type"] == "summary", out


def test_text_within_80_columns(doom):
    """Text mode during a real inflate and deflate: every line fits."""
    g = doom
    g.bg_start("t8", "vbtrace -i 1 -H")
    wait_output(g, "t8", "Ctrl-C to end.")
    g.set_balloon_mib(MEM - 64)
    g.wait_actual(MEM - 64, timeout=60)
    g.set_balloon_mib(MEM)
    g.wait_actual(MEM, timeout=60)
    time.sleep(1.5)
    rc, out = g.bg_stop("t8", "TERM")
    assert rc == 0, out
    lines = [l for l in out.splitlines() if l]
    assert any(" inflate " in l for l in lines) and any("interval" in l for l in lines)
    stdout_lines = [l for l in lines if not l.startswith(("vbtrace", "Balloon"))]
    assert all(len(l) <= 80 for l in stdout_lines), [l for l in stdout_lines if len(l) > 80]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scrape(textfile):
    """Serve textfile through a real node_exporter on 127.0.0.1; return
    the vballoon_ lines of its /metrics."""
    d = tempfile.mkdtemp(prefix="vbprom-")
    shutil.copy(textfile, os.path.join(d, "vballoon.prom"))
    port = free_port()
    ne = subprocess.Popen(["prometheus-node-exporter", "--web.listen-address=127.0.0.1:%d" % port,
                           "--collector.disable-defaults", "--collector.textfile",
                           "--collector.textfile.directory=" + d],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                              timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("node_exporter did not answer")
    finally:
        ne.terminate()
        ne.wait()
        shutil.rmtree(d)
    assert 'node_textfile_scrape_error 0' in body, body
    return [l for l in body.splitlines() if "vballoon_" in l]


def prom_value(lines, name):
    vals = [l.rsplit(" ", 1)[1] for l in lines if l.split(" ")[0] == name]
    assert len(vals) == 1, (name, lines)
    return float(vals[0])


@pytest.mark.skipif(not (shutil.which("promtool") and shutil.which("prometheus-node-exporter")),
                    reason="promtool/prometheus-node-exporter not installed (make deps)")
def test_prom_textfile(doom, tmp_path):
    """--prom: the file passes promtool, node_exporter serves it, and its
    values equal the driver's sysfs counters after an inflate and an OOM
    rescue; rewritten atomically (no temporary file left)."""
    g = doom
    st0 = sysfs(g)
    g.sh("mkdir -p /tmp/prom")
    start_tracer(g, "t9", "-j -q -i 0.5 --prom /tmp/prom/vballoon.prom")
    g.set_balloon_mib(LOW)
    g.wait_actual(LOW, timeout=120)
    g.sh("echo 3 > /proc/sys/vm/drop_caches")
    rc_hog, hog = g.run("hog 600", timeout=180)
    assert rc_hog == 0, hog
    time.sleep(1.5)
    st1 = sysfs(g)
    text = g.sh("cat /tmp/prom/vballoon.prom")
    files = g.sh("ls /tmp/prom").split()
    rc, out, recs = stop_tracer(g, "t9")
    assert rc == 0, out
    assert files == ["vballoon.prom"], files
    path = tmp_path / "vballoon.prom"
    path.write_text(text)
    chk = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                         capture_output=True)
    assert chk.returncode == 0, chk.stdout + chk.stderr
    lines = scrape(str(path))
    with open(os.path.join(g.log_dir, "node_exporter_vballoon.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    d = {k: st1[k] - st0[k] for k in st1}
    assert prom_value(lines, "vballoon_balloon_pages") == st1["balloon_pages"]
    assert prom_value(lines, "vballoon_target_pages") == st1["target_pages"]
    assert prom_value(lines, 'vballoon_event_pages_total{event="inflate"}') == d["inflated_pages"] > 0
    assert prom_value(lines, 'vballoon_event_pages_total{event="deflate"}') + \
        prom_value(lines, 'vballoon_event_pages_total{event="oom_leak"}') == d["deflated_pages"]
    assert prom_value(lines, 'vballoon_event_pages_total{event="oom_leak"}') == d["oom_leaked_pages"] > 0
    assert prom_value(lines, 'vballoon_events_total{event="oom_leak"}') == d["oom_releases"]
    assert prom_value(lines, 'vballoon_events_total{event="report"}') == d["report_batches"]
    assert prom_value(lines, 'vballoon_event_pages_total{event="hint"}') == d["hinted_pages"]
    assert prom_value(lines, 'vballoon_events_total{event="oom_kill"}') == 0
    assert prom_value(lines, "vballoon_lost_events_total") == 0
    assert prom_value(lines, 'vballoon_oom_kills_total{constraint="none",rescue_miss="true"}') == 0
    assert prom_value(lines, "vballoon_oom_release_seconds_count") == d["oom_releases"]
    assert prom_value(lines, 'vballoon_oom_release_seconds_bucket{le="+Inf"}') == d["oom_releases"]
    assert prom_value(lines, "vballoon_oom_release_seconds_sum") > 0


@pytest.mark.allow_oom
def test_oom_hook_kprobe_and_none(doom):
    """The kprobe fallback records the same kill as fentry, attached
    through a perf link with tracefs unmounted; without an OOM hook the
    balloon is still traced and the start record says why."""
    g = doom
    rc, out = g.run("vbtrace -j --oom-hook none -d 0.5", timeout=60)
    assert rc == 0, out
    start = records(out)[0]
    assert start["oom_hook"] is None and start["oom_hook_reason"] == "--oom-hook none", start
    g.sh("umount /sys/kernel/debug/tracing 2>/dev/null; umount /sys/kernel/tracing 2>/dev/null;"
         " ! grep -q tracefs /proc/mounts")
    try:
        vs0 = g.vmstat()
        start_tracer(g, "t10", "-j -e oom_kill --oom-hook kprobe")
        memcg_kill(g)
        time.sleep(1)
        rc, out, recs = stop_tracer(g, "t10")
        vs1 = g.vmstat()
    finally:
        g.sh("mount -t tracefs tracefs /sys/kernel/tracing")
    assert rc == 0, out
    check_schema(recs)
    assert recs[0]["oom_hook"] == "kprobe", recs[0]
    kills = [r for r in recs if r["type"] == "oom_kill"]
    assert len(kills) == 1 == vs1["oom_kill"] - vs0["oom_kill"], out
    assert kills[0]["constraint"] == "memcg" and kills[0]["rescue_miss"] is False
    check_victim(g, kills[0])
