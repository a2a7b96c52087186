#!/usr/bin/env python3
"""vballoon live demo: boot a QEMU/TCG guest, load vballoon, stream vbtrace
from inside the guest while the host inflates and deflates the balloon and
an allocation spike is (a) rescued by deflate-on-OOM and (b) OOM-killed
with the balloon empty. Run it through `make demo` from the repo root.

Environment: VB_KSERIES (6.1 or 6.12, default 6.1), VB_KERNEL_DIR (an
unpacked kernel folder; overrides VB_KSERIES), VB_BUILD_DIR (default
build/<abi>). Exit 0 when every check passed, 1 when one failed, 2 when
the kernel or the build is missing."""
import os
import shlex
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "vm"))

from guest import Guest, kernel_abi, PAGES_PER_MIB  # noqa: E402
from scenario import HOG_RE, VBALLOON  # noqa: E402
from splat import find_splats  # noqa: E402

MEM = 1024
TRACER = "vbtrace"
EVENTS = ("inflate", "deflate", "oom_leak", "oom_kill")
POLL = 0.5
SHOW_RUN = 6
VERBOSE = os.environ.get("VB_DEMO_VERBOSE") == "1"
T0 = time.monotonic()
TTY = sys.stdout.isatty()


def paint(code, text):
    return "\033[%sm%s\033[0m" % (code, text) if TTY else text


def say(msg):
    print("%s %s" % (paint("2", "[%6.1fs]" % (time.monotonic() - T0)), msg), flush=True)


def head(msg):
    print(flush=True)
    say(paint("1", "== " + msg))


def die(msg, code=2):
    print(paint("31", "demo: " + msg), file=sys.stderr, flush=True)
    sys.exit(code)


HINT = "run `make demo` from the repo root: it installs the dependencies, fetches the guest kernel and builds everything"


class Tracer:
    """vbtrace running in the background in the guest; poll() prints the
    lines it wrote since the last poll and tallies its events."""

    def __init__(self, g):
        self.g = g
        self.off = 0          # bytes of /tmp/bg/vbtrace.out already read
        self.partial = ""
        self.counts = {e: 0 for e in EVENTS}
        self.pages = {e: 0 for e in EVENTS}
        self.kills = []       # (pid, comm) of oom_kill lines
        self.lines = []

    def start(self):
        inner = "echo -1000 >/proc/self/oom_score_adj; exec vbtrace -i 5"
        self.g.bg_start(TRACER, "sh -c " + shlex.quote(inner))
        # Wait for the column header (printed once the programs are attached).
        rc, out = self.g.run("i=0; until grep -q '^TIME' /tmp/bg/%s.out || [ -f /tmp/bg/%s.rc ]; do"
                             " usleep 100000; i=$((i+1)); [ $i -gt 150 ] && break; done;"
                             " grep -q '^TIME' /tmp/bg/%s.out" % (TRACER, TRACER, TRACER), timeout=30)
        self.poll()
        return rc == 0

    def poll(self):
        rc, out = self.g.run("tail -c +%d /tmp/bg/%s.out 2>/dev/null" % (self.off + 1, TRACER))
        if rc != 0 or not out:
            return
        self.off += len(out.encode())
        text = self.partial + out
        lines = text.split("\n")
        self.partial = lines.pop()
        self._show(lines)

    def flush(self):
        if self.partial:
            self._show([self.partial])
            self.partial = ""

    @staticmethod
    def _kind(line):
        f = line.split()
        return f[1] if len(f) >= 3 and f[1] in EVENTS[:3] and f[2].isdigit() else None

    def _show(self, lines):
        """Print lines; a run of more than SHOW_RUN inflate, deflate or
        oom_leak records in one batch is shortened to its ends (VB_DEMO_VERBOSE=1
        prints everything). Every line is tallied."""
        for line in lines:
            self._tally(line)
        i = 0
        while i < len(lines):
            k = self._kind(lines[i])
            j = i + 1
            while k and j < len(lines) and self._kind(lines[j]) == k:
                j += 1
            run = lines[i:j]
            if len(run) > SHOW_RUN and not VERBOSE:
                hidden = run[3:-2]
                pages = sum(int(x.split()[2]) for x in hidden)
                run = run[:3] + ["... %d more %s records (%d pages, %.1f MiB) ..."
                                 % (len(hidden), k, pages, pages / PAGES_PER_MIB)] + run[-2:]
            for line in run:
                print(paint("36", "  [guest vbtrace] ") + line, flush=True)
            i = j

    def _tally(self, line):
        self.lines.append(line)
        f = line.split()
        if len(f) >= 3 and f[1] in EVENTS and f[2].isdigit():
            self.counts[f[1]] += 1
            self.pages[f[1]] += int(f[2])
            if f[1] == "oom_kill":
                self.kills.append((f[-2], f[-1]))  # DETAIL ends "PID COMM"

    def mark(self):
        return dict(self.counts), dict(self.pages), len(self.kills)

    def since(self, mark):
        c0, p0, _ = mark
        return ({e: self.counts[e] - c0[e] for e in EVENTS},
                {e: self.pages[e] - p0[e] for e in EVENTS})

    def nap(self, seconds):
        """Sleep while streaming the tracer."""
        end = time.monotonic() + seconds
        while True:
            self.poll()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(POLL, left))


