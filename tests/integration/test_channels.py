"""Channel publication on tiny decision frames: the per-date publication marker (gold.channel_publication),
what `marketofone offers` pulls for the latest or a given date, and the guard that keeps a published
decision from being replaced silently by a re-run of its date (refused unless forced, then both kept)."""

import datetime as dt

import pytest
from pyspark.sql import functions as F

from jobs.cli import main
from jobs.decide.arbitrate import arbitrate, decision_id
from jobs.decide.catalog import load_catalog, load_policy
from jobs.decide.channels import PUBLICATION, channel_table, file_sha256
from jobs.decide.pricing import add_price_and_value
from jobs.decide.rules import apply_rules
from jobs.decide.run import LOG, LOG_COLUMNS, RepublishRefusedError, publish
from jobs.domain import CHANNELS
from jobs.tables import Lakehouse
from jobs.unify.run import published_offers
from tests.decide_fixtures import DAY, frame

CATALOG, POLICY = load_catalog(), load_policy()
DAY2 = DAY + dt.timedelta(days=1)
A, B, C = "CU00000000000001", "CU00000000000002", "CU00000000000003"   # none of them in the holdout

# A: a personal loan on mobile; B: an auto loan by email; C: too young, excluded everywhere.
PEOPLE = [{"customer_id": A, "offer_id": "PL-FLEX", "channel": "mobile"},
          {"customer_id": B, "offer_id": "AUTO-DRIVE", "product": "auto_loan", "channel": "email",
           "probability": 0.5, "value_amount": 520.0},
          {"customer_id": C, "offer_id": "PL-FLEX", "channel": "mobile", "age": 17}]


def decisions(spark, day, *changes):
    """The decisions of `day` for PEOPLE (each changed by the dict of the same position), as decide() returns
    them: LOG_COLUMNS + price_kind."""
    rows = [{**p, **c, "as_of_date": day} for p, c in zip(PEOPLE, changes or [{}] * len(PEOPLE), strict=True)]
    decided = arbitrate(add_price_and_value(apply_rules(frame(spark, *rows), POLICY)), POLICY)
    return (decided.withColumn("catalog_version", F.lit(CATALOG.version))
            .withColumn("policy_version", F.lit(POLICY.version)).withColumn("decision_id", decision_id())
            .select(*LOG_COLUMNS, "price_kind"))


def run_publish(lh, day, decided):
    if not lh.exists("gold.customer_360") or lh.read("gold.customer_360").where(
            F.col("as_of_date") == F.lit(day)).count() == 0:
        c360 = lh.spark.createDataFrame([(day, p["customer_id"], "F", p.get("age", 40)) for p in PEOPLE],
                                        "as_of_date date, customer_id string, gender string, age int")
        lh.replace_for_date("gold.customer_360", c360, day)
    return publish(lh, day, decided, CATALOG, POLICY)


def marks(lh, day):
    return {r["channel"]: r for r in lh.delta_table(PUBLICATION).to_pyarrow_table(
        filters=[("as_of_date", "=", day)]).to_pylist()}


def log_rows(lh, day):
    return {r.decision_id: r for r in lh.read(LOG).where(F.col("as_of_date") == F.lit(day)).collect()}


def offers(lh, channel, day):
    return lh.read(channel_table(channel)).where(F.col("as_of_date") == F.lit(day)).collect()


def cli(monkeypatch, capsys, home, *args):
    monkeypatch.setenv("MARKETOFONE_HOME", str(home))
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def published(spark, lh):
    """DAY published: A's loan on mobile, B's auto loan by email."""
    first = decisions(spark, DAY)
    outcomes = {(r.customer_id, r.channel): r.outcome for r in first.collect()}
    assert outcomes == {(A, "mobile"): "offered", (B, "email"): "offered", (C, "mobile"): "excluded"}
    run_publish(lh, DAY, first)
    return lh


# -- the publication marker ---------------------------------------------------------------------------------

