"""Consent withdrawn in the CRM export of day D is honoured on D everywhere an offer leaves the bank: no offer to
the customer in any gold.offers_<channel> of D, none in D's export files, none from the decision API's online store
after D's publish, and none from a triggered offer. One customer withdraws email, one marketing as a whole (channel
`all`), one keeps every consent (so each check can also see an offer go out)."""

import datetime as dt

import pandas as pd
import pytest
from pyspark.sql import functions as F

from jobs.decide.arbitrate import arbitrate, decision_id
from jobs.decide.candidates import marketing_consent
from jobs.decide.catalog import load_catalog, load_policy
from jobs.decide.channels import channel_table, export_path
from jobs.decide.pricing import add_price_and_value
from jobs.decide.rules import apply_rules
from jobs.decide.run import LOG_COLUMNS, publish
from jobs.domain import CHANNELS
from jobs.serve import store
from jobs.serve.answer import Decider
from jobs.serve.decision_wal import DecisionWal
from jobs.serve.live import LiveState
from jobs.settings import Settings
from jobs.stream.rules import parse
from jobs.stream.triggers import TriggerEngine
from jobs.tables import Lakehouse
from tests.decide_fixtures import DAY, frame

CATALOG, POLICY = load_catalog(), load_policy()
EMAIL_OUT, ALL_OUT, KEEPS = "CU00000000000001", "CU00000000000002", "CU00000000000003"   # none in the holdout
WITHDRAWN = {EMAIL_OUT: {"email"}, ALL_OUT: set(CHANNELS), KEEPS: set()}
EVENTS = "event_id string, customer_id string, purpose string, channel string, status string, recorded_at timestamp"


def _ledger(spark):
    """Every customer granted every channel at onboarding; on DAY one withdraws email, one all marketing."""
    grants = [(f"G{i}{c}", cu, "marketing", c, "granted", dt.datetime(2025, 1, 1, 9))
              for i, cu in enumerate(WITHDRAWN) for c in CHANNELS]
    return spark.createDataFrame(grants + [
        ("W1", EMAIL_OUT, "marketing", "email", "withdrawn", dt.datetime.combine(DAY, dt.time(17, 30))),
        ("W2", ALL_OUT, "marketing", "all", "withdrawn", dt.datetime.combine(DAY, dt.time(9, 0)))], EVENTS)


def _candidates(customer):
    # one offer per channel, each the best on its channel
    return [{"customer_id": customer, "offer_id": "PL-FLEX", "channel": "mobile", "probability": 0.3},
            {"customer_id": customer, "offer_id": "AUTO-DRIVE", "product": "auto_loan", "channel": "email",
             "probability": 0.5, "value_amount": 520.0},
            {"customer_id": customer, "offer_id": "MTG-HOME", "product": "mortgage", "channel": "branch",
             "probability": 0.2, "value_amount": 2600.0}]


@pytest.fixture(scope="module")
def published(spark, tmp_path_factory):
    lh = Lakehouse(spark, Settings(home=tmp_path_factory.mktemp("consent")))
    consent = {(r.customer_id, r.channel): r.marketing_consent
               for r in marketing_consent(_ledger(spark), DAY).collect()}
    rows = [{**c, "marketing_consent": consent[(c["customer_id"], c["channel"])]}
            for cu in WITHDRAWN for c in _candidates(cu)]
    decided = (arbitrate(add_price_and_value(apply_rules(frame(spark, *rows), POLICY)), POLICY)
               .withColumn("catalog_version", F.lit(CATALOG.version))
               .withColumn("policy_version", F.lit(POLICY.version)).withColumn("decision_id", decision_id()))
    lh.replace_for_date("gold.customer_360", spark.createDataFrame(
        [(DAY, cu, "F", 40, 3000.0, 0.0, 1500.0, 0.0) for cu in WITHDRAWN],
        "as_of_date date, customer_id string, gender string, age int, income_monthly double, rent_30d double, "
        "rent_90d double, max_days_past_due double"), DAY)
    publish(lh, DAY, decided.select(*LOG_COLUMNS, "price_kind"), CATALOG, POLICY)
    # the online store of DAY's publish, as the offers step materializes it
    store.materialize(lh.settings.home, store.customer_rows(lh.read("gold.customer_360"), decided),
                      store.store_meta(DAY, CATALOG, POLICY),
                      spark.createDataFrame([("account:deposits", f"DA{cu[-1]}", cu) for cu in WITHDRAWN],
                                            "kind string, id string, customer_id string"))
    return lh


def test_no_offer_in_the_channel_tables_or_exports_of_the_day(published):
    lh = published
    for channel in CHANNELS:
        table = {r.customer_id for r in lh.read(channel_table(channel)).where(F.col("as_of_date") == F.lit(DAY))
                 .collect()}
        exported = set(pd.read_csv(export_path(lh.settings.home, channel, DAY, "csv"))["customer_id"]) | set(
            pd.read_parquet(export_path(lh.settings.home, channel, DAY, "parquet"))["customer_id"])
        for customer, withdrawn in WITHDRAWN.items():
            if channel in withdrawn:
                assert customer not in table | exported, f"{customer} got a {channel} offer after withdrawing"
    assert {r.customer_id for r in lh.read(channel_table("email")).collect()} == {KEEPS}   # offers do go out


def test_no_offer_from_the_decision_api_or_a_trigger_after_the_publish(published):
    home = published.settings.home
    live = LiveState(home)
    decider = Decider(store.OnlineStore(home), DecisionWal(home), today=lambda: DAY + dt.timedelta(days=1), live=live)
    try:
        for customer, withdrawn in WITHDRAWN.items():
            for channel in withdrawn:
                assert decider.answer(customer, channel)["offers"] == [], (customer, channel)
        assert decider.answer(KEEPS, "email")["offers"] != []
        engine = TriggerEngine(home, decider, live)
        engine.triggers = parse({"triggers": [{
            "trigger_id": f"T-{channel}", "source": "deposits/transactions", "action": "offer",
            "product": product, "channel": channel, "valid_from": "2026-01-01", "valid_to": "2027-12-31",
            "cooldown_days": 0, "event": [{"field": "txn_type", "eq": "TRANSFER_OUT_EXTERNAL"}]}
            for channel, product in (("mobile", "personal_loan"), ("email", "auto_loan"))]})
        fired = {}
        for customer in WITHDRAWN:
            event = {"event_id": f"E{customer[-1]}", "source": "deposits/transactions",
                     "occurred_at": f"{DAY + dt.timedelta(days=1)}T09:00:00",
                     "data": {"account_id": f"DA{customer[-1]}", "txn_type": "TRANSFER_OUT_EXTERNAL", "amount": "90"}}
            engine.handle(event, DAY + dt.timedelta(days=1))
        for row in live.triggered(published_only=True):
            fired.setdefault(row["customer_id"], set()).add(row["channel"])
        assert fired == {KEEPS: {"mobile", "email"}, EMAIL_OUT: {"mobile"}}
    finally:
        decider.wal.close()