class Demo:
    def __init__(self):
        self.failures = []

    def check(self, ok, what):
        if ok:
            say(paint("32", "ok: ") + what)
        else:
            say(paint("31", "FAILED: ") + what)
            self.failures.append(what)
        return ok

    # ---- balloon steps -----------------------------------------------------

    def wait_actual(self, target, timeout=90, settle=1.0):
        """Poll QMP until actual == target for settle s, streaming vbtrace."""
        g, tr = self.g, self.tr
        deadline = time.monotonic() + timeout
        since = None
        while True:
            a = g.actual_mib()
            if abs(a - target) < 0.01:
                since = since or time.monotonic()
                if time.monotonic() - since >= settle:
                    return a, since
            else:
                since = None
            if time.monotonic() > deadline:
                raise TimeoutError("balloon actual %.1f MiB, wanted %d MiB" % (a, target))
            tr.nap(POLL)

    def balloon_to(self, target):
        g, tr = self.g, self.tr
        vs0, m, a0 = g.vmstat(), tr.mark(), g.actual_mib()
        say("QMP balloon %d MiB (actual now %.0f MiB)" % (target, a0))
        t = time.monotonic()
        g.set_balloon_mib(target)
        a, reached = self.wait_actual(target)
        secs = reached - t
        tr.nap(0.6)      # let the last records reach the file
        vs1 = g.vmstat()
        d_in = vs1["balloon_inflate"] - vs0["balloon_inflate"]
        d_de = vs1["balloon_deflate"] - vs0["balloon_deflate"]
        moved = abs(a - a0)
        if moved < 0.01:
            say("actual already %.0f MiB (the balloon was empty); vmstat balloon_inflate +%d, "
                "balloon_deflate +%d pages" % (a, d_in, d_de))
        else:
            say("actual %.0f -> %.0f MiB in %.2f s (%.0f MiB/s); vmstat balloon_inflate +%d, "
                "balloon_deflate +%d pages" % (a0, a, secs, moved / secs if secs > 0 else 0, d_in, d_de))
        c, p = tr.since(m)
        say("vbtrace saw: inflate %d events/%d pages, deflate %d events/%d pages"
            % (c["inflate"], p["inflate"], c["deflate"], p["deflate"]))
        self.check(p["inflate"] == d_in and p["deflate"] == d_de,
                   "vbtrace page totals match /proc/vmstat (inflate %d/%d, deflate %d/%d)"
                   % (p["inflate"], d_in, p["deflate"], d_de))
        want = int(round((a0 - target) * PAGES_PER_MIB))
        self.check(d_in - d_de == want, "balloon moved by the %+d pages QMP asked for (vmstat net %+d)"
                   % (want, d_in - d_de))
        return secs

    def spike(self, mib, name):
        """Run `hog mib` in the background, streaming vbtrace; return
        (rc, hog ms or None, seconds, vmstat before, after, tracer mark)."""
        g, tr = self.g, self.tr
        g.sh("echo 3 > /proc/sys/vm/drop_caches; sync")
        vs0, m = g.vmstat(), tr.mark()
        free = g.meminfo()["MemFree"] / 1024
        say("guest: hog %d MiB (allocate and touch it in 1 MiB chunks); MemFree %.0f MiB, so it needs "
            "%.0f MiB more" % (mib, free, max(0, mib - free)))
        t = time.monotonic()
        g.bg_start(name, "hog %d" % mib)
        while True:
            tr.poll()
            rc, out = g.run("cat /tmp/bg/%s.rc 2>/dev/null" % name)
            if rc == 0 and out.strip():
                break
            if time.monotonic() - t > 180:
                raise TimeoutError("hog %d did not finish in 180 s" % mib)
            time.sleep(POLL)
        secs = time.monotonic() - t
        hrc = int(out.strip())
        hout = g.sh("cat /tmp/bg/%s.out" % name)
        tr.nap(0.6)
        vs1 = g.vmstat()
        mm = HOG_RE.search(hout)
        ms = int(mm.group(2)) if mm and hrc == 0 else None
        return hrc, ms, secs, vs0, vs1, m, hout.strip()

    # ---- the demo --------------------------------------------------------------

    def setup(self):
        kd = os.environ.get("VB_KERNEL_DIR")
        series = os.environ.get("VB_KSERIES", "6.1")
        if not kd:
            say("finding the Debian %s guest kernel (scripts/fetch-kernel.sh %s)" % (series, series))
            r = subprocess.run([os.path.join(TOP, "scripts", "fetch-kernel.sh"), series],
                               capture_output=True, text=True)
            if r.returncode != 0 or not r.stdout.strip():
                die("no %s guest kernel (%s); %s" % (series, r.stderr.strip() or "fetch failed", HINT))
            kd = r.stdout.strip()
        if not os.path.isdir(os.path.join(kd, "lib", "modules")):
            die("%s is not an unpacked kernel folder; %s" % (kd, HINT))
        self.abi = kernel_abi(kd)
        self.kd = kd
        bd = os.environ.get("VB_BUILD_DIR") or os.path.join(TOP, "build", self.abi)
        for path in (os.path.join(bd, "vballoon.ko"), os.path.join(TOP, "build", "vbtrace")):
            if not os.path.exists(path):
                die("%s is missing; %s" % (path, HINT))
        self.bd = bd
        say("kernel %s, build %s" % (self.abi, os.path.relpath(bd, TOP)))

        head("1. build the initramfs and boot the guest")
        self.initrd = os.path.join(bd, "demo-initramfs.cpio.gz")
        t = time.monotonic()
        r = subprocess.run([os.path.join(TOP, "tests", "vm", "mkrootfs.sh"), kd, self.initrd],
                           env=dict(os.environ, VB_BUILD_DIR=bd), capture_output=True, text=True)
        if r.returncode != 0:
            die("mkrootfs.sh failed:\n%s%s\n%s" % (r.stdout, r.stderr, HINT), 1)
        say("initramfs %s (%.1f MiB, busybox + vballoon.ko + vbtrace + hog) in %.1f s"
            % (os.path.relpath(self.initrd, TOP), os.path.getsize(self.initrd) / 2**20,
               time.monotonic() - t))
        say("booting QEMU/TCG: %d MiB, 1 vCPU, virtio-balloon-pci deflate-on-oom=on ..." % MEM)
        for attempt in range(3):
            self.g = Guest(kd, self.initrd, mem_mib=MEM, deflate_on_oom=True, name="demo",
                           log_dir=os.path.join(bd, "vm"))
            try:
                self.g.boot()
                break
            except ConnectionRefusedError:
                # guest.py connects as soon as QEMU's socket file exists,
                # which can be before QEMU listens on it: just try again.
                say("QMP socket not listening yet (harness race); restarting QEMU")
                self.g.proc.kill()
                self.g.shutdown()
                self.g = None
        else:
            raise RuntimeError("QEMU refused the QMP connection 3 times")
        say("guest up in %.1f s (console log %s)"
            % (self.g.boot_seconds, os.path.relpath(self.g.console_log, TOP)))
        self.g.take_dmesg()
        self.klog_from = len(self.g.klog)   # judge the kernel log from here on

    def run(self):
        g = self.g
        head("2. load vballoon and attach vbtrace")
        t = time.monotonic()
        g.sh("insmod " + VBALLOON)
        g.sh("i=0; until ls /sys/bus/virtio/drivers/vballoon/virtio* >/dev/null 2>&1;"
             " do usleep 50000; i=$((i+1)); [ $i -gt 100 ] && exit 1; done")
        say("insmod %s: bound to the balloon device in %.2f s" % (VBALLOON, time.monotonic() - t))
        st = g.vb_stats()
        if st:
            say("debugfs: balloon_pages %s, deflate_on_oom %s"
                % (st.get("balloon_pages"), st.get("deflate_on_oom")))
        self.tr = Tracer(g)
        t = time.monotonic()
        if not self.tr.start():
            self.tr.flush()
            raise RuntimeError("vbtrace did not start (output above)")
        say("vbtrace attached in %.2f s; its output follows live, prefixed [guest vbtrace]"
            % (time.monotonic() - t))
        vs_start = g.vmstat()

        head("3a. inflate: 1024 -> 256 MiB")
        self.balloon_to(256)

        head("3b. deflate: 256 -> 512 MiB")
        self.balloon_to(512)

        head("3c. re-inflate to 256 MiB, then a 300 MiB spike rescued by deflate-on-OOM")
        self.balloon_to(256)
        st0 = g.vb_stats()
        hrc, ms, secs, vs0, vs1, m, hout = self.spike(300, "hog1")
        c, p = self.tr.since(m)
        d_de = vs1["balloon_deflate"] - vs0["balloon_deflate"]
        d_kill = vs1.get("oom_kill", 0) - vs0.get("oom_kill", 0)
        a = g.actual_mib()
        st1 = g.vb_stats()
        say("hog: rc %d, %s, %.1f s wall" % (hrc, hout, secs))
        say("vbtrace saw %d oom_leak events, %d pages (%.1f MiB) given back; vmstat balloon_deflate "
            "+%d pages, oom_kill +%d; QMP actual now %.0f MiB (target still 256)"
            % (c["oom_leak"], p["oom_leak"], p["oom_leak"] / PAGES_PER_MIB, d_de, d_kill, a))
        if st0 and st1:
            say("driver debugfs: oom_calls +%d, oom_leaked_pages +%d, oom_reclaim_pages +%d"
                % (st1.get("oom_calls", 0) - st0.get("oom_calls", 0),
                   st1.get("oom_leaked_pages", 0) - st0.get("oom_leaked_pages", 0),
                   st1.get("oom_reclaim_pages", 0) - st0.get("oom_reclaim_pages", 0)))
        self.check(hrc == 0 and ms is not None, "hog finished (%s ms)" % ms)
        self.check(c["oom_leak"] >= 1, "the balloon gave pages back under pressure (%d oom_leak events)"
                   % c["oom_leak"])
        self.check(d_kill == 0 and c["oom_kill"] == 0, "nobody was OOM-killed (oom_kill +%d)" % d_kill)
        self.check(p["oom_leak"] + p["deflate"] == d_de,
                   "vbtrace oom_leak+deflate pages (%d) == vmstat balloon_deflate delta (%d)"
                   % (p["oom_leak"] + p["deflate"], d_de))

        head("3d. the same kind of spike with the balloon empty: hog 1200 MiB > RAM")
        self.balloon_to(MEM)
        hrc, ms, secs, vs0, vs1, m, hout = self.spike(1200, "hog2")
        c, p = self.tr.since(m)
        d_kill = vs1.get("oom_kill", 0) - vs0.get("oom_kill", 0)
        kills = self.tr.kills[m[2]:]
        say("hog: rc %d%s, %.1f s wall; vmstat oom_kill +%d; vbtrace oom_kill events: %s"
            % (hrc, " (SIGKILL)" if hrc == 137 else "", secs, d_kill,
               ", ".join("pid=%s comm=%s" % k for k in kills) or "none"))
        self.check(hrc == 137, "hog was killed (rc %d)" % hrc)
        self.check(d_kill == 1, "vmstat oom_kill rose by 1 (+%d)" % d_kill)
        self.check(len(kills) == 1 and kills[0][1] == "hog",
                   "vbtrace reported exactly one oom_kill of comm=hog")
        self.check(p["oom_leak"] == 0,
                   "empty balloon: nothing given back (%d oom_leak record(s), %d pages)"
                   % (c["oom_leak"], p["oom_leak"]))

        head("4. stop vbtrace, unload, shut down")
        t = time.monotonic()
        rc, _ = g.bg_stop(TRACER, "INT")
        self.tr.poll()
        self.tr.flush()
        self.tracer_stopped = True
        say("vbtrace exited rc %d after SIGINT (%.2f s)" % (rc, time.monotonic() - t))
        self.check(rc == 0, "vbtrace exit code 0")
        summ = {}
        for line in self.tr.lines:
            f = line.split()
            if len(f) >= 5 and f[0] in EVENTS and f[2] == "events":
                summ[f[0]] = (int(f[1]), int(f[3]))
        vs_end = g.vmstat()
        tot_de = vs_end["balloon_deflate"] - vs_start["balloon_deflate"]
        tot_in = vs_end["balloon_inflate"] - vs_start["balloon_inflate"]
        if summ:
            self.check(summ.get("inflate", (0, -1))[1] == tot_in and
                       summ.get("deflate", (0, 0))[1] + summ.get("oom_leak", (0, 0))[1] == tot_de,
                       "summary totals match vmstat over the whole run (inflate %d, deflate+oom_leak %d)"
                       % (tot_in, tot_de))
        else:
            self.check(False, "vbtrace printed a summary")
        t = time.monotonic()
        g.sh("rmmod vballoon", timeout=120)
        say("rmmod vballoon in %.2f s" % (time.monotonic() - t))

    def finish(self):
        g = self.g
        if g is None or g.proc is None:
            return
        if "interrupted" in self.failures:   # the agent may be mid-reply: just stop
            g.shutdown()
            return
        try:
            if g.alive():
                g.take_dmesg()
        except Exception as e:
            self.failures.append("could not read guest dmesg: %s" % e)
        text = g.klog[getattr(self, "klog_from", 0):]
        if not text:
            try:
                with open(g.console_log, errors="replace") as f:
                    text = f.read()
            except OSError:
                text = ""
        t = time.monotonic()
        g.shutdown()
        say("guest shut down in %.1f s" % (time.monotonic() - t))
        bad = find_splats(text, allow_oom=True)
        if bad:
            say(paint("31", "dmesg has %d offending line(s):" % len(bad)))
            for line in bad:
                print("    " + line, flush=True)
            self.failures.append("kernel splat in guest dmesg")
        else:
            say(paint("32", "dmesg clean") + " (OOM-killer report from 3d expected and skipped)")
        kills = sum(1 for ln in text.splitlines() if "Killed process" in ln or "oom-kill:" in ln)
        if kills:
            say("dmesg: %d OOM-kill line(s), e.g. %s" % (
                kills, next(ln.strip() for ln in text.splitlines() if "Killed process" in ln
                            or "oom-kill:" in ln)))


def main():
    print(paint("1", "vballoon demo") + ": virtio balloon driver + vbtrace in a QEMU/TCG guest", flush=True)
    d = Demo()
    d.g = None
    d.tracer_stopped = False
    try:
        d.setup()
        d.run()
    except KeyboardInterrupt:
        d.failures.append("interrupted")
    except Exception as e:  # noqa: BLE001 -- report and clean up
        d.failures.append("%s: %s" % (type(e).__name__, e))
        say(paint("31", "error: %s: %s" % (type(e).__name__, e)))
        if d.g is not None and getattr(d.g, "console_log", None):
            say("guest console log: %s" % d.g.console_log)
    finally:
        if d.g is not None and getattr(d, "tr", None) is not None and not d.tracer_stopped:
            try:
                d.tr.poll()
                d.tr.flush()
            except Exception:
                pass
        d.finish()
    print(flush=True)
    total = time.monotonic() - T0
    if d.failures:
        say(paint("31", "DEMO FAILED (%d problem(s), %.0f s):" % (len(d.failures), total)))
        for f in d.failures:
            print("  - " + f, flush=True)
        return 1
    say(paint("32", "demo passed in %.0f s" % total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
