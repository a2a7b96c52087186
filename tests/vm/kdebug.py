"""Helpers for the debug kernel's checkers (make check-debug): kmemleak
scans by hand and page allocation fault injection through debugfs."""
import os

import pytest

KMEMLEAK = "/sys/kernel/debug/kmemleak"
FAIL_PAGE_ALLOC = "/sys/kernel/debug/fail_page_alloc"
MIN_AGE_S = 5.5      # kmemleak reports only objects older than 5 s

# Long or extended suites (virtqueue layouts, S3, scale) run only in make
# check-debug, which sets VB_EXTENDED=1, to keep make check under budget.
EXTENDED = pytest.mark.skipif(os.environ.get("VB_EXTENDED") != "1",
                              reason="extended suite: make check-debug (VB_EXTENDED=1)")


def need(g, path):
    if g.run("test -e " + path)[0] != 0:
        pytest.skip(path + " not in this kernel (make check-debug)")


def kmemleak_start(g):
    """Manual scans only: the scan thread is suspected of stalling TCG
    guests, and a cleared list makes the next report this test's alone."""
    need(g, KMEMLEAK)
    g.sh("echo scan=off > %s; echo clear > %s" % (KMEMLEAK, KMEMLEAK))


def kmemleak_report(g):
    """Scan twice, the second time after kmemleak's minimum object age, so
    that an object leaked just now is reported; return the report."""
    g.sh("echo scan > " + KMEMLEAK, timeout=600)
    g.sh("usleep %d" % (MIN_AGE_S * 1e6), timeout=30)
    g.sh("echo scan > " + KMEMLEAK, timeout=600)
    return g.sh("cat " + KMEMLEAK)


def fail_page_alloc(g, times, probability):
    """Arm (times > 0) or disarm fail_page_alloc for kernel workers only:
    the driver inflates from a system_freezable_wq worker, and the agent's
    shell and pipes must not fail. Sleeping, highmem and order-0
    allocations are exempt by default; the balloon's are all three."""
    workers = "$(ps -o pid,comm | awk '$2 ~ /^kworker/ {print $1}')"
    on = 1 if times else 0
    g.sh("cd %s; echo Y > task-filter; echo N > ignore-gfp-wait; "
         "echo N > ignore-gfp-highmem; echo 0 > min-order; echo 0 > verbose; "
         "echo 1 > interval; echo %d > times; echo %d > probability; "
         "for p in %s; do echo %d > /proc/$p/make-it-fail 2>/dev/null; done; true"
         % (FAIL_PAGE_ALLOC, times, probability if on else 0, workers, on))


def fail_page_alloc_left(g):
    return int(g.sh("cat %s/times" % FAIL_PAGE_ALLOC))
