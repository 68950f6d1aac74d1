"""The triggers consumer (jobs/stream/triggers.py) on a store materialized out of batch decisions: a moment of
need runs the customer's decision and publishes it once per event, a consent withdrawn by an event is honoured by
the next answer, and a help trigger holds credit offers."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from jobs.decide.arbitrate import arbitrate, decision_id
from jobs.decide.catalog import load_catalog, load_policy
from jobs.decide.pricing import add_price_and_value
from jobs.decide.rules import apply_rules
from jobs.serve import store
from jobs.serve.answer import Decider
from jobs.serve.decision_wal import DecisionWal, decision_rows, read_records
from jobs.serve.live import LiveState
from jobs.stream.rules import load, parse
from jobs.stream.triggers import TriggerEngine, run
from tests.decide_fixtures import DAY, frame
from tests.unit.serve.test_answer import _candidates

TODAY = DAY + dt.timedelta(days=1)
CU = "CU2"
FEATURES = "customer_id string, income_monthly double, rent_30d double, rent_90d double, max_days_past_due double"


@pytest.fixture
def engine(spark, tmp_path):
    policy = load_policy()
    batch = arbitrate(add_price_and_value(apply_rules(frame(spark, *_candidates(CU), *_candidates("CU1")), policy)),
                      policy).withColumn("decision_id", decision_id())
    customers = spark.createDataFrame([(CU, 3000.0, 0.0, 1500.0, 45.0), ("CU1", 2000.0, 900.0, 2700.0, 0.0)],
                                      FEATURES)
    keys = spark.createDataFrame([("account:deposits", "DA2", CU), ("account:lending", "L2", CU),
                                  ("customer:deposits", "D2", CU)], "kind string, id string, customer_id string")
    store.materialize(tmp_path, store.customer_rows(customers, batch, load().features),
                      store.store_meta(DAY, load_catalog(), policy), keys)
    live = LiveState(tmp_path)
    decider = Decider(store.OnlineStore(tmp_path), DecisionWal(tmp_path), today=lambda: TODAY, live=live)
    yield TriggerEngine(tmp_path, decider, live)
    decider.wal.close()


def _event(event_id: str, source: str, **data) -> dict:
    return {"event_id": event_id, "source": source, "occurred_at": f"{TODAY}T09:00:00", "data": data}


SESSION = _event("E1", "digital/sessions", customer_ref="D2", customer_silo="deposits", page="mortgage_calculator")


def test_a_moment_of_need_runs_the_full_decision_and_publishes_it_on_the_triggers_channel(engine):
    [seq] = engine.handle(SESSION, TODAY)
    [published] = engine.live.triggered()
    assert published["seq"] == seq and published["trigger_id"] == "TRG-MORTGAGE-INTENT"
    assert published["customer_id"] == CU and published["channel"] == "mobile"
    assert [o["offer_id"] for o in published["offers"]] == ["MTG-HOME"]
    assert published["policy_version"] == load_policy().version and published["why"].startswith("Rent that stopped")
    # The customer whose rent did not stop (CU1's features) is not a moment of need.
    engine.decider.store.refresh()
    assert engine.handle(_event("E2", "digital/sessions", customer_ref="D1", customer_silo="deposits",
                                page="mortgage_calculator"), TODAY) == []
    assert engine.counts["unknown_customer"] == 1   # D1 has no key in this store


def test_a_raised_product_is_a_new_decision_in_the_log_and_fires_once_per_event(engine):
    engine.triggers = parse({"triggers": [{
        "trigger_id": "T-LOAN", "source": "deposits/transactions", "action": "offer", "product": "personal_loan",
        "channel": "mobile", "valid_from": "2026-01-01", "valid_to": "2027-12-31", "cooldown_days": 0,
        "event": [{"field": "txn_type", "eq": "TRANSFER_OUT_EXTERNAL"}]}]})
    payment = _event("E7", "deposits/transactions", account_id="DA2", txn_type="TRANSFER_OUT_EXTERNAL", amount="90")
    [seq] = engine.handle(payment, TODAY)
    [offer] = engine.live.triggered()[0]["offers"]
    assert offer["offer_id"] == "PL-FLEX" and offer["decision_id"].startswith("DA")
    assert offer["reason"].endswith("T-LOAN just now")
    # The same event again (a replay, a restart before the checkpoint) fires nothing: no second offer, no second row.
    assert engine.handle(payment, TODAY) == []
    assert engine.counts["already_fired"] == 1 and len(engine.live.triggered()) == 1
    rows = decision_rows(read_records(engine.decider.wal.folder / f"{TODAY}.jsonl")[0])
    assert [r["decision_id"] for r in rows] == [offer["decision_id"]]


def test_a_consent_withdrawn_by_an_event_is_honoured_by_the_next_answer(engine):
    assert [o["offer_id"] for o in engine.decider.answer(CU, "mobile")["offers"]] == ["MTG-HOME"]
    engine.handle(_event("E3", "crm/consents", customer_ref="D2", customer_silo="deposits", purpose="marketing",
                         channel="mobile", status="withdrawn", recorded_at=f"{TODAY} 08:30:00"), TODAY)
    answer = engine.decider.answer(CU, "mobile")
    assert answer["offers"] == [] and answer["stream"] == [["mobile"], []]
    assert engine.decider.answer(CU, "email")["offers"] != []   # consent is per channel
    # The moment of need on mobile runs the decision, which finds nothing it may offer there: nothing published.
    assert engine.handle(SESSION, TODAY) == [] and engine.counts["no_offer"] == 1
    # A grant recorded later gives the channel back.
    engine.handle(_event("E4", "crm/consents", customer_ref="D2", customer_silo="deposits", purpose="marketing",
                         channel="mobile", status="granted", recorded_at=f"{TODAY} 10:00:00"), TODAY)
    assert [o["offer_id"] for o in engine.decider.answer(CU, "mobile")["offers"]] == ["MTG-HOME"]


def test_a_withdrawal_of_marketing_as_a_whole_by_an_event_empties_every_channel(engine):
    engine.handle(_event("E8", "crm/consents", customer_ref="D2", customer_silo="deposits", purpose="marketing",
                         channel="all", status="withdrawn", recorded_at=f"{TODAY} 08:30:00"), TODAY)
    assert engine.counts["consent_withdrawn"] == 1
    for channel in ("mobile", "email", "atm", "branch"):
        assert engine.decider.answer(CU, channel)["offers"] == []
    assert engine.handle(SESSION, TODAY) == [] and engine.counts["no_offer"] == 1


def test_a_customer_behind_on_payments_gets_a_help_contact_and_no_credit_offer(engine):
    [seq] = engine.handle(_event("E5", "lending/repayments", loan_no="L2", amount="300.00"), TODAY)
    [help_] = engine.live.triggered(channel="branch")
    assert help_["action"] == "help" and help_["help"]["headline"] == "We are here to help"
    assert help_["credit_offers_held_until"] == (TODAY + dt.timedelta(days=29)).isoformat()
    for channel in ("mobile", "email"):   # the batch's credit offers (a mortgage, an auto loan) are held
        assert engine.decider.answer(CU, channel)["offers"] == []
    # Within the cooldown the next repayment does not call again.
    assert engine.handle(_event("E6", "lending/repayments", loan_no="L2", amount="300.00"), TODAY) == []
    assert engine.counts["cooling_down"] == 1


def test_the_consumer_follows_the_files_and_a_replay_from_scratch_publishes_nothing_twice(engine, tmp_path):
    folder = tmp_path / "stream" / "events" / TODAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "part-00001.jsonl").write_text(json.dumps(SESSION) + "\n{not an event\n")
    counts = run(engine)
    assert counts["events"] == 1 and counts["published"] == 1
    (tmp_path / "stream" / "checkpoints" / "triggers.json").unlink()
    run(engine)
    assert len(engine.live.triggered()) == 1
