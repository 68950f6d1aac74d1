"""The batch arbitration (jobs/decide/arbitrate.py) for one customer, in plain Python, for the decision API.

The batch decides with Spark window functions over every customer at once; the API has one customer's
candidates (a few dozen) and milliseconds. The order of the windows and their tie-breaks are the same, so with
the same inputs the same offers are selected and ranked: tests/integration/test_decision_api.py compares the two
for every customer of a bank. Each candidate is a dict with the columns the batch's arbitration reads:
offer_id, product, channel, channel_order, affinity, expected_value, excluded_by ("" when no rule excluded it),
holdout, channel_contacts, contacts.
"""

from __future__ import annotations

SELECTED_NOTE = "highest expected value within the contact limits"


def _desc(value) -> float:
    """A sort key for descending order with NULLs last (Spark's `desc`)."""
    return float("inf") if value is None else -value


def arbitrate(candidates: list[dict], offers_per_channel: int, channel_cap: int | None,
              fatigue_cap: int | None) -> list[dict]:
    """The candidates of one customer with `outcome`, `note` and `rank` set, as jobs.decide.arbitrate does:
    one channel per product, then the channel's room, then the fatigue cap's room, best expected value first."""
    rows = [dict(c) for c in candidates]
    for r in rows:
        r["_open"] = r["excluded_by"] == "" and not r["holdout"]

    by_product: dict[str, list[dict]] = {}
    for r in rows:
        by_product.setdefault(r["product"], []).append(r)
    for group in by_product.values():
        group.sort(key=lambda r: (not r["_open"], _desc(r["expected_value"]), _desc(r["affinity"]),
                                  r["channel_order"], r["offer_id"], r["channel"]))
        for i, r in enumerate(group):
            r["_pick"] = r["_open"] and i == 0
            r["_in_slot"] = r["_open"] and r["channel"] == group[0]["channel"]

    by_channel: dict[str, list[dict]] = {}
    for r in rows:
        by_channel.setdefault(r["channel"], []).append(r)
    for group in by_channel.values():
        group.sort(key=lambda r: (not r["_pick"], _desc(r["expected_value"]), r["offer_id"]))
        for i, r in enumerate(group, start=1):
            room = min(offers_per_channel, channel_cap - r["channel_contacts"]) if channel_cap is not None \
                else offers_per_channel
            r["_fits"] = r["_pick"] and i <= room

    ordered = sorted(rows, key=lambda r: (not r["_fits"], _desc(r["expected_value"]), r["offer_id"], r["channel"]))
    for i, r in enumerate(ordered, start=1):
        room = fatigue_cap - r["contacts"] if fatigue_cap is not None else 1_000_000
        r["_selected"] = r["_fits"] and i <= room

    for group in by_channel.values():
        group.sort(key=lambda r: (not r["_selected"], _desc(r["expected_value"]), r["offer_id"]))
        for i, r in enumerate(group, start=1):
            r["rank"] = i if r["_selected"] else None
    for r in rows:
        r["outcome"], r["note"] = _outcome(r)
        for k in ("_open", "_pick", "_in_slot", "_fits", "_selected"):
            del r[k]
    return rows


def _outcome(r: dict) -> tuple[str, str]:
    if r["holdout"]:
        return "holdout", "in the random holdout: receives no offer (uplift measurement)"
    if r["excluded_by"]:
        return "excluded", f"excluded at {r['excluded_at']}"
    if r["_selected"]:
        return "offered", SELECTED_NOTE
    if not r["_pick"] and r["_in_slot"]:
        return "not_selected", "another offer of the same product ranks higher on this channel"
    if not r["_pick"]:
        return "not_selected", "the same product goes out on a channel the customer prefers"
    if not r["_fits"]:
        return "not_selected", "the channel's room went to offers of higher expected value"
    return "not_selected", "the fatigue cap's room went to offers of higher expected value"
