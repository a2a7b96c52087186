"""Self-tests of the guest test bed: the agent's framing, exit codes,
timeouts, background commands, and that a splat in dmesg is caught."""

from conftest import guest_problems, module_guest


small = module_guest("harness", mem_mib=256)


def test_output_and_rc(small):
    # Marker-like text, binary bytes and no trailing newline survive intact.
    rc, out = small.run("printf '@@VB-END r1 0\\n\\001\\377x'; echo err >&2; exit 7")
    assert rc == 7
    assert out == "@@VB-END r1 0\n\x01\ufffdxerr\n"


def test_large_output(small):
    rc, out = small.run("seq 1 20000")
    assert rc == 0 and out.split() == [str(i) for i in range(1, 20001)]


def test_timeout_kills_command(small):
    rc, _ = small.run("sleep 30", timeout=2)
    assert rc == 137
    assert small.run("echo ok") == (0, "ok\n")


def test_background_and_signal(small):
    small.bg_start("t", "sh -c 'trap \"echo got-int; exit 3\" INT; echo started; while :; do usleep 100000; done'")
    small.sh("sleep 1")
    rc, out = small.bg_stop("t", "INT")
    assert rc == 3 and "started" in out and "got-int" in out


def test_hog(small):
    out = small.sh("hog 32")
    assert out.startswith("hog mib=32 ms=")


def test_splat_is_caught(small):
    small.sh("echo 'WARNING: CPU: 0 PID: 1 at harness self-test' > /dev/kmsg")
    problems = guest_problems(small)  # consumes the line, so this test passes
    assert any("harness self-test" in p for p in problems)
