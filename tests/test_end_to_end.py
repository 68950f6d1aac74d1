"""Real runs of the DAGs through Airflow on a small generated bank, then their outputs checked.

The DAGs run in a subprocess through the `marketofone` command, exactly as a data engineer runs them
(Airflow reads its configuration at import, so it gets a process of its own). First the daily DAG on a
full export's date (no model yet: nothing scored), then models_weekly (trains and promotes), then two
daily increments run out of order (the later date first, then the backfill) and scored with the
champions; a second run of a date must leave every table with the same content.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from jobs.gold.kpis import RATIO_KPIS
from jobs.models.reasons import NO_STANDOUT
from jobs.settings import Settings
from jobs.tables import REGISTRY, Lakehouse

pytestmark = pytest.mark.e2e

DAY = "2026-06-30"
NEXT = ("2026-07-01", "2026-07-02")  # daily increments after the full export
CUSTOMERS = 900
HISTORY_DAYS = 240  # enough for a few month-end as-of dates to train on, small enough to stay quick
ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "jobs.cli"]


def _cli(home: Path, *args: str, timeout: int = 900) -> str:
    env = {**os.environ, "MARKETOFONE_HOME": str(home), "MARKETOFONE_CUSTOMERS": str(CUSTOMERS),
           "MARKETOFONE_HISTORY_DAYS": str(HISTORY_DAYS)}
    done = subprocess.run([*CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done.stdout


def _snapshot(lh: Lakehouse) -> dict[str, list]:
    """Every table's content, minus load timestamps, as sorted rows."""
    out = {}
    for name in sorted(REGISTRY):
        if lh.exists(name):
            df = lh.read(name)
            df = df.drop(*[c for c in ("_loaded_at",) if c in df.columns])
            out[name] = sorted(map(repr, df.collect()))
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def first_run(home):
    generated = _cli(home, "generate", "--date", DAY)
    dag = _cli(home, "run", "personalization_daily", "--date", DAY)
    weekly = _cli(home, "run", "models_weekly", "--date", DAY)
    return generated, dag, weekly


@pytest.fixture(scope="module")
def lh(first_run, home, spark):
    return Lakehouse(spark, Settings(home=home, customers=CUSTOMERS))


def test_the_dag_runs_succeed_with_every_task(first_run):
    _, dag, weekly = first_run
    assert "DAG personalization_daily for 2026-06-30: success" in dag
    for task in ("ingest_deposits", "ingest_cards", "ingest_lending", "ingest_digital", "ingest_crm", "silver",
                 "customer_360", "score", "offers", "kpis"):
        assert re.search(rf"^{task}\s+success\s*$", dag, re.M), task
    assert "DAG models_weekly for 2026-06-30: success" in weekly
    assert re.search(r"^training_set\s+success\s*$", weekly, re.M) and re.search(r"^train\s+success", weekly, re.M)


def test_every_landed_row_is_in_bronze_or_quarantine(lh, home):
    for name in [n for n in REGISTRY if n.startswith("bronze.")]:
        table = name.split(".")[1]
        silo, entity = table.split("_", 1)
        landed = sum(1 for _ in open(home / "landing" / silo / entity / f"{DAY}.csv")) - 1
        day = f"_logical_date = DATE'{DAY}'"
        bronze, quarantined = lh.read(name).where(day).count(), lh.read(f"quarantine.{table}").where(day).count()
        assert landed == bronze + quarantined, name
        assert bronze > 0


def test_one_360_row_per_golden_customer(lh):
    c360 = lh.read("gold.customer_360").where(f"as_of_date = DATE'{DAY}'")
    customers = lh.read("silver.customer").where(f"first_seen is null or first_seen <= DATE'{DAY}'")
    assert c360.count() == c360.select("customer_id").distinct().count() == customers.count()
    # Identity resolution merged the silos: fewer golden customers than silo records.
    assert lh.read("silver.customer").count() < lh.read("silver.customer_crosswalk").count()


