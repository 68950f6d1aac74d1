"""The decision API's answers from a store materialized out of batch decisions: equal to the batch without
context, a page viewed raises its product, the API's own offers count against the contact limits (also after a
restart), and every answer is in the write-ahead file before it is returned. Every test runs on both online
stores, the embedded SQLite files and Redis (a real server, tests/unit/serve/conftest.py): the same answers."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from jobs.decide.arbitrate import arbitrate, decision_id
from jobs.decide.catalog import load_catalog, load_policy
from jobs.decide.pricing import add_price_and_value
from jobs.decide.rules import apply_rules
from jobs.serve import backend as stores
from jobs.serve import store
from jobs.serve.answer import Context, Decider, UnknownCustomerError
from jobs.serve.decision_wal import DecisionWal, decision_rows, read_records
from tests.decide_fixtures import DAY, frame

CATALOG, POLICY = load_catalog(), load_policy()
TODAY = DAY + dt.timedelta(days=1)
CU = "CU2"   # not in the holdout


def _candidates(customer: str) -> list[dict]:
    # A personal loan on mobile and email (email preferred), an auto loan by email (the best value), a mortgage on
    # mobile (low value) and savings on mobile, which ELIG-NOT-HELD excludes.
    return [
        {"customer_id": customer, "offer_id": "PL-FLEX", "channel": "mobile", "probability": 0.05, "affinity": 0.2},
        {"customer_id": customer, "offer_id": "PL-FLEX", "channel": "email", "channel_order": 1, "probability": 0.05,
         "affinity": 0.6},
        {"customer_id": customer, "offer_id": "AUTO-DRIVE", "product": "auto_loan", "channel": "email",
         "probability": 0.5, "value_amount": 520.0},
        {"customer_id": customer, "offer_id": "MTG-HOME", "product": "mortgage", "channel": "mobile",
         "probability": 0.001, "value_amount": 2600.0},
        {"customer_id": customer, "offer_id": "SAV-GROW", "product": "savings", "channel": "mobile",
         "probability": 0.4, "is_credit": False, "holds_product": True, "price_kind": "deposit_rate",
         "price_unit": "% APY", "price_min": 2.0, "price_max": 4.0},
    ]


@pytest.fixture
def batch(spark):
    decided = arbitrate(add_price_and_value(apply_rules(frame(spark, *_candidates(CU), *_candidates("CU1")),
                                                        POLICY)), POLICY)
    return decided.withColumn("decision_id", decision_id())


@pytest.fixture
def decider(batch, backend):
    stores.write_store(backend, store.customer_rows(batch.select("customer_id"), batch),
                       store.store_meta(DAY, CATALOG, POLICY))
    d = Decider(stores.open_store(backend), DecisionWal(backend.home), today=lambda: TODAY)
    yield d
    d.wal.close()


def _offered(batch, channel: str) -> list[tuple]:
    rows = batch.where(f"customer_id = '{CU}' and channel = '{channel}' and outcome = 'offered'").orderBy("rank")
    return [(r.decision_id, r.offer_id, r.rank, r.price) for r in rows.collect()]


def test_without_context_the_answer_is_the_batch_decision_id_for_id(decider, batch):
    for channel in ("mobile", "email", "atm"):
        answer = decider.answer(CU, channel)
        assert [(o["decision_id"], o["offer_id"], o["rank"], o["price"]) for o in answer["offers"]] \
            == _offered(batch, channel)
    mobile = decider.answer(CU, "mobile")["offers"]
    assert [o["offer_id"] for o in mobile] == ["MTG-HOME"]
    assert mobile[0]["body"].count("%") and "{price}" not in mobile[0]["body"]
    assert mobile[0]["valid_from"] == TODAY.isoformat()   # the batch's offer of DAY is shown from the next day
    # An answer that repeats the batch's decisions adds no row to the decision log: the log has them.
    assert decision_rows(read_records(decider.wal.folder / f"{TODAY}.jsonl")[0]) == []


def test_a_holdout_customer_gets_no_offer_and_an_unknown_one_is_an_error(decider):
    # CU1 is in the 10% holdout (the batch's in_holdout): every candidate of theirs is held out.
    assert decider.answer("CU1", "email")["holdout"] is True
    assert decider.answer("CU1", "email")["offers"] == []
    with pytest.raises(UnknownCustomerError, match="'CU-NOPE' is not in the online store of 2026-07-01"):
        decider.answer("CU-NOPE", "mobile")
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        decider.answer(CU, "fax")


def test_a_viewed_page_raises_its_product_and_the_offer_counts_as_a_contact(decider, backend):
    assert [o["offer_id"] for o in decider.answer(CU, "mobile")["offers"]] == ["MTG-HOME"]   # the batch's
    viewing = Context(page="personal_loans")
    first = decider.answer(CU, "mobile", viewing)["offers"]
    assert [o["offer_id"] for o in first] == ["PL-FLEX"]
    assert first[0]["decision_id"].startswith("DA") and first[0]["reason"].endswith("viewing personal_loans now")
    # The same request the same day names the same decision (and counts once).
    assert decider.answer(CU, "mobile", viewing)["offers"][0]["decision_id"] == first[0]["decision_id"]
    # The channel cap (one offer per channel in 7 days) now holds for mobile: no more offers there today, not even
    # the batch's answer given before the new decision ...
    assert decider.answer(CU, "mobile")["offers"] == []
    # ... and a server started again counts the same contacts, from the write-ahead file.
    again = Decider(stores.open_store(backend), DecisionWal(backend.home), today=lambda: TODAY)
    assert again.answer(CU, "mobile")["offers"] == []
    rows = decision_rows(read_records(decider.wal.folder / f"{TODAY}.jsonl")[0])
    assert [(r["decision_id"], r["offer_id"], r["channel"], r["as_of_date"]) for r in rows] == [
        (first[0]["decision_id"], "PL-FLEX", "mobile", TODAY)]
    again.wal.close()


def test_a_viewed_page_of_the_offer_the_batch_made_answers_the_batch_decision(decider, batch):
    answer = decider.answer(CU, "email", Context(page="auto_loans"))["offers"]
    assert [(o["decision_id"], o["offer_id"]) for o in answer] == [r[:2] for r in _offered(batch, "email")]
    assert "viewing" not in answer[0]["reason"]


def test_every_answer_is_a_whole_line_of_the_write_ahead_file(decider):
    decider.answer(CU, "email")
    decider.answer(CU, "mobile", Context(page="mortgage_calculator", location="branch-12", event="login"))
    path = decider.wal.folder / f"{TODAY}.jsonl"
    lines = path.read_text().splitlines()
    assert [json.loads(line)["channel"] for line in lines] == ["email", "mobile"]
    assert json.loads(lines[1])["context"] == {"page": "mortgage_calculator", "location": "branch-12",
                                               "event": "login"}
    # A line being written (no newline yet) is left for the next read.
    with open(path, "a") as f:
        f.write('{"partial": ')
    records, end = read_records(path)
    assert len(records) == 2 and end == len("\n".join(lines)) + 1


def test_a_new_store_is_picked_up_between_two_answers(decider, batch, backend):
    assert decider.answer(CU, "email")["store_date"] == DAY.isoformat()
    later = DAY + dt.timedelta(days=1)
    stores.write_store(backend, store.customer_rows(batch.select("customer_id"), batch),
                       store.store_meta(later, CATALOG, POLICY))
    assert decider.answer(CU, "email")["store_date"] == later.isoformat()
