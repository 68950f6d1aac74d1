"""The decision API's arbitration (plain Python, one customer) picks and ranks as the batch's (Spark windows)."""

from __future__ import annotations

import random

from pyspark.sql import functions as F

from jobs.decide.arbitrate import arbitrate as batch_arbitrate
from jobs.decide.catalog import load_policy
from jobs.serve.arbitrate import arbitrate

POLICY = load_policy()
OFFERS = [("SAV-PLUS", "savings"), ("SAV-GOAL", "savings"), ("TD-12M", "term_deposit"), ("CC-CASH", "credit_card"),
          ("PL-FLEX", "personal_loan"), ("AUTO-DRIVE", "auto_loan"), ("MTG-HOME", "mortgage")]
CHANNELS = ["mobile", "email", "atm", "branch"]
SCHEMA = ("customer_id string, offer_id string, product string, channel string, channel_order int, affinity double, "
          "probability double, value double, lever double, excluded_by string, excluded_at string, "
          "channel_contacts long, contacts long")


def _candidates(seed: int, customers: int = 40) -> list[tuple]:
    rng = random.Random(seed)
    rows = []
    for c in range(customers):
        contacts = rng.choice([0, 0, 1, 2])
        channel_contacts = {ch: rng.choice([0, 0, 0, 1]) for ch in CHANNELS}
        for offer_id, product in rng.sample(OFFERS, rng.randint(1, len(OFFERS))):
            for order, channel in enumerate(rng.sample(CHANNELS, rng.randint(1, 3))):
                excluded = rng.choice(["", "", "", "ELIG-NOT-HELD"])
                rows.append((f"CU{seed:03d}{c:05d}", offer_id, product, channel, order,
                             rng.choice([0.0, 0.5, 1.0]), rng.choice([0.1, 0.2, 0.2, 0.35]), 100.0,
                             rng.choice([1.0, 1.2]), excluded, "eligibility" if excluded else None,
                             channel_contacts[channel], contacts))
    return rows


def test_the_api_picks_and_ranks_every_candidate_as_the_batch_does(spark):
    # Ties on purpose (few distinct probabilities, affinities and levers), contacts that fill the caps, exclusions.
    rows = [r for seed in range(3) for r in _candidates(seed)]
    batch = batch_arbitrate(spark.createDataFrame(rows, SCHEMA), POLICY).select(
        "customer_id", "offer_id", "product", "channel", "channel_order", "affinity", "expected_value",
        "excluded_by", "excluded_at", "holdout", "channel_contacts", "contacts", "outcome", "note",
        F.col("rank").cast("int").alias("rank"))
    by_customer: dict[str, list[dict]] = {}
    for r in batch.collect():
        by_customer.setdefault(r.customer_id, []).append(r.asDict())
    outcomes = set()
    for customer, expected in by_customer.items():
        given = [{k: v for k, v in r.items() if k not in ("outcome", "note", "rank")} for r in expected]
        got = arbitrate(given, POLICY.offers_per_channel, POLICY.contact("channel_cap").limit,
                        POLICY.contact("fatigue_cap").limit)
        key = lambda r: (r["offer_id"], r["channel"])  # noqa: E731
        assert ({key(r): (r["outcome"], r["note"], r["rank"]) for r in got}
                == {key(r): (r["outcome"], r["note"], r["rank"]) for r in expected}), customer
        outcomes |= {r["outcome"] for r in got}
        outcomes |= {r["note"] for r in got}
    # Every way a candidate can end was exercised.
    assert {"offered", "not_selected", "excluded", "holdout"} <= outcomes
    assert {"the same product goes out on a channel the customer prefers",
            "the channel's room went to offers of higher expected value",
            "the fatigue cap's room went to offers of higher expected value"} <= outcomes
