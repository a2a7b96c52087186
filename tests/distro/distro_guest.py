"""A Debian 12 guest booted from the check-distro disk image (systemd, its
own initramfs), driven with the test bed's QMP client and serial agent.
Reboots are real: the guest reboots, QEMU exits (-no-reboot) and the same
disk boots again."""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "vm"))
from guest import AgentError, Guest, kernel_abi  # noqa: E402

SHARE_TAG = "vbshare"
SHARE_DIR = "/mnt/vb"


class DistroGuest(Guest):
    """Guest with the image's kernel and initramfs, a qcow2 overlay of the
    cached disk as /dev/vda and the package folder as a 9p share."""

    def __init__(self, image_dir, disk, share, **kw):
        abi = kernel_abi(image_dir)
        super().__init__(image_dir, os.path.join(image_dir, "initrd.img-" + abi),
                         append="root=/dev/vda rw", **kw)
        self.disk = disk
        self.share = share

    def qemu_cmd(self):
        cmd = super().qemu_cmd()
        cmd[cmd.index("-kernel") + 1] = os.path.join(self.kernel_dir, "vmlinuz-" + self.abi)
        return cmd + [
            "-nic", "none",
            "-drive", "file=%s,if=virtio,format=qcow2" % self.disk,
            "-virtfs", "local,path=%s,mount_tag=%s,security_model=none,readonly=on"
            % (self.share, SHARE_TAG),
        ]

    def boot(self, timeout=600):
        """Boot until systemd has finished starting units; mount the share.
        Returns systemd's state (running or degraded)."""
        t0 = time.monotonic()
        super().boot(timeout)
        self.state = self.run("systemctl is-system-running --wait", timeout=300)[1].strip()
        self.boot_seconds = time.monotonic() - t0
        self.sh("mkdir -p %s && mount -t 9p -o trans=virtio,version=9p2000.L %s %s"
                % (SHARE_DIR, SHARE_TAG, SHARE_DIR))
        return self

    def reboot_and_exit(self, timeout=180):
        """systemctl reboot in the guest; with -no-reboot QEMU then exits."""
        try:
            self.run("systemctl --no-block reboot")
        except (AgentError, OSError):
            pass            # the agent may go down before it answers
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("guest did not reboot within %d s; see %s"
                                 % (timeout, self.console_log))
        self.shutdown()
