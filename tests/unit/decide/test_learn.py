"""The adaptive response model: factors shrunk level by level, a new offer starting from its product's factor, no
age in a credit offer's context, only old enough decisions learned from, and arbitration ranking by what was
learned."""

import dataclasses
import datetime as dt

import pytest

from jobs.decide.arbitrate import arbitrate
from jobs.decide.catalog import Learning, load_policy
from jobs.decide.learn import ANY, ITERATIONS, context, learn, new_offer_upper, shown_history, with_learned_factor
from jobs.decide.pricing import add_price_and_value
from jobs.decide.rules import apply_rules
from tests.decide_fixtures import DAY, frame

POLICY = load_policy()
A = 5.0   # prior strength


def _week(cell) -> int:
    return cell[4] if len(cell) > 4 else 0


def _history(spark, cells):
    """Shown offers: per (offer, product, channel, context[, months before]) `n` shows at probability `p`, `k` of
    them accepted, decided on DAY - 14 days (- 30 per month before)."""
    rows = []
    for cell, (n, p, k) in cells.items():
        day = DAY - dt.timedelta(days=14 + 30 * _week(cell))
        rows += [(day, *cell[:4], p, int(i < k)) for i in range(n)]
    return spark.createDataFrame(rows, "as_of_date date, offer_id string, product string, channel string, "
                                       "context string, probability double, accepted int")


def _factors(learned):
    return {(r.level, r.offer_id if r.offer_id != ANY else r.product, r.channel, r.context): r.factor
            for r in learned.collect()}


def _total(cells, key_of, weight):
    """Per key: accepted and expected (n x p x the show's weight) over the cells."""
    sums = {}
    for cell, (n, p, k) in cells.items():
        acc = sums.setdefault(key_of(cell), [0, 0.0])
        acc[0] += k
        acc[1] += n * p * weight[cell]
    return sums


def _reference(cells, a, rounds=ITERATIONS):
    """learn()'s factors computed by hand from the cells (n shows at probability p, k accepted, in a month): the
    product levels with each show counted at its offer's and month's factor, the months against the contexts and
    offers, the offers against the contexts and months, in turn."""
    month = {c: _week(c) for c in cells}
    offer, period = {}, {}
    for _ in range(rounds):
        r = {c: offer.get((c[0], c[2]), 1.0) for c in cells}
        t = {c: period.get((c[1], month[c]), 1.0) for c in cells}
        rt = {c: r[c] * t[c] for c in cells}
        channel = {key: (k + a) / (e + a) for key, (k, e) in _total(cells, lambda c: c[2], rt).items()}
        product = {key: (k + a * channel[key[1]]) / (e + a)
                   for key, (k, e) in _total(cells, lambda c: (c[1], c[2]), rt).items()}
        ctx = {key: (k + a * product[key[:2]]) / (e + a)
               for key, (k, e) in _total(cells, lambda c: (c[1], c[2], c[3]), rt).items()}
        f = {c: ctx[(c[1], c[2], c[3])] for c in cells}
        period = {key: (k + a) / (e + a) for key, (k, e) in _total(
            cells, lambda c: (c[1], month[c]), {c: f[c] * r[c] for c in cells}).items()}   # noqa: B023
        t = {c: period[(c[1], month[c])] for c in cells}
        offer = {key: (k + a) / (e + a) for key, (k, e) in _total(
            cells, lambda c: (c[0], c[2]), {c: f[c] * t[c] for c in cells}).items()}
    return channel, product, ctx, offer, period


