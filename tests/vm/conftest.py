"""Fixtures for the guest test bed: kernel and build folders, the
initramfs, booted guests, and a dmesg splat check after every test."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import Guest, TOP, kernel_abi  # noqa: E402
from splat import find_splats  # noqa: E402

LIVE = []  # guests whose dmesg is checked after each test


def pytest_configure(config):
    config.addinivalue_line("markers", "allow_oom: OOM-killer reports in dmesg are expected")


@pytest.fixture(scope="session")
def kernel_dir():
    kd = os.environ.get("VB_KERNEL_DIR")
    if not kd:
        series = os.environ.get("VB_KSERIES", "6.1")
        kd = subprocess.run([os.path.join(TOP, "scripts", "fetch-kernel.sh"), series],
                            check=True, capture_output=True, text=True).stdout.strip()
    return kd


@pytest.fixture(scope="session")
def build_dir(kernel_dir):
    return os.environ.get("VB_BUILD_DIR") or os.path.join(TOP, "build", kernel_abi(kernel_dir))


@pytest.fixture(scope="session")
def initramfs(kernel_dir, build_dir):
    """Rebuilt once per session so a fresh vballoon.ko/vbtrace is picked up."""
    out = os.path.join(build_dir, "initramfs.cpio.gz")
    env = dict(os.environ, VB_BUILD_DIR=build_dir)
    subprocess.run([os.path.join(os.path.dirname(__file__), "mkrootfs.sh"),
                    kernel_dir, out], check=True, env=env, stdout=subprocess.DEVNULL)
    return out


def guest_problems(g, allow_oom=False):
    """Collect new dmesg from g and return its splat lines (or why we
    could not read it)."""
    if not g.alive():
        return ["guest died; see " + g.console_log]
    try:
        text = g.take_dmesg()
    except Exception as e:  # agent gone: fall back to the console log
        with open(g.console_log, errors="replace") as f:
            return ["guest agent not answering (%s)" % e] + find_splats(f.read(), allow_oom)
    return find_splats(text, allow_oom)


@pytest.fixture(scope="session")
def boot_guest(kernel_dir, initramfs, build_dir):
    """Factory: boot_guest(name, **Guest kwargs) -> booted Guest. Shut it
    down with stop_guest(g) (fixtures do) or at session end."""
    started = []

    def boot(name="guest", **kw):
        g = Guest(kernel_dir, initramfs, name=name,
                  log_dir=os.path.join(build_dir, "vm"), **kw)
        started.append(g)
        g.boot()
        boot_splats = find_splats(g.take_dmesg())
        if boot_splats:
            pytest.fail("kernel splat during boot:\n" + "\n".join(boot_splats))
        LIVE.append(g)
        return g

    yield boot
    for g in started:
        if g.proc is not None:
            stop_guest(g)


def module_guest(name, allow_oom=False, **kw):
    """A fixture: one guest booted for a test module, shut down (and its
    dmesg checked) after the module's last test."""
    @pytest.fixture(scope="module")
    def fixture(boot_guest):
        g = boot_guest(name, **kw)
        yield g
        stop_guest(g, allow_oom=allow_oom)
    return fixture


@pytest.fixture(scope="module")
def built(build_dir):
    """Skip the module's tests until vballoon.ko and vbtrace are built."""
    for path in (os.path.join(build_dir, "vballoon.ko"), os.path.join(TOP, "build", "vbtrace")):
        if not os.path.exists(path):
            pytest.skip(path + " not built")


def stop_guest(g, allow_oom=False):
    """Final dmesg check, then power off; fails the caller on a splat."""
    problems = guest_problems(g, allow_oom) if g.proc else []
    if g in LIVE:
        LIVE.remove(g)
    g.shutdown()
    if problems:
        pytest.fail("kernel splat in %s:\n%s" % (g.console_log, "\n".join(problems)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """After each test body, fail the test if any live guest logged a splat;
    a failed test gets the guests' new dmesg in its report."""
    outcome = yield
    allow_oom = item.get_closest_marker("allow_oom") is not None
    problems = []
    for g in list(LIVE):
        start = len(g.klog)
        problems += guest_problems(g, allow_oom)
        if outcome.excinfo is not None:
            tail = "\n".join(g.klog[start:].splitlines()[-80:])
            item.add_report_section("call", "dmesg " + os.path.basename(g.console_log), tail)
    if problems and outcome.excinfo is None:
        # pluggy 1.0 has no force_exception: raising here fails the call phase.
        raise AssertionError("kernel splat in guest dmesg:\n" + "\n".join(problems))
