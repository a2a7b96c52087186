"""Balloon scenarios shared by the OOM tests, the demo and the benchmark:
load a driver, put the guest under balloon pressure, run a hog, and measure
what happened from independent sources (QMP, /proc/vmstat, /proc/meminfo,
the module's debugfs counters)."""
import re
import time

from guest import PAGES_PER_MIB

VBALLOON = "/lib/vb/vballoon.ko"
INTREE = "/lib/vb/virtio_balloon.ko"
HOG_RE = re.compile(r"hog mib=(\d+) ms=(\d+)(?: cpu_ms=(\d+) start_ms=(\d+))?")


def load_driver(g, driver, params=""):
    """insmod 'vballoon' or 'virtio_balloon' and wait until it bound."""
    path = VBALLOON if driver == "vballoon" else INTREE
    g.sh("insmod %s %s" % (path, params))
    g.sh("i=0; until ls /sys/bus/virtio/drivers/%s/virtio* >/dev/null 2>&1;"
         " do usleep 50000; i=$((i+1)); [ $i -gt 100 ] && exit 1; done" % driver)


def unload_driver(g, driver):
    """rmmod after the balloon was handed back (rmmod gives pages back)."""
    if g.loaded(driver):
        g.sh("rmmod %s" % driver, timeout=120)


def set_vb_param(g, name, value):
    """Write a vballoon parameter; returns (rc, output)."""
    return g.run("echo %s > /sys/module/vballoon/parameters/%s" % (value, name))


def get_vb_param(g, name):
    return int(g.sh("cat /sys/module/vballoon/parameters/%s" % name))


def inflate_to(g, actual_mib, timeout=120):
    """Ask the host for actual_mib of guest RAM and wait until it is there."""
    g.set_balloon_mib(actual_mib)
    return g.wait_actual(actual_mib, timeout=timeout)


def fragment_and_inflate(g, mem_mib, mib, steps=8):
    """Inflate to mib in steps, with tmpfs files allocated in between and then
    deleted: balloon pages end up interleaved with free memory, which gives
    compaction balloon pages to migrate (a fresh guest often has none)."""
    step = (mem_mib - mib) // steps
    g.sh("mkdir -p /tmp/frag")
    for i in range(1, steps + 1):
        g.sh("dd if=/dev/zero of=/tmp/frag/%d bs=1M count=24 2>/dev/null" % i)
        inflate_to(g, mem_mib - step * i if i < steps else mib)
    g.sh("rm -rf /tmp/frag")


def compact_migrating(g, mem_mib, mib, tries=3):
    """compact_memory until it migrates a balloon page; returns the tries.
    Where the pages landed decides whether compaction reaches any (either
    driver, now and then), so between tries the balloon is let out to
    mem_mib and fragmented again at mib."""
    for i in range(1, tries + 1):
        before = g.vmstat()["balloon_migrate"]
        g.sh("echo 1 > /proc/sys/vm/compact_memory", timeout=300)
        if g.vmstat()["balloon_migrate"] > before or i == tries:
            return i
        inflate_to(g, mem_mib)
        fragment_and_inflate(g, mem_mib, mib)


def reload_cycles(g, mem_mib, levels):
    """For each level: insmod, inflate to it, rmmod with the pages inside.
    Every cycle gives back exactly what it took (vmstat, MemTotal, QMP).
    The host keeps its target across rmmod, so each cycle sets it back to
    mem_mib: the next insmod would otherwise start toward the stale one."""
    total0 = g.meminfo()["MemTotal"]
    for i, low_mib in enumerate(levels):
        want = (mem_mib - low_mib) * PAGES_PER_MIB
        vs0 = g.vmstat()
        load_driver(g, "vballoon")
        inflate_to(g, low_mib)
        unload_driver(g, "vballoon")
        g.set_balloon_mib(mem_mib)
        vs1 = g.vmstat()
        assert vs1["balloon_inflate"] - vs0["balloon_inflate"] == want, "cycle %d" % i
        assert vs1["balloon_deflate"] - vs0["balloon_deflate"] == want, "cycle %d" % i
        assert g.meminfo()["MemTotal"] == total0, "cycle %d" % i
        assert g.actual_mib() == mem_mib, "cycle %d" % i


def fill_page_cache(g, mib):
    """Read mib of /dev/vda (guest.cache_disk) into clean page cache that
    reclaim can drop. The kernel drops a block device's cache at its last
    close, so a sleeper holds the device open for the rest of the boot."""
    g.sh("insmod /lib/vb/virtio_blk.ko 2>/dev/null; until [ -b /dev/vda ]; do usleep 50000; done;"
         " [ -e /tmp/vda-held ] || { (sleep 100000000 </dev/vda >/dev/null 2>&1 &);"
         " touch /tmp/vda-held; }", timeout=30)
    g.sh("dd if=/dev/vda of=/dev/null bs=1M count=%d 2>/dev/null" % mib, timeout=120)


def run_hog(g, mib, timeout=180, pace=None):
    """Run the hog; pace=(MiB, ms) makes it a slow grower (MiB every ms).
    Returns dict(rc, ms or None, cpu_ms: its own CPU time, killed)."""
    rc, out = g.run("hog %d%s" % (mib, " 0 %d %d" % pace if pace else ""),
                    timeout=timeout)
    m = HOG_RE.search(out) if rc == 0 else None
    return {"rc": rc, "ms": int(m.group(2)) if m else None,
            "cpu_ms": int(m.group(3)) if m and m.group(3) else None,
            "killed": rc in (137, -9), "out": out}


