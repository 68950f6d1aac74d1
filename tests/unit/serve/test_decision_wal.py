"""The decision API's write-ahead files drained into audit.decision_log: once, whatever the crashes between."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from jobs.serve.decision_wal import DecisionWal, drain

DAY = dt.date(2026, 7, 2)


def _answer(decision_id: str, customer: str = "CU2", probability: float = 0.15) -> dict:
    offer = {"decision_id": decision_id, "rank": 1, "offer_id": "PL-FLEX", "product": "personal_loan",
             "note": "highest expected value within the contact limits", "probability": probability, "value": 420.0,
             "lever": 1.0, "expected_value": round(probability * 3, 6), "risk": 0.1, "price": 9.89,
             "price_unit": "% APR", "model": "propensity_personal_loan", "model_version": "1",
             "reason_codes": "income_monthly", "reason": "high monthly income; viewing personal_loans now"}
    return {"request_id": decision_id.lower(), "as_of_date": DAY.isoformat(), "customer_id": customer,
            "channel": "mobile", "context": {"page": "personal_loans", "location": None, "event": None},
            "store_date": "2026-07-01", "catalog_version": "c1", "policy_version": "p1", "holdout": False,
            "offers": [offer]}


def _logged(lh) -> list[tuple]:
    return sorted((r.decision_id, r.customer_id, r.outcome, r.as_of_date)
                  for r in lh.read("audit.decision_log").collect())


def test_a_drain_appends_each_api_decision_once(lh):
    wal = DecisionWal(lh.settings.home)
    wal.append(_answer("DA01"))
    wal.append(_answer("DA01"))                 # the same request again: the same decision
    wal.append({**_answer("DX99"), "customer_id": "CU3"})   # the batch's decision, answered: the log has it
    assert drain(lh) == {f"{DAY}.jsonl": 1}
    wal.append(_answer("DA02", customer="CU4"))
    assert drain(lh) == {f"{DAY}.jsonl": 1}     # only what came since
    assert drain(lh) == {f"{DAY}.jsonl": 0}
    assert _logged(lh) == [("DA01", "CU2", "offered", DAY), ("DA02", "CU4", "offered", DAY)]
    wal.close()


def test_a_drain_that_died_before_recording_its_offset_adds_nothing_twice(lh):
    wal = DecisionWal(lh.settings.home)
    wal.append(_answer("DA01"))
    drain(lh)
    marker = wal.folder / f".{DAY}.jsonl.drained"
    marker.unlink()                              # as if the drain died after its append
    drain(lh)
    assert _logged(lh) == [("DA01", "CU2", "offered", DAY)]
    wal.close()


def test_a_decision_the_suite_refuses_stops_the_drain_and_stays_in_the_file(lh):
    wal = DecisionWal(lh.settings.home)
    wal.append(_answer("DA01", probability=1.5))   # not a probability
    with pytest.raises(ValueError, match="1 decision.* fail the audit.decision_log suite.*stay in the file"):
        drain(lh)
    assert not (wal.folder / f".{DAY}.jsonl.drained").exists()
    assert json.loads((wal.folder / f"{DAY}.jsonl").read_text())["offers"][0]["probability"] == 1.5
    wal.close()
