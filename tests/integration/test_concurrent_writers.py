"""Parallel tasks lose nothing: the six ingest tasks of two dates, each a process of its own as under the
scheduler's LocalExecutor, all started at once, write the same lakehouse as the same tasks run one after the other.

They meet on audit.dq_results (every ingest task writes its tables' results there) and, for the two dates, on every
bronze and quarantine table; on the embedded engine a commit that another writer beat fails ("Failed to commit
transaction"), and the writes are retried whole (jobs/concurrency.py). Rows in = rows written + rows quarantined,
per date, as the tasks report them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from jobs.tables import SOURCES
from tests.paths import ROOT

DAYS = ("2026-06-30", "2026-07-01")
CLI = [sys.executable, "-m", "jobs.cli"]
# Columns whose value is the moment or the run of a write, not data.
RUN_COLUMNS = {"_loaded_at", "_run_id", "validated_at", "checked_at", "details"}


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "MARKETOFONE_ENGINE",
                                                              "SPARK_CONNECT_MODE_ENABLED")}
    env.update(MARKETOFONE_HOME=str(home), MARKETOFONE_CUSTOMERS="150", MARKETOFONE_HISTORY_DAYS="60",
               MARKETOFONE_TOKENIZATION_KEY="concurrent-writers-key-0123456789abcdefghijkl")
    return env


def _cli(home: Path, *args: str) -> str:
    done = subprocess.run([*CLI, *args], cwd=ROOT, env=_env(home), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _ingest_reports(stdout: str) -> dict:
    """The step's printed details (rows_in) and its table counts."""
    details = json.loads(stdout[stdout.index("{"):])
    counts = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith(("bronze.", "quarantine.")) and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return {"rows_in": details["rows_in"], "written": sum(counts.values())}


def _tables(home: Path) -> dict[str, list[tuple]]:
    found = {}
    for layer in ("bronze", "quarantine", "audit"):
        folder = home / "lakehouse" / layer
        for path in sorted(folder.iterdir()) if folder.is_dir() else ():
            rows = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
            found[f"{layer}.{path.name}"] = sorted(
                tuple(sorted((k, repr(v)) for k, v in row.items() if k not in RUN_COLUMNS)) for row in rows)
    return found


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("exports")
    _cli(home, "generate", "--date", DAYS[0])
    _cli(home, "generate", "--daily", "--date", DAYS[1])
    return home


def _home_with_exports(bank: Path, home: Path) -> Path:
    import shutil

    shutil.copytree(bank / "landing", home / "landing")
    return home


def test_parallel_ingests_of_two_dates_write_what_the_same_tasks_write_one_after_the_other(bank, tmp_path,
                                                                                            record_property):
    one_by_one = _home_with_exports(bank, tmp_path / "one_by_one")
    for day in DAYS:   # every source, one after the other
        _cli(one_by_one, "run", "ingest", "--date", day)

    at_once = _home_with_exports(bank, tmp_path / "at_once")
    tasks = {(source, day): subprocess.Popen([*CLI, "-v", "run", "ingest", "--silo", source, "--date", day], cwd=ROOT,
                                             env=_env(at_once), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             text=True)
             for day in DAYS for source in SOURCES}
    outputs, retries = {}, {}
    for key, task in tasks.items():
        stdout, stderr = task.communicate(timeout=900)
        assert task.returncode == 0, f"ingest {key} failed:\n{stdout[-2000:]}\n{stderr[-3000:]}"
        outputs[key] = stdout
        retries[key] = stderr.count("another writer committed first")

    # How many writes another task's commit interrupted (and were done again): shown, not asserted, as the
    # tasks' timing decides it. `pytest -s` prints it.
    record_property("commit_retries", sum(retries.values()))
    retried = ", ".join(f"{source}/{day}: {n}" for (source, day), n in retries.items() if n)
    print(f"\ncommit retries: {sum(retries.values())} ({retried})")
    for key, stdout in outputs.items():  # rows in = rows written + rows quarantined, task by task
        report = _ingest_reports(stdout)
        assert report["rows_in"] == report["written"], key

    expected, found = _tables(one_by_one), _tables(at_once)
    assert sorted(found) == sorted(expected)
    for name in expected:
        assert found[name] == expected[name], f"{name} differs from the one-by-one run"
    # audit.dq_results has the results of every bronze table of both dates (the six tasks wrote it at once).
    dq = DeltaTable(str(at_once / "lakehouse" / "audit" / "dq_results")).to_pyarrow_table()
    checked = set(zip(map(str, dq.column("run_date").to_pylist()), dq.column("table").to_pylist(), strict=True))
    bronze = {f"bronze.{source}_{entity}" for source, entities in SOURCES.items() for entity in entities}
    for day in DAYS:
        assert {name for d, name in checked if d == day} == bronze, day
