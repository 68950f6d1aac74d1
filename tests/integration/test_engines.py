"""The same DAG runs on the three engines give the same lakehouse, table for table, row for row.

One small bank is generated once; its exports are copied into three homes, and each home runs the same DAGs
through Airflow with `marketofone run`, as a data engineer would: the daily DAG on the full export's date,
the weekly models DAG (trains and promotes), then the daily DAG on the next day's increment (scored with the
champions, decided, published, measured). The engines:

- sail:    the embedded engine (the default), in the DAG run's process;
- jvm:     classic JVM Spark 4 + Delta (`MARKETOFONE_ENGINE=jvm`), the Delta jars from Maven Central once,
           then from the Ivy cache;
- connect: a JVM Spark Connect server with Delta, started here (`jobs/connect_server.py`), reached with
           `SPARK_REMOTE` like any cluster.

Every registered table is then read back and compared. What legitimately differs between two runs is left
out: the wall-clock columns (load and publication times), MLflow's run ids, and the home's own paths in
export records. Floating-point values are compared with a tolerance of one part in a million, or 1.5e-6 absolute
for figures the product rounds to 6 decimals (a sum of doubles depends on the order an engine adds them in, and a
rounding can then fall either side); money is decimal and compared exactly, every other value too.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from jobs.settings import Settings
from jobs.tables import REGISTRY, Lakehouse
from tests.paths import ROOT
from tests.small_jvm import SMALL_DATA_CONF, small_data_env

pytestmark = [pytest.mark.jvm, pytest.mark.integration, pytest.mark.engines]

DAY, NEXT = "2026-06-30", "2026-07-01"
# Three training as-of dates (each needs 90 days of history and 75 after it) and enough customers for at least one
# model with five positives to train, so the next day is scored by a champion on every engine.
CUSTOMERS, HISTORY_DAYS = 400, 260
PARITY_KEY = "parity-run-key-0123456789abcdefghijklmnop"
CLI = [sys.executable, "-m", "jobs.cli"]
ENGINES = ("sail", "jvm", "connect")

# Columns whose value is the moment or the identity of a run, not data.
RUN_COLUMNS = {"_loaded_at", "_run_id", "run_id", "mlflow_run_id", "model_run_id", "published_at",
               "validated_at", "created_at", "superseded_at", "_validated_at", "checked_at", "trained_at",
               "export_path", "export_files", "source_path", "export_parquet", "export_csv"}


def _env(home: Path, engine: str, server_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "MARKETOFONE_ENGINE")}
    # One tokenization key for the three homes (each home would otherwise make its own), so tokens compare.
    env.update(MARKETOFONE_HOME=str(home), MARKETOFONE_CUSTOMERS=str(CUSTOMERS),
               MARKETOFONE_HISTORY_DAYS=str(HISTORY_DAYS), MARKETOFONE_TOKENIZATION_KEY=PARITY_KEY)
    if engine == "jvm":
        env.update(MARKETOFONE_ENGINE="jvm", **small_data_env())
    elif engine == "connect":
        env.update(MARKETOFONE_ENGINE="remote", SPARK_REMOTE=server_url)
    return env


def _cli(env: dict[str, str], *args: str, timeout: int = 3000) -> str:
    done = subprocess.run([*CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """The bank's exports (full export of DAY and the increment of NEXT), generated once."""
    home = tmp_path_factory.mktemp("bank")
    env = _env(home, "sail", "")
    _cli(env, "generate", "--date", DAY)
    _cli(env, "generate", "--daily", "--date", NEXT)
    return home


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """The server, starting in the background (a Future): its JVM starts while the bank is generated, and only the
    connect arm waits for it; the parity run's longest arm, classic JVM Spark, starts without it."""
    if shutil.which("java") is None:
        pytest.skip("no Java runtime: the JVM engines cannot start")
    from jobs.connect_server import ConnectServer

    pool = ThreadPoolExecutor(max_workers=1)
    starting = pool.submit(ConnectServer.start, log_path=tmp_path_factory.mktemp("connect") / "spark-connect.log",
                           conf=SMALL_DATA_CONF)
    pool.shutdown(wait=False)
    yield starting
    if starting.exception() is None:   # one that failed to start was stopped by start()
        starting.result().stop()


