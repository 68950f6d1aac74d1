"""Export defects the lakehouse must catch: a small, deterministic share of rows is broken.

Kinds (each hits ~0.3% of a file's rows, distinct rows per kind, at least one row in a file of 100+):
  bad_date          a date or timestamp that does not parse in the silo's format ("2026-13-45", "n/a",
                    Feb 30th, 25:61)
  negative_amount   a transaction amount with a minus sign (amounts are positive; direction says CR/DR)
  unknown_currency  "XXX" instead of USD on a deposit account
  empty_id          the row's own id or its owner's id is empty
  duplicate_key     the row is exported twice (the copies are re-sent at the end of the file; same key,
                    same values)
  orphan_ref        a well-formed reference to nothing: an account of a customer, or a transaction of an
                    account, that no export lists (the contract cannot see it; silver quarantines the row
                    as an orphan)
Record noise that breaks no contract (typos, nicknames, abbreviated, stale or missing addresses, empty phones) is
no defect here: silos.py draws it, and a missing expected value is a warning, never a quarantine.
Every defect is listed in the ground truth (file, 0-based data row, kind, column, value written), so a
test can check that each one lands in quarantine and nothing else does.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DEFECT_RATE = 0.003
# Well-formed ids no export ever uses (silo numbers start at 1; borrower numbers run from 100001 up to
# 100000 + customers, at most 1000000).
ORPHAN_ID = {"cif_id": "D0000000", "holder_ref": "C-000000", "borrower_no": "9999999", "account_id": "DA000000000"}

# file -> [(kind, columns the kind may hit)]
PLAN: dict[str, list[tuple[str, list[str]]]] = {
    "deposits/customers": [("bad_date", ["birth_date", "customer_since"]), ("empty_id", ["cif_id"])],
    "deposits/accounts": [("bad_date", ["open_date"]), ("empty_id", ["account_id", "cif_id"]),
                          ("unknown_currency", ["currency"]), ("orphan_ref", ["cif_id"])],
    "deposits/transactions": [("bad_date", ["booking_date"]), ("negative_amount", ["amount"]),
                              ("empty_id", ["txn_id", "account_id"]), ("duplicate_key", ["txn_id"]),
                              ("orphan_ref", ["account_id"])],
    "cards/cardholders": [("bad_date", ["birth_date"]), ("empty_id", ["holder_ref"])],
    "cards/accounts": [("bad_date", ["open_date"]), ("empty_id", ["card_account_id", "holder_ref"]),
                       ("orphan_ref", ["holder_ref"])],
    "cards/transactions": [("bad_date", ["txn_date"]), ("negative_amount", ["amount"]),
                           ("empty_id", ["txn_ref", "card_account_id"]), ("duplicate_key", ["txn_ref"])],
    "lending/borrowers": [("bad_date", ["dob"]), ("empty_id", ["borrower_no"])],
    "lending/loans": [("bad_date", ["start_date"]), ("empty_id", ["loan_no", "borrower_no"]),
                      ("orphan_ref", ["borrower_no"])],
    "lending/repayments": [("bad_date", ["paid_date"]), ("negative_amount", ["amount"]),
                           ("empty_id", ["repayment_id", "loan_no"]), ("duplicate_key", ["repayment_id"])],
    "digital/sessions": [("bad_date", ["started_at"]), ("empty_id", ["session_id", "customer_ref"]),
                         ("duplicate_key", ["session_id"])],
    "crm/consents": [("bad_date", ["recorded_at"]), ("empty_id", ["event_id", "customer_ref"]),
                     ("duplicate_key", ["event_id"])],
    "crm/offers": [("bad_date", ["event_at"]), ("empty_id", ["event_id", "offer_id"]),
                   ("duplicate_key", ["event_id"])],
    "crm/life_events": [("bad_date", ["event_date", "recorded_at"]), ("empty_id", ["event_id", "customer_ref"])],
    "channels/responses": [],   # the bank's own channel systems: clean
    "deposits/balances": [("bad_date", ["balance_date"]), ("empty_id", ["account_id"]),
                          ("negative_amount", ["balance"])],
    "cards/balances": [("bad_date", ["balance_date"]), ("empty_id", ["card_account_id"]),
                       ("negative_amount", ["current_balance"])],
    "lending/balances": [("bad_date", ["balance_date"]), ("empty_id", ["loan_no"]),
                         ("negative_amount", ["outstanding"])],
}


def bad_dates(pattern: str, year: int) -> list[str]:
    impossible = {"yyyy-MM-dd": [f"{year}-13-45", f"{year}-02-30"],
                  "MM/dd/yyyy": [f"13/45/{year}", f"02/30/{year}"],
                  "dd.MM.yyyy": [f"45.13.{year}", f"30.02.{year}"],
                  "yyyy-MM-dd HH:mm:ss": [f"{year}-13-45 10:00:00", f"{year}-06-30 25:61:00"]}[pattern]
    return impossible + ["n/a"]


def defect_count(rows: int) -> int:
    k = round(DEFECT_RATE * rows)
    return max(k, 1) if rows >= 100 else k


def inject(file: str, columns: dict[str, pa.Array], date_formats: dict[str, str], year: int,
           rng: np.random.Generator) -> tuple[dict[str, pa.Array], dict[str, list]]:
    """The file's columns with defects applied, and the defect log (row numbers in the final file)."""
    n = len(next(iter(columns.values())))
    plan = PLAN[file]
    k = defect_count(n)
    chosen = rng.choice(n, size=min(n, k * len(plan)), replace=False) if k else np.empty(0, np.int64)
    log: dict[str, list] = {"row": [], "kind": [], "column": [], "value": []}
    duplicates = np.empty(0, np.int64)
    columns = dict(columns)
    for i, (kind, targets) in enumerate(plan):
        rows = np.sort(chosen[i * k:(i + 1) * k])
        if len(rows) == 0:
            continue
        target = np.array(targets)[rng.integers(0, len(targets), len(rows))]
        if kind == "duplicate_key":
            duplicates = rows
            for r, col in zip(rows, target, strict=False):
                log["row"].append(r), log["kind"].append(kind), log["column"].append(str(col))
                log["value"].append(columns[col][int(r)].as_py())
            continue
        for col in np.unique(target):
            hit = rows[target == col]
            old = columns[col].take(pa.array(hit))
            if kind == "bad_date":
                options = bad_dates(date_formats[col], year)
                new = pa.array([options[j] for j in rng.integers(0, len(options), len(hit))], pa.string())
            elif kind == "negative_amount":
                new = pc.binary_join_element_wise("-", old, "")
            elif kind == "unknown_currency":
                new = pa.array(["XXX"] * len(hit), pa.string())
            elif kind == "empty_id":
                new = pa.array([""] * len(hit), pa.string())
            elif kind == "orphan_ref":
                new = pa.array([ORPHAN_ID[str(col)]] * len(hit), pa.string())
            else:
                raise ValueError(f"unknown defect kind {kind}")
            mask = np.zeros(n, dtype=bool)
            mask[hit] = True
            columns[col] = pc.replace_with_mask(columns[col], pa.array(mask), new.cast(columns[col].type))
            log["row"] += hit.tolist()
            log["kind"] += [kind] * len(hit)
            log["column"] += [str(col)] * len(hit)
            log["value"] += new.to_pylist()

    # Re-exported rows are appended at the end, in the order of their originals: the copy is the later
    # of the two equal rows, the one a "first occurrence kept" rule drops.
    if len(duplicates):
        index = pa.array(duplicates)
        # A chunked column: the copies are appended without copying the file's rows.
        columns = {c: pa.chunked_array([v, v.take(index)]) for c, v in columns.items()}
        copies = np.asarray(log["kind"]) == "duplicate_key"
        rows = np.asarray(log["row"], dtype=np.int64)
        rows[copies] = n + np.searchsorted(duplicates, rows[copies])
        log["row"] = rows.tolist()
    return columns, log
