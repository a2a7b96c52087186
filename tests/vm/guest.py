"""A QEMU/TCG guest booted from the test initramfs, driven over QMP and a
serial-line command agent (see guest/agent)."""
import base64
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time

from qmp import QMP, TIMEOUT_SCALE

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
MIB = 1 << 20
PAGES_PER_MIB = MIB // 4096
# Memory the guest kernel keeps beyond the generic kernel's (make check-debug
# sets it: KASAN's shadow, kmemleak and lockdep take ~210 MiB of 1 GiB, and
# a balloon at 256 MiB no longer fits). Tests that squeeze the guest raise
# their floor by it, so the floor leaves the same memory free.
KERNEL_EXTRA_MIB = int(os.environ.get("VB_KERNEL_EXTRA_MIB") or 0)
# Extra guest kernel arguments for every guest (make check-debug: RCU stall
# reports are host starvation under TCG, not guest bugs).
# A TCG guest on a busy 2-core host can go unscheduled for 20 s (one boot
# did, with four suites and the sanitizer runs side by side): the stall
# report is the host's doing. 120 s still reports a real lockup in a test.
# no_timer_check: the early IO-APIC timer test counts PIT ticks against
# time, which a starved vCPU fails; one boot panicked "IO-APIC + timer
# doesn't work!" with five guests and a kernel build on the 2 cores.
KERNEL_ARGS = os.environ.get("VB_KERNEL_ARGS",
                             "rcupdate.rcu_cpu_stall_timeout=120 no_timer_check")


class AgentError(Exception):
    pass


def parse_kv(text, sep=None):
    """Parse "key value" lines (vmstat, debugfs stats) into {key: int}."""
    out = {}
    for line in text.splitlines():
        parts = line.replace(":", " ").split() if sep == ":" else line.split(sep)
        if len(parts) >= 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def cache_disk(out, mib=1024, name="cache"):
    """QEMU options for a sparse raw image the guest reads through
    virtio-blk (/dev/vda): reading it fills clean, droppable page cache."""
    img = os.path.join(out, name + ".img")
    os.makedirs(out, exist_ok=True)
    with open(img, "wb") as f:
        f.truncate(mib << 20)
    return ["-drive", "file=%s,if=none,id=cache0,format=raw,readonly=on" % img,
            "-device", "virtio-blk-pci,drive=cache0"]


def kernel_abi(kernel_dir):
    return os.listdir(os.path.join(kernel_dir, "lib", "modules"))[0]