@pytest.fixture(scope="module")
def homes(connect_server, exports, tmp_path_factory) -> dict[str, tuple[Path, dict[str, str]]]:
    """Each engine's home after the same three DAG runs, with the DAGs' printed summaries. The three engines
    run side by side (each DAG run is a process of its own): the JVM engines spend much of their time waiting on
    the JVM's per-query overhead, not on the cores."""
    def run(engine: str) -> tuple[Path, dict[str, str]]:
        home = tmp_path_factory.mktemp(f"engine_{engine}")
        for folder in ("landing", "ground_truth"):
            if (exports / folder).exists():
                shutil.copytree(exports / folder, home / folder)
        env = _env(home, engine, connect_server.result().url if engine == "connect" else "")
        printed = {
            "daily": _cli(env, "run", "personalization_daily", "--date", DAY),
            "weekly": _cli(env, "run", "models_weekly", "--date", DAY),
            "next": _cli(env, "run", "personalization_daily", "--date", NEXT),
        }
        return home, printed

    with ThreadPoolExecutor(max_workers=len(ENGINES)) as pool:
        runs = dict(zip(ENGINES, pool.map(run, ENGINES), strict=True))
    return runs


def _value(v):
    """A value in plain Python, to compare (floats stay floats: `_same` compares them with a tolerance)."""
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _value(x) for k, x in sorted(v.items())}
    if hasattr(v, "asDict"):
        return _value(v.asDict(recursive=True))
    return v


def _sort_key(row: list) -> tuple:
    """Rows in order of their exact values first, then of their floats to 4 digits, so that two engines' rows
    pair up even where a float differs in its last digits."""
    def coarse(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            return [coarse(x) for x in v]
        if isinstance(v, dict):
            return {k: coarse(x) for k, x in v.items()}
        return v
    exact = [v for v in row if not isinstance(v, float)]
    return repr(exact), repr(coarse(row))


def _same(x, y) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=1e-6, abs_tol=1.5e-6)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_same(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    return x == y


def _content(lh: Lakehouse, name: str) -> list[list]:
    df = lh.read(name)
    df = df.select([c for c in df.columns if c not in RUN_COLUMNS])
    return sorted(([_value(v) for v in row] for row in df.collect()), key=_sort_key)


@pytest.fixture(scope="module")
def contents(homes, spark) -> dict[str, dict[str, list[str]]]:
    """Every registered table of each home, read back with the embedded engine."""
    out = {}
    for engine, (home, _) in homes.items():
        lh = Lakehouse(spark, Settings(home=home, customers=CUSTOMERS))
        out[engine] = {name: _content(lh, name) for name in sorted(REGISTRY) if lh.exists(name)}
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_the_dags_succeed_on_every_engine(homes, engine):
    _, printed = homes[engine]
    assert f"DAG personalization_daily for {DAY}: success" in printed["daily"]
    assert f"DAG models_weekly for {DAY}: success" in printed["weekly"]
    assert f"DAG personalization_daily for {NEXT}: success" in printed["next"]


def test_every_engine_wrote_the_same_tables(contents):
    assert set(contents["jvm"]) == set(contents["sail"]) == set(contents["connect"])
    # The runs reached the end of the flow: scores, decisions, channel tables and KPIs exist.
    for name in ("gold.customer_360", "gold.propensity_scores", "audit.decision_log", "gold.offers_mobile",
                 "gold.kpi_daily"):
        assert contents["sail"].get(name), f"{name} is empty"


@pytest.mark.parametrize("engine", ("jvm", "connect"))
def test_every_table_is_equal_row_for_row(contents, engine):
    differ = {}
    for name, rows in contents["sail"].items():
        other = contents[engine][name]
        if len(rows) != len(other):
            differ[name] = f"{len(rows)} rows on sail, {len(other)} on {engine}"
            continue
        pairs = [(a, b) for a, b in zip(rows, other, strict=True) if not _same(a, b)]
        if pairs:
            differ[name] = (f"{len(pairs)} of {len(rows)} rows differ, e.g. sail {pairs[0][0]!r:.1500} / "
                            f"{engine} {pairs[0][1]!r:.1500}")
    assert not differ, "\n".join(f"{name}: {why}" for name, why in differ.items())


def test_the_next_days_offers_were_scored_by_the_champions(contents):
    day = dt.date.fromisoformat(NEXT)
    scored = [row for row in contents["sail"]["gold.propensity_scores"] if day in row]
    assert scored, "no propensity scores for the increment's date"
