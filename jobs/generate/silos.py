"""Render the books and the activity as each silo exports them: its own ids, name and date formats.

The same person looks different in every silo, on purpose:
  deposits  "Jane Doe", 1990-04-01, jane.doe12@gmail.com, +1 555-010-1234, 123-45-6789
  cards     JANE / DOE, 04/01/1990, Jane.doe12@gmail.com or upper case, 5550101234, 123456789
  lending   "DOE, JANE", 01.04.1990, jane.doe12@gmail.com, (555) 010-1234, 123456789
plus record noise that an identity layer must survive, at rates per silo (SILO_NOISE):
  - national id: a placeholder (000000000, 999999999, ...) where the silo did not have it, or two
    adjacent digits transposed;
  - email: missing, or the person's work, old or household (family) address instead of the personal one;
  - phone: the household landline or the person's previous mobile (which may be somebody else's now);
  - name: a nickname, the maiden name (from before taking a partner's surname), a typing slip;
  - a stale postcode; and ~1% of deposit customers recorded twice under a second CIF.
The noise is drawn per person from identity streams, so a record looks the same in every export.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from jobs.generate import reference as ref
from jobs.generate import text
from jobs.generate.accounts import Books
from jobs.generate.behaviour import COUNTERPARTIES, CREDIT_TYPES, TXN_TYPES, Activity
from jobs.generate.common import Window, stream
from jobs.generate.holdings import Holdings
from jobs.generate.openings import Openings
from jobs.generate.people import Population

TYPO_RATE = 0.02
MISSING_EMAIL_RATE = 0.03
STALE_POSTCODE_RATE = 0.02

# Per silo (and for the deposit duplicates): the share of records with each kind of identity noise.
# placeholder_id, id_typo: of all records; the rest: of the people who have the alternative (a work
# address, a nickname, a maiden name, ...). Deposits is the KYC master: it always has the national id.
SILO_NOISE = {
    "deposits": dict(placeholder_id=0.0, id_typo=0.004, work_email=0.05, old_email=0.5, family_email=0.4,
                     landline=0.4, old_phone=0.5, nickname=0.1, maiden=0.5),
    "deposits-duplicates": dict(placeholder_id=0.0, id_typo=0.1, work_email=0.2, old_email=0.5,
                                family_email=0.4, landline=0.4, old_phone=0.5, nickname=0.4, maiden=0.5),
    "cards": dict(placeholder_id=0.05, id_typo=0.015, work_email=0.25, old_email=0.3, family_email=0.3,
                  landline=0.2, old_phone=0.3, nickname=0.4, maiden=0.2),
    "lending": dict(placeholder_id=0.02, id_typo=0.015, work_email=0.35, old_email=0.3, family_email=0.5,
                    landline=0.4, old_phone=0.3, nickname=0.2, maiden=0.3),
}

Columns = dict[str, pa.Array]


def typo(names: np.ndarray, kind: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Names with one typing slip (0 swap two letters, 1 drop one, 2 double one) at a relative position
    `where` (0..1), never on the first letter; names shorter than 4 letters are left alone."""
    names = np.asarray(names, dtype=str)
    if len(names) == 0:
        return names
    length = np.strings.str_len(names)
    width = int(length.max()) + 1
    codes = names.astype(f"<U{width}").view(np.uint32).reshape(len(names), width)
    pos = 1 + np.floor(where * np.maximum(length - 2, 1)).astype(np.int64)
    pos = np.minimum(pos, np.maximum(length - 2, 1))[:, None]
    col = np.arange(width)[None, :]
    kind = kind[:, None]
    src = np.select(
        [(kind == 0) & (col == pos), (kind == 0) & (col == pos + 1), kind == 1, kind == 2],
        [pos + 1, pos, np.minimum(np.where(col >= pos, col + 1, col), width - 1), np.where(col > pos, col - 1, col)],
        default=col,
    )
    out = np.take_along_axis(codes, src, axis=1)
    out[(kind[:, 0] == 1)[:, None] & (col >= length[:, None] - 1)] = 0  # a dropped letter shortens the name
    changed = out.view(f"<U{width}").ravel()
    return np.where(length >= 4, changed, names)


def transpose_digits(matrix: np.ndarray, where: np.ndarray) -> np.ndarray:
    """A (n, width) digit byte matrix with two adjacent digits swapped at relative position `where`
    (0..1); where the two are equal, the later digit is bumped instead, so the id always changes."""
    n, width = matrix.shape
    out = matrix.copy()
    if n == 0:
        return out
    pos = np.minimum((where * (width - 1)).astype(np.int64), width - 2)
    rows = np.arange(n)
    a, b = matrix[rows, pos], matrix[rows, pos + 1]
    out[rows, pos] = np.where(a == b, a, b)
    out[rows, pos + 1] = np.where(a == b, 48 + (b - 48 + 1) % 10, a)
    return out


