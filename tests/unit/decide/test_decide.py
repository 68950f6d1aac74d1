"""Decisioning on tiny frames: catalog and policy files, each rule type, consent on the day, the contact
limits, prices inside the bounds, the holdout, arbitration, channel content and the fairness check."""

import dataclasses
import datetime as dt
import json

import pytest
from pyspark.sql import functions as F

from jobs.decide.arbitrate import arbitrate, in_holdout
from jobs.decide.candidates import contact_history, marketing_consent
from jobs.decide.catalog import CatalogError, load_catalog, load_policy
from jobs.decide.channels import channel_offers, content_frame, contract_columns
from jobs.decide.pricing import add_price_and_value
from jobs.decide.rules import apply_rules, check_rules
from jobs.domain import CHANNELS
from jobs.measure.fairness import fairness_report
from tests.decide_fixtures import BASE, DAY, frame

CATALOG = load_catalog()
POLICY = load_policy()

def excluded(spark, **changes) -> str:
    return apply_rules(frame(spark, changes), POLICY).collect()[0].excluded_by


# -- catalog and policy ---------------------------------------------------------------------------------

def test_catalog_and_policy_load_with_versions_that_follow_the_content(tmp_path):
    assert {o.product for o in CATALOG.offers} == {"savings", "term_deposit", "credit_card", "personal_loan",
                                                   "auto_loan", "mortgage"}
    assert all(o.disclosure and o.price_min <= o.price_max for o in CATALOG.offers)
    assert {r.rule_type for r in POLICY.rules} == {"eligibility", "consent", "suitability", "contact"}
    raw = json.loads(load_catalog.__globals__["DECISIONING"].joinpath("catalog.json").read_text())
    raw["offers"][0]["lever"] = 2.0   # an edit that forgets to bump the declared version
    edited = tmp_path / "catalog.json"
    edited.write_text(json.dumps(raw))
    changed = load_catalog(edited)
    assert changed.version.split("+")[0] == CATALOG.version.split("+")[0]
    assert changed.version != CATALOG.version


@pytest.mark.parametrize("edit, message", [
    (lambda o: o["content"].update(disclosure=" "), "disclosure must not be empty"),
    (lambda o: o["content"].update(body="no price here"), "placeholder"),
    (lambda o: o["price"].update(min=9.0, max=1.0), "price bounds"),
    (lambda o: o.update(channels=["fax"]), "channels must be"),
    (lambda o: o.update(product="yacht"), "product 'yacht'"),
])
def test_a_bad_catalog_entry_is_refused_with_its_offer_and_field(tmp_path, edit, message):
    raw = json.loads(load_catalog.__globals__["DECISIONING"].joinpath("catalog.json").read_text())
    edit(raw["offers"][0])
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(CatalogError, match=message) as err:
        load_catalog(path)
    assert "SAV-GROW" in str(err.value)


def test_a_rule_the_engine_cannot_evaluate_is_refused_with_its_id(spark):
    bad = dataclasses.replace(POLICY, rules=(dataclasses.replace(POLICY.rules[0], exclude_when="no_such_column > 1"),))
    with pytest.raises(CatalogError, match=POLICY.rules[0].rule_id):
        check_rules(frame(spark, {}), bad)


def _policy_with(tmp_path, edit):
    raw = json.loads(load_policy.__globals__["DECISIONING"].joinpath("policy.json").read_text())
    edit(raw)
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.pop("protected_attributes"), "'protected_attributes' is missing"),
    (lambda p: p["protected_attributes"].update(attributes={"age": []}), "attributes.age: must be a non-empty list"),
    (lambda p: p["protected_attributes"].update(attributes={"age": "age"}), "attributes.age: must be a non-empty list"),
    (lambda p: p["protected_attributes"]["attributes"].update(gender=["gender", "age"]),
     "age listed under more than one attribute"),
    (lambda p: p["protected_attributes"].update(applies_to=["credit_card", "auto_loan", "mortgage"]),
     "must cover every credit product; personal_loan missing"),
    (lambda p: p["protected_attributes"]["applies_to"].append("yacht"), "applies_to names yacht, not products"),
    (lambda p: p["protected_attributes"].update(allow={"mortgage": ["religion"]}),
     "allow.mortgage names religion, not a protected attribute"),
    (lambda p: p["protected_attributes"].update(allow={"savings": ["age"]}),
     "allow names 'savings', a product the rule does not apply to"),
    (lambda p: p["protected_attributes"].update(allow={"mortgage": "age"}), "allow.mortgage: must be a non-empty list"),
])
def test_a_malformed_protected_attribute_rule_is_refused(tmp_path, edit, message):
    with pytest.raises(CatalogError, match=message) as err:
        load_policy(_policy_with(tmp_path, edit))
    assert "protected_attributes" in str(err.value)


