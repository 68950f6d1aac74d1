"""Answers from audit.decision_log: why did customer X get offer Y on date D, and why not offer Z.

Read with delta-rs (no Spark session: an answer takes well under a second). Rules are described in the
words of the policy version the decision was taken under (gold.decision_policy keeps every version).
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from jobs.decide.catalog import load_policy
from jobs.tables import Lakehouse

OUTCOME_WORDS = {"offered": "OFFERED", "not_selected": "not selected", "excluded": "EXCLUDED",
                 "holdout": "held out"}


def _rule_descriptions(lh: Lakehouse, policy_version: str) -> dict[str, str]:
    words = {}
    if lh.exists("gold.decision_policy"):
        rules = lh.rows("gold.decision_policy", filters=[("policy_version", "=", policy_version)]).to_pandas()
        words = dict(zip(rules["rule_id"], rules["description"], strict=True))
    if not words:
        current = load_policy()
        words = {r.rule_id: r.description for r in current.rules}
    return words


def decisions_of(lh: Lakehouse, customer_id: str, day: dt.date):
    if not lh.exists("audit.decision_log"):
        raise FileNotFoundError("audit.decision_log has not been written yet; run the offers step first")
    return lh.rows("audit.decision_log",
                   filters=[("as_of_date", "=", day), ("customer_id", "=", customer_id)]).to_pandas()


def explain(lh: Lakehouse, customer_id: str, day: dt.date, offer: str | None = None) -> dict:
    """{"customer_id", "as_of_date", "answer": [lines], "decisions": [rows as dicts]} for one customer and
    date, narrowed to one offer (an offer id or a product) when given."""
    rows = decisions_of(lh, customer_id, day)
    if rows.empty:
        raise LookupError(f"no decision for customer {customer_id} on {day}: the customer was not in that day's "
                          "customer-360, or no model was champion yet (see gold.propensity_scores)")
    if offer:
        rows = rows[(rows["offer_id"] == offer) | (rows["product"] == offer)]
        if rows.empty:
            raise LookupError(f"{offer} was not a candidate for {customer_id} on {day}: not in the catalog, "
                              "or its product had no champion model to score it")
    rows = rows.sort_values(["product", "offer_id", "channel"])
    words = _rule_descriptions(lh, rows["policy_version"].iloc[0])
    lines = [f"customer {customer_id} on {day} (catalog {rows['catalog_version'].iloc[0]}, "
             f"policy {rows['policy_version'].iloc[0]}):"]
    if rows["holdout"].any():
        lines.append("  in the random holdout: this customer receives no offer, so the uplift can be measured")
    for (offer_id, product), group in rows.groupby(["offer_id", "product"], sort=False):
        score = group["probability"].iloc[0]
        model = f"{group['model'].iloc[0]} v{group['model_version'].iloc[0]}"
        lines.append(f"- {offer_id} ({product}): score {score:.4f} from {model}; reason: {group['reason'].iloc[0]}")
        for r in group.itertuples():
            head = f"    {r.channel:<7} {OUTCOME_WORDS[r.outcome]}"
            if r.outcome == "offered":
                price = "" if r.price != r.price or r.price is None else f", price {r.price:g} {r.price_unit}"
                lines.append(f"{head} (rank {int(r.rank)}, expected value {r.expected_value:.2f}{price}"
                             f"{_learned(r)}); decision {r.decision_id}")
            elif r.outcome == "excluded":
                lines.append(f"{head} by " + "; ".join(f"{rule}: {words.get(rule, '(rule not in the policy)')}"
                                                        for rule in r.excluded_by.split(",")))
            else:
                lines.append(f"{head}: {r.note}")
    return {"customer_id": customer_id, "as_of_date": day.isoformat(), "answer": lines,
            "decisions": [_json_ready(r) for r in rows.to_dict("records")]}


def _learned(r) -> str:
    """What learning and exploration added to an offered decision (nothing for rows logged without them)."""
    out = ""
    factor = getattr(r, "learned_factor", None)
    if factor is not None and factor == factor:
        out += (f"; the model's score x {factor:.2f}, what offers like it were accepted on {r.channel} by customers "
                f"like this ({r.context}) against the scores")
    chance = getattr(r, "propensity", None)
    if chance is not None and chance == chance and chance < 1:
        out += f"; shown with probability {chance:.3f} (the policy's exploration)"
    return out


def _json_ready(record: dict) -> dict:
    """None for a missing or non-finite number (NaN, NaT, NA, inf): JSON has no NaN, and a rank or price that
    does not apply is null."""
    def plain(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return None if pd.api.types.is_scalar(value) and pd.isna(value) else value

    return {k: plain(v) for k, v in record.items()}
