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
# An OOM victim that runs out of reserves on its way out gets a failed
# allocation and a warn_alloc report; the kernel means it, so with allow_oom
# that report is skipped, but only for a task the log shows was killed.
KILLED = re.compile(r"Killed process (\d+) \((.+?)\)")
VICTIM_FAIL = re.compile(r"\] (.+?): page allocation failure:")
REPORT_PID = re.compile(r"\bPID: (\d+) Comm:")
SHOW_MEM_END = re.compile(r"\d+ pages reserved")
# A victim's report is a stack and show_mem(): if its end line never comes,
# scanning resumes after this many lines rather than never.
VICTIM_REPORT_MAX_LINES = 200


def find_splats(text, allow_oom=False):
    """Return the offending lines of a dmesg dump ([] if it is clean).
    allow_oom skips the stack dumps of OOM-killer reports, and failed
    allocations of the tasks they killed, which tests that provoke OOM
    expect; everything outside those reports is still checked."""
    bad = []
    skip_until = None
    report = None
    skipped = 0
    killed = {}
    for line in text.splitlines():
        if allow_oom:
            m = KILLED.search(line)
            if m:
                killed[m.group(1)] = m.group(2)
            if skip_until is None:
                skip_until = skip_start(line, killed)
                if skip_until is not None:
                    report, skipped = line.rstrip(), 0
                    continue
            elif skip_until is SHOW_MEM_END and skipped >= VICTIM_REPORT_MAX_LINES:
                skip_until = None
            else:
                skipped += 1
                m = REPORT_PID.search(line)
                if m and skip_until is SHOW_MEM_END and m.group(1) not in killed:
                    bad += [report, line.rstrip()]
                if skip_until.search(line):
                    skip_until = None
                continue
        if BAD.search(line) and not BENIGN.search(line):
            bad.append(line.rstrip())
    return bad


def skip_start(line, killed):
    """The end marker of an expected report that starts at line, or None."""
    if OOM_START.search(line):
        return OOM_END
    m = VICTIM_FAIL.search(line)
    if m and m.group(1) in killed.values():
        return SHOW_MEM_END
    return None
