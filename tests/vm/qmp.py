"""Minimal QMP client (standard library only)."""
import json
import os
import socket
import time

# Slow guests (KASAN + lockdep kernels) stretch every guest-side wait.
TIMEOUT_SCALE = float(os.environ.get("VB_TIMEOUT_SCALE") or 1)


class QMPError(Exception):
    pass


class QMP:
    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.events = []
        self._recv()  # greeting
        self.execute("qmp_capabilities")

    def _recv(self, timeout=None):
        """Return the next JSON message, or None if timeout expires."""
        self.sock.settimeout(timeout if timeout is not None else 30.0)
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                if timeout is not None:
                    return None
                raise
            if not chunk:
                raise QMPError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, cmd, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._recv()
            if "event" in r:
                self.events.append(r)
            elif "error" in r:
                raise QMPError("%s: %s" % (cmd, r["error"].get("desc", r["error"])))
            elif "return" in r:
                return r["return"]

    def poll_events(self):
        """Drain events already sent by QEMU without blocking."""
        while True:
            r = self._recv(timeout=0.01)
            if r is None:
                return
            if "event" in r:
                self.events.append(r)

    def wait_event(self, name, timeout=30.0, predicate=None):
        """Return (and consume) the first event called name matching predicate."""
        deadline = time.monotonic() + timeout * TIMEOUT_SCALE
        while True:
            for i, ev in enumerate(self.events):
                if ev["event"] == name and (predicate is None or predicate(ev)):
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no QMP event %s within %ss" % (name, timeout))
            r = self._recv(timeout=min(left, 1.0))
            if r is not None and "event" in r:
                self.events.append(r)

    def clear_events(self):
        self.poll_events()
        self.events = []

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
