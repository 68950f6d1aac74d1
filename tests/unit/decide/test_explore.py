"""Exploration within the rules and the logged propensities: a slot's candidates' propensities sum to 1,
exploration never offers a candidate any rule excludes nor a no-explore (credit) offer, and the draws are the
same on a re-run."""

import dataclasses
import json

import pytest
from pyspark.sql import functions as F

from jobs.decide.arbitrate import arbitrate
from jobs.decide.catalog import CREDIT_PRODUCTS, CatalogError, load_policy
from jobs.decide.pricing import add_price_and_value
from jobs.decide.rules import apply_rules
from tests.decide_fixtures import frame

POLICY = load_policy()
EXPLORING = dataclasses.replace(POLICY, exploration_share=0.2)        # softmax at the shipped temperature
UNIFORM = dataclasses.replace(EXPLORING, exploration_temperature=None)   # uniform draws

SAVINGS = {"offer_id": "SAV-GROW", "product": "savings", "is_credit": False, "price_kind": "deposit_rate",
           "price_unit": "%", "price_min": 3.25, "price_max": 4.1, "value_kind": "income_linked", "value_amount": 60.0}
DEPOSIT = {**SAVINGS, "offer_id": "TD-12M", "product": "term_deposit", "price_min": 3.8, "price_max": 4.6,
           "value_amount": 90.0}
LOAN = {}   # the fixture's default row: PL-FLEX, a personal loan (credit)
CARD = {"offer_id": "CC-EVERYDAY", "product": "credit_card", "price_kind": "credit_limit", "price_unit": "EUR",
        "price_min": 1000.0, "price_max": 15000.0, "value_kind": "income_linked", "value_amount": 70.0}


def _rows(customers: int = 300):
    """Customers with four offers on two channels; every seventh has no consent on email, every fifth a high
    loan propensity (the loan is the best), every eleventh a delinquency (no credit at all), some a week's
    contacts already."""
    rows = []
    for i in range(customers):
        for channel in ("mobile", "email"):
            for offer, p in ((SAVINGS, 0.02), (DEPOSIT, 0.03), (LOAN, 0.2 if i % 5 == 0 else 0.01), (CARD, 0.015)):
                rows.append({**offer, "customer_id": f"CU{i}", "channel": channel, "probability": p + i * 1e-5,
                             "marketing_consent": not (channel == "email" and i % 7 == 0),
                             "max_days_past_due": 60 if i % 11 == 0 else 0,
                             "contacts": 2 if i % 13 == 0 else 0})
    return rows


def _decide(spark, policy, rows=None):
    return arbitrate(add_price_and_value(apply_rules(frame(spark, *(rows or _rows())), policy)), policy)


@pytest.mark.parametrize("policy", [POLICY, EXPLORING, UNIFORM], ids=["shipped", "softmax", "uniform"])
def test_logged_propensities_sum_to_one_per_decision(spark, policy):
    decided = _decide(spark, policy)
    slots = (decided.groupBy("customer_id", "channel")
             .agg(F.sum("propensity").alias("total"), F.max(F.col("outcome") == "offered").alias("offered"),
                  F.min("propensity").alias("low"), F.max("propensity").alias("high")).collect())
    with_offer = [s for s in slots if s.offered]
    assert with_offer and all(s.total == pytest.approx(1.0, abs=1e-6) for s in with_offer)
    # A channel without an offer (no room, holdout, nothing allowed) is no slot: nothing had a chance.
    assert all(s.total == 0 for s in slots if not s.offered)
    assert all(0 <= s.low <= s.high <= 1 for s in slots)
    # Nothing a rule excludes or the holdout keeps ever had a chance; every offer had one.
    assert decided.where("(excluded_by != '' OR holdout) AND propensity > 0").count() == 0
    assert decided.where("outcome = 'offered' AND propensity <= 0").count() == 0
    if policy.exploration_share == 0:   # the shipped policy: the ranking's offer, for sure
        assert decided.where("outcome = 'offered' AND propensity != 1").count() == 0


@pytest.mark.parametrize("exploring", [EXPLORING, UNIFORM], ids=["softmax", "uniform"])
def test_exploration_never_offers_what_a_rule_excludes_nor_credit_by_chance(spark, exploring):
    greedy = {(r.customer_id, r.channel): r.offer_id
              for r in _decide(spark, POLICY).where("outcome = 'offered'").collect()}
    decided = _decide(spark, exploring)
    offered = decided.where("outcome = 'offered'").collect()
    explored = [r for r in offered if r.note.startswith("drawn by exploration")]
    # The test means something: exploration changed some offers, about its share of the slots.
    changed = [r for r in offered if greedy.get((r.customer_id, r.channel)) != r.offer_id]
    assert changed and 0.05 < len(explored) / len(offered) < 0.35
    assert all(r.excluded_by == "" and not r.holdout for r in offered)
    assert all(r.product not in CREDIT_PRODUCTS for r in explored)
    # Credit goes out only where the ranking put it first, never by a draw.
    assert all(greedy.get((r.customer_id, r.channel)) == r.offer_id for r in offered if r.product in CREDIT_PRODUCTS)
    # Exploration changes what a slot shows, never which slots there are (the contact limits hold).
    assert {(r.customer_id, r.channel) for r in offered} == set(greedy)
    per_customer = {}
    for r in offered:
        per_customer[r.customer_id] = per_customer.get(r.customer_id, 0) + 1
    assert max(per_customer.values()) <= POLICY.contact("fatigue_cap").limit
    # No consent on the channel, no offer there, explored or not.
    assert not [r for r in offered if r.channel == "email" and int(r.customer_id[2:]) % 7 == 0]


