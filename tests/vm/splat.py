"""Find kernel splats (warnings, oopses, lockdep, hung tasks) in dmesg text."""
import re

BAD = re.compile("|".join([
    r"\bWARNING\b", r"\bBUG\b", r"\bOops\b", r"general protection",
    r"list_del corruption", r"list_add corruption", r"[Bb]ad page",
    r"possible circular locking", r"INFO: possible", r"blocked for more than",
    r"Call Trace", r"Kernel panic", r"UBSAN", r"KASAN", r"refcount_t:",
    # lockdep, kmemleak and allocation reports of the debug kernel
    r"inconsistent lock state", r"possible recursive locking",
    r"suspicious RCU usage", r"lock held when returning", r"DEBUG_LOCKS_WARN_ON",
    r"suspected memory leak", r"unreferenced object", r"kmemleak: Cannot",
    r"page allocation failure",
    r"failed to validate module \[\w+\] BTF",
]))

# Lines that mention a bad word but are expected when loading a test module.
BENIGN = re.compile("|".join([
    r"loading out-of-tree module taints kernel",
    r"module verification failed",
]))

OOM_START = re.compile(r"invoked oom-killer:")
OOM_END = re.compile(r"oom-kill:|Out of memory|Killed process")


def find_splats(text, allow_oom=False):
    """Return the offending lines of a dmesg dump ([] if it is clean).
    allow_oom skips the stack dumps of OOM-killer reports, which tests that
    provoke OOM expect; everything outside those reports is still checked."""
    bad = []
    in_oom = False
    for line in text.splitlines():
        if allow_oom:
            if OOM_START.search(line):
                in_oom = True
                continue
            if in_oom:
                if OOM_END.search(line):
                    in_oom = False
                continue
        if BAD.search(line) and not BENIGN.search(line):
            bad.append(line.rstrip())
    return bad