def test_every_offer_is_for_a_known_customer_and_carries_a_reason(daily_runs, lh):
    offers = lh.read("gold.next_best_offer")
    assert offers.where(f"as_of_date = DATE'{DAY}'").count() == 0  # before any model: no offer
    assert offers.count() > 0
    assert offers.count() == offers.select("as_of_date", "customer_id").distinct().count()
    unknown = offers.join(lh.read("gold.customer_360"), ["as_of_date", "customer_id"], "left_anti").count()
    assert unknown == 0
    assert offers.where("reason is null or reason = '' or score < 0 or score > 1").count() == 0


def test_kpis_are_ratios_in_the_unit_interval(lh):
    kpis = lh.read("gold.kpi_daily").where(f"as_of_date = DATE'{DAY}'").collect()
    assert len(kpis) == 1
    for name in RATIO_KPIS:
        assert 0.0 <= getattr(kpis[0], name) <= 1.0, name
    assert kpis[0].customers == lh.read("gold.customer_360").where(f"as_of_date = DATE'{DAY}'").count()


def test_models_are_registered_with_a_champion(lh):
    from jobs.demo import model_summary

    models = model_summary(lh.settings)
    # At this size a month brings ~1-2% openings per product: products with too few positives are
    # skipped (and say so), the others are registered with a champion and their validation AUC.
    assert {m["model"] for m in models} & {f"propensity_{p}" for p in ("credit_card", "savings", "personal_loan")}
    assert all(0.0 <= m["auc"] <= 1.0 and m["positives"] >= 5 and m["tested_on"] for m in models)


def test_the_backfill_is_scored_with_the_champions_and_reasons(daily_runs, lh):
    scores = lh.read("gold.propensity_scores").where(f"as_of_date = DATE'{NEXT[0]}'")
    assert scores.count() > 0 and scores.where("kind = 'product'").count() > 0
    assert scores.where("probability < 0 or probability > 1 or reason is null or reason = ''").count() == 0
    # A reason names the features behind the score, unless none pushed it up (then it says so).
    unexplained = scores.where("reason_codes = ''").select("reason").distinct().collect()
    assert {r.reason for r in unexplained} <= {NO_STANDOUT}
    assert scores.where("reason_codes != ''").count() > 0
    assert lh.read("gold.propensity_scores").where(f"as_of_date = DATE'{DAY}'").count() == 0


def test_no_raw_pii_past_bronze(lh, home):
    emails = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
    for name in [n for n in REGISTRY if n.split(".")[0] in ("silver", "gold") and lh.exists(n)]:
        text = "\n".join(map(repr, lh.read(name).collect()))
        assert not emails.search(text), f"an email address in {name}"
        assert not re.search(r"\b\d{3}-\d{2}-\d{4}\b", text), f"a national id in {name}"
        assert not re.search(r"\(\d{3}\) \d{3}-\d{4}|\+1 \d{3}-\d{3}-\d{4}", text), f"a phone number in {name}"
    # The raw values the silos sent must not appear either, in any format: check the ten-digit phones
    # and nine-digit national ids of the ground truth against every silver and gold value.
    import pyarrow.parquet as pq

    silo_raw = [lh.read(f"bronze.{t}") for t in ("deposits_customers", "cards_cardholders")]
    phones = {r.phone for r in silo_raw[1].select("phone").collect() if r.phone}
    ssns = {r.ssn for r in silo_raw[1].select("ssn").collect() if r.ssn}
    assert phones and ssns
    for name in [n for n in REGISTRY if n.split(".")[0] in ("silver", "gold") and lh.exists(n)]:
        values = {str(v) for row in lh.read(name).collect() for v in row}
        assert not values & phones, f"a raw phone number in {name}"
        assert not values & ssns, f"a raw national id in {name}"
    assert pq.read_table(home / "ground_truth" / "silo_ids.parquet").num_rows > 0


