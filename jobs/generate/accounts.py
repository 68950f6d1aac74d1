"""The books of one export: every deposit account, card account and loan that exists on the as-of date.

Accounts held before the window come from holdings.py (their dates are clipped to before the window, so
a window always starts with the products people already had); accounts opened inside the window come
from openings.py. Balances are filled in by behaviour.py once the transactions are known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jobs.generate.common import Window
from jobs.generate.holdings import (
    CARD_PRODUCTS,
    CARD_SLOTS,
    DEPOSIT_SLOTS,
    LOAN_SLOTS,
    LOAN_TYPES,
    Holdings,
)
from jobs.generate.openings import Openings
from jobs.generate.people import Population


@dataclass
class Table:
    """Columns of equal length (numpy arrays), one row per account."""
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __setitem__(self, name: str, values: np.ndarray) -> None:
        self.columns[name] = values

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


@dataclass
class Books:
    deposits: Table
    cards: Table
    loans: Table
    checking: np.ndarray        # per person: row in deposits of the checking account, -1 if none
    savings: np.ndarray         # per person: row in deposits of the savings account, -1 if none
    card: np.ndarray            # per person: row in cards, -1 if none
    savings_from: np.ndarray    # per person: first window day the savings account exists (0 = before)
    card_from: np.ndarray       # per person: first window day the card exists


def _concat(parts: list[dict[str, np.ndarray]]) -> Table:
    return Table({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})


def _rows_per_person(n: int, person: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.full(n, -1, dtype=np.int64)
    out[person[mask]] = np.flatnonzero(mask)
    return out


def build_books(rng: np.random.Generator, pop: Population, h: Holdings, openings: Openings,
                window: Window) -> Books:
    n = pop.n
    before = window.start - 1  # products held before the window were opened by this day
    everyone = np.arange(n)
    opened_on = {p: window.date(np.maximum(d, 0)) for p, d in openings.day.items()}

    def deposit_rows(mask, slot, product, open_date, cif):
        opened_in_window = slot == "opened_savings"
        return {"person": everyone[mask], "account_no": h.deposit_account[mask, DEPOSIT_SLOTS[slot]],
                "cif": cif[mask], "product": np.full(mask.sum(), product),
                "open_date": open_date[mask] if opened_in_window else np.minimum(open_date[mask], before),
                "opened_in_window": np.full(mask.sum(), opened_in_window)}

    new_savings = openings.opened("savings")
    deposits = _concat([
        deposit_rows(h.in_deposits, "checking", "checking", h.deposits_since, h.cif),
        deposit_rows(h.has_savings, "savings", "savings", h.savings_open, h.cif),
        deposit_rows(h.has_term, "term_deposit", "term_deposit", h.term_open, h.cif),
        deposit_rows(h.duplicate, "duplicate", "term_deposit", h.duplicate_since, h.duplicate_cif),
        deposit_rows(new_savings, "opened_savings", "savings", opened_on["savings"], h.cif),
    ])
    product = deposits["product"]
    checking = _rows_per_person(n, deposits["person"], product == "checking")
    savings = _rows_per_person(n, deposits["person"], product == "savings")
    savings_from = np.where(new_savings, openings.day["savings"], 0)

    # Cards: the initial card and the card opened in the window (a first card: only non-holders open).
    new_card = openings.opened("credit_card")
    z_inc = (np.log(pop.income) - np.log(42000)) / 0.5
    new_product = np.where(z_inc + rng.normal(0, 0.6, n) > 0.8, 1, 0)  # classic or gold to start
    new_limit = np.round(np.array([2_500, 7_500])[new_product] * np.exp(0.3 * z_inc) * rng.uniform(0.7, 1.3, n),
                         -2)

    def card_rows(mask, slot, product_idx, limit, open_date):
        return {"person": everyone[mask], "account_no": h.card_account[mask, CARD_SLOTS[slot]],
                "holder_no": h.holder_no[mask], "product": np.array(CARD_PRODUCTS)[product_idx[mask]],
                "credit_limit": limit[mask], "open_date": open_date[mask],
                "opened_in_window": np.full(mask.sum(), slot == "opened_card")}

    cards = _concat([
        card_rows(h.has_card, "card", np.maximum(h.card_product, 0), h.card_limit,
                  np.minimum(h.cards_since, before)),
        card_rows(new_card, "opened_card", new_product, new_limit, opened_on["credit_card"]),
    ])
    card = _rows_per_person(n, cards["person"], np.ones(len(cards), dtype=bool))
    card_from = np.where(new_card, openings.day["credit_card"], 0)

    # Loans held before the window, then personal loans opened in it.
    def loan_rows(mask, slot, loan_type, principal, rate, term, start, dpd):
        return {"person": everyone[mask], "loan_no": h.loan_no[mask, LOAN_SLOTS[slot]],
                "borrower_no": h.borrower_no[mask], "loan_type": np.full(mask.sum(), loan_type),
                "principal": principal[mask], "rate": rate[mask], "term": term[mask], "start": start[mask],
                "days_past_due": dpd[mask], "opened_in_window": np.full(mask.sum(), slot == "opened_personal")}

    parts = []
    for loan_type in LOAN_TYPES:
        spec = h.loans[loan_type]
        parts.append(loan_rows(spec.held, loan_type, loan_type, spec.principal, spec.rate, spec.term,
                               np.minimum(spec.start, before), spec.days_past_due))
    new_loan = openings.opened("personal_loan")
    principal = np.round(np.clip(pop.income * rng.uniform(0.05, 0.25, n), 2_000, 35_000), -2)
    rate = np.round(np.clip(rng.uniform(8.5, 15.0, n) + 2.0 * pop.stress - 0.8 * z_inc, 6.5, 24.0), 2)
    term = rng.choice([24, 36, 48, 60], n)
    parts.append(loan_rows(new_loan, "opened_personal", "personal", principal, rate, term,
                           opened_on["personal_loan"], np.zeros(n, dtype=np.int64)))
    loans = _concat(parts)

    return Books(deposits=deposits, cards=cards, loans=loans, checking=checking, savings=savings,
                 card=card, savings_from=savings_from, card_from=card_from)
