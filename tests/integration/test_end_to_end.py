"""Real runs of the DAGs through Airflow on a small generated bank, then their outputs checked.

The DAGs run in a subprocess through the `marketofone` command, exactly as a data engineer runs them
(Airflow reads its configuration at import, so it gets a process of its own). First the daily DAG on a
full export's date (no model yet: nothing scored), then models_weekly (trains and promotes), then three
daily increments in date order, scored with the champions; then the increments are replayed backwards, each
date after the later ones, and must leave every table with the same content.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from jobs.measure.kpis import KPIS, RATIO_KPIS
from jobs.models.reasons import NO_STANDOUT
from jobs.settings import Settings
from jobs.tables import REGISTRY, SOURCES, Lakehouse, quarantine_of
from tests.paths import ROOT

pytestmark = pytest.mark.e2e

DAY = "2026-06-30"
NEXT = ("2026-07-01", "2026-07-02")  # daily increments after the full export
LATER = "2026-07-03"                 # a day whose export carries the responses to the offers of NEXT
CUSTOMERS = 900
HISTORY_DAYS = 240  # enough for a few month-end as-of dates to train on, small enough to stay quick
CLI = [sys.executable, "-m", "jobs.cli"]


def _cli(home: Path, *args: str, timeout: int = 900, **env_vars: str) -> str:
    env = {**os.environ, "MARKETOFONE_HOME": str(home), "MARKETOFONE_CUSTOMERS": str(CUSTOMERS),
           "MARKETOFONE_HISTORY_DAYS": str(HISTORY_DAYS), **env_vars}
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


def _not_published(lh: Lakehouse, name: str) -> int:
    """Rows of a silver table's inputs that are not in it: waiting for a parent, or quarantined for good (a
    released row is in the table and keeps its record in the quarantine)."""
    return lh.read(quarantine_of(name)).where("_status != 'released'").count()


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
    for task in ("ingest_deposits", "ingest_cards", "ingest_lending", "ingest_digital", "ingest_crm",
                 "ingest_channels", "silver",
                 "customer_360", "score", "offers", "kpis"):
        assert re.search(rf"^{task}\s+success\s*$", dag, re.M), task
    assert "DAG models_weekly for 2026-06-30: success" in weekly
    assert re.search(r"^training_set\s+success\s*$", weekly, re.M) and re.search(r"^train\s+success", weekly, re.M)


def test_the_airflow_ui_finds_a_log_for_every_task_of_the_runs(first_run, home):
    runs = home / "airflow" / "logs" / "dag_id=personalization_daily"
    logs = {p.parent.name.removeprefix("task_id="): p for p in runs.glob("run_id=*/task_id=*/attempt=*.log")}
    assert set(logs) >= {"ingest_deposits", "silver", "customer_360", "score", "offers", "kpis"}
    silver = [json.loads(line) for line in logs["silver"].read_text().splitlines()]
    assert any(line["event"].startswith("step silver for") for line in silver)


def test_every_landed_row_is_in_bronze_or_quarantine(lh, home):
    for name in [n for n in REGISTRY if n.startswith("bronze.")]:
        table = name.split(".")[1]
        silo, entity = table.split("_", 1)
        landed = sum(1 for _ in open(home / "landing" / silo / entity / f"{DAY}.csv")) - 1
        day = f"_logical_date = DATE'{DAY}'"
        bronze, quarantined = lh.read(name).where(day).count(), lh.read(f"quarantine.{table}").where(day).count()
        assert landed == bronze + quarantined, name
        assert bronze > 0 or name == "bronze.channels_responses"   # no offer was published before DAY


def test_one_360_row_per_golden_customer(lh):
    c360 = lh.read("gold.customer_360").where(f"as_of_date = DATE'{DAY}'")
    customers = lh.read("silver.customer").where(f"_known_on <= DATE'{DAY}' and "
                                                 f"(first_seen is null or first_seen <= DATE'{DAY}')")
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
    # In date order, as the schedule runs them; the replay at the end runs them backwards.
    return generated, _cli(home, "run", "personalization_daily", "--from", NEXT[0], "--to", NEXT[1])


def test_daily_increments_load_each_date_once(daily_runs, lh):
    generated, runs = daily_runs
    assert "generated 2 daily increment(s)" in generated
    assert all(f"DAG personalization_daily for {day}: success" in runs for day in NEXT)
    dates = {r.as_of_date.isoformat() for r in lh.read("gold.customer_360").select("as_of_date").distinct().collect()}
    assert dates == {DAY, *NEXT}
    # Each date's export was loaded once, and every transaction of every date is in silver or quarantined.
    loaded = {r._logical_date.isoformat() for r in lh.read("bronze.deposits_transactions")
              .select("_logical_date").distinct().collect()}
    assert loaded == {DAY, *NEXT}
    in_bronze = sum(lh.read(f"bronze.{t}").count()
                    for t in ("deposits_transactions", "cards_transactions", "lending_repayments"))
    assert lh.read("silver.transaction").count() + _not_published(lh, "silver.transaction") == in_bronze
    assert lh.read("silver.digital_session").count() + _not_published(lh, "silver.digital_session") \
        == lh.read("bronze.digital_sessions").count()


def _assert_same(before: dict, after: dict, what: str) -> None:
    assert before.keys() == after.keys()
    changed = [name for name in before if before[name] != after[name]]
    assert changed == [], f"{what} changed the content of {', '.join(changed)}"


# -- decisions, channels and the closed loop ------------------------------------------------------------

CHANNEL_NAMES = ("mobile", "email", "atm", "branch")


def test_every_candidate_is_logged_and_what_is_offered_is_what_is_published(daily_runs, lh):
    import datetime as dt

    from pyspark.sql import functions as F

    from jobs.decide.arbitrate import OUTCOMES
    from jobs.decide.candidates import marketing_consent
    from jobs.decide.catalog import load_catalog
    from jobs.decide.channels import contract_columns

    log = lh.read("audit.decision_log").where(f"as_of_date = DATE'{NEXT[0]}'")
    assert {r.outcome for r in log.select("outcome").distinct().collect()} == set(OUTCOMES)
    assert log.count() == log.select("decision_id").distinct().count()
    assert log.where("outcome = 'excluded' and excluded_by = ''").count() == 0
    assert log.where("outcome in ('offered', 'not_selected') and excluded_by != ''").count() == 0
    offered = log.where("outcome = 'offered'")
    published = None
    for channel in CHANNEL_NAMES:
        table = lh.read(f"gold.offers_{channel}").where(f"as_of_date = DATE'{NEXT[0]}'")
        assert table.columns == contract_columns()
        assert table.where("disclosure is null or length(disclosure) < 20 or reason is null or reason = ''"
                           " or body like '%{price}%'").count() == 0
        published = table if published is None else published.unionByName(table)
    assert published.count() == offered.count() > 0
    assert published.join(offered, "decision_id", "left_anti").count() == 0
    # The holdout gets nothing, and prices stay inside the catalog's bounds.
    held = log.where("holdout").select("customer_id").distinct()
    assert held.count() > 0 and published.join(held, "customer_id").count() == 0
    bounds = lh.spark.createDataFrame([(o.offer_id, o.price_min, o.price_max) for o in load_catalog().offers],
                                      "offer_id string, low double, high double")
    assert published.join(bounds, "offer_id").where((F.col("price") < F.col("low")) |
                                                     (F.col("price") > F.col("high"))).count() == 0
    # Consent: nothing published on a channel the customer had withdrawn marketing consent from.
    consent = marketing_consent(lh.read("silver.consent_event"), dt.date.fromisoformat(NEXT[0]))
    withdrawn = consent.where("channel = 'mobile' and not marketing_consent")
    mobile = lh.read("gold.offers_mobile").where(f"as_of_date = DATE'{NEXT[0]}'")
    assert withdrawn.count() > 0 and mobile.join(withdrawn, "customer_id").count() == 0


def test_channels_pull_the_latest_or_a_date_and_get_the_same_rows_as_the_exports(daily_runs, home, lh):
    import pandas as pd

    for channel in CHANNEL_NAMES:
        table = lh.read(f"gold.offers_{channel}").where(f"as_of_date = DATE'{NEXT[0]}'").count()
        parquet = pd.read_parquet(home / "exports" / channel / f"{NEXT[0]}.parquet")
        csv = pd.read_csv(home / "exports" / channel / f"{NEXT[0]}.csv")
        assert len(parquet) == len(csv) == table
    assert not list((home / "exports").rglob(".*.partial"))
    out = _cli(home, "offers", "--channel", "email", "--date", NEXT[0], "--out", str(home / "pull" / "email.csv"))
    assert re.search(rf"\d+ email offer\(s\) of {NEXT[0]} \(table version \d+\)", out)
    latest = _cli(home, "offers", "--channel", "email")
    assert f"offer(s) of {NEXT[1]}" in latest   # the newest decision date


def test_each_publish_is_one_commit_per_channel_table(daily_runs, lh):
    import datetime as dt

    from jobs.decide import run as decide_run

    def content():
        return {c: sorted(map(repr, lh.read(f"gold.offers_{c}").where(f"as_of_date = DATE'{NEXT[0]}'").collect()))
                for c in CHANNEL_NAMES}

    before, versions = content(), {c: lh.version(f"gold.offers_{c}") for c in CHANNEL_NAMES}
    decide_run.run(lh, dt.date.fromisoformat(NEXT[0]))
    # One Delta commit per channel and date: a channel reading during the publish sees the old day or
    # the new one, never half of it; the re-run publishes the same rows.
    assert {c: lh.version(f"gold.offers_{c}") for c in CHANNEL_NAMES} == {c: v + 1 for c, v in versions.items()}
    assert content() == before
    history = lh.history("gold.offers_mobile", limit=1)[0]
    assert history["operation"] in ("WRITE", "REPLACE TABLE", "CREATE OR REPLACE TABLE")


def test_why_and_why_not_are_answered_from_the_decision_log(daily_runs, lh, home):
    log = lh.read("audit.decision_log").where(f"as_of_date = DATE'{NEXT[0]}'")
    offered = log.where("outcome = 'offered'").orderBy("decision_id").first()
    out = _cli(home, "why", "--customer", offered.customer_id, "--date", NEXT[0], "--offer", offered.offer_id)
    assert "OFFERED" in out and offered.decision_id in out and offered.reason in out
    excluded = (log.where("outcome = 'excluded' and excluded_by like 'CONSENT-MARKETING%'")
                .orderBy("decision_id").first())
    out = _cli(home, "why", "--customer", excluded.customer_id, "--date", NEXT[0], "--offer", excluded.product)
    assert "EXCLUDED by CONSENT-MARKETING: Marketing consent on the channel" in out
    missing = subprocess.run([*CLI, "why", "--customer", "CU0000000000000", "--date", NEXT[0]], cwd=ROOT,
                             env={**os.environ, "MARKETOFONE_HOME": str(home)}, capture_output=True, text=True)
    assert missing.returncode == 2 and "no decision for customer CU0000000000000" in missing.stderr


@pytest.fixture(scope="module")
def closed_loop(daily_runs, home):
    generated = _cli(home, "generate", "--date", LATER, "--daily")
    return generated, _cli(home, "run", "personalization_daily", "--date", LATER)


def test_responses_flow_back_and_join_their_decisions(closed_loop, lh):
    assert "success" in closed_loop[1]
    responses = lh.read("silver.offer_response")
    kinds = {r.event_type for r in responses.select("event_type").distinct().collect()}
    assert {"impression", "click"} <= kinds
    assert responses.where("decided_on is null").count() == 0
    joined = responses.join(lh.read("audit.decision_log").where("outcome = 'offered'"), "decision_id")
    assert joined.count() == responses.count()
    assert responses.where("to_date(event_at) <= decided_on").count() == 0   # shown from the day after
    assert lh.read("bronze.channels_responses").count() == responses.count() + _not_published(
        lh, "silver.offer_response")


def test_the_fairness_gate_blocks_publishing_when_set_to_block(closed_loop, lh, monkeypatch):
    import dataclasses
    import datetime as dt

    from jobs.decide import run as decide_run
    from jobs.tables import Lakehouse

    strict = dataclasses.replace(decide_run.load_policy(), fairness_min_ratio=1.01)   # every group below the best
    blocking = Lakehouse(lh.spark, lh.settings.with_(fairness_gate="block"))
    before = {c: blocking.version(f"gold.offers_{c}") for c in CHANNEL_NAMES}
    with monkeypatch.context() as patch:
        patch.setattr(decide_run, "load_policy", lambda: strict)
        with pytest.raises(decide_run.FairnessGateError, match="fairness gate blocked publishing"):
            decide_run.run(blocking, dt.date.fromisoformat(LATER))
    assert {c: blocking.version(f"gold.offers_{c}") for c in CHANNEL_NAMES} == before
    flags = lh.read("gold.fairness_daily").where(f"as_of_date = DATE'{LATER}' and flagged").count()
    assert flags > 0
    decide_run.run(lh, dt.date.fromisoformat(LATER))   # the real policy: no flag, published again
    assert lh.read("gold.fairness_daily").where(f"as_of_date = DATE'{LATER}' and flagged").count() == 0


def test_kpis_compare_treated_customers_with_the_holdout(closed_loop, lh):
    kpis = {r.kpi: r for r in lh.read("gold.kpi_daily").where(f"as_of_date = DATE'{LATER}'").collect()}
    assert set(kpis) == set(KPIS)
    customers = lh.read("gold.customer_360").where(f"as_of_date = DATE'{LATER}'").count()
    products = kpis["products_per_customer"]
    assert products.treated_customers + products.holdout_customers == customers
    assert 0.05 < products.holdout_customers / customers < 0.16   # the policy's 10% holdout
    for name in RATIO_KPIS:
        for side in ("treated", "holdout", "all_customers"):
            value = getattr(kpis[name], side)
            assert value is None or 0.0 <= value <= 1.0, (name, side)
    published = kpis["offers_published_30d"]
    assert published.holdout == 0.0 and published.treated > 0
    assert published.uplift_ci_low <= published.uplift <= published.uplift_ci_high
    acceptance = kpis["offer_acceptance_rate_30d"]
    assert acceptance.treated_customers > 0 and acceptance.holdout_customers == 0
    assert lh.read("gold.kpi_by_segment").where(f"as_of_date = DATE'{LATER}'").count() > len(KPIS)


# -- replay: the lakehouse depends on the data, not on the order or number of runs ------------------------

REPLAYED = (*NEXT, LATER)


@pytest.fixture(scope="module")
def replayed(closed_loop, home, lh):
    """Every table's content after the dates ran in order (with the later dates' exports not yet landed),
    then each date re-run backwards, unforced, after the later ones: late rows and their parents are known by
    then, and a published date that decided differently would be refused."""
    before = _snapshot(lh)
    for day in reversed(REPLAYED):
        _cli(home, "run", "personalization_daily", "--date", day)
    return before, _snapshot(lh)


def test_replaying_the_dates_backwards_changes_no_table(replayed):
    before, after = replayed
    _assert_same(before, after, "replaying the dates backwards")


def test_a_backfilled_date_reads_its_own_balances(replayed, lh):
    """The replay ran the date after the later ones: its balances must still be the ones exported that day."""
    from pyspark.sql import functions as F

    day = NEXT[0]
    held = (lh.read("silver.account").where(F.col("_known_on") <= F.lit(day))   # as the lakehouse knew it
            .select("silo", "account_id", "customer_id", "open_date")
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


# -- the decision API on the store the last publish left -------------------------------------------------------------

API_DAY = "2026-07-02"   # the day the API decides on: after the store's date (the replay ended on NEXT[0])


class _Api:
    """`marketofone serve` on the home, as a channel reaches it: over HTTP, keep-alive."""

    def __init__(self, home: Path, *options: str):
        from jobs.connect_server import free_port

        self.home, self.port, self.server, self.options = home, free_port(), None, options

    def start(self) -> None:
        import http.client
        import time

        env = {**os.environ, "MARKETOFONE_HOME": str(self.home)}
        self.server = subprocess.Popen([*CLI, "serve", "--port", str(self.port), "--as-of", API_DAY, *self.options],
                                       cwd=ROOT,
                                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(150):
            try:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.conn.connect()
                return
            except OSError:
                assert self.server.poll() is None, self.server.stdout.read()
                time.sleep(0.2)
        raise AssertionError("the decision API did not start")

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        import http.client

        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=json.dumps(body) if body is not None else None,
                                  headers={"Content-Type": "application/json"})
                response = self.conn.getresponse()
                return response.status, json.loads(response.read())
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closes a keep-alive connection idle for 5 s (uvicorn's default): open another.
                if attempt == 2:
                    raise
                self.conn.close()
                self.conn.connect()

    def kill(self) -> None:
        self.conn.close()
        self.server.kill()      # SIGKILL: no shutdown hook runs
        self.server.wait()


@pytest.fixture(scope="module")
def api(replayed, home):
    api = _Api(home)
    api.start()
    yield api
    api.kill()


def test_the_api_answers_every_customer_as_the_batch_published(api, lh):
    from pyspark.sql import functions as F

    status, health = api.call("GET", "/health")
    assert status == 200 and health["store_date"] == NEXT[0]
    offered = (lh.read("audit.decision_log").where(F.col("as_of_date") == F.lit(NEXT[0]))
               .where("outcome = 'offered' and superseded_at is null and decision_id like 'DX%'"))
    batch: dict[tuple[str, str], list] = {}
    for r in offered.orderBy("rank").collect():
        batch.setdefault((r.customer_id, r.channel), []).append((r.decision_id, r.offer_id, r.rank, r.price))
    customers = [r.customer_id for r in lh.read("gold.customer_360").where(F.col("as_of_date") == F.lit(NEXT[0]))
                 .select("customer_id").collect()]
    assert len(customers) == health["customers"] and len(batch) > 100
    differ = []
    for customer in customers:
        for channel in ("mobile", "email", "atm", "branch"):
            status, answer = api.call("GET", f"/customers/{customer}/next-best-offers?channel={channel}")
            got = [(o["decision_id"], o["offer_id"], o["rank"], o["price"]) for o in answer["offers"]]
            if status != 200 or got != batch.get((customer, channel), []):
                differ.append((customer, channel, status, got, batch.get((customer, channel))))
    assert differ == []


def test_bad_requests_get_a_4xx_with_the_reason(api):
    status, body = api.call("GET", "/customers/CU-NOBODY/next-best-offers?channel=mobile")
    assert status == 404 and "CU-NOBODY" in body["detail"]
    status, body = api.call("GET", "/customers/CU-NOBODY/next-best-offers?channel=fax")
    assert status == 422 and body["detail"][0]["loc"] == ["query", "channel"]
    status, body = api.call("POST", "/decisions", {"channel": "mobile"})
    assert status == 422 and body["detail"][0]["loc"] == ["body", "customer_id"]
    status, spec = api.call("GET", "/openapi.json")
    assert status == 200 and {"/customers/{customer_id}/next-best-offers", "/decisions"} <= set(spec["paths"])


def test_api_decisions_survive_a_killed_server_and_reach_the_log_once(api, lh, home):
    from pyspark.sql import functions as F

    customers = [r.customer_id for r in lh.read("gold.customer_360").where(F.col("as_of_date") == F.lit(NEXT[0]))
                 .select("customer_id").orderBy("customer_id").limit(300).collect()]
    given = {}
    for customer in customers:
        status, answer = api.call("POST", "/decisions", {"customer_id": customer, "channel": "mobile",
                                                         "context": {"page": "credit_cards"}})
        assert status == 200
        given.update({o["decision_id"]: customer for o in answer["offers"] if o["decision_id"].startswith("DA")})
    assert len(given) >= 5
    api.kill()          # no answer given is lost: each was written ahead before it was returned
    api.start()
    # The restarted server counts the contacts it made: mobile's cap is reached for those customers today.
    some = next(iter(given.values()))
    assert api.call("GET", f"/customers/{some}/next-best-offers?channel=mobile")[1]["offers"] == []
    assert "1 file(s)" in _cli(home, "drain-decisions")
    _cli(home, "drain-decisions")   # again: nothing twice
    logged = lh.read("audit.decision_log").where("decision_id like 'DA%'")
    assert sorted((r.decision_id, r.customer_id) for r in logged.collect()) == sorted(given.items())
    assert {r.as_of_date.isoformat() for r in logged.select("as_of_date").distinct().collect()} == {API_DAY}
    assert {r.note for r in logged.select("note").distinct().collect()} == {
        "highest expected value within the contact limits"}


def _store_rows(home: Path, query: str, *params) -> list[tuple]:
    import sqlite3

    from jobs.serve.store import POINTER, online_dir

    folder = online_dir(home)
    with sqlite3.connect(folder / (folder / POINTER).read_text().strip()) as con:
        return con.execute(query, params).fetchall()


def test_moments_of_need_and_a_withdrawn_consent_reach_the_api_within_seconds(api, home):
    """`serve --triggers`: the server follows the event stream. Debit card payments on travel by customers with a
    credit card offer open on mobile run their decisions (published to the triggered-offers queue where an offer is
    open); a consent withdrawn by an event takes the channel's offers out of the next answer."""
    import sqlite3
    import time

    from jobs.serve.live import LiveState

    candidates = {c: json.loads(found)["offers"] for c, found in
                  _store_rows(home, "SELECT customer_id, candidates FROM customers")}
    accounts = dict(_store_rows(home, "SELECT customer_id, id FROM keys WHERE kind = 'account:deposits'"))
    # Not the customers the test above gave mobile offers to (its first 300): their mobile room is used up today.
    travellers = sorted(c for c, offers in candidates.items() if c in accounts and any(
        o["product"] == "credit_card" and o["channel"] == "mobile" for o in offers))[-20:]
    withdrawing = next(c for c in sorted(candidates, reverse=True) if c not in travellers
                       and api.call("GET", f"/customers/{c}/next-best-offers?channel=email")[1]["offers"])
    kind, ref = _store_rows(home, "SELECT kind, id FROM keys WHERE customer_id = ? AND kind LIKE 'customer:%'",
                            withdrawing)[0]
    events = [{"event_id": f"T{i}", "source": "deposits/transactions", "occurred_at": f"{API_DAY}T09:00:00",
               "data": {"txn_id": f"DT-T{i}", "account_id": accounts[c], "booking_date": API_DAY, "amount": "640.00",
                        "direction": "DR", "txn_type": "CARD_SETTLEMENT", "counterparty": "AIRLINE", "mcc": "4511"}}
              for i, c in enumerate(travellers)]
    assert len(travellers) == 20
    events.append({"event_id": "W1", "source": "crm/consents", "occurred_at": f"{API_DAY}T09:00:01",
                   "data": {"event_id": "CE-W1", "customer_ref": ref, "customer_silo": kind.removeprefix("customer:"),
                            "purpose": "marketing", "channel": "email", "status": "withdrawn",
                            "recorded_at": f"{API_DAY} 09:00:01", "source": "app"}})
    server = _Api(home, "--triggers")
    server.start()
    try:
        folder = home / "stream" / "events" / API_DAY
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "part-00001.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
        written = time.monotonic()
        while time.monotonic() - written < 10:
            withdrawn = server.call("GET", f"/customers/{withdrawing}/next-best-offers?channel=email")[1]
            if not withdrawn["offers"]:
                break
            time.sleep(0.1)
        assert time.monotonic() - written < 5, "the withdrawal was not honoured within 5 s of the event"
        assert withdrawn["stream"] == [["email"], []]
        # The other server, which does not follow the stream, reads the same live state.
        assert api.call("GET", f"/customers/{withdrawing}/next-best-offers?channel=email")[1]["offers"] == []
        time.sleep(1.0)
        with sqlite3.connect(LiveState(home).path) as con:
            fired = con.execute("SELECT customer_id FROM triggered WHERE trigger_id = 'TRG-TRAVEL-SPEND'").fetchall()
        assert sorted(r[0] for r in fired) == travellers   # every moment of need ran a decision, once
        queue = server.call("GET", "/triggered-offers?channel=mobile")[1]["items"]
        assert queue and all(item["trigger_id"] == "TRG-TRAVEL-SPEND" and item["offers"] for item in queue)
        raised = [o for item in queue for o in item["offers"] if o["product"] == "credit_card"]
        assert raised and all(o["reason"].endswith("TRG-TRAVEL-SPEND just now") for o in raised
                              if o["decision_id"].startswith("DA"))
        # The same file again (a replay after a crash) publishes nothing twice.
        (home / "stream" / "checkpoints" / "triggers.json").unlink()
        time.sleep(1.5)
        assert server.call("GET", "/triggered-offers?channel=mobile")[1]["items"] == queue
    finally:
        server.kill()