def test_each_channel_gets_a_publication_row_with_counts_versions_and_exports(published):
    lh = published
    rows = marks(lh, DAY)
    assert set(rows) == set(CHANNELS)
    logged = log_rows(lh, DAY).values()
    for channel, row in rows.items():
        published_rows = offers(lh, channel, DAY)
        assert row["offers"] == len(published_rows) == {"mobile": 1, "email": 1}.get(channel, 0)
        assert row["decisions"] == sum(r.channel == channel for r in logged)
        assert row["table_version"] == lh.version(channel_table(channel))
        assert row["channel_table"] == channel_table(channel) and row["revision"] == 1 and row["superseded"] == 0
        assert (row["catalog_version"], row["policy_version"]) == (CATALOG.version, POLICY.version)
        assert row["export_csv"].endswith(f"{channel}/{DAY}.csv") and row["export_parquet"].endswith(".parquet")
        assert row["content_sha256"] == file_sha256(row["export_csv"])
        assert row["published_at"] is not None
    assert rows["mobile"]["model_versions"] == "propensity_personal_loan=1"
    assert rows["atm"]["model_versions"] == ""


def test_latest_is_the_latest_published_date_even_when_it_has_no_offers(published, spark, monkeypatch, capsys):
    lh = published
    # The next day B withdrew email consent: email is published with no offer at all.
    run_publish(lh, DAY2, decisions(spark, DAY2, {}, {"marketing_consent": False}, {}))
    assert marks(lh, DAY2)["email"]["offers"] == 0 and len(offers(lh, "email", DAY)) == 1
    code, out, _ = cli(monkeypatch, capsys, lh.settings.home, "offers", "--channel", "email")
    assert code == 0
    assert out.startswith(f"0 email offer(s) of {DAY2} (table version {marks(lh, DAY2)['email']['table_version']})"
                          " published at ")
    assert "(no rows)" in out
    code, out, _ = cli(monkeypatch, capsys, lh.settings.home, "offers", "--channel", "email", "--date", str(DAY))
    assert code == 0 and out.startswith(f"1 email offer(s) of {DAY} ") and B in out


def test_a_date_never_published_is_an_error_naming_the_published_dates(published, monkeypatch, capsys):
    lh = published
    # Rows in the channel table are not a publication: only the marker is.
    stray = lh.read(channel_table("email")).where(F.col("as_of_date") == F.lit(DAY)).withColumn(
        "as_of_date", F.lit(DAY + dt.timedelta(days=5)))
    lh.replace_for_date(channel_table("email"), stray, DAY + dt.timedelta(days=5))
    for day in (DAY + dt.timedelta(days=5), DAY - dt.timedelta(days=1)):
        code, out, err = cli(monkeypatch, capsys, lh.settings.home, "offers", "--channel", "email", "--date", str(day))
        assert code == 2 and out == ""
        assert f"marketofone: error: the email offers of {day} were never published" in err
        assert f"published dates nearest to it: {DAY}" in err
    code, _, err = cli(monkeypatch, capsys, lh.settings.home / "elsewhere", "offers", "--channel", "atm")
    assert code == 2 and "no atm offers have been published yet" in err


# -- re-running a published date ------------------------------------------------------------------------------

def test_a_rerun_that_decides_the_same_changes_nothing(published, spark):
    lh = published
    log_version, before, first = lh.version(LOG), log_rows(lh, DAY), marks(lh, DAY)
    counts = run_publish(lh, DAY, decisions(spark, DAY))
    assert counts[LOG] == len(before)
    assert lh.version(LOG) == log_version          # the log is not even rewritten
    assert log_rows(lh, DAY) == before
    # The marker stays as the first publication wrote it (its version still reads the same rows).
    assert marks(lh, DAY) == first
    assert lh.version(channel_table("mobile")) > first["mobile"]["table_version"]