def test_protected_attributes_are_kept_from_credit_products_unless_the_policy_allows_one(tmp_path):
    for product in ("credit_card", "personal_loan", "auto_loan", "mortgage"):
        assert {"age", "age_band", "gender", "had_marriage"} <= POLICY.protected.blocked_columns(product)
    assert POLICY.protected.blocked_columns("savings") == frozenset()       # not a credit product
    allowed = load_policy(_policy_with(tmp_path, lambda p: p["protected_attributes"].update(
        allow={"mortgage": ["age"]})))
    assert "age" not in allowed.protected.blocked_columns("mortgage")
    assert {"gender", "had_marriage"} <= allowed.protected.blocked_columns("mortgage")
    assert "age" in allowed.protected.blocked_columns("auto_loan")
    assert allowed.version != POLICY.version                                 # the decisions record the change


# -- each rule type ---------------------------------------------------------------------------------------

def test_a_clean_candidate_passes_every_rule(spark):
    assert excluded(spark) == ""


@pytest.mark.parametrize("changes, rule", [
    ({"age": 17}, "ELIG-ADULT"),
    ({"age": None}, "ELIG-ADULT"),
    ({"kyc_complete": False}, "ELIG-KYC"),
    ({"resident": False}, "ELIG-RESIDENT"),
    ({"holds_product": True}, "ELIG-NOT-HELD"),
    ({"product": "mortgage", "offer_id": "MTG-HOME", "age": 75}, "ELIG-MORTGAGE-AGE"),
    ({"offer_valid": False}, "ELIG-OFFER-VALID"),
    ({"marketing_consent": False}, "CONSENT-MARKETING"),
    ({"outflow_over_inflow_90d": 1.3}, "SUIT-CREDIT-STRESS"),
    ({"max_days_past_due": 45}, "SUIT-CREDIT-DELINQUENT"),
    ({"product": "credit_card", "offer_id": "CC-EVERYDAY", "has_savings": 0, "page_savings_rates_90d": 2},
     "SUIT-SAVE-FIRST"),
    ({"channel_contacts": 1}, "CONTACT-CHANNEL-CAP"),
    ({"contacts": 2}, "CONTACT-FATIGUE-CAP"),
    ({"declined_recently": True}, "CONTACT-DECLINE-COOLDOWN"),
])
def test_each_rule_excludes_what_it_describes(spark, changes, rule):
    assert excluded(spark, **changes).split(",") == [rule]


def test_suitability_rules_leave_deposits_alone_and_every_exclusion_is_named(spark):
    assert excluded(spark, product="savings", offer_id="SAV-GROW", is_credit=False, outflow_over_inflow_90d=1.5) == ""
    many = frame(spark, {"age": 17, "marketing_consent": False, "max_days_past_due": 60})
    row = apply_rules(many, POLICY).collect()[0]
    assert row.excluded_by == "ELIG-ADULT,CONSENT-MARKETING,SUIT-CREDIT-DELINQUENT"
    assert row.excluded_at == "eligibility"


def test_a_consent_withdrawal_is_honoured_the_same_day(spark):
    events = spark.createDataFrame([
        ("E1", "A", "marketing", "email", "granted", dt.datetime(2025, 1, 1, 9)),
        ("E2", "A", "marketing", "email", "withdrawn", dt.datetime(2026, 7, 1, 17, 30)),   # the decision day
        ("E3", "B", "marketing", "email", "granted", dt.datetime(2025, 1, 1, 9)),
        ("E4", "B", "marketing", "email", "withdrawn", dt.datetime(2026, 7, 2, 8, 0)),     # the day after
        ("E5", "C", "marketing", "mobile", "withdrawn", dt.datetime(2024, 1, 1, 9)),
        ("E6", "C", "marketing", "mobile", "granted", dt.datetime(2026, 6, 1, 9)),
        ("E7", "C", "profiling", "mobile", "withdrawn", dt.datetime(2026, 6, 2, 9)),       # another purpose
    ], "event_id string, customer_id string, purpose string, channel string, status string, recorded_at timestamp")
    consent = {(r.customer_id, r.channel): r.marketing_consent for r in marketing_consent(events, DAY).collect()}
    assert consent == {("A", "email"): False, ("B", "email"): True, ("C", "mobile"): True}


