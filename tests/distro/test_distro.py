"""make check-distro: the packages in a real Debian 12 guest, as an
administrator uses them, in order: install (DKMS builds in the guest),
reboot, binding, balloon, OOM rescue, exporter, metrics, purge, reboot.
Each test needs the ones before it. Truth comes from QMP, /proc/vmstat,
sysfs and dpkg, never from the code under test."""
import re
import time

import pytest

import scenario as sc
from conftest import MEM
from distro_guest import SHARE_DIR
from guest import MIB, PAGES_PER_MIB
from splat import find_splats

SMALL = 512         # balloon test: guest RAM left, MiB
PRESSURE = 384      # OOM test: guest RAM left, MiB
HOG = 350           # more than is free under PRESSURE with systemd running
VIRTIO_DEVS = "/sys/bus/virtio/devices/*"
UNIT = "vballoon-exporter.service"
PROM = "/var/lib/prometheus/node-exporter/vballoon.prom"
METRIC = re.compile(r'^(vballoon_\w+)(\{[^}]*\})? (\S+)$', re.M)


def balloon_driver(g):
    """Name of the driver bound to the virtio balloon device (ID 5), or ''."""
    return g.sh("for d in %s; do [ \"$(cat $d/device)\" = 0x0005 ] &&"
                " basename \"$(readlink -f $d/driver)\"; done; true" % VIRTIO_DEVS).strip()


def loaded(g, mod):
    return g.run("grep -q '^%s ' /proc/modules" % mod)[0] == 0


def vmstat(g, key):
    return g.vmstat().get(key, 0)


def metrics(g):
    """vballoon_ samples from node_exporter's /metrics: {name{labels}: value}."""
    text = g.sh("curl -sf http://127.0.0.1:9100/metrics")
    return {m.group(1) + (m.group(2) or ""): float(m.group(3))
            for m in METRIC.finditer(text)}


def wait_for(what, check, timeout=90, step=2.0):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(step)


def no_splats(g, allow_oom=False):
    bad = find_splats(g.take_dmesg(), allow_oom)
    assert not bad, "kernel splat:\n" + "\n".join(bad)


def test_baseline_in_tree_driver_binds(system):
    g = system.guest
    assert balloon_driver(g) == "virtio_balloon"
    system.log(g, "uname -r; dpkg -l | grep -c ^ii")


def test_install_builds_with_dkms(system):
    g = system.guest
    out = system.timed("install (DKMS build)", lambda: system.log(
        g, "cd %s && apt-get install -y ./vballoon-dkms_*.deb ./vbtrace_*.deb"
        % SHARE_DIR, timeout=1800))
    assert "vballoon" in out
    status = system.log(g, "dkms status")
    assert re.search(r"vballoon/[\d.]+, %s, x86_64: installed" % re.escape(g.abi), status)
    path = system.log(g, "modinfo -n vballoon").strip()
    assert path == "/lib/modules/%s/updates/dkms/vballoon.ko" % g.abi
    # Built for the running kernel: BTF against /sys/kernel/btf/vmlinux.
    assert " .BTF " in g.sh("readelf -S %s" % path)
    assert g.sh("dpkg-query -W -f='${Status}' vballoon-dkms vbtrace") == \
        "install ok installedinstall ok installed"
    assert system.log(g, "systemd-analyze verify --man=no %s 2>&1" % UNIT).strip() == ""
    system.log(g, "systemd-analyze security --no-pager %s | tail -n 1" % UNIT)


@pytest.mark.leaf
def test_exporter_waits_while_module_absent(system):
    """Before the reboot vballoon is not loaded: the unit retries, it says
    why in the journal, and systemd never gives up on it."""
    g = system.guest
    assert not loaded(g, "vballoon")
    log = wait_for("the exporter's journal line", lambda: g.sh(
        "journalctl -b -u %s --no-pager -o cat" % UNIT).strip(), timeout=60)
    system.log(g, "journalctl -b -u %s --no-pager -o cat | tail -n 4" % UNIT)
    assert "vballoon" in log and "not loaded" in log, log
    state = g.sh("systemctl show -p ActiveState,SubState,Result %s" % UNIT)
    assert "ActiveState=failed" not in state, state
    assert "SubState=auto-restart" in state or "ActiveState=activating" in state, state


def test_reboot_binds_vballoon(system):
    g = system.timed("reboot", system.reboot)
    system.log(g, "readlink -f /sys/bus/virtio/devices/*/driver; lsmod | grep balloon")
    assert balloon_driver(g) == "vballoon"
    assert not loaded(g, "virtio_balloon")
    assert g.run("test -e /sys/kernel/btf/vballoon")[0] == 0
    no_splats(g)