def run_hogs(g, mibs, timeout=180):
    """Hogs started together; ms is the slowest one's, rc the last failure,
    cpu_ms their CPU time summed, span_ms from the first start to the last
    end (None without every hog's times)."""
    cmd = "rc=0; " + "".join("hog %d & p%d=$!; " % (m, i) for i, m in enumerate(mibs))
    cmd += "".join("wait $p%d || rc=$?; " % i for i in range(len(mibs))) + "exit $rc"
    rc, out = g.run(cmd, timeout=timeout)
    done = list(HOG_RE.finditer(out)) if rc == 0 else []
    ok = len(done) == len(mibs)
    timed = ok and all(m.group(3) for m in done)
    ends = [int(m.group(4)) + int(m.group(2)) for m in done] if timed else []
    return {"rc": rc, "ms": max(int(m.group(2)) for m in done) if ok else None,
            "cpu_ms": sum(int(m.group(3)) for m in done) if timed else None,
            "span_ms": max(ends) - min(int(m.group(4)) for m in done) if timed else None,
            "killed": rc in (137, -9), "out": out}


def fragmented_spike(g, mib, held_mib, hold_s=600):
    """A hog of mib exits while another, started alongside so their pages
    interleave, keeps held_mib: the freed memory is left in blocks smaller
    than the largest order. The holder lives until release_held()."""
    rc, out = g.run("hog %d %d >/dev/null 2>&1 </dev/null & echo $! >/tmp/holder; hog %d"
                    % (held_mib, hold_s, mib), timeout=300)
    if rc != 0:
        raise RuntimeError("fragmenting hog %d failed: %s" % (mib, out))


def release_held(g):
    g.run("kill $(cat /tmp/holder) 2>/dev/null; rm -f /tmp/holder; sleep 1")


def storm(g, spikes, pressure_mib, hog_mib):
    """spikes hogs in a row while the host keeps the balloon at pressure_mib
    (each waits for the re-inflation); returns (before, after, hog results)."""
    inflate_to(g, pressure_mib)
    before = snapshot(g)
    hogs = []
    for _ in range(spikes):
        g.wait_actual(pressure_mib, timeout=60)
        hogs.append(run_hog(g, hog_mib))
    return before, snapshot(g), hogs


def snapshot(g):
    """Independent truth at one instant."""
    vm = g.vmstat()
    mi = g.meminfo()
    return {"vmstat": vm, "meminfo": mi, "actual_mib": g.actual_mib(),
            "vb": g.vb_stats(), "t": time.monotonic()}


def delta(a, b, key, src="vmstat"):
    return b[src].get(key, 0) - a[src].get(key, 0)


def rescue_calls(before, after):
    """How often the driver answered a shortage between two snapshots: OOM
    notifier calls, and stalls that started a storm before an OOM call
    could (oom_stall_arm)."""
    return (delta(before, after, "oom_calls", "vb") +
            delta(before, after, "oom_stall_storms", "vb"))


def rescue(g, driver, hog_mib, actual_mib=None):
    """With the balloon at actual_mib (None: no pressure), run the hog and
    report time, pages leaked and pages the hog needed beyond free memory."""
    if actual_mib is not None:
        inflate_to(g, actual_mib)
    g.sh("echo 3 > /proc/sys/vm/drop_caches; sync")
    before = snapshot(g)
    hog = run_hog(g, hog_mib)
    after = snapshot(g)
    leaked = delta(before, after, "balloon_deflate")
    needed = max(0, hog_mib * PAGES_PER_MIB - before["meminfo"]["MemFree"] // 4)
    return {
        "driver": driver, "hog_mib": hog_mib, "actual_mib": actual_mib,
        "rc": hog["rc"], "ms": hog["ms"], "killed": hog["killed"],
        "oom_kill": delta(before, after, "oom_kill"),
        "leaked_pages": leaked, "needed_pages": needed,
        "over_leak": round(leaked / needed, 3) if needed else None,
        "vb_oom_calls": delta(before, after, "oom_calls", "vb"),
        "vb_stall_storms": delta(before, after, "oom_stall_storms", "vb"),
        "vb_rescue_calls": rescue_calls(before, after),
        "vb_oom_leaked": delta(before, after, "oom_leaked_pages", "vb"),
        "actual_after_mib": after["actual_mib"], "out": hog["out"],
    }


TRACING = "/sys/kernel/tracing"


def trace_start(g, event):
    """Record vballoon:event in the tracefs ring buffer from now on."""
    g.sh("echo 0 > {t}/tracing_on; echo > {t}/trace; echo 1 > {t}/events/vballoon/{e}/enable; "
         "echo 1 > {t}/tracing_on".format(t=TRACING, e=event))


def trace_stop(g, event):
    """Stop recording; return the recorded events' fields as dicts."""
    out = g.sh("echo 0 > {t}/events/vballoon/{e}/enable; cat {t}/trace".format(t=TRACING, e=event))
    recs = []
    for line in out.splitlines():
        if (event + ":") not in line:
            continue
        body = line.split(event + ":", 1)[1].split()
        recs.append({k: int(v) for k, v in (f.split("=", 1) for f in body)})
    return recs


def zones(g):
    """Populated zones from /proc/zoneinfo, in pages:
    {name: {"free", "min", "low", "high", "managed"}}."""
    out, cur = {}, None
    for line in g.sh("cat /proc/zoneinfo").splitlines():
        f = line.split()
        if line.startswith("Node"):
            cur = out.setdefault(f[-1], {})
        elif cur is not None and f[:2] == ["pages", "free"]:
            cur["free"] = int(f[2])
        elif cur is not None and len(f) == 2 and f[0] in ("min", "low", "high", "managed"):
            cur.setdefault(f[0], int(f[1]))
    return {z: v for z, v in out.items() if v.get("managed")}