def test_a_marketing_withdrawal_for_all_channels_covers_each_channel_until_a_later_grant(spark):
    events = spark.createDataFrame([
        ("E1", "A", "marketing", "email", "granted", dt.datetime(2025, 1, 1, 9)),
        ("E2", "A", "marketing", "mobile", "granted", dt.datetime(2025, 1, 1, 9)),
        ("E3", "A", "marketing", "all", "withdrawn", dt.datetime(2026, 7, 1, 12)),     # no marketing at all, today
        ("E4", "B", "marketing", "all", "withdrawn", dt.datetime(2026, 1, 1, 9)),
        ("E5", "B", "marketing", "email", "granted", dt.datetime(2026, 3, 1, 9)),      # later: email again
    ], "event_id string, customer_id string, purpose string, channel string, status string, recorded_at timestamp")
    consent = {(r.customer_id, r.channel): r.marketing_consent for r in marketing_consent(events, DAY).collect()}
    assert consent == {**{("A", c): False for c in CHANNELS}, ("B", "email"): True,
                       **{("B", c): False for c in CHANNELS if c != "email"}}


def test_contact_history_counts_the_windows_of_the_caps(spark):
    ours = spark.createDataFrame([
        ("A", "email", DAY - dt.timedelta(days=1)), ("A", "mobile", DAY - dt.timedelta(days=6)),
        ("A", "email", DAY - dt.timedelta(days=7)),     # outside the 7 days
        ("A", "atm", DAY),                              # today's own run: not history
    ], "customer_id string, channel string, as_of_date date")
    campaigns = spark.createDataFrame([("A", "branch", DAY), ("B", "email", DAY - dt.timedelta(days=10))],
                                      "customer_id string, channel string, sent_date date")
    declines = spark.createDataFrame([("A", "savings", DAY - dt.timedelta(days=29)),
                                      ("B", "savings", DAY - dt.timedelta(days=30))],
                                     "customer_id string, product string, declined_date date")
    per_channel, per_customer, declined = contact_history(ours, campaigns, declines, DAY, POLICY)
    assert {(r.customer_id, r.channel): r.channel_contacts for r in per_channel.collect()} == {
        ("A", "email"): 1, ("A", "mobile"): 1, ("A", "branch"): 1}
    assert {r.customer_id: r.contacts for r in per_customer.collect()} == {"A": 3}
    assert [(r.customer_id, r.product) for r in declined.collect()] == [("A", "savings")]


# -- price, value, holdout, arbitration -------------------------------------------------------------------

def test_prices_stay_inside_the_approved_bounds_and_follow_risk(spark):
    rows = [{"customer_id": f"C{i}", "max_days_past_due": dpd, "credit_utilization": util,
             "outflow_over_inflow_90d": out}
            for i, (dpd, util, out) in enumerate([(0, 0.0, 0.5), (10, 0.5, 1.0), (90, 3.0, 9.0), (None, None, None)])]
    rows += [{"customer_id": "S", "offer_id": "SAV-GROW", "product": "savings", "price_kind": "deposit_rate",
              "price_min": 3.25, "price_max": 4.10, "tenure_days": 99999, "total_balance": 1e9},
             {"customer_id": "L", "offer_id": "CC-EVERYDAY", "product": "credit_card", "price_kind": "credit_limit",
              "price_min": 1000.0, "price_max": 15000.0, "max_days_past_due": 0, "credit_utilization": 0.0,
              "outflow_over_inflow_90d": 0.5},
             {"customer_id": "Z", "offer_id": "CC-EVERYDAY", "product": "credit_card", "price_kind": "credit_limit",
              "price_min": 1000.0, "price_max": 15000.0, "max_days_past_due": 90, "credit_utilization": 3.0,
              "outflow_over_inflow_90d": 9.0}]
    priced = {r.customer_id: r for r in add_price_and_value(frame(spark, *rows)).collect()}
    for r in priced.values():
        assert r.price_min <= r.price <= r.price_max
    assert priced["C0"].price == 8.99 and priced["C2"].price == 17.99   # cleanest pays least, riskiest most
    assert priced["C0"].price < priced["C1"].price < priced["C2"].price
    assert priced["S"].price == 4.10 and priced["L"].price == 15000.0 and priced["Z"].price == 1000.0
    assert priced["C0"].value == 420.0