class Guest:
    def __init__(self, kernel_dir, initrd, mem_mib=1024, deflate_on_oom=False,
                 stats_interval=None, name="guest", log_dir=None, append="",
                 device_props="", qemu_args=(), smp=1):
        self.kernel_dir = kernel_dir
        self.smp = smp
        self.abi = kernel_abi(kernel_dir)
        self.initrd = initrd
        self.mem_mib = mem_mib
        self.deflate_on_oom = deflate_on_oom
        self.stats_interval = stats_interval
        self.append = append
        self.device_props = device_props   # extra virtio-balloon-pci properties
        self.qemu_args = list(qemu_args)   # extra QEMU options (trace, -global)
        self.log_dir = log_dir or os.path.join(TOP, "build", self.abi, "vm")
        os.makedirs(self.log_dir, exist_ok=True)
        self.console_log = os.path.join(self.log_dir, name + "-console.log")
        self.klog = ""            # all dmesg text collected by take_dmesg()
        self.proc = None
        self.qmp = None
        self.agent = None
        self._buf = b""
        self._seq = 0
        # Unix socket paths must stay short (108 bytes), so not under build/.
        self.sockdir = tempfile.mkdtemp(prefix="vbvm-")

    # ---- lifecycle -----------------------------------------------------

    def qemu_cmd(self):
        dev = "virtio-balloon-pci,id=balloon0,deflate-on-oom=%s" % (
            "on" if self.deflate_on_oom else "off")
        if self.stats_interval:
            dev += ",guest-stats-polling-interval=%d" % self.stats_interval
        if self.device_props:
            dev += "," + self.device_props
        kernel = os.path.join(self.kernel_dir, "boot", "vmlinuz-" + self.abi)
        return [
            "qemu-system-x86_64", "-accel", "tcg", "-m", str(self.mem_mib),
            "-smp", str(self.smp), "-nographic", "-no-reboot", "-monitor", "none",
            "-kernel", kernel, "-initrd", self.initrd,
            "-append", " ".join(["console=ttyS0 quiet panic=-1", KERNEL_ARGS, self.append]),
            "-serial", "file:" + self.console_log,
            "-chardev", "socket,id=agent,path=%s/agent.sock,server=on,wait=off" % self.sockdir,
            "-serial", "chardev:agent",
            "-qmp", "unix:%s/qmp.sock,server=on,wait=off" % self.sockdir,
            "-device", dev,
        ] + self.qemu_args

    def boot(self, timeout=120):
        timeout *= TIMEOUT_SCALE
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.qemu_cmd(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.console_log + ".qemu", "w"))
        qsock = os.path.join(self.sockdir, "qmp.sock")
        asock = os.path.join(self.sockdir, "agent.sock")
        while not (os.path.exists(qsock) and os.path.exists(asock)):
            self._check_alive()
            if time.monotonic() - t0 > 20:
                raise AgentError("QEMU did not create its sockets")
            time.sleep(0.05)
        self.qmp = self._connect(lambda: QMP(qsock), t0 + 20)
        self.agent = self._connect(lambda: self._unix(asock), t0 + 20)
        self._wait_ready(t0 + timeout)
        self.boot_seconds = time.monotonic() - t0
        return self

    @staticmethod
    def _unix(path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
        except OSError:
            s.close()
            raise
        return s

    def _connect(self, connect, deadline):
        """QEMU creates a socket file a moment before it listens on it."""
        while True:
            try:
                return connect()
            except (ConnectionRefusedError, FileNotFoundError):
                self._check_alive()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _wait_ready(self, deadline):
        """Wait for the agent's READY banner, then prove it answers."""
        while b"@@VB-READY" not in self._buf:
            self._check_alive()
            if time.monotonic() > deadline:
                raise AgentError("agent not ready; see " + self.console_log)
            self._fill(1.0)
        self._buf = b""
        # A newline first flushes any junk the UART took in before the agent.
        self.agent.sendall(b"\n")
        rc, out = self.run("echo ping", timeout=30)
        if rc != 0 or out.strip() != "ping":
            raise AgentError("agent ping failed: rc=%s out=%r" % (rc, out))

    def _check_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise AgentError("QEMU exited rc=%s; see %s" % (self.proc.returncode, self.console_log))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def shutdown(self):
        if self.proc is None:
            return
        try:
            if self.alive() and self.qmp:
                self.qmp.execute("quit")
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for s in (self.qmp, self.agent):
            try:
                s and s.close()
            except Exception:
                pass
        shutil.rmtree(self.sockdir, ignore_errors=True)
        self.proc = None

    # ---- command agent ---------------------------------------------------

    def _fill(self, timeout):
        self.agent.settimeout(timeout)
        try:
            chunk = self.agent.recv(65536)
        except socket.timeout:
            return
        if not chunk:
            raise AgentError("agent socket closed")
        self._buf += chunk

    def run(self, cmd, timeout=60):
        """Run a shell command in the guest; return (rc, stdout+stderr).
        The guest kills it after timeout s (rc 137), scaled by VB_TIMEOUT_SCALE."""
        timeout *= TIMEOUT_SCALE
        self._seq += 1
        rid = "r%d" % self._seq
        b64 = base64.b64encode(cmd.encode()).decode()
        self.agent.sendall(("%s %d %s\n" % (rid, max(1, int(timeout)), b64)).encode())
        begin = ("@@VB-BEGIN %s\n" % rid).encode()
        end = ("@@VB-END %s " % rid).encode()
        deadline = time.monotonic() + timeout + 30
        while True:
            i = self._buf.find(begin)
            j = self._buf.find(end, i) if i >= 0 else -1
            if j >= 0 and self._buf.find(b"\n", j) >= 0:
                break
            self._check_alive()
            if time.monotonic() > deadline:
                raise AgentError("no answer to %r within %ss" % (cmd, timeout))
            self._fill(1.0)
        k = self._buf.find(b"\n", j)
        body = self._buf[i + len(begin):j]
        rc = int(self._buf[j + len(end):k])
        self._buf = self._buf[k + 1:]
        out = base64.b64decode(b"".join(body.split())).decode(errors="replace")
        return rc, out

    def qemu_rss_mib(self):
        """QEMU's resident set: what the host really spends on the guest."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def sh(self, cmd, timeout=60):
        """Run cmd; fail unless it exits 0; return its output."""
        rc, out = self.run(cmd, timeout)
        if rc != 0:
            raise AgentError("guest command %r failed rc=%d:\n%s" % (cmd, rc, out))
        return out

    def bg_start(self, name, cmd):
        """Start cmd (a shell command line) in the background in the guest."""
        self.sh("rm -f /tmp/bg/%s.*; bgrun %s sh -c %s >/dev/null 2>&1 &"
                % (name, name, shlex.quote("exec " + cmd)))
        self.sh("i=0; while [ ! -f /tmp/bg/%s.pid ] && [ $i -lt 100 ]; do usleep 50000; i=$((i+1)); done; "
                "cat /tmp/bg/%s.pid" % (name, name))

    def bg_stop(self, name, sig="INT", timeout=20):
        """Signal a background command, wait for it; return (rc, output)."""
        self.run("kill -%s $(cat /tmp/bg/%s.pid)" % (sig, name))
        return self.bg_wait(name, timeout)

    def bg_wait(self, name, timeout=60):
        out = self.sh("i=0; while [ ! -f /tmp/bg/{n}.rc ] && [ $i -lt {t} ]; do usleep 100000; i=$((i+1)); done; "
                      "cat /tmp/bg/{n}.rc 2>/dev/null || echo none".format(n=name, t=int(timeout * TIMEOUT_SCALE * 10)),
                      timeout=timeout + 10)
        rc = out.strip().splitlines()[-1]
        if rc == "none":
            raise AgentError("background command %s did not finish in %ss" % (name, timeout))
        return int(rc), self.sh("cat /tmp/bg/%s.out" % name)

    # ---- guest state -------------------------------------------------------

    def vmstat(self):
        return parse_kv(self.sh("cat /proc/vmstat"))

    def meminfo(self):
        """/proc/meminfo in kB."""
        return parse_kv(self.sh("cat /proc/meminfo"), sep=":")

    def vb_stats(self):
        """The vballoon debugfs counters, or {} if the file is absent."""
        rc, out = self.run("cat /sys/kernel/debug/vballoon/stats")
        return parse_kv(out) if rc == 0 else {}

    def dmesg(self):
        """Kernel log since the last take_dmesg()."""
        return self.sh("dmesg")

    def take_dmesg(self):
        """Return and clear the new kernel log, keeping a copy in self.klog."""
        text = self.sh("dmesg -c")
        self.klog += text
        return text

    def insmod(self, path, params=""):
        return self.run("insmod %s %s" % (path, params))

    def loaded(self, mod):
        return self.run("grep -q '^%s ' /proc/modules" % mod)[0] == 0

    # ---- QMP: balloon --------------------------------------------------------

    def set_balloon_mib(self, mib):
        self.qmp.execute("balloon", value=int(mib * MIB))

    def set_balloon_bytes(self, value):
        self.qmp.execute("balloon", value=int(value))

    def actual_bytes(self):
        return self.qmp.execute("query-balloon")["actual"]

    def actual_mib(self):
        return self.actual_bytes() / MIB

    def wait_actual(self, target_mib, tol_mib=0, timeout=60, settle=0.5):
        """Poll query-balloon until actual is within tol of target and stays
        there for settle s; return actual (MiB)."""
        deadline = time.monotonic() + timeout * TIMEOUT_SCALE
        since = None
        while True:
            a = self.actual_mib()
            if abs(a - target_mib) <= tol_mib:
                since = since or time.monotonic()
                if time.monotonic() - since >= settle:
                    return a
            else:
                since = None
            if time.monotonic() > deadline:
                raise TimeoutError("balloon actual %.2f MiB, wanted %s±%s" % (a, target_mib, tol_mib))
            time.sleep(0.2)

    def wait_stable(self, timeout=60, settle=3.0):
        """Poll query-balloon until actual stops changing; return it (MiB)."""
        deadline = time.monotonic() + timeout * TIMEOUT_SCALE
        last, since = None, time.monotonic()
        while True:
            a = self.actual_mib()
            if a != last:
                last, since = a, time.monotonic()
            elif time.monotonic() - since >= settle:
                return a
            if time.monotonic() > deadline:
                raise TimeoutError("balloon actual still moving (%.2f MiB)" % a)
            time.sleep(0.25)

    def qom_get(self, prop, path="/machine/peripheral/balloon0"):
        return self.qmp.execute("qom-get", path=path, property=prop)

    def qom_set(self, prop, value, path="/machine/peripheral/balloon0"):
        return self.qmp.execute("qom-set", path=path, property=prop, value=value)
