"""Host-side unit tests of the dmesg splat scanner (no VM needed)."""
from splat import find_splats

CLEAN = """\
[    0.000000] Linux version 6.1.0-56-amd64
[    2.100000] vballoon: loading out-of-tree module taints kernel.
[    2.100100] vballoon: module verification failed: signature and/or required key missing - tainting kernel
[    2.200000] virtio_balloon virtio0: probed
"""

WARN = """\
[   10.000000] ------------[ cut here ]------------
[   10.000001] WARNING: CPU: 0 PID: 42 at mm/balloon_compaction.c:123 balloon_page_dequeue+0x1/0x2
[   10.000002] Call Trace:
[   10.000003]  <TASK>
"""

OOM = """\
[   20.000000] hog invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0
[   20.000001] CPU: 0 PID: 99 Comm: hog Tainted: G           OE      6.1.0-56-amd64 #1  Debian 6.1.192-1
[   20.000002] Call Trace:
[   20.000003]  <TASK>
[   20.000004]  dump_stack_lvl+0x44/0x5c
[   20.000005] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task=hog,pid=99,uid=0
[   20.000006] Out of memory: Killed process 99 (hog) total-vm:400000kB
"""


def test_clean_log_passes():
    assert find_splats(CLEAN) == []


def test_warning_is_found():
    bad = find_splats(CLEAN + WARN)
    assert any("WARNING: CPU: 0" in l for l in bad)
    assert any("Call Trace" in l for l in bad)


def test_each_pattern_is_found():
    samples = [
        "BUG: unable to handle page fault for address: 0000000000000010",
        "kernel BUG at mm/balloon_compaction.c:99!",
        "Oops: 0000 [#1] PREEMPT SMP NOPTI",
        "general protection fault, probably for non-canonical address",
        "list_del corruption. prev->next should be ffff, but was dead",
        "BUG: Bad page state in process hog  pfn:1234",
        "WARNING: possible circular locking dependency detected",
        "INFO: possible recursive locking detected",
        "INFO: task kworker/0:1:12 blocked for more than 120 seconds.",
        # the debug kernel's checkers
        "BUG: KASAN: slab-use-after-free in vb_fill+0x1/0x2 [vballoon]",
        "WARNING: inconsistent lock state",
        "BUG: sleeping function called from invalid context at mm/page_alloc.c:1",
        "WARNING: suspicious RCU usage",
        "DEBUG_LOCKS_WARN_ON(1)",
        "kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)",
        "unreferenced object 0xffff888003a0c000 (size 64):",
        "kworker/0:1: page allocation failure: order:0, mode:0x400dc0",
        "failed to validate module [vballoon] BTF: -22",
    ]
    for s in samples:
        assert find_splats("[    1.0] " + s + "\n"), s


def test_oom_report_is_a_splat_unless_allowed():
    assert find_splats(OOM)
    assert find_splats(OOM, allow_oom=True) == []


def test_allow_oom_still_catches_warnings_after_the_report():
    assert find_splats(OOM + WARN, allow_oom=True)


VICTIM_FAIL = """\
[   20.100000] hog: page allocation failure: order:0, mode:0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), nodemask=(null)
[   20.100001] CPU: 0 PID: 99 Comm: hog Tainted: G           OE      6.1.0-56-amd64 #1  Debian 6.1.192-1
[   20.100002] Call Trace:
[   20.100003]  <TASK>
[   20.100004]  warn_alloc+0x138/0x160
[   20.100005] Mem-Info:
[   20.100006] 262014 pages RAM
[   20.100007] 0 pages HighMem/MovableOnly
[   20.100008] 8412 pages reserved
"""


def test_failed_allocation_of_the_killed_task_is_allowed():
    assert find_splats(OOM + VICTIM_FAIL, allow_oom=True) == []
    assert find_splats(OOM + VICTIM_FAIL + WARN, allow_oom=True)


def test_failed_allocation_before_any_kill_is_a_splat():
    assert find_splats(VICTIM_FAIL, allow_oom=True)
    assert find_splats(OOM + VICTIM_FAIL)


def test_failed_allocation_of_a_live_namesake_is_a_splat():
    other = VICTIM_FAIL.replace("PID: 99", "PID: 100")
    bad = find_splats(OOM + other, allow_oom=True)
    assert any("PID: 100" in l for l in bad)
    assert any("page allocation failure" in l for l in bad)


def test_unterminated_victim_report_does_not_hide_later_splats():
    cut = VICTIM_FAIL.split("[   20.100005] Mem-Info:")[0]
    filler = "".join("[   20.2] Node 0 line %d\n" % i for i in range(250))
    assert find_splats(OOM + cut + filler + WARN, allow_oom=True)
    assert find_splats(OOM + cut + filler[:200], allow_oom=True) == []