def test_a_rerun_that_would_change_published_decisions_is_refused(published, spark):
    lh = published
    versions = {n: lh.version(n) for n in (LOG, PUBLICATION, *map(channel_table, CHANNELS))}
    before = log_rows(lh, DAY)
    with pytest.raises(RepublishRefusedError) as refused:
        run_publish(lh, DAY, decisions(spark, DAY, {}, {"probability": 0.4}, {}))
    message = str(refused.value)
    assert f"the decisions of {DAY} were published" in message
    assert "would change 1 of its 3 decision(s) (1 changed, 0 new, 0 gone), 1 of them offers the channels " \
           "were given (email 1)" in message
    assert "changed columns: expected_value (1), probability (1)" in message
    assert "MARKETOFONE_FORCE_REPUBLISH=1" in message
    assert {n: lh.version(n) for n in versions} == versions and log_rows(lh, DAY) == before


def test_a_forced_republish_keeps_the_replaced_decisions_and_their_responses_join(published, spark):
    lh = Lakehouse(published.spark, published.settings.with_(force_republish=True))
    old = {r.customer_id: r for r in log_rows(lh, DAY).values()}
    first = marks(lh, DAY)
    changed = decisions(spark, DAY, {}, {"probability": 0.4}, {})
    run_publish(lh, DAY, changed)

    rows = log_rows(lh, DAY)
    assert len(rows) == 4                                   # 3 standing + B's replaced decision
    kept = rows[old[B].decision_id]
    assert kept.probability == 0.5 and kept.outcome == "offered" and kept.superseded_at is not None
    new = rows[kept.superseded_by]
    assert new.decision_id != old[B].decision_id and new.customer_id == B and new.probability == 0.4
    assert new.superseded_at is None
    assert rows[old[A].decision_id].superseded_at is None   # unchanged decisions keep their ids
    # The channel gets the new decision id; a response to the old one still finds its decision.
    assert [r.decision_id for r in offers(lh, "email", DAY)] == [new.decision_id]
    assert lh.read("gold.next_best_offer").where(f"customer_id = '{B}'").first().decision_id == new.decision_id
    responses = spark.createDataFrame([(old[A].decision_id,), (old[B].decision_id,), (new.decision_id,)],
                                      "decision_id string")
    assert responses.join(lh.read(LOG), "decision_id").count() == 3
    assert responses.join(published_offers(lh), "decision_id").count() == 3   # how silver links responses
    # Email's marker is a new revision; mobile published the same rows and keeps its first publication.
    now = marks(lh, DAY)
    assert now["email"]["revision"] == 2 and now["email"]["superseded"] == 1
    assert now["email"]["table_version"] == lh.version(channel_table("email"))
    assert now["email"]["published_at"] >= first["email"]["published_at"]
    assert now["mobile"] == first["mobile"]

    # Forcing the same decisions again changes nothing: both decisions stay as they are.
    version = lh.version(LOG)
    run_publish(lh, DAY, changed)
    assert lh.version(LOG) == version and log_rows(lh, DAY) == rows and marks(lh, DAY) == now
    # And without force, going back to the first decisions is refused again.
    with pytest.raises(RepublishRefusedError):
        run_publish(published, DAY, decisions(spark, DAY))


def test_a_decision_that_fails_the_log_suite_reaches_no_channel(spark, lh):
    """Decisions quarantined from audit.decision_log are published to no channel, even where the channel
    table's own suite would let them through: every offer a customer gets can be explained from the log.
    Here a bug upstream gave B's offer A's decision id: the log keeps the id's first holder and quarantines the
    second (the channel tables do not check ids across channels), and only the one the log kept is sent."""
    decided = decisions(spark, DAY)
    a_id = decided.where(F.col("customer_id") == A).first()["decision_id"]
    bad = decided.withColumn("decision_id", F.when(F.col("customer_id") == B, F.lit(a_id))
                             .otherwise(F.col("decision_id")))
    counts = run_publish(lh, DAY, bad)
    assert counts["quarantine.audit_decision_log"] == 1     # the id's second holder
    kept = {r.customer_id for r in lh.read(LOG).where(F.col("decision_id") == a_id).collect()}
    assert len(kept) == 1
    sent = {r.customer_id for channel in ("mobile", "email") for r in offers(lh, channel, DAY)}
    assert sent == kept
    assert marks(lh, DAY)["email"]["offers"] + marks(lh, DAY)["mobile"]["offers"] == 1
