"""The one system under test: a qcow2 overlay of the cached Debian image,
booted again after each reboot, with a transcript of every administrator
command and the time each stage took."""
import json
import os
import subprocess
import time

import pytest

from distro_guest import DistroGuest

MEM = 1024


class System:
    def __init__(self, image_dir, share, out):
        self.image_dir, self.share, self.out = image_dir, share, out
        self.disk = os.path.join(out, "disk.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                        os.path.join(image_dir, "disk.img"), self.disk], check=True)
        self.transcript = open(os.path.join(out, "transcript.txt"), "w")
        self.times, self.notes = [], []
        self.guest, self.boots = None, 0

    def boot(self):
        self.boots += 1
        g = DistroGuest(self.image_dir, self.disk, self.share, mem_mib=MEM,
                        deflate_on_oom=True, name="boot%d" % self.boots, log_dir=self.out)
        self.guest = g
        g.boot()
        self.times.append(("boot %d (to systemd %s)" % (self.boots, g.state), g.boot_seconds))
        self.transcript.write("\n### boot %d: systemd %s after %.0f s\n"
                              % (self.boots, g.state, g.boot_seconds))
        return g

    def reboot(self):
        self.guest.reboot_and_exit()
        return self.boot()

    def timed(self, label, fn):
        t0 = time.monotonic()
        r = fn()
        self.times.append((label, time.monotonic() - t0))
        return r

    def log(self, g, cmd, timeout=120):
        """Run an administrator's command, keep it in the transcript, and
        fail on a non-zero exit."""
        rc, out = g.run(cmd, timeout)
        self.transcript.write("# %s\n%s%s\n" % (cmd, out, "" if rc == 0 else "(exit %d)" % rc))
        self.transcript.flush()
        assert rc == 0, "%r exited %d:\n%s" % (cmd, rc, out)
        return out

    def close(self):
        if self.guest:
            self.guest.shutdown()
        self.transcript.close()
        with open(os.path.join(self.out, "timings.json"), "w") as f:
            json.dump({"stages": self.times, "notes": self.notes}, f, indent=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Each test needs the ones before it: after a failure, skip the rest,
    unless the failed test only looked (marked leaf)."""
    report = (yield).get_result()
    if report.failed and not item.get_closest_marker("leaf"):
        item.session.vb_failed = item.name


def pytest_configure(config):
    config.addinivalue_line("markers", "leaf: a check later tests do not need")


def pytest_runtest_setup(item):
    failed = getattr(item.session, "vb_failed", None)
    if failed:
        pytest.skip("needs %s, which failed" % failed)


@pytest.fixture(scope="session")
def system():
    s = System(os.environ["VB_DISTRO_IMAGE"], os.environ["VB_DISTRO_SHARE"],
               os.environ["VB_DISTRO_OUT"])
    try:
        s.boot()
        yield s
    finally:
        s.close()
