"""The offers step's learning on a lakehouse: it learns from the daily runs' decisions old enough to be answered
and from the responses known on the day, publishes gold.offer_learning through its suite (real Great
Expectations), and a re-run of the date learns the same."""

import datetime as dt

import pytest

from jobs.decide.catalog import load_policy
from jobs.decide.run import LEARNING, LOG, learned_cells
from jobs.publish import publish
from jobs.serve.decision_wal import _LOG_SCHEMA
from jobs.settings import Settings
from jobs.tables import Lakehouse

DAY = dt.date(2026, 7, 20)
POLICY = load_policy()


def _log_row(i: int, day: dt.date, decision_id: str, ctx: str | None = "frequent|under_50"):
    return {"decision_id": decision_id, "as_of_date": day, "customer_id": f"CU{i}", "offer_id": "SAV-GROW",
            "product": "savings", "channel": "mobile", "outcome": "offered", "excluded_by": "", "excluded_at": None,
            "note": "", "holdout": False, "probability": 0.05, "value": 60.0, "lever": 1.0, "expected_value": 0.05,
            "risk": 0.0, "price": 3.5, "price_unit": "%", "rank": 1, "propensity": 1.0, "context": ctx,
            "learned_factor": None, "model": "m", "model_version": "1", "reason_codes": "", "reason": "",
            "catalog_version": "c", "policy_version": "p", "superseded_at": None, "superseded_by": None}


@pytest.fixture
def lakehouse(spark, tmp_path):
    lh = Lakehouse(spark, Settings(home=tmp_path / "home"))
    old, young = DAY - dt.timedelta(days=12), DAY - dt.timedelta(days=3)
    rows = ([_log_row(i, old, f"DX{i:04d}") for i in range(200)]
            + [_log_row(i, young, f"DY{i:04d}".replace("DY", "DX9")) for i in range(100)]     # too young to count
            + [_log_row(i, old, f"DA{i:04d}") for i in range(50)]                            # the API's: not learned
            + [_log_row(i, old, f"DX8{i:03d}", ctx=None) for i in range(50)])                # logged before learning
    fields = [f.split(" ")[0] for f in _LOG_SCHEMA.split(", ")]
    lh.overwrite(LOG, spark.createDataFrame([tuple(r[f] for f in fields) for r in rows], _LOG_SCHEMA))
    responses = ([(f"DX{i:04d}", "accepted", DAY - dt.timedelta(days=5)) for i in range(30)]
                 + [(f"DX{i:04d}", "click", DAY - dt.timedelta(days=5)) for i in range(60)]
                 + [(f"DX{i:04d}", "accepted", DAY + dt.timedelta(days=1)) for i in range(100, 120)]  # not known yet
                 + [(f"DX9{i:04d}", "accepted", DAY - dt.timedelta(days=1)) for i in range(50)])
    lh.overwrite("silver.offer_response", spark.createDataFrame(
        responses, "decision_id string, event_type string, _known_on date"))
    return lh


def test_the_offers_step_learns_from_answered_decisions_known_on_the_day_and_publishes_them(lakehouse):
    lh = lakehouse
    counts = publish(lh, LEARNING, learned_cells(lh, DAY, POLICY), DAY)
    # The channel, the product, the product in the context, its month, the offer: every cell passes the suite.
    assert counts == {LEARNING: 5, "quarantine.gold_offer_learning": 0}
    cells = {r.level: r for r in lh.read(LEARNING).where(f"as_of_date = DATE'{DAY}'").collect()}
    a = POLICY.learning.prior_strength
    channel = cells["channel"]
    # 200 shows at 0.05, each counted at its offer's and month's factor (near 1: one offer, one month).
    assert (channel.shown, channel.accepted, channel.expected) == (200, 30, pytest.approx(10.0, rel=0.05))
    assert channel.factor == pytest.approx((30 + a) / (channel.expected + a), abs=1e-6)   # accepted ~3x as expected
    assert cells["context"].context == "frequent|under_50" and cells["offer"].offer_id == "SAV-GROW"
    assert cells["period"].context == "2026-07-01" and cells["period"].channel == "*"   # the decisions' month
    assert cells["offer"].upper > cells["offer"].factor                        # the policy's optimism
    before = sorted(map(tuple, lh.read(LEARNING).collect()))
    publish(lh, LEARNING, learned_cells(lh, DAY, POLICY), DAY)                 # a re-run of the date
    assert sorted(map(tuple, lh.read(LEARNING).collect())) == before
