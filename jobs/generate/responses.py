"""The world answers the bank: responses to the offers the bank published for the channels.

The channels present each published offer (home/exports/<channel>/<date>.parquet, the files the bank
hands them) and report what the customer did. A channel knows who a customer token is (it holds the
bank's contact details); the simulation finds the same person through the lakehouse crosswalk (token ->
silo ids) and the world's silo ids (-> person). The customer's reaction is drawn the way the legacy
campaigns' are (campaigns.py), from the person's true monthly propensity for the product raised by the
offer, more on the channel they prefer:

- impression: the offer is seen within 0-3 days of valid_from (the channel's open rate);
- click: a quarter of the impressions, and every acceptance;
- accepted with probability min(MAX_ACCEPT, p_true x OFFER_LIFT x channel fit), else declined by half of
  the clickers; product_opened by fulfilment 0-5 days after 90% of acceptances.

Draws come from the decision id (not from a stream), so every export of a day reports the same events.
Products opened this way are reported here, not added to the silo exports (the simulated world is not
changed by the bank's decisions).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa

from jobs.domain import PRODUCTS
from jobs.generate import text
from jobs.generate.campaigns import CLICK_RATE, OPEN_RATE, acceptance_probability
from jobs.generate.common import date_of, day_of
from jobs.generate.people import CHANNELS

EVENT_TYPES = ("impression", "click", "accepted", "declined", "product_opened")
FULFILMENT_RATE = 0.9
LOOKBACK_DAYS = 45     # offers published this long before the export can still be answered in it
COLUMNS = ("decision_id", "customer_id", "channel", "product", "event_type", "event_at")


def uniform_of(keys: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of key ^ salt, as floats in [0, 1)."""
    z = (keys ^ np.uint64(salt * 0x9E3779B97F4A7C15 % 2**64)) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2 ** 53)


def published_offers(home: Path, first: dt.date, last: dt.date):
    """The channel exports with as_of_date in first..last, with the channel as a column (pandas)."""
    import pandas as pd

    frames = []
    for channel in CHANNELS:
        folder = home / "exports" / channel
        for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
            try:
                day = dt.date.fromisoformat(path.stem)
            except ValueError:
                continue
            if first <= day <= last:
                frame = pd.read_parquet(path, columns=["decision_id", "customer_id", "product", "valid_from"])
                frames.append(frame.assign(channel=channel))
    if not frames:
        return pd.DataFrame(columns=["decision_id", "customer_id", "product", "valid_from", "channel"])
    return pd.concat(frames, ignore_index=True)


def token_to_person(storage: str, silo_ids: dict) -> dict[str, int]:
    """customer token -> person index, through the lakehouse crosswalk and the world's silo ids.

    The generator plays the channels, outside the bank: it runs without a Spark session (numpy and Arrow
    only, before any step), so it reads the crosswalk with delta-rs (jobs/maintenance.py) at its location in
    the storage (MARKETOFONE_STORAGE_URI), not through the bank's engine."""
    import pandas as pd

    from jobs import maintenance
    from jobs.settings import table_location

    path = table_location(storage, "silver", "customer_crosswalk")
    if not maintenance.is_delta_table(path):
        return {}
    crosswalk = maintenance.read_rows(path, columns=["silo", "silo_customer_id", "customer_id"]).to_pandas()
    truth = pd.DataFrame({"silo": silo_ids["silo"], "silo_customer_id": silo_ids["silo_customer_id"],
                          "person": silo_ids["person_id"] - 1})
    linked = crosswalk.merge(truth, on=["silo", "silo_customer_id"])
    return linked.groupby("customer_id")["person"].agg(lambda s: int(s.mode().iloc[0])).to_dict()


def responses(world, home: Path, storage: str, silo_ids: dict, first: int, last: int) -> dict[str, pa.Array]:
    """The response events with a day in first..last (world days), as the contract's columns."""
    start, end = date_of(first).astype(dt.date), date_of(last).astype(dt.date)
    offers = published_offers(home, start - dt.timedelta(days=LOOKBACK_DAYS), end)
    people = token_to_person(storage, silo_ids) if len(offers) else {}
    offers = offers.assign(person=offers["customer_id"].map(people)).dropna(subset=["person"])
    empty = {c: pa.array([], pa.string()) for c in COLUMNS}
    if offers.empty:
        return empty
    person = offers["person"].to_numpy(np.int64)
    product = np.array([PRODUCTS.index(p) for p in offers["product"]])
    channel = np.array([CHANNELS.index(c) for c in offers["channel"]])
    shown_from = day_of(offers["valid_from"].to_numpy().astype("datetime64[D]"))
    keys = np.array([int(d[2:18], 16) for d in offers["decision_id"]], dtype=np.uint64)
    u = {name: uniform_of(keys, salt) for salt, name in enumerate(
        ("seen", "click", "accept", "decline", "open", "lag_seen", "lag_answer", "lag_open", "second"), start=1)}

    months = world.months
    month_of = np.searchsorted(np.array([m.offset for m in months]), shown_from, side="right") - 1
    month_of = np.clip(month_of, 0, len(world.probabilities) - 1)
    p_true = np.zeros(len(offers))
    for m in np.unique(month_of):
        rows = month_of == m
        table = np.column_stack([world.probabilities[m][f"p_{p}"] for p in PRODUCTS])
        p_true[rows] = table[person[rows], product[rows]]
    accepted = u["accept"] < acceptance_probability(p_true, channel == world.pop.channel[person])
    seen = accepted | (u["seen"] < np.array([OPEN_RATE[c] for c in CHANNELS])[channel])
    clicked = accepted | (seen & (u["click"] < CLICK_RATE))
    declined = clicked & ~accepted & (u["decline"] < 0.5)
    opened = accepted & (u["open"] < FULFILMENT_RATE)
    seen_day = shown_from + (u["lag_seen"] * 4).astype(np.int64)
    answer_day = seen_day + (u["lag_answer"] * 6).astype(np.int64)
    open_day = answer_day + (u["lag_open"] * 6).astype(np.int64)
    second = 8 * 3600 + (u["second"] * 12 * 3600).astype(np.int64)

    parts = []
    for event, happened, day in (("impression", seen, seen_day), ("click", clicked, seen_day),
                                 ("accepted", accepted, answer_day), ("declined", declined, answer_day),
                                 ("product_opened", opened, open_day)):
        rows = np.flatnonzero(happened & (day >= first) & (day <= last))
        parts.append((rows, event, day[rows], second[rows] + (EVENT_TYPES.index(event) * 60)))
    rows = np.concatenate([p[0] for p in parts])
    return {
        "decision_id": pa.array(offers["decision_id"].to_numpy()[rows].tolist(), pa.string()),
        "customer_id": pa.array(offers["customer_id"].to_numpy()[rows].tolist(), pa.string()),
        "channel": pa.array(offers["channel"].to_numpy()[rows].tolist(), pa.string()),
        "product": pa.array(offers["product"].to_numpy()[rows].tolist(), pa.string()),
        "event_type": pa.array([p[1] for p in parts for _ in range(len(p[0]))], pa.string()),
        "event_at": text.timestamps(date_of(np.concatenate([p[2] for p in parts])),
                                    np.concatenate([p[3] for p in parts])),
    }
