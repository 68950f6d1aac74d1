"""The lakehouse lock (jobs/lakehouse_lock.py): writers share it, an erasure or a key rotation holds it alone, in
another process as in this one."""

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jobs import lakehouse_lock, pipeline
from jobs.pipeline import StepResult

REPO = Path(__file__).resolve().parents[2]
D1 = dt.date(2026, 6, 30)


class Holder:
    """Another process that holds the lock of `home` (`mode`, as `what`) until told to let go, then writes the
    moment it let go."""

    def __init__(self, home: Path, mode: str, what: str):
        self.released = home.parent / f"released-{mode}-{time.monotonic_ns()}"
        script = textwrap.dedent(f"""
            import sys, time
            from jobs import lakehouse_lock
            with getattr(lakehouse_lock, {mode!r})({str(home)!r}, {what!r}):
                print("held", flush=True)
                sys.stdin.readline()
                released = time.monotonic()
            open({str(self.released)!r}, "w").write(repr(released))
        """)
        self.process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "held"

    def let_go(self) -> None:
        self.process.stdin.write("\n")
        self.process.stdin.flush()

    def released_at(self) -> float:
        assert self.process.wait(timeout=30) == 0
        return float(self.released.read_text())

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


def _let_go_after(holder: Holder, seconds: float) -> None:
    import threading

    threading.Timer(seconds, holder.let_go).start()


def test_writers_of_several_processes_hold_the_lock_at_once(tmp_path):
    home = tmp_path / "home"
    holder = Holder(home, "shared", "step ingest for 2026-06-30")
    try:
        started = time.monotonic()
        with lakehouse_lock.shared(home, "step silver for 2026-06-30"):
            assert lakehouse_lock.held(home) == lakehouse_lock.SHARED
            assert time.monotonic() - started < 1.0
            assert len(lakehouse_lock.holders(home)) == 2
    finally:
        holder.let_go()
        holder.released_at()
    assert lakehouse_lock.held(home) is None


def test_an_erasure_waits_for_the_running_writers_and_says_what_it_waits_for(tmp_path, caplog):
    home = tmp_path / "home"
    holder = Holder(home, "shared", "step silver for 2026-06-30")
    _let_go_after(holder, 1.5)
    with caplog.at_level(logging.WARNING, logger="jobs.lakehouse_lock"):
        with lakehouse_lock.exclusive(home, "the erasure of 2026-07-01"):
            got_it = time.monotonic()
    assert got_it >= holder.released_at()
    waited = [r.getMessage() for r in caplog.records if "waits for the lakehouse" in r.getMessage()]
    assert waited and "the erasure of 2026-07-01 waits for the lakehouse (exclusive)" in waited[0]
    assert "step silver for 2026-06-30 (shared, pid" in waited[0]


def test_a_write_waits_while_an_erasure_runs_in_another_process(tmp_path, lh, spark):
    holder = Holder(lh.settings.home, "exclusive", "the erasure of 2026-07-01")
    _let_go_after(holder, 1.5)
    lh.replace_for_date("gold.kpi_daily", spark.createDataFrame([(D1, 7)], "as_of_date date, customers long"), D1)
    written = time.monotonic()
    assert written >= holder.released_at()
    assert [r.customers for r in lh.read("gold.kpi_daily").collect()] == [7]


def test_a_process_that_dies_lets_go(tmp_path):
    home = tmp_path / "home"
    holder = Holder(home, "exclusive", "the key rotation")
    assert any("the key rotation (exclusive" in h for h in lakehouse_lock.holders(home))
    holder.kill()
    started = time.monotonic()
    with lakehouse_lock.shared(home, "step kpis for 2026-06-30"):
        assert time.monotonic() - started < 1.0
        assert [h for h in lakehouse_lock.holders(home) if "key rotation" in h] == []


def test_inside_a_process_a_hold_counts_and_an_erasure_inside_a_write_is_refused(tmp_path):
    home = tmp_path / "home"
    with lakehouse_lock.exclusive(home, "the erasure of 2026-07-01"):
        with lakehouse_lock.shared(home, "a write to gold.kpi_daily"):   # the erasure's own writes
            assert lakehouse_lock.held(home) == lakehouse_lock.EXCLUSIVE
        assert lakehouse_lock.held(home) == lakehouse_lock.EXCLUSIVE
    assert lakehouse_lock.held(home) is None
    with lakehouse_lock.shared(home, "step offers for 2026-06-30"):
        with pytest.raises(RuntimeError, match="the key rotation needs the lakehouse to itself.*step offers"):
            with lakehouse_lock.exclusive(home, "the key rotation"):
                pass
        assert lakehouse_lock.held(home) == lakehouse_lock.SHARED
    assert lakehouse_lock.held(home) is None


def test_a_forked_child_takes_the_lock_itself(tmp_path):
    home = tmp_path / "home"
    with lakehouse_lock.shared(home, "step ingest for 2026-06-30"):
        child = os.fork()
        if child == 0:   # the child holds nothing of its parent's
            os._exit(0 if lakehouse_lock.held(home) is None else 1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert lakehouse_lock.held(home) == lakehouse_lock.SHARED


def test_a_step_holds_the_lock_shared_and_the_erasure_step_holds_it_alone(monkeypatch, settings, spark):
    seen = {}

    def step(name):
        def run(lh, day):
            seen[name] = lakehouse_lock.held(settings.home)
            return StepResult(step=name, logical_date=day)
        return run

    for name in ("silver", "erase"):
        monkeypatch.setitem(pipeline.STEPS, name, step(name))
        pipeline.run_step(name, D1, settings)
    assert seen == {"silver": lakehouse_lock.SHARED, "erase": lakehouse_lock.EXCLUSIVE}
    assert lakehouse_lock.held(settings.home) is None


def test_a_holder_killed_mid_wait_leaves_no_lock_behind(tmp_path):
    home = tmp_path / "home"
    first = Holder(home, "exclusive", "the erasure of 2026-07-01")
    waiting = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from jobs import lakehouse_lock
        with lakehouse_lock.shared({str(home)!r}, "step ingest for 2026-07-01"):
            pass
    """)], cwd=REPO)
    time.sleep(0.5)
    assert waiting.poll() is None          # it waits for the erasure
    waiting.send_signal(signal.SIGKILL)
    waiting.wait(timeout=30)
    first.let_go()
    first.released_at()
    with lakehouse_lock.exclusive(home, "the key rotation"):
        assert lakehouse_lock.held(home) == lakehouse_lock.EXCLUSIVE