class _Noise:
    """Per-person record noise for one silo (stable across export dates)."""

    def __init__(self, seed: int, customers: int, silo: str, n: int, rate_scale: float = 1.0):
        rng = stream(seed, customers, f"noise-{silo}")
        self.typo = rng.random(n) < TYPO_RATE * rate_scale
        self.typo_last = rng.random(n) < 0.5
        self.typo_kind = rng.integers(0, 3, n)
        self.typo_where = rng.random(n)
        self.no_email = rng.random(n) < MISSING_EMAIL_RATE * rate_scale
        self.stale_postcode = rng.random(n) < STALE_POSTCODE_RATE * rate_scale
        self.other_postcode = np.array(ref.POSTCODES)[rng.integers(0, len(ref.POSTCODES), n)]
        self.upper_email = rng.random(n) < 0.5
        # Identity noise (drawn after the draws above, so those stay as they were).
        rates = SILO_NOISE[silo]
        draw = {kind: rng.random(n) < rate for kind, rate in rates.items()}
        self.placeholder_id = draw["placeholder_id"]
        self.which_placeholder = rng.integers(0, len(ref.PLACEHOLDER_NATIONAL_IDS), n)
        self.id_typo = draw["id_typo"] & ~self.placeholder_id
        self.id_typo_where = rng.random(n)
        self.work_email, self.old_email, self.family_email = draw["work_email"], draw["old_email"], draw["family_email"]
        self.landline, self.old_phone = draw["landline"], draw["old_phone"]
        self.nickname, self.maiden = draw["nickname"], draw["maiden"]

    def names(self, pop: Population, people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first = np.where(self.nickname[people] & (pop.nickname[people] != ""), pop.nickname[people],
                         pop.first[people])
        last = np.where(self.maiden[people] & (pop.maiden_last[people] != ""), pop.maiden_last[people],
                        pop.last[people])
        slip = self.typo[people]
        on_last = slip & self.typo_last[people]
        on_first = slip & ~self.typo_last[people]
        kind, where = self.typo_kind[people], self.typo_where[people]
        first = np.where(on_first, typo(first, kind, where), first)
        last = np.where(on_last, typo(last, kind, where), last)
        return first, last

    def email(self, pop: Population, people: np.ndarray, work_domain: np.ndarray) -> np.ndarray:
        """The address the silo has: the family, work or old one where the person has one and the silo
        took it, else the personal one; empty when the silo has none."""
        work = np.strings.add(np.strings.add(pop.work_email_local[people], "@"), work_domain[people])
        email = pop.email[people]
        email = np.where(self.old_email[people] & (pop.old_email[people] != ""), pop.old_email[people], email)
        email = np.where(self.work_email[people] & (pop.work_email_local[people] != ""), work, email)
        email = np.where(self.family_email[people] & (pop.family_email[people] != ""), pop.family_email[people],
                         email)
        return np.where(self.no_email[people], "", email)

    def phone(self, pop: Population, people: np.ndarray) -> np.ndarray:
        phone = pop.phone[people]
        phone = np.where(self.old_phone[people] & (pop.old_phone[people] > 0), pop.old_phone[people], phone)
        return np.where(self.landline[people] & (pop.landline[people] > 0), pop.landline[people], phone)

    def national_id(self, pop: Population, people: np.ndarray) -> np.ndarray:
        """The national id as a (n, 9) digit byte matrix: a placeholder, a transposition or the real one."""
        placeholders = np.array(ref.PLACEHOLDER_NATIONAL_IDS, dtype=np.int64)
        value = np.where(self.placeholder_id[people], placeholders[self.which_placeholder[people]],
                         pop.national_id[people])
        matrix = text.digits(value, 9)
        slipped = transpose_digits(matrix, self.id_typo_where[people])
        return np.where(self.id_typo[people][:, None], slipped, matrix)

    def postcode(self, pop: Population, people: np.ndarray) -> np.ndarray:
        return np.where(self.stale_postcode[people], self.other_postcode[people], pop.postcode[people])


def _arrow(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=str), type=pa.string())


