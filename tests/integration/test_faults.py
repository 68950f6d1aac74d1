"""Faults in the middle of a daily run leave the lakehouse as a clean run leaves it, once the run is done again.

One small bank (200 customers), its first date loaded step by step in this process (the clean run), the state
before each step copied aside. On each copy the step runs as its own process (`python -m jobs.cli run <step>`),
killed with SIGKILL right after its first write of a chosen table (the table's new Delta commit is on disk, the
step's other writes are not), and then the step is run again: every table of the copy must then hold the rows
the clean run's tables hold, no row missing and none twice (run-time columns such as `_loaded_at` aside).

- ingest of the second date (the tables exist), killed between the two writes of one export (bronze and quarantine);
- silver, killed after its crosswalk; customer_360 (gold), killed after the table, before its quarantine;
- the disk full in the middle of an ingest: the lakehouse on a tmpfs too small for the day's writes (mounted by
  the test; skipped where mounting is not allowed); the run fails naming the cause, every table is left readable
  and either as it was or as the clean run wrote it; with room again, the run is done again;
- two ingests of the same date at once (as a backfill beside the scheduled run).

(Landing files truncated, with a wrong or drifted header, not UTF-8, or re-delivered: tests/unit/ingest.)
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from jobs.generate import generate_bank
from jobs.pipeline import run_step
from jobs.settings import Settings
from tests.paths import ROOT

DAY, NEXT = dt.date(2026, 6, 30), dt.date(2026, 7, 1)
CUSTOMERS = 200
# One key for every copy of the bank: a home without one makes its own at random (jobs/keys.py), and the copies
# taken before the silver step would each tokenize with another.
KEY = "faults-tokenization-key-0123456789abcdefghijklmn"
# Columns whose value is the moment or the process of a write, not data.
RUN_COLUMNS = {"_loaded_at", "_run_id", "validated_at", "checked_at", "details", "_published_at"}

# The killed process: the CLI, with Lakehouse.write wrapped to SIGKILL the process after the first write of a table
# whose name ends with FAULT_KILL_AFTER (its commit is on disk; the step's later writes are not).
KILLED = """
import os, signal, sys
from jobs import tables
target, original = os.environ["FAULT_KILL_AFTER"], tables.Lakehouse.write
def write(self, full_name, *args, **kwargs):
    result = original(self, full_name, *args, **kwargs)
    if full_name.endswith(target):
        print(f"killed after writing {full_name}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    return result
tables.Lakehouse.write = write
from jobs.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _settings(home: Path, storage: str = "") -> Settings:
    return Settings(home=home, customers=CUSTOMERS, storage=storage, tokenization_key=KEY)


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "MARKETOFONE_ENGINE",
                                                              "SPARK_CONNECT_MODE_ENABLED", "MARKETOFONE_STORAGE_URI")}
    env.update(MARKETOFONE_HOME=str(home), MARKETOFONE_CUSTOMERS=str(CUSTOMERS), MARKETOFONE_PROGRESS="0",
               MARKETOFONE_TOKENIZATION_KEY=KEY, **extra)
    return env


def _copy(home: Path, to: Path) -> Path:
    shutil.copytree(home, to, ignore=shutil.ignore_patterns("scratch"))
    return to


def _tables(lakehouse: Path) -> dict[str, list[tuple]]:
    """Every Delta table under the lakehouse folder: its rows, sorted, without the run-time columns."""
    found = {}
    for path in sorted(lakehouse.glob("*/*")):
        if (path / "_delta_log").is_dir():
            rows = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
            found[f"{path.parent.name}.{path.name}"] = sorted(
                tuple(sorted((k, repr(v)) for k, v in row.items() if k not in RUN_COLUMNS)) for row in rows)
    return found


def _differences(found: dict, expected: dict) -> list[str]:
    """Per table that differs: its rows and the clean run's, and a row of each that the other lacks."""
    out = []
    for n in sorted(set(found) | set(expected)):
        mine, theirs = found.get(n), expected.get(n)
        if mine != theirs:
            only = [dict(r) for r in mine or () if r not in (theirs or ())][:1]
            lacks = [dict(r) for r in theirs or () if r not in (mine or ())][:1]
            if only and lacks:   # the columns in which the first two differ
                only, lacks = ([{k: v for k, v in row.items() if only[0].get(k) != lacks[0].get(k)}]
                               for row in (only[0], lacks[0]))
            out.append(f"{n}: {len(mine or ())} rows, the clean run {len(theirs or ())}"
                       + ("" if mine is not None and theirs is not None else " (table missing on one side)")
                       + f"; only here: {only}; only in the clean run: {lacks}")
    return out