def test_inflate_deflate_from_qmp(system):
    g = system.guest
    before = vmstat(g, "balloon_inflate"), vmstat(g, "balloon_deflate")
    system.timed("inflate %d->%d MiB" % (MEM, SMALL), lambda: sc.inflate_to(g, SMALL))
    pages = (MEM - SMALL) * PAGES_PER_MIB
    assert vmstat(g, "balloon_inflate") - before[0] == pages
    system.timed("deflate %d->%d MiB" % (SMALL, MEM), lambda: sc.inflate_to(g, MEM))
    assert vmstat(g, "balloon_deflate") - before[1] == pages


def test_oom_spike_is_rescued(system):
    g = system.guest
    g.sh("install -m 755 %s/hog /usr/local/bin/hog" % SHARE_DIR)
    r = system.timed("OOM spike", lambda: sc.rescue(g, "vballoon", HOG, PRESSURE))
    system.notes.append("rescue: %s" % {k: v for k, v in r.items() if k != "out"})
    assert r["needed_pages"] > 0, r
    assert r["rc"] == 0 and r["oom_kill"] == 0, r
    assert r["leaked_pages"] > 0 and r["vb_rescue_calls"] > 0, r
    assert r["actual_after_mib"] > PRESSURE
    no_splats(g, allow_oom=True)


@pytest.mark.leaf
def test_exporter_is_active(system):
    g = system.guest
    wait_for("%s active" % UNIT, lambda: g.run("systemctl is-active %s" % UNIT)[1].strip() == "active")
    system.log(g, "systemctl status --no-pager %s" % UNIT)
    assert g.sh("systemctl show -p NRestarts --value %s" % UNIT).strip() == "0"


@pytest.mark.leaf
def test_metrics_match_the_guest(system):
    """node_exporter serves vbtrace's textfile: levels equal QMP's view,
    inflate pages equal /proc/vmstat."""
    g = system.guest

    # Read both sides afresh: after the rescue's hold-off the balloon
    # re-inflates, and the textfile follows it every 15 s.
    def fresh():
        held = (MEM * MIB - g.actual_bytes()) // 4096
        m = metrics(g)
        ok = m.get("vballoon_balloon_pages") == held and \
            m.get('vballoon_event_pages_total{event="inflate"}') == vmstat(g, "balloon_inflate")
        return m if ok else None
    m = wait_for("vballoon_ metrics matching QMP and vmstat", fresh, timeout=90)
    system.log(g, "curl -s http://127.0.0.1:9100/metrics | grep ^vballoon_")
    # After the OOM rescue the balloon sits below the host's target until
    # the hold-off ends: the target comes from the driver's sysfs.
    target = int(g.sh("cat /sys/bus/virtio/drivers/vballoon/virtio*/vballoon/target_pages"))
    assert m["vballoon_target_pages"] == target
    assert m['vballoon_events_total{event="inflate"}'] > 0
    assert m["vballoon_lost_events_total"] == 0
    assert m.get('node_textfile_scrape_error', 0) == 0


def test_purge_while_loaded_keeps_pages_until_reboot(system):
    """Purging removes the files but does not unload a module that holds
    pages: it keeps working until the reboot, which brings back
    virtio_balloon, which takes over the host's target."""
    g = system.guest
    sc.inflate_to(g, SMALL)
    system.timed("purge", lambda: system.log(
        g, "apt-get purge -y vballoon-dkms vbtrace", timeout=600))
    assert "vballoon" not in system.log(g, "dkms status")
    assert g.run("modinfo -n vballoon")[0] != 0
    assert g.run("test -e /lib/modprobe.d/vballoon.conf")[0] != 0
    assert g.run("test -e %s" % PROM)[0] != 0     # no stale metrics
    assert loaded(g, "vballoon") and balloon_driver(g) == "vballoon"
    assert g.actual_bytes() == SMALL * MIB
    g = system.timed("reboot after purge", system.reboot)
    system.log(g, "readlink -f /sys/bus/virtio/devices/*/driver; lsmod | grep balloon")
    assert balloon_driver(g) == "virtio_balloon"
    assert not loaded(g, "vballoon")
    # A new QEMU process: the host's target starts at full RAM again.
    sc.inflate_to(g, SMALL)
    sc.inflate_to(g, MEM)
    no_splats(g)


@pytest.mark.leaf
def test_install_without_headers_stays_installed(system):
    """DKMS cannot build without headers: it says so, dpkg still succeeds."""
    g = system.guest
    system.log(g, "apt-get purge -y linux-headers-%s linux-headers-amd64 2>&1 | tail -n 2"
               % g.abi, timeout=600)
    out = system.log(g, "cd %s && apt-get install -y ./vballoon-dkms_*.deb"
                     % SHARE_DIR, timeout=600)
    assert "headers for this kernel do not seem to be installed" in out, out
    assert g.sh("dpkg-query -W -f='${Status}' vballoon-dkms") == "install ok installed"
    assert "installed" not in system.log(g, "dkms status")
