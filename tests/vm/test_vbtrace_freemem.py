"""vbtrace report and hint records (issue 8 item 6) against the driver's
sysfs counters, in a guest whose host offers free page reporting and free
page hinting. The host-side effects are judged in test_freemem.py and
test_freehint.py; here, only that vbtrace sees exactly what the driver did."""
import time

import pytest

from conftest import stop_guest
from freemem import (BLOCK_PAGES, HINT, IOTHREAD, MEM, REPORT, finish_migration, migrate,
                     reports_idle, spike, wait_for)
from guest import PAGES_PER_MIB
from test_vbtrace import check_schema, records, start_tracer, stop_tracer, sysfs
import scenario as sc

pytestmark = pytest.mark.usefixtures("built")


@pytest.fixture(scope="module")
def fm(boot_guest, build_dir):
    g = boot_guest("vbt-freemem", mem_mib=MEM, device_props=REPORT + "," + HINT,
                   qemu_args=IOTHREAD)
    sc.unload_driver(g, "virtio_balloon")
    sc.load_driver(g, "vballoon")
    yield g
    if g.alive() and g.loaded("vballoon"):
        g.run("p=$(pidof vbtrace) && kill -INT $p; sleep 1")
        sc.unload_driver(g, "vballoon")
    stop_guest(g)


def test_report_records_equal_driver_counters(fm):
    """After a freed spike, the report records' pages (batches the host
    took) add up to the driver's reported_pages delta, and the summary,
    --expect and the histogram agree."""
    g = fm
    spike(g, 64)
    st0 = reports_idle(lambda: sysfs(g))
    start_tracer(g, "r1", "-j -H -e report -x 'report_pages>=%d'" % (100 * PAGES_PER_MIB))
    spike(g, 300)
    wait_for(lambda: sysfs(g)["reported_pages"] - st0["reported_pages"] >= 150 * PAGES_PER_MIB,
             60, what="150 MiB reported")
    st1 = reports_idle(lambda: sysfs(g))
    rc, out = g.bg_stop("r1", "INT")
    recs = records(out)
    assert rc == 0, out
    check_schema(recs)
    reps = [r for r in recs if r["type"] == "report"]
    ok = [r for r in reps if r["err"] == 0]
    # -H: the histogram records follow the summary.
    s = [r for r in recs if r["type"] == "summary"][0]
    d_pages = st1["reported_pages"] - st0["reported_pages"]
    assert sum(r["pages"] for r in ok) == s["pages"]["report"] == d_pages, out
    assert len(ok) == st1["report_batches"] - st0["report_batches"]
    assert len(reps) == s["counts"]["report"] and s["lost"] == 0
    assert all(r["entries"] > 0 and r["ns"] > 0 for r in ok)
    assert all(e["ok"] for e in s["expect"]), s
    hist = [r for r in recs if r["type"] == "hist" and r["name"] == "report"][0]
    assert sum(b["count"] for b in hist["buckets"]) == len(reps)
    print("report: %d batches, %d pages" % (len(ok), d_pages))


def test_hint_records_equal_driver_counters(fm):
    """A migration asks for hints: the hint records' pages and runs equal
    the driver's hinted_pages and hint_runs deltas."""
    g = fm
    spike(g, 200)
    st0 = sysfs(g)
    start_tracer(g, "h1", "-j -e hint -x 'hint>=1'")
    migrate(g)
    m = finish_migration(g)
    assert m["status"] == "completed", m
    wait_for(lambda: sysfs(g)["hint_runs"] > st0["hint_runs"], 30, what="a hint run")
    time.sleep(1)
    rc, out, recs = stop_tracer(g, "h1")
    st1 = sysfs(g)
    assert rc == 0, out
    check_schema(recs)
    hints = [r for r in recs if r["type"] == "hint"]
    s = recs[-1]
    assert len(hints) == s["counts"]["hint"] == st1["hint_runs"] - st0["hint_runs"] >= 1
    assert sum(r["pages"] for r in hints) == s["pages"]["hint"] == \
        st1["hinted_pages"] - st0["hinted_pages"] > 0
    # A migration longer than one pass asks again (a new cmd_id); that run
    # may find nothing free while the first run's blocks are still held.
    assert hints[0]["blocks"] > 0, hints
    ids = [r["cmd_id"] for r in hints]
    assert ids[0] > 0 and ids == sorted(set(ids)), hints
    assert all(r["pages"] == r["blocks"] * BLOCK_PAGES for r in hints), hints
    print("hint: %d runs, %d pages" % (len(hints), s["pages"]["hint"]))