@pytest.fixture(scope="module")
def clean(spark, tmp_path_factory):
    """The clean run, step by step: {name: (home copied before the step, tables after it)}; the copies are taken
    before each step runs, the tables read once it has."""
    root = tmp_path_factory.mktemp("faults")
    home = root / "clean"
    generate_bank(_settings(home), DAY)
    generate_bank(_settings(home), NEXT, daily=True)
    states = {}
    for step, day in (("ingest", DAY), ("silver", DAY), ("customer_360", DAY), ("ingest", NEXT)):
        name = f"{step}_{day}"
        before = _copy(home, root / f"before_{name}")
        run_step(step, day, _settings(home))
        states[name] = (before, _tables(home / "lakehouse"))
    return states


def _kill_and_rerun(before: Path, tmp_path: Path, step: str, day: dt.date, table: str) -> Path:
    home = _copy(before, tmp_path / "home")
    killed = subprocess.run([sys.executable, "-c", KILLED, "run", step, "--date", day.isoformat()], cwd=ROOT,
                            env=_env(home, FAULT_KILL_AFTER=table), capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    [written] = [line.split()[-1] for line in killed.stderr.splitlines() if line.startswith("killed after writing ")]
    assert written.endswith(table)
    return home


@pytest.mark.parametrize("step, day, table", [
    ("ingest", NEXT, "cards_transactions"),   # the first of bronze and quarantine.cards_transactions
    ("silver", DAY, "silver.customer_crosswalk"),
    ("customer_360", DAY, "gold.customer_360"),
], ids=["ingest", "silver", "customer_360"])
def test_a_step_killed_mid_write_then_run_again_leaves_what_a_clean_run_leaves(clean, tmp_path, step, day, table):
    before, expected = clean[f"{step}_{day}"]
    home = _kill_and_rerun(before, tmp_path, step, day, table)
    assert _differences(_tables(home / "lakehouse"), expected), "the kill came after the step had written everything"
    run_step(step, day, _settings(home))
    differences = _differences(_tables(home / "lakehouse"), expected)
    assert not differences, "\n".join(differences)


def test_two_ingests_of_the_same_date_at_once_write_what_one_writes(clean, tmp_path):
    before, expected = clean[f"ingest_{NEXT}"]
    home = _copy(before, tmp_path / "home")
    runs = [subprocess.Popen([sys.executable, "-m", "jobs.cli", "run", "ingest", "--date", NEXT.isoformat()], cwd=ROOT,
                             env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    for run in runs:
        _, stderr = run.communicate(timeout=600)
        assert run.returncode == 0, stderr[-3000:]
    assert _differences(_tables(home / "lakehouse"), expected) == []


def _mount_tmpfs(where: Path, size: int) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): needs root and "
                    "CAP_SYS_ADMIN")


def _used(where: Path) -> int:
    st = os.statvfs(where)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def _pages(folder: Path) -> dict[str, int]:
    """Each file's size in 4 KiB pages, as a tmpfs counts it."""
    return {str(p.relative_to(folder)): math.ceil(p.stat().st_size / 4096) * 4096
            for p in folder.rglob("*") if p.is_file()}


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="mounts a tmpfs: Linux, root")
def test_the_disk_filling_up_mid_ingest_fails_the_run_cleanly_and_the_next_run_recovers(clean, tmp_path):
    """A real full disk: the lakehouse (MARKETOFONE_STORAGE_URI) on a tmpfs with room for about half of what the
    ingest writes, so it fails part way through its writes with ENOSPC from the engine's own file writes."""
    before, expected = clean[f"ingest_{NEXT}"]
    home = _copy(before, tmp_path / "home")
    mount = tmp_path / "disk"
    _mount_tmpfs(mount, 256 << 20)
    try:
        storage = mount / "lakehouse"
        shutil.move(str(home / "lakehouse"), storage)
        was = _tables(storage)
        grows = sum(_pages(before.parent / "clean" / "lakehouse").values()) - sum(_pages(before / "lakehouse").values())
        assert grows > 0
        room = _used(mount) + grows // 2
        subprocess.run(["mount", "-o", f"remount,size={room}", str(mount)], check=True)
        full = subprocess.run([sys.executable, "-m", "jobs.cli", "run", "ingest", "--date", NEXT.isoformat()],
                              cwd=ROOT, env=_env(home, MARKETOFONE_STORAGE_URI=str(storage)), capture_output=True,
                              text=True, timeout=600)
        assert full.returncode != 0
        assert "No space left on device" in full.stderr, full.stderr[-3000:]
        # Failed cleanly: every table readable, and each either as it was before the run or as the clean run left it.
        after_failure = _tables(storage)
        assert after_failure != expected
        for name, rows in after_failure.items():
            assert rows in (was.get(name), expected.get(name)), f"{name}: neither as it was nor as a clean run left it"
        subprocess.run(["mount", "-o", "remount,size=256m", str(mount)], check=True)
        run_step("ingest", NEXT, _settings(home, str(storage)))
        assert _differences(_tables(storage), expected) == []
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