def test_tables_are_delta_readable_outside_spark_with_history(home):
    table = DeltaTable(str(home / "lakehouse" / "gold" / "customer_360"))
    assert table.to_pyarrow_table().num_rows > 0
    assert table.history()[0]["operation"]


def test_tables_and_sql_commands(first_run, home):
    listing = _cli(home, "tables")
    assert re.search(r"gold\.next_best_offer\s+\d+\s+\d+", listing)
    out = _cli(home, "sql", "select count(*) as n from gold.customer_360")
    assert re.search(r"^\d+\s*$", out.strip().splitlines()[-1])


def test_the_analyst_notebook_runs(daily_runs, home, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("MARKETOFONE_HOME", str(home))
    nb = nbformat.read(ROOT / "notebooks" / "customer_360.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the notebook shows no chart"


@pytest.fixture(scope="module")
def daily_runs(first_run, home):
    generated = _cli(home, "generate", "--from", NEXT[0], "--to", NEXT[1])
    # Out of order: the later date first, then the day before it (a backfill).
    return generated, [_cli(home, "run", "personalization_daily", "--date", day) for day in reversed(NEXT)]


def test_daily_increments_run_out_of_order(daily_runs, lh):
    generated, runs = daily_runs
    assert "generated 2 daily increment(s)" in generated
    assert all("success" in out for out in runs)
    dates = {r.as_of_date.isoformat() for r in lh.read("gold.customer_360").select("as_of_date").distinct().collect()}
    assert dates == {DAY, *NEXT}
    # Each date's export was loaded once, and every transaction of every date is in silver or quarantined.
    loaded = {r._logical_date.isoformat() for r in lh.read("bronze.deposits_transactions")
              .select("_logical_date").distinct().collect()}
    assert loaded == {DAY, *NEXT}
    in_bronze = sum(lh.read(f"bronze.{t}").count()
                    for t in ("deposits_transactions", "cards_transactions", "lending_repayments"))
    assert lh.read("silver.transaction").count() + lh.read("quarantine.silver_transaction").count() == in_bronze
    assert lh.read("silver.digital_session").count() + lh.read("quarantine.silver_digital_session").count() \
        == lh.read("bronze.digital_sessions").count()


def test_a_backfilled_date_reads_its_own_balances(daily_runs, lh):
    """The backfill ran after the later date: its balances must still be the ones exported that day."""
    from pyspark.sql import functions as F

    day = NEXT[0]
    held = (lh.read("silver.account").select("silo", "account_id", "customer_id", "open_date")
            .where((F.col("silo") == "deposits") & (F.col("open_date") <= F.lit(day))))
    snapshot = (lh.read("silver.account_balance").where(F.col("as_of_date") == F.lit(day))
                .select("silo", "account_id", F.col("balance").alias("exported_balance")))
    # Customers with an account whose row that day a defect broke (quarantined) are read from another day.
    incomplete = held.join(snapshot, ["silo", "account_id"], "left_anti").select("customer_id").distinct()
    exported = (held.join(snapshot, ["silo", "account_id"]).join(incomplete, "customer_id", "left_anti")
                .groupBy("customer_id").agg(F.round(F.sum("exported_balance"), 2).alias("exported")))
    c360 = lh.read("gold.customer_360").where(F.col("as_of_date") == F.lit(day)).select("customer_id", "total_balance")
    both = c360.join(exported, "customer_id").collect()
    assert len(both) > 0.8 * CUSTOMERS
    wrong = [(r.customer_id, r.total_balance, r.exported) for r in both if abs(r.total_balance - r.exported) >= 0.01]
    assert wrong == []


def test_a_second_run_of_the_same_date_changes_nothing(daily_runs, lh, home):
    before = _snapshot(lh)
    _cli(home, "run", "personalization_daily", "--date", NEXT[0])
    after = _snapshot(lh)
    assert before.keys() == after.keys()
    for name in before:
        assert before[name] == after[name], f"{name} changed on a re-run"
