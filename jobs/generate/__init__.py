"""The synthetic bank: people spread over three silos, each exporting its own files every day.

    generate_bank(settings, as_of) -> {"persons": n, "files": {"deposits/customers": rows, ...}, ...}

writes one landing export for the logical date `as_of` (nine CSV files, see schemas/landing/) and the
ground truth the lakehouse must never load (settings.ground_truth/*.parquet). Steps:

  people.py     who the people are: demographics, identity, latent traits           (identity streams)
  holdings.py   their silos, products held before the window, and silo ids           (identity streams)
  openings.py   true opening propensities and the openings inside the window        (window streams)
  accounts.py   the books on the as-of date: accounts, cards, loans
  behaviour.py  transactions, repayments and balances over the window
  silos.py      each silo's rendering: ids, name/date/phone formats, record noise
  defects.py    a small share of broken rows for the ingest layer to quarantine
  writer.py     atomic CSV / Parquet writes
  (common.py: random streams and the window calendar; reference.py: names, merchants, MCCs;
   text.py: vectorized formatting of ids, dates and money)

Identity streams depend on (seed, customers) only, so the same people, ids and pre-window products
appear in every export; window streams also depend on as_of. Same inputs, byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pyarrow as pa

from jobs.generate import defects, text, writer
from jobs.generate.accounts import build_books
from jobs.generate.behaviour import simulate
from jobs.generate.common import Window, stream
from jobs.generate.holdings import build_holdings
from jobs.generate.openings import PRODUCT_SILO, PRODUCTS, draw_openings
from jobs.generate.people import build_population
from jobs.generate.silos import render
from jobs.settings import Settings, parse_date

log = logging.getLogger(__name__)

FILES = (
    "deposits/customers", "deposits/accounts", "deposits/transactions",
    "cards/cardholders", "cards/accounts", "cards/transactions",
    "lending/borrowers", "lending/loans", "lending/repayments",
)
MAX_CUSTOMERS = 900_000  # cardholder refs have 6 digits


def landing_path(settings: Settings, file: str, as_of: dt.date):
    silo, entity = file.split("/")
    return settings.landing / silo / entity / f"{as_of.isoformat()}.csv"


def generate_bank(settings: Settings, as_of: dt.date) -> dict:
    """Write one landing export for logical date `as_of` and the ground-truth sidecar.

    Returns {"persons": n, "files": {"deposits/customers": rows, ...}, "openings": {product: n},
    "defects": n} with the data rows written per file (defective and duplicated rows included)."""
    as_of = parse_date(as_of)  # a date, a datetime or an ISO string
    if not 1 <= settings.customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be between 1 and {MAX_CUSTOMERS}, got {settings.customers}")
    if settings.history_days < settings.label_horizon_days or settings.history_days < 1:
        raise ValueError(f"history_days ({settings.history_days}) must be >= label_horizon_days "
                         f"({settings.label_horizon_days}) and positive")
    seed, customers = settings.seed, settings.customers
    window = Window(as_of, settings.history_days)

    pop = build_population(seed, customers)
    holdings = build_holdings(seed, customers, pop)
    age = pop.age_at(window.end)
    openings = draw_openings(stream(seed, customers, "openings", as_of), pop, holdings, window, age)
    books = build_books(stream(seed, customers, "books", as_of), pop, holdings, openings, window)
    activity = simulate(stream(seed, customers, "behaviour", as_of), pop, holdings, books, openings, window, age)
    files, silo_ids = render(seed, customers, pop, holdings, books, activity, openings, window)

    summary_files: dict[str, int] = {}
    defect_log: dict[str, list] = {"file": [], "row": [], "kind": [], "column": [], "value": []}
    for file in FILES:
        silo, entity = file.split("/")
        spec = writer.contract(silo, entity)
        names = [c["name"] for c in spec["columns"]]
        date_formats = {c["name"]: c["format"] for c in spec["columns"] if c["type"] == "date"}
        columns, logged = defects.inject(file, {n: files[file][n] for n in names}, date_formats, as_of.year,
                                         stream(seed, customers, f"defects-{file}", as_of))
        summary_files[file] = writer.write_csv(landing_path(settings, file, as_of), columns, names)
        defect_log["file"] += [file] * len(logged["row"])
        for key in ("row", "kind", "column", "value"):
            defect_log[key] += logged[key]

    openings_table = _openings_table(pop, books, openings, window)
    _write_ground_truth(settings, pop, holdings, openings, age, silo_ids, openings_table, defect_log)
    opened = {p: int(openings.opened(p).sum()) for p in PRODUCTS}
    log.info("generated %d persons for %s: %s rows, openings %s", customers, as_of,
             sum(summary_files.values()), opened)
    return {"persons": customers, "files": summary_files, "openings": opened, "defects": len(defect_log["row"])}


def _openings_table(pop, books, openings, window: Window) -> pa.Table:
    """One row per product opened inside the window, with the account that opened."""
    parts = []
    for product in PRODUCTS:
        person = np.flatnonzero(openings.opened(product))
        day = openings.day[product][person]
        if product == "credit_card":
            account = text.ids("CA", _slot(books.cards, person, "opened_in_window"), 8)
        elif product == "savings":
            account = text.ids("DA", _slot(books.deposits, person, "opened_in_window"), 9)
        else:
            account = text.ids("L", _slot(books.loans, person, "opened_in_window", number="loan_no"), 8)
        parts.append(pa.table({
            "person_id": pa.array(pop.person_id[person]),
            "product": pa.array([product] * len(person), pa.string()),
            "open_date": pa.array(window.date(day)),
            "silo": pa.array([PRODUCT_SILO[product]] * len(person), pa.string()),
            "account_id": account,
        }))
    return pa.concat_tables(parts).sort_by([("open_date", "ascending"), ("product", "ascending"),
                                            ("person_id", "ascending")])


def _slot(table, person: np.ndarray, flag: str, number: str = "account_no") -> np.ndarray:
    """Account numbers of the accounts opened in the window by `person` (one each)."""
    rows = np.flatnonzero(table[flag])
    by_person = np.full(int(table["person"].max(initial=0)) + 1, -1, dtype=np.int64)
    by_person[table["person"][rows]] = table[number][rows]
    return by_person[person]


def _write_ground_truth(settings: Settings, pop, holdings, openings, age, silo_ids, openings_table,
                        defect_log) -> None:
    gt = settings.ground_truth
    persons = pa.table({
        "person_id": pop.person_id,
        "age": age.astype(np.int64),
        "gender": pa.array(pop.gender.tolist(), pa.string()),
        "income": pop.income,
        "wallet_share": pop.wallet_share,
        "lifestyle": pop.lifestyle,
        "thrift": pop.thrift,
        "stress": pop.stress,
        "big_ticket": pop.big_ticket,
        **{f"p_{p}": openings.probability[p] for p in PRODUCTS},
        **{f"eligible_{p}": openings.eligible[p] for p in PRODUCTS},
        "in_deposits": holdings.in_deposits,
        "in_cards": holdings.in_cards,
        "in_lending": holdings.in_lending,
    })
    writer.write_parquet(gt / "persons.parquet", persons)
    writer.write_parquet(gt / "silo_ids.parquet", pa.table({
        "silo": pa.array(silo_ids["silo"].tolist(), pa.string()),
        "silo_customer_id": pa.array(silo_ids["silo_customer_id"].tolist(), pa.string()),
        "person_id": silo_ids["person_id"],
    }))
    writer.write_parquet(gt / "openings.parquet", openings_table)
    writer.write_parquet(gt / "defects.parquet", pa.table({
        "file": pa.array(defect_log["file"], pa.string()),
        "row": pa.array(defect_log["row"], pa.int64()),
        "kind": pa.array(defect_log["kind"], pa.string()),
        "column": pa.array(defect_log["column"], pa.string()),
        "value": pa.array([str(v) if v is not None else "" for v in defect_log["value"]], pa.string()),
    }))
