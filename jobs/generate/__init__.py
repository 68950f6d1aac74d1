"""The synthetic bank: one world of people and their bank, exported day by day by its source systems.

    generate_bank(settings, as_of)               a full export: the history window (as_of - history_days,
                                                 as_of] of activity, the books and customers as of as_of,
                                                 the consent ledger from its beginning
    generate_bank(settings, as_of, daily=True)   a daily increment: the as-of day's activity and consent
                                                 changes, the books and customers as of that day
    generate_days(settings, first, last)         daily increments for every day first..last (one world)
    ... events=True                              a daily increment's activity also as events (stream/events/)

Each writes sixteen CSV files under <home>/landing/<silo>/<entity>/<as_of>.csv (contracts in
schemas/landing/) and the ground truth the lakehouse must never load (settings.ground_truth). Steps:

  people.py     who the people are: demographics, identity, latent traits, channels   (identity streams)
  holdings.py   their silos, products and ids at EPOCH; terms of what they may open   (identity streams)
  events.py     life events: home purchase, marriage, new child, job change, retirement
  world.py      the month-by-month simulation (openings.py, consent.py, campaigns.py, behaviour.py,
                digital.py) and the books on any day
  silos.py      each source system's rendering: ids, name/date/phone formats, record noise
  defects.py    a small share of broken rows for the ingest layer to quarantine
  event_stream.py  the day's activity again as events, in time order, for the streaming jobs (events=True)
  writer.py     atomic CSV / Parquet writes
  (common.py: random streams and calendars; reference.py: names, merchants, MCCs, pages;
   text.py: vectorized formatting of ids, dates and money)

The world starts at common.EPOCH and does not depend on the export date, so exports of different dates
agree: a transaction keeps its id, a customer their ids, an account its balance history. Same inputs,
byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.domain import PRODUCTS
from jobs.generate import defects, event_stream, text, writer
from jobs.generate.common import EPOCH, NEVER, date_of, day_of, stream
from jobs.generate.events import EVENTS
from jobs.generate.holdings import DEPOSIT_SLOTS, LOAN_SLOTS
from jobs.generate.openings import CAUSES, PRODUCT_SILO
from jobs.generate.people import CHANNELS
from jobs.generate.responses import responses as channel_responses
from jobs.generate.silos import render
from jobs.generate.world import World, simulate_world
from jobs.settings import Settings, parse_date

log = logging.getLogger(__name__)

FILES = (
    "deposits/customers", "deposits/accounts", "deposits/balances", "deposits/transactions",
    "cards/cardholders", "cards/accounts", "cards/balances", "cards/transactions",
    "lending/borrowers", "lending/loans", "lending/balances", "lending/repayments",
    "digital/sessions", "crm/consents", "crm/offers", "crm/life_events", "channels/responses",
)
MAX_CUSTOMERS = 900_000  # cardholder refs have 6 digits
FIRST_DATE = EPOCH.astype(dt.date)


def landing_path(settings: Settings, file: str, as_of: dt.date):
    silo, entity = file.split("/")
    return settings.landing / silo / entity / f"{as_of.isoformat()}.csv"


def _check(settings: Settings, dates: list[dt.date], daily: bool) -> None:
    if not 1 <= settings.customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be between 1 and {MAX_CUSTOMERS}, got {settings.customers}")
    if not daily and (settings.history_days < settings.label_horizon_days or settings.history_days < 1):
        raise ValueError(f"history_days ({settings.history_days}) must be >= label_horizon_days "
                         f"({settings.label_horizon_days}) and positive")
    if min(dates) < FIRST_DATE:
        raise ValueError(f"the generated world starts on {FIRST_DATE}; no export before it ({min(dates)})")


def _emit_events(settings: Settings, day: dt.date, events: list[tuple[str, bytes]]) -> int:
    """The day's events as files in the landing stream folder, or, with a broker (MARKETOFONE_EVENTS_BROKER),
    published to its topic in the same order; publishing a day again sends the same events with the same ids,
    which the consumers recognize."""
    if not settings.events_broker:
        return event_stream.write_events(settings.home, day, events)
    from jobs.stream.broker import epoch_ms, publish

    return publish(settings.events_broker, ((epoch_ms(occurred_at), line) for occurred_at, line in events))


def generate_bank(settings: Settings, as_of: dt.date | str, daily: bool = False, events: bool = False) -> dict:
    """Write one export for `as_of` (see the module doc) and the ground truth.

    Returns {"persons": n, "files": {"deposits/customers": rows, ...}, "openings": {product: n in the
    export's window}, "defects": n, "first_day": date, "as_of": date} with the data rows written per
    file (defective and duplicated rows included). With events (a daily increment only) the day's activity is
    also written as events in time order (event_stream.py), and "events" says how many."""
    as_of = parse_date(as_of)
    _check(settings, [as_of], daily)
    if events and not daily:
        raise ValueError("events are a day's activity: generate them with a daily increment")
    world = simulate_world(settings.seed, settings.customers, as_of)
    return _export(settings, world, as_of, daily, events)


def generate_days(settings: Settings, first: dt.date | str, last: dt.date | str, events: bool = False) -> list[dict]:
    """Daily increments for every day first..last, from one simulation of the world."""
    first, last = parse_date(first), parse_date(last)
    if last < first:
        raise ValueError(f"the last day ({last}) is before the first ({first})")
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    _check(settings, days, daily=True)
    world = simulate_world(settings.seed, settings.customers, last)
    return [_export(settings, world, day, daily=True, events=events) for day in days]


def _export(settings: Settings, world: World, as_of: dt.date, daily: bool, events: bool = False) -> dict:
    last = int(day_of(as_of))
    first = last if daily else max(last - settings.history_days + 1, 0)
    snap = world.snapshot(last)
    files, silo_ids = render(world, snap, first, last, full=not daily)
    files["channels/responses"] = channel_responses(world, settings.home, settings.storage_uri, silo_ids, first, last)

    seed, customers = settings.seed, settings.customers
    summary_files: dict[str, int] = {}
    defect_log: dict[str, list] = {"file": [], "row": [], "kind": [], "column": [], "value": []}
    written: dict[str, tuple[dict, list[str]]] = {}
    for file in FILES:
        silo, entity = file.split("/")
        spec = writer.contract(silo, entity)
        names = [c["name"] for c in spec["columns"]]
        date_formats = {c["name"]: c["format"] for c in spec["columns"] if c["type"] in ("date", "timestamp")}
        columns, logged = defects.inject(file, {n: files[file][n] for n in names}, date_formats, as_of.year,
                                         stream(seed, customers, f"defects-{file}", as_of))
        summary_files[file] = writer.write_csv(landing_path(settings, file, as_of), columns, names)
        written[file] = (columns, spec["key"])
        defect_log["file"] += [file] * len(logged["row"])
        for key in ("row", "kind", "column", "value"):
            defect_log[key] += logged[key]

    openings = _openings_table(world, 0, last)
    _write_ground_truth(settings, world, as_of, silo_ids, openings, defect_log)
    in_window = openings.filter(pc.greater_equal(openings["open_date"], pa.scalar(date_of(first).astype(dt.date))))
    opened = {p: int(pc.sum(pc.equal(in_window["product"], p)).as_py() or 0) for p in PRODUCTS}
    n_events = None
    if events:
        n_events = _emit_events(settings, as_of, event_stream.day_events(as_of, written, seed, customers))
    log.info("generated %d persons for %s (%s): %s rows", customers, as_of, "daily" if daily else "full",
             sum(summary_files.values()))
    return {"persons": customers, "files": summary_files, "openings": opened, "defects": len(defect_log["row"]),
            "first_day": date_of(first).astype(dt.date), "as_of": as_of,
            **({"events": n_events} if events else {})}


def _account_ids(world: World, product: str, person: np.ndarray) -> pa.Array:
    h = world.h
    if product == "credit_card":
        return text.ids("CA", h.card_account[person, 0], 8)
    if PRODUCT_SILO[product] == "deposits":
        return text.ids("DA", h.deposit_account[person, DEPOSIT_SLOTS[product]], 9)
    slot = LOAN_SLOTS[{"personal_loan": "personal", "auto_loan": "auto", "mortgage": "mortgage"}[product]]
    return text.ids("L", h.loan_no[person, slot], 8)


def _openings_table(world: World, first: int, last: int) -> pa.Table:
    """One row per product opened in the world on days first..last, with its account and its cause."""
    parts = []
    for product in PRODUCTS:
        day = world.opened[product]
        person = np.flatnonzero((day >= first) & (day <= last))
        parts.append(pa.table({
            "person_id": pa.array(world.pop.person_id[person]),
            "product": pa.array([product] * len(person), pa.string()),
            "open_date": pa.array(date_of(day[person])),
            "silo": pa.array([PRODUCT_SILO[product]] * len(person), pa.string()),
            "account_id": _account_ids(world, product, person),
            "cause": pa.array(np.array(CAUSES)[world.cause[product][person]].tolist(), pa.string()),
        }))
    return pa.concat_tables(parts).sort_by([("open_date", "ascending"), ("product", "ascending"),
                                            ("person_id", "ascending")])


def _write_ground_truth(settings: Settings, world: World, as_of: dt.date, silo_ids, openings: pa.Table,
                        defect_log) -> None:
    """The answers the lakehouse must never see, as of the export date (nothing after it)."""
    gt = settings.ground_truth
    pop, h = world.pop, world.h
    last = int(day_of(as_of))
    writer.write_parquet(gt / "persons.parquet", pa.table({
        "person_id": pop.person_id,
        "age": pop.age_at(np.datetime64(as_of, "D")).astype(np.int64),
        "gender": pa.array(pop.gender.tolist(), pa.string()),
        "income": pop.income,
        "wallet_share": pop.wallet_share,
        "lifestyle": pop.lifestyle,
        "thrift": pop.thrift,
        "stress": pop.stress,
        "big_ticket": pop.big_ticket,
        "risk_appetite": pop.risk_appetite,
        "digital": pop.digital,
        "preferred_channel": pa.array(np.array(CHANNELS)[pop.channel].tolist(), pa.string()),
        "holdout": h.holdout,
        "in_deposits": h.in_deposits,
        "in_cards": h.in_cards,
        "in_lending": h.in_lending,
    }))
    writer.write_parquet(gt / "silo_ids.parquet", pa.table({
        "silo": pa.array(silo_ids["silo"].tolist(), pa.string()),
        "silo_customer_id": pa.array(silo_ids["silo_customer_id"].tolist(), pa.string()),
        "person_id": silo_ids["person_id"],
    }))
    writer.write_parquet(gt / "openings.parquet", openings)
    person, event, day, recorded = [], [], [], []
    for name in EVENTS:
        who = np.flatnonzero(world.events.day[name] <= last)
        person.append(world.pop.person_id[who])
        event += [name] * len(who)
        day.append(world.events.day[name][who])
        told = world.events.recorded[name][who]
        recorded.append(np.where(told <= last, told, NEVER))
    recorded_days = np.concatenate(recorded)
    writer.write_parquet(gt / "life_events.parquet", pa.table({
        "person_id": np.concatenate(person), "event": pa.array(event, pa.string()),
        "event_date": pa.array(date_of(np.concatenate(day))),
        "declared_on": pa.array(date_of(np.where(recorded_days < NEVER, recorded_days, 0)),
                                mask=recorded_days >= NEVER)}))  # NULL: not (yet) declared
    probabilities = {k: np.concatenate([p[k] for p in world.probabilities]) for k in world.probabilities[0]}
    month_start = np.array([m.start for m in world.months] + [world.months[-1].start + world.months[-1].days])
    writer.write_parquet(gt / "probabilities.parquet", pa.table({
        "month": pa.array(month_start[probabilities.pop("month")]),
        "person_id": world.pop.person_id[probabilities.pop("person")],
        **probabilities}))
    offers = world.rows("offers", 0, last, day="sent_day")
    responded = offers["response_day"] <= last
    writer.write_parquet(gt / "offers.parquet", pa.table({
        "offer_id": pa.array([f"OF{i:010d}" for i in offers["id"]], pa.string()),
        "person_id": world.pop.person_id[offers["person"]],
        "product": pa.array(np.array(PRODUCTS)[offers["product"]].tolist(), pa.string()),
        "channel": pa.array(np.array(CHANNELS)[offers["channel"]].tolist(), pa.string()),
        "holdout": offers["holdout"],
        "sent_date": pa.array(date_of(offers["sent_day"])),
        "p_accept": offers["p_accept"],
        "response": pa.array(np.where(responded, np.array(["none", "accepted", "declined"])[offers["response"]],
                                      "none").tolist(), pa.string()),
    }))
    writer.write_parquet(gt / "defects" / f"{as_of.isoformat()}.parquet", pa.table({
        "file": pa.array(defect_log["file"], pa.string()),
        "row": pa.array(defect_log["row"], pa.int64()),
        "kind": pa.array(defect_log["kind"], pa.string()),
        "column": pa.array(defect_log["column"], pa.string()),
        "value": pa.array([str(v) if v is not None else "" for v in defect_log["value"]], pa.string()),
    }))


__all__ = ["FILES", "generate_bank", "generate_days", "landing_path", "NEVER"]