def test_the_holdout_is_stable_near_its_share_and_never_offered(spark):
    ids = spark.range(20000).select(F.concat(F.lit("CU"), F.col("id").cast("string")).alias("customer_id"))
    first = {r.customer_id for r in ids.where(in_holdout(0.1)).collect()}
    again = {r.customer_id for r in ids.where(in_holdout(0.1)).collect()}
    assert first == again and 1800 < len(first) < 2200
    held, free = sorted(first)[0], next(f"CU{i}" for i in range(20000) if f"CU{i}" not in first)
    decided = arbitrate(add_price_and_value(apply_rules(frame(spark, {"customer_id": held},
                                                              {"customer_id": free}), POLICY)), POLICY)
    outcome = {r.customer_id: r.outcome for r in decided.collect()}
    assert outcome == {held: "holdout", free: "offered"}


def _decide(spark, *rows):
    rows = [{"customer_id": "CU2", **r} for r in rows]   # CU2 is not in the holdout
    decided = arbitrate(add_price_and_value(apply_rules(frame(spark, *rows), POLICY)), POLICY)
    return {(r.offer_id, r.channel): r for r in decided.collect()}


def test_arbitration_keeps_one_channel_per_product_and_the_best_value_per_channel(spark):
    out = _decide(spark,
                  {"offer_id": "PL-FLEX", "channel": "mobile", "probability": 0.05, "affinity": 0.2},
                  {"offer_id": "PL-FLEX", "channel": "email", "probability": 0.05, "affinity": 0.6},
                  {"offer_id": "AUTO-DRIVE", "product": "auto_loan", "channel": "email", "probability": 0.5,
                   "value_amount": 520.0},
                  {"offer_id": "MTG-HOME", "product": "mortgage", "channel": "mobile", "probability": 0.001,
                   "value_amount": 2600.0})
    # Personal loan: email is preferred (affinity), but email's one slot goes to the auto loan (EV 260 > 21).
    assert out[("AUTO-DRIVE", "email")].outcome == "offered" and out[("AUTO-DRIVE", "email")].rank == 1
    assert out[("PL-FLEX", "email")].outcome == "not_selected"
    assert out[("PL-FLEX", "mobile")].outcome == "not_selected"   # the product's channel was email
    # Mobile then has room for the mortgage: EV 2.6 but nothing better competes for the slot.
    assert out[("MTG-HOME", "mobile")].outcome == "offered"
    assert sum(r.outcome == "offered" for r in out.values()) <= POLICY.contact("fatigue_cap").limit


def test_the_fatigue_cap_counts_what_was_sent_before(spark):
    out = _decide(spark, {"offer_id": "PL-FLEX", "channel": "mobile", "contacts": 1},
                  {"offer_id": "AUTO-DRIVE", "product": "auto_loan", "channel": "email", "contacts": 1,
                   "probability": 0.5})
    offered = [k for k, r in out.items() if r.outcome == "offered"]
    assert offered == [("AUTO-DRIVE", "email")]   # one slot left this week: the higher expected value wins
    assert out[("PL-FLEX", "mobile")].note.startswith("the fatigue cap")