def test_exploration_draws_the_same_on_a_re_run_and_other_draws_with_another_seed(spark):
    def offers(policy):
        return sorted((r.customer_id, r.channel, r.offer_id, r.propensity)
                      for r in _decide(spark, policy).where("outcome = 'offered'").collect())

    assert offers(EXPLORING) == offers(EXPLORING)
    assert offers(EXPLORING) != offers(dataclasses.replace(EXPLORING, exploration_seed="another"))


def _policy_file(tmp_path, exploration, per_channel=1):
    raw = json.loads(load_policy.__globals__["DECISIONING"].joinpath("policy.json").read_text())
    raw["exploration"].update(exploration)
    raw["arbitration"]["offers_per_channel"] = per_channel
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize("exploration, per_channel, message", [
    ({"share": 0.5}, 1, "share must be in"),
    ({"share": 0.1, "no_explore": ["credit_card"]}, 1, "missing"),
    ({"share": 0.1}, 2, "offers_per_channel 1"),
    ({"share": 0.1, "temperature": 0}, 1, "temperature must be above 0"),
])
def test_a_policy_file_that_explores_too_much_or_explores_credit_is_refused(tmp_path, exploration, per_channel,
                                                                            message):
    with pytest.raises(CatalogError, match=message):
        load_policy(_policy_file(tmp_path, exploration, per_channel))
    assert load_policy(_policy_file(tmp_path, {"share": 0.1})).exploration_share == 0.1


def test_a_softmax_draws_near_offers_more_often_than_far_ones_and_each_as_often_as_its_propensity(spark):
    # Two explorable offers per slot: the deposit (0.03, the best) and savings (0.02, weight (2/3)^(1/t)).
    rows = [r for r in _rows(3000) if r.get("offer_id") in ("SAV-GROW", "TD-12M") and r["channel"] == "mobile"]
    rows = [{**r, "probability": 0.02 if r["offer_id"] == "SAV-GROW" else 0.03, "contacts": 0} for r in rows]
    shares = {}
    for t in (0.25, 2.0):
        policy = dataclasses.replace(EXPLORING, exploration_share=0.2, exploration_temperature=t)
        offered = _decide(spark, policy, rows).where("outcome = 'offered'").collect()
        savings = [r for r in offered if r.offer_id == "SAV-GROW"]
        weight = (2 / 3) ** (1 / t)
        assert {round(r.propensity, 6) for r in savings} == {round(0.2 * weight / (1 + weight), 6)}
        shares[t] = len(savings) / len(offered)
        assert shares[t] == pytest.approx(savings[0].propensity, abs=0.03)   # drawn as often as logged
    assert shares[0.25] < shares[2.0]   # a colder softmax tries the weaker offer less


def test_exploration_tries_a_products_other_offers_on_its_channel_never_on_another(spark):
    # Two savings offers on mobile and email; the ranking prefers SAV-GROW (higher score), on mobile (channel order).
    plus = {**SAVINGS, "offer_id": "SAV-PLUS"}
    rows = [{**offer, "customer_id": f"CU{i}", "channel": channel, "channel_order": order, "probability": p}
            for i in range(2000) for channel, order in (("mobile", 0), ("email", 1))
            for offer, p in ((SAVINGS, 0.03), (plus, 0.02))]
    decided = _decide(spark, dataclasses.replace(UNIFORM, exploration_share=0.2), rows)
    offered = decided.where("outcome = 'offered'").collect()
    plus_offers = [r for r in offered if r.offer_id == "SAV-PLUS"]
    assert plus_offers and all(r.channel == "mobile" for r in plus_offers)
    assert 0.05 < len(plus_offers) / len(offered) < 0.15                  # 0.2 of the slots, half of their draws
    assert {round(r.propensity, 6) for r in plus_offers} == {0.1}
    assert decided.where("offer_id = 'SAV-PLUS' AND channel = 'email' AND propensity > 0").count() == 0
    notes = {r.note for r in decided.where("offer_id = 'SAV-PLUS' AND outcome = 'not_selected'").collect()}
    assert "another offer of the same product ranks higher on this channel" in notes