def _identifiers(lh: Lakehouse, customer_id: str) -> set[str]:
    """A person's ids, tokens and raw e-mail, read before they are erased (what the erasure must leave nowhere)."""
    from pyspark.sql import functions as F

    from jobs.privacy.subjects import identify

    ids = identify(lh, "probe", customer_id).ids
    tokens = lh.read("silver.customer").where(F.col("customer_id").isin(*ids.golden)) \
        .select("name_token", "email_token", "phone_token", "national_id_token").collect()
    emails = set()
    for silo, column in (("deposits_customers", "cif_id"), ("cards_cardholders", "holder_ref"),
                         ("lending_borrowers", "borrower_no")):
        mine = [i for s, i in ids.customers if s == silo.split("_")[0]]
        if mine:
            emails |= {r[0] for r in lh.read(f"bronze.{silo}").where(F.col(column).isin(*mine)).select("email")
                       .distinct().collect() if r[0]}
    return ids.values() | {t for row in tokens for t in row if t} | emails


def _kept_files(home) -> set[str]:
    """Every file an erasure must leave where it is unless it names the person (scratch aside)."""
    return {str(p) for root in ("lakehouse", "landing", "exports", "stream", "online", "data_quality")
            for p in (home / root).rglob("*") if p.is_file()}


def test_an_erasure_leaves_the_person_in_no_file_and_keeps_their_decisions_redacted(replayed, home, lh):
    """`marketofone erase --now` through the erasure DAG: every file under the home searched for the person's ids,
    tokens and e-mail (every version of every table, the Delta logs, landing files, exports, event files, reports,
    the online store); their decisions stay, under the erasure id; the erased date re-runs without a re-delivery
    error; a later export that still carries them has their rows dropped at ingest, counted."""
    from pyspark.sql import functions as F

    from jobs.privacy.scan import scan_home

    offered = lh.read("gold.offers_mobile").select("customer_id").distinct().orderBy("customer_id").first()[0]
    identifiers = _identifiers(lh, offered)
    golden = [i for i in identifiers if i.startswith("CU")]
    decisions = lh.read("audit.decision_log").where(F.col("customer_id").isin(*golden)).count()
    before = scan_home(home, identifiers)
    assert decisions and before.rows_with_erased and any("landing" in p for p in before.hits)
    files_before = _kept_files(home)

    queued = _cli(home, "erase", "--customer", offered, "--reason", "customer request, ticket 4711")
    erasure_id = re.search(r"erasure (ER\S+) queued", queued).group(1)
    shown = _cli(home, "erase", "--now", "--date", "2026-07-05")
    assert "DAG erasure for 2026-07-05: success" in shown and erasure_id in shown

    after = scan_home(home, identifiers)
    assert (after.rows_with_erased, after.files_with_erased) == (0, 0), after.hits.most_common(10)
    # No file went but those that named the person, and in the lakehouse the purged versions: their data files and
    # their log files (commits, checkpoints, version checksums).
    lakehouse = str(home / "lakehouse")
    gone = files_before - _kept_files(home)
    unexpected = [p for p in gone if p not in before.hits and not (
        p.startswith(lakehouse) and ("_delta_log" in Path(p).parts or p.endswith(".parquet")))]
    assert not unexpected, sorted(unexpected)[:10]
    assert lh.read("audit.decision_log").where(F.col("customer_id") == erasure_id).count() == decisions
    request = lh.read("audit.erasure_request").where(F.col("erasure_id") == erasure_id).first()
    assert (request.status, request.reference) == ("erased", None)
    status = _cli(home, "erase", "--status", erasure_id)
    assert "silver.customer" in status and "landing/" in status and "purge" in status

    # The date whose exports were rewritten loads as before, every file found loaded already: bronze's checksums
    # followed the new files (else: refused as a re-delivery).
    reloaded = _cli(home, "run", "ingest", "--date", DAY)
    assert len(json.loads(reloaded[reloaded.index("{"):])["skipped_files"]) == sum(map(len, SOURCES.values()))
    # A later export still carries them (the silo has not deleted them): dropped at ingest and counted.
    _cli(home, "generate", "--date", "2026-07-06", "--daily")
    loaded = _cli(home, "run", "ingest", "--silo", "deposits", "--date", "2026-07-06")
    assert json.loads(loaded[loaded.index("{"):])["rows_erased"] >= 1
    again = scan_home(home, identifiers, roots=("lakehouse",))
    assert (again.rows_with_erased, again.files_with_erased) == (0, 0), again.hits.most_common(10)