def test_closed_candidates_take_their_outcome_without_changing_any_open_ones(spark):
    """The arbitration ranks the open candidates alone: a candidate a rule excludes, or a customer in the
    holdout, ends with its own outcome, and adding or removing such rows changes no open candidate's decision."""
    ids = spark.range(100).select(F.concat(F.lit("CU"), F.col("id").cast("string")).alias("customer_id"))
    held = ids.where(in_holdout(POLICY.holdout_share)).orderBy("customer_id").first().customer_id
    open_rows = [{"customer_id": "CU2", "offer_id": "PL-FLEX", "channel": "mobile", "probability": 0.05},
                 {"customer_id": "CU2", "offer_id": "PL-FLEX", "channel": "email", "probability": 0.05,
                  "affinity": 0.6},
                 {"customer_id": "CU2", "offer_id": "AUTO-DRIVE", "product": "auto_loan", "channel": "email",
                  "probability": 0.5}]
    closed_rows = [{"customer_id": "CU2", "offer_id": "MTG-HOME", "product": "mortgage", "channel": "email",
                    "probability": 0.9, "value_amount": 2600.0, "marketing_consent": False},
                   {"customer_id": held, "offer_id": "PL-FLEX", "channel": "mobile", "probability": 0.9}]

    def decided(rows):
        out = arbitrate(add_price_and_value(apply_rules(frame(spark, *rows), POLICY)), POLICY)
        return {(r.customer_id, r.offer_id, r.channel): r for r in out.collect()}

    alone, beside = decided(open_rows), decided(open_rows + closed_rows)
    assert len(beside) == len(open_rows) + len(closed_rows)
    for key, row in alone.items():
        assert (beside[key].outcome, beside[key].rank, beside[key].propensity, beside[key].note) == (
            row.outcome, row.rank, row.propensity, row.note)
    # The mortgage beside them would take email's slot (expected value 0.9 against 0.5) were it open.
    assert [k for k, r in beside.items() if r.outcome == "offered"] == [("CU2", "AUTO-DRIVE", "email")]
    consent = beside[("CU2", "MTG-HOME", "email")]
    assert (consent.outcome, consent.rank, consent.propensity) == ("excluded", None, 0.0)
    assert consent.note == "excluded at consent"
    holdout = beside[(held, "PL-FLEX", "mobile")]
    assert (holdout.outcome, holdout.rank, holdout.propensity, holdout.holdout) == ("holdout", None, 0.0, True)


def test_business_levers_can_be_switched_off(spark):
    rows = ({"offer_id": "PL-FLEX", "channel": "mobile", "probability": 0.02, "value_amount": 420.0},
            {"offer_id": "AUTO-DRIVE", "product": "auto_loan", "channel": "mobile", "probability": 0.03,
             "value_amount": 10.0})
    with_value = dataclasses.replace(POLICY, use_value=True)
    by_value = arbitrate(add_price_and_value(apply_rules(frame(spark, *rows), with_value)), with_value)
    propensity_only = dataclasses.replace(POLICY, use_value=False)
    by_propensity = arbitrate(add_price_and_value(apply_rules(frame(spark, *rows), POLICY)), propensity_only)
    assert [r.offer_id for r in by_value.where("rank = 1").collect()] == ["PL-FLEX"]
    assert [r.offer_id for r in by_propensity.where("rank = 1").collect()] == ["AUTO-DRIVE"]


# -- channel content and fairness --------------------------------------------------------------------------

def test_channel_rows_carry_the_contract_columns_content_disclosure_and_reason(spark):
    decided = arbitrate(add_price_and_value(apply_rules(frame(spark, {"customer_id": "CU9"}), POLICY)), POLICY)
    decided = (decided.withColumn("decision_id", F.lit("DX1")).withColumn("catalog_version", F.lit("c"))
               .withColumn("policy_version", F.lit("p")))
    rows = channel_offers(decided, content_frame(spark, CATALOG), "mobile")
    assert rows.columns == contract_columns()
    (row,) = rows.collect()
    offer = CATALOG.offer("PL-FLEX")
    assert row.disclosure == offer.disclosure and row.reason == BASE["reason"]
    assert "{price}" not in row.body and f"{row.price:.2f}% APR" in row.body
    assert row.valid_from == DAY + dt.timedelta(days=1) and row.valid_to == DAY + dt.timedelta(days=offer.validity_days)
    assert channel_offers(decided, content_frame(spark, CATALOG), "email").count() == 0


def test_fairness_flags_a_group_offered_far_less_than_the_best(spark):
    people = [(f"M{i}", "M", 40) for i in range(40)] + [(f"F{i}", "F", 40) for i in range(40)]
    c360 = spark.createDataFrame([(DAY, c, g, a) for c, g, a in people],
                                 "as_of_date date, customer_id string, gender string, age int")
    offered = {f"M{i}" for i in range(36)} | {f"F{i}" for i in range(20)}   # 90% vs 50%
    decisions = spark.createDataFrame(
        [(c, "offered" if c in offered else "excluded", False, None, None, None) for c, _, _ in people],
        "customer_id string, outcome string, holdout boolean, price double, price_kind string, offer_id string")
    report = {(r.dimension, r.group, r.metric): r for r in fairness_report(decisions, c360, POLICY).collect()}
    female, male = report[("gender", "F", "offer_rate")], report[("gender", "M", "offer_rate")]
    assert female.value == 0.5 and male.ratio == 1.0
    assert female.ratio == pytest.approx(0.5 / 0.9, abs=1e-4) and female.flagged and not male.flagged
    assert not report[("age_band", "30-44", "offer_rate")].flagged