def test_each_level_is_shrunk_toward_the_coarser_one_and_offers_against_their_contexts(spark):
    cells = {("SAV-GROW", "savings", "mobile", "frequent|under_50"): (1000, 0.05, 150),
             ("SAV-GROW", "savings", "mobile", "offline|65_plus"): (1000, 0.05, 30),
             ("SAV-PLUS", "savings", "mobile", "offline|65_plus"): (1000, 0.05, 60),
             ("TD-12M", "term_deposit", "mobile", "offline|65_plus"): (100, 0.1, 10)}
    got = _factors(learn(_history(spark, cells), DAY, A))
    channel, product, ctx, offer, _ = _reference(cells, A)
    assert got[("channel", ANY, "mobile", ANY)] == pytest.approx(channel["mobile"], abs=2e-6)
    for (p, ch), f in product.items():
        assert got[("product", p, ch, ANY)] == pytest.approx(f, abs=2e-6)
    for (p, ch, c), f in ctx.items():
        assert got[("context", p, ch, c)] == pytest.approx(f, abs=2e-6)
    for (o, ch), f in offer.items():
        assert got[("offer", o, ch, ANY)] == pytest.approx(f, abs=2e-6)
    # The evidence says the young, digital customers answer far more often than the offline older ones, and
    # SAV-PLUS, shown only to the offline older ones, better than SAV-GROW there: it is not blamed for them.
    assert got[("context", "savings", "mobile", "frequent|under_50")] > 2 * got[
        ("context", "savings", "mobile", "offline|65_plus")]
    assert got[("offer", "SAV-PLUS", "mobile", ANY)] > got[("offer", "SAV-GROW", "mobile", ANY)]
    assert len(got) == 1 + 2 + 3 + 2 + 3   # channel, products, contexts, periods (one month), offers
    # One round is the plain hierarchy: the offers against contexts learned with every offer at 1.
    one = _reference(cells, A, rounds=1)[0]
    assert one["mobile"] == pytest.approx((150 + 30 + 60 + 10 + A) / (50 + 50 + 50 + 10 + A))


def test_an_offer_shown_in_a_worse_month_is_not_blamed_for_the_month(spark):
    # SAV-GROW was accepted twice as often as expected the month before, as expected this month (the month was
    # worse for savings: the season); SAV-PLUS, new this month, half as often again as SAV-GROW the same month.
    cells = {("SAV-GROW", "savings", "mobile", "frequent|under_50", 1): (1000, 0.05, 100),
             ("SAV-GROW", "savings", "mobile", "frequent|under_50", 0): (400, 0.05, 20),
             ("SAV-PLUS", "savings", "mobile", "frequent|under_50", 0): (1000, 0.05, 75)}
    learned = learn(_history(spark, cells), DAY, A)
    got = {(r.level, r.offer_id, r.context): r.factor for r in learned.collect()}
    *_, offer, period = _reference(cells, A)
    assert got[("offer", "SAV-PLUS", ANY)] == pytest.approx(offer[("SAV-PLUS", "mobile")], abs=2e-6)
    assert got[("offer", "SAV-GROW", ANY)] == pytest.approx(offer[("SAV-GROW", "mobile")], abs=2e-6)
    assert got[("offer", "SAV-PLUS", ANY)] > got[("offer", "SAV-GROW", ANY)]
    months = sorted((r.context, r.factor) for r in learned.where("level = 'period'").collect())
    assert [m for m, _ in months] == ["2026-05-01", "2026-06-01"]   # DAY - 44 and DAY - 14: the months' first days
    assert months[0][1] > 1.3 * months[1][1]   # the earlier month was better for every savings offer
    # Without the months, SAV-PLUS would look worse than SAV-GROW: (75 / 50) against (120 / 70).
    assert 75 / 50 < 120 / 70


def test_a_new_offer_starts_from_what_its_product_earned_and_nothing_learned_is_a_factor_of_one(spark):
    learned = learn(_history(spark, {("SAV-GROW", "savings", "mobile", "frequent|under_50"): (400, 0.05, 60),
                                     ("SAV-GROW", "savings", "mobile", "offline|65_plus"): (400, 0.05, 10)}), DAY, A)
    f = _factors(learned)
    candidates = spark.createDataFrame(
        [("SAV-GROW", "savings", "mobile", "frequent|under_50"), ("SAV-PLUS", "savings", "mobile", "frequent|under_50"),
         ("SAV-PLUS", "savings", "mobile", "regular|under_50"),
         ("TD-12M", "term_deposit", "mobile", "offline|65_plus"),
         ("TD-12M", "term_deposit", "email", "offline|65_plus")],
        "offer_id string, product string, channel string, context string")
    got = {(r.offer_id, r.channel, r.context): r.learned_factor
           for r in with_learned_factor(candidates, learned).collect()}
    young = f[("context", "savings", "mobile", "frequent|under_50")]
    upper = {(r.level, r.offer_id): r.upper for r in learned.collect()}
    assert got[("SAV-GROW", "mobile", "frequent|under_50")] == pytest.approx(
        young * upper[("offer", "SAV-GROW")], abs=1e-6)   # the offer's factor at its upper bound
    # Cold start: the new offer is what its product's offers earned in the same context, and where they were
    # never shown, what they earned on the channel.
    assert got[("SAV-PLUS", "mobile", "frequent|under_50")] == young
    assert got[("SAV-PLUS", "mobile", "regular|under_50")] == f[("product", "savings", "mobile", ANY)]
    assert got[("TD-12M", "mobile", "offline|65_plus")] == f[("channel", ANY, "mobile", ANY)]  # a product never shown
    assert got[("TD-12M", "email", "offline|65_plus")] == 1.0                                 # nothing on the channel
    assert young > 2.0   # the prior carries evidence
    # Ranked, a never-shown offer gets the upper bound its prior would have: no evidence is never below thin.
    unseen = new_offer_upper(POLICY.learning)
    optimistic = {(r.offer_id, r.context): r.learned_factor
                  for r in with_learned_factor(candidates, learned, unseen).collect() if r.channel == "mobile"}
    assert optimistic[("SAV-PLUS", "frequent|under_50")] == pytest.approx(young * unseen, abs=1e-6)
    assert optimistic[("TD-12M", "offline|65_plus")] == f[("channel", ANY, "mobile", ANY)]   # no sibling shown: 1
    assert unseen == 1 + POLICY.learning.optimism / POLICY.learning.prior_strength ** 0.5 > 1
    off = with_learned_factor(candidates, None).collect()
    assert all(r.learned_factor is None for r in off)