def _phone_parts(phone: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return text.digits(phone // 10**7, 3), text.digits(phone // 10**4 % 1000, 3), text.digits(phone % 10**4, 4)


def _ordered(columns: Columns, order: np.ndarray) -> Columns:
    idx = pa.array(order)
    return {k: v.take(idx) for k, v in columns.items()}


def render(seed: int, customers: int, pop: Population, h: Holdings, books: Books, activity: Activity,
           openings: Openings, window: Window) -> tuple[dict[str, Columns], dict[str, np.ndarray]]:
    """All nine files as text columns (before defects), and the ground-truth silo id -> person map."""
    rng = stream(seed, customers, "render", window.as_of)
    before = window.start - 1
    files: dict[str, Columns] = {}
    id_map: dict[str, list] = {"silo": [], "silo_customer_id": [], "person_id": []}

    # --- deposits -----------------------------------------------------------------------------------
    noise = _Noise(seed, customers, "deposits", pop.n)
    dup_noise = _Noise(seed, customers, "deposits-duplicates", pop.n, rate_scale=15.0)
    new_customer = openings.opened("savings") & ~h.in_deposits
    people = np.flatnonzero(h.in_deposits | new_customer)
    dups = np.flatnonzero(h.duplicate)
    since = np.where(new_customer, window.date(np.maximum(openings.day["savings"], 0)),
                     np.minimum(h.deposits_since, before))
    rows_person = np.concatenate([people, dups])
    cif = np.concatenate([h.cif[people], h.duplicate_cif[dups]])
    f1, l1 = noise.names(pop, people)
    f2, l2 = dup_noise.names(pop, dups)
    work_domain = np.array(ref.EMPLOYER_DOMAINS)[h.employer]
    phone = _phone_parts(np.concatenate([noise.phone(pop, people), dup_noise.phone(pop, dups)]))
    nid = np.concatenate([noise.national_id(pop, people), dup_noise.national_id(pop, dups)])
    cif_text = text.ids("D", cif, 7)
    customers_cols = {
        "cif_id": cif_text,
        "full_name": _arrow(np.strings.add(np.strings.add(np.concatenate([f1, f2]), " "), np.concatenate([l1, l2]))),
        "birth_date": text.dates(pop.birth[rows_person], "yyyy-MM-dd"),
        "email": _arrow(np.concatenate([noise.email(pop, people, work_domain),
                                        dup_noise.email(pop, dups, work_domain)])),
        "phone": text.to_arrow(text.compose("+1 ", phone[0], "-", phone[1], "-", phone[2])),
        "national_id": text.to_arrow(text.compose(nid[:, :3], "-", nid[:, 3:5], "-", nid[:, 5:])),
        "postcode": _arrow(np.concatenate([noise.postcode(pop, people), dup_noise.postcode(pop, dups)])),
        "gender": _arrow(pop.gender[rows_person]),
        "customer_since": text.dates(np.concatenate([since[people], np.minimum(h.duplicate_since[dups], before)]),
                                     "yyyy-MM-dd"),
    }
    files["deposits/customers"] = _ordered(customers_cols, np.argsort(cif, kind="stable"))
    _add_ids(id_map, "deposits", cif_text, rows_person)

    dep = books.deposits
    order = np.argsort(dep["account_no"], kind="stable")
    account_ids = text.ids("DA", dep["account_no"], 9)
    files["deposits/accounts"] = _ordered({
        "account_id": account_ids,
        "cif_id": text.ids("D", dep["cif"], 7),
        "product": _arrow(dep["product"]),
        "open_date": text.dates(dep["open_date"], "yyyy-MM-dd"),
        "balance": text.money(dep["balance"]),
        "currency": text.lookup(["USD"], np.zeros(len(dep), np.int64)),
    }, order)

    tx = activity.deposit_txns
    # The export is in booking order: by day, then account, then transaction type.
    order = np.argsort((tx["day"] * len(dep) + tx["account"]) * len(TXN_TYPES) + tx["txn_type"], kind="stable")
    credit = np.isin(tx["txn_type"], [TXN_TYPES.index(t) for t in CREDIT_TYPES])
    first_id = int(rng.integers(10**11, 5 * 10**11))
    n_tx = len(order)
    files["deposits/transactions"] = {
        "txn_id": text.ids("DT", first_id + np.arange(n_tx), 12),
        "account_id": account_ids.take(pa.array(tx["account"][order])),
        "booking_date": text.day_dates(window.start, tx["day"][order], "yyyy-MM-dd"),
        "amount": text.money(tx["cents"][order]),
        "direction": text.lookup(["DR", "CR"], credit[order].astype(np.int64)),
        "txn_type": text.lookup(list(TXN_TYPES), tx["txn_type"][order]),
        "counterparty": text.lookup(COUNTERPARTIES, tx["counterparty"][order]),
    }

    # --- cards ---------------------------------------------------------------------------------------
    noise = _Noise(seed, customers, "cards", pop.n)
    cards = books.cards
    people = np.flatnonzero(h.has_card | openings.opened("credit_card"))
    people = people[np.argsort(h.holder_no[people], kind="stable")]
    first, last = noise.names(pop, people)
    email = noise.email(pop, people, work_domain)
    email = np.where(noise.upper_email[people], np.strings.upper(email), np.strings.capitalize(email))
    holder_text = text.ids("C-", h.holder_no[people], 6)
    files["cards/cardholders"] = {
        "holder_ref": holder_text,
        "first_name": _arrow(np.strings.upper(first)),
        "last_name": _arrow(np.strings.upper(last)),
        "birth_date": text.dates(pop.birth[people], "MM/dd/yyyy"),
        "email": _arrow(email),
        "phone": text.to_arrow(text.digits(noise.phone(pop, people), 10)),
        "ssn": text.to_arrow(noise.national_id(pop, people)),
        "zip": _arrow(noise.postcode(pop, people)),
    }
    _add_ids(id_map, "cards", holder_text, people)

    order = np.argsort(cards["account_no"], kind="stable")
    card_ids = text.ids("CA", cards["account_no"], 8)
    files["cards/accounts"] = _ordered({
        "card_account_id": card_ids,
        "holder_ref": text.ids("C-", cards["holder_no"], 6),
        "card_product": _arrow(cards["product"]),
        "open_date": text.dates(cards["open_date"], "MM/dd/yyyy"),
        "credit_limit": text.money(np.round(cards["credit_limit"] * 100).astype(np.int64)),
        "current_balance": text.money(cards["balance"]),
        "days_past_due": text.integers(cards["days_past_due"]),
    }, order)

    ct = activity.card_txns
    order = np.argsort(ct["day"] * max(len(cards), 1) + ct["account"], kind="stable")
    first_id = int(rng.integers(10**11, 5 * 10**11))
    files["cards/transactions"] = {
        "txn_ref": text.ids("CT", first_id + np.arange(len(order)), 12),
        "card_account_id": card_ids.take(pa.array(ct["account"][order])),
        "txn_date": text.day_dates(window.start, ct["day"][order], "MM/dd/yyyy"),
        "amount": text.money(ct["cents"][order]),
        "mcc": text.to_arrow(text.digits(ct["mcc"][order], 4)),
        "merchant_category": text.lookup(ref.CATEGORIES, ct["category"][order]),
    }

    # --- lending -------------------------------------------------------------------------------------
    noise = _Noise(seed, customers, "lending", pop.n)
    loans = books.loans
    people = np.flatnonzero(h.in_lending | openings.opened("personal_loan"))
    people = people[np.argsort(h.borrower_no[people], kind="stable")]
    first, last = noise.names(pop, people)
    phone = _phone_parts(noise.phone(pop, people))
    borrower_text = text.integers(h.borrower_no[people])
    files["lending/borrowers"] = {
        "borrower_no": borrower_text,
        "name": _arrow(np.strings.upper(np.strings.add(np.strings.add(last, ", "), first))),
        "dob": text.dates(pop.birth[people], "dd.MM.yyyy"),
        "email": _arrow(noise.email(pop, people, work_domain)),
        "phone": text.to_arrow(text.compose("(", phone[0], ") ", phone[1], "-", phone[2])),
        "tax_id": text.to_arrow(noise.national_id(pop, people)),
        "postal_code": _arrow(noise.postcode(pop, people)),
    }
    _add_ids(id_map, "lending", borrower_text, people)

    order = np.argsort(loans["loan_no"], kind="stable")
    files["lending/loans"] = _ordered({
        "loan_no": text.ids("L", loans["loan_no"], 8),
        "borrower_no": text.integers(loans["borrower_no"]),
        "loan_type": _arrow(loans["loan_type"]),
        "principal": text.money(np.round(loans["principal"] * 100).astype(np.int64)),
        "interest_rate": text.money(np.round(loans["rate"] * 100).astype(np.int64)),
        "start_date": text.dates(loans["start"], "dd.MM.yyyy"),
        "outstanding": text.money(np.round(loans["outstanding"] * 100).astype(np.int64)),
        "days_past_due": text.integers(loans["days_past_due"]),
    }, order)

    rp = activity.repayments
    order = np.argsort(rp["day"] * max(len(loans), 1) + rp["loan"], kind="stable")
    first_id = int(rng.integers(10**9, 5 * 10**9))
    files["lending/repayments"] = {
        "repayment_id": text.ids("R", first_id + np.arange(len(order)), 10),
        "loan_no": text.ids("L", loans["loan_no"][rp["loan"][order]], 8),
        "paid_date": text.day_dates(window.start, rp["day"][order], "dd.MM.yyyy"),
        "amount": text.money(rp["cents"][order]),
    }

    silo_ids = {
        "silo": np.concatenate(id_map["silo"]),
        "silo_customer_id": np.concatenate(id_map["silo_customer_id"]),
        "person_id": pop.person_id[np.concatenate(id_map["person_id"])],
    }
    return files, silo_ids


def _add_ids(id_map: dict[str, list], silo: str, ids: pa.Array, people: np.ndarray) -> None:
    id_map["silo"].append(np.full(len(people), silo))
    id_map["silo_customer_id"].append(np.asarray(ids.to_numpy(zero_copy_only=False), dtype=str))
    id_map["person_id"].append(people)