def test_a_credit_offers_context_never_holds_the_age_group(spark):
    rows = spark.createDataFrame([("credit_card", 25, 40), ("savings", 25, 40), ("mortgage", 70, 0),
                                  ("term_deposit", 70, 0), ("savings", None, None)],
                                 "product string, age int, sessions_90d int")
    got = [r.c for r in rows.select(context(POLICY).alias("c")).collect()]
    assert got == ["frequent|*", "frequent|under_50", "offline|*", "offline|65_plus", "unknown|unknown"]
    allowed = dataclasses.replace(POLICY, protected=dataclasses.replace(POLICY.protected,
                                                                        allow={"mortgage": ("age",)}))
    assert rows.select(context(allowed).alias("c")).collect()[2].c == "offline|65_plus"


def test_only_the_daily_runs_offers_old_enough_to_be_answered_are_learned_from(spark):
    learning = Learning(enabled=True, prior_strength=A, window_days=30, maturity_days=10)
    rows = [("DX1", DAY - dt.timedelta(days=12), "offered", "c"), ("DX2", DAY - dt.timedelta(days=5), "offered", "c"),
            ("DX3", DAY - dt.timedelta(days=40), "offered", "c"), ("DA4", DAY - dt.timedelta(days=12), "offered", "c"),
            ("DX5", DAY - dt.timedelta(days=12), "not_selected", "c"),
            ("DX6", DAY - dt.timedelta(days=12), "offered", None)]
    log = spark.createDataFrame([(i, d, o, ctx, "SAV-GROW", "savings", "mobile", 0.05) for i, d, o, ctx in rows],
                                "decision_id string, as_of_date date, outcome string, context string, offer_id string, "
                                "product string, channel string, probability double")
    responses = spark.createDataFrame([("DX1", "accepted"), ("DX1", "click"), ("DX2", "accepted")],
                                      "decision_id string, event_type string")
    got = shown_history(log, responses, DAY, learning).collect()
    assert [(r.offer_id, r.accepted) for r in got] == [("SAV-GROW", 1)]


def test_arbitration_ranks_by_the_learned_acceptance_when_the_policy_learns(spark):
    # The model ranks the loan first (0.05 against 0.04); offers of savings were accepted three times as often as
    # the model expected, the loan's as often: learning puts savings first.
    rows = [{"customer_id": "C1", "channel": "mobile", "probability": 0.05, "context": "frequent|*"},
            {"customer_id": "C1", "channel": "mobile", "offer_id": "SAV-GROW", "product": "savings", "is_credit": False,
             "price_kind": "deposit_rate", "price_min": 3.25, "price_max": 4.1, "value_kind": "income_linked",
             "value_amount": 60.0, "probability": 0.04, "context": "frequent|under_50"}]
    learned = learn(_history(spark, {("SAV-GROW", "savings", "mobile", "frequent|under_50"): (1000, 0.04, 120),
                                     ("PL-FLEX", "personal_loan", "mobile", "frequent|*"): (1000, 0.05, 50)}), DAY, A)
    candidates = frame(spark, *[{k: v for k, v in r.items() if k != "context"} for r in rows])
    candidates = candidates.join(spark.createDataFrame([(r.get("offer_id", "PL-FLEX"), r["context"]) for r in rows],
                                                       "offer_id string, context string"), "offer_id")

    def offered(policy, learned_cells):
        priced = add_price_and_value(apply_rules(with_learned_factor(candidates, learned_cells), policy))
        return arbitrate(priced, policy).where("outcome = 'offered'").select("offer_id", "learned_factor").first()

    off = dataclasses.replace(POLICY, learning=dataclasses.replace(POLICY.learning, enabled=False), holdout_share=0.0)
    on = dataclasses.replace(off, learning=dataclasses.replace(POLICY.learning, enabled=True))
    assert offered(off, None).offer_id == "PL-FLEX"
    chosen = offered(on, learned)
    f = _factors(learned)
    assert chosen.offer_id == "SAV-GROW"
    upper = learned.where("level = 'offer' AND offer_id = 'SAV-GROW'").first().upper
    assert chosen.learned_factor == pytest.approx(f[("context", "savings", "mobile", "frequent|under_50")] * upper,
                                                  abs=1e-5)


@pytest.mark.parametrize("learning, message", [
    ({"prior_strength": 0}, "prior_strength must be above 0"),
    ({"maturity_days": 90}, "maturity_days < window_days"),
    ({"enabled": "yes"}, "'enabled' must be bool"),
    ({"optimism": -1.0}, "optimism must be 0 or more"),
])
def test_a_learning_block_that_cannot_learn_is_refused(tmp_path, learning, message):
    import json

    from jobs.decide.catalog import CatalogError

    raw = json.loads(load_policy.__globals__["DECISIONING"].joinpath("policy.json").read_text())
    raw["learning"].update(learning)
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(CatalogError, match=message):
        load_policy(path)
    assert load_policy().learning == Learning(enabled=True, prior_strength=2.0, window_days=90, maturity_days=10,
                                              optimism=1.0)


def test_optimism_ranks_an_offer_with_thin_evidence_above_an_equal_one_with_much(spark):
    # Both offers were accepted exactly as their product's factor expects; the new one was shown 40 times.
    cells = {("SAV-GROW", "savings", "mobile", "frequent|under_50"): (4000, 0.05, 400),
             ("SAV-PLUS", "savings", "mobile", "frequent|under_50"): (40, 0.05, 4)}
    learned = learn(_history(spark, cells), DAY, A, optimism=1.0)
    offers = {r.offer_id: r for r in learned.where("level = 'offer'").collect()}
    assert offers["SAV-PLUS"].factor == pytest.approx(offers["SAV-GROW"].factor, abs=0.02)
    assert offers["SAV-PLUS"].upper > offers["SAV-GROW"].upper + 0.2
    # Ranked: the savings offers at their upper bounds; credit on its evidence alone, never on optimism.
    cells[("CC-EVERYDAY", "credit_card", "mobile", "frequent|*")] = (40, 0.05, 2)
    both = learn(_history(spark, cells), DAY, A, optimism=1.0)
    offers = {r.offer_id: r for r in both.where("level = 'offer'").collect()}
    candidates = spark.createDataFrame([("SAV-PLUS", "savings", "mobile", "frequent|under_50"),
                                        ("CC-EVERYDAY", "credit_card", "mobile", "frequent|*"),
                                        ("CC-CASHBACK", "credit_card", "mobile", "frequent|*")],
                                       "offer_id string, product string, channel string, context string")
    ranked = {r.offer_id: r.learned_factor for r in with_learned_factor(
        candidates, both, unseen=1.5, cautious=POLICY.no_explore).collect()}
    f = _factors(both)
    assert ranked["SAV-PLUS"] == pytest.approx(f[("context", "savings", "mobile", "frequent|under_50")]
                                               * offers["SAV-PLUS"].upper, abs=1e-5)
    card_ctx = f[("context", "credit_card", "mobile", "frequent|*")]
    assert ranked["CC-EVERYDAY"] == pytest.approx(card_ctx * f[("offer", "CC-EVERYDAY", "mobile", ANY)], abs=1e-5)
    assert ranked["CC-CASHBACK"] == pytest.approx(card_ctx, abs=1e-6)   # a new card: its product's, no optimism
    plain = {r.offer_id: r for r in learn(_history(spark, cells), DAY, A).where("level = 'offer'").collect()}
    assert all(r.upper == r.factor for r in plain.values())
