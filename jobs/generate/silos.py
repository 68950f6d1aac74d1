"""Render a cut of the world as each source system exports it: its own ids, name and date formats.

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
  - a stale postcode (and with it the address the person had before);
  - address: written each silo's way (deposits "12 Oak Street, Apt 4", IL; cards "12 OAK ST APT 4", IL;
    lending "12 Oak St., Apt. 4", Illinois), the suffix sometimes abbreviated and sometimes not, a typing
    slip in the street name, or no address at all (an empty street, locality and state: a warning, never a
    reason to drop the customer);
  - and ~1% of deposit customers recorded twice under a second CIF.
The noise is drawn per person from identity streams, so a record looks the same in every export.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.domain import PRODUCTS
from jobs.generate import reference as ref
from jobs.generate import text
from jobs.generate.behaviour import COUNTERPARTIES, CREDIT_TYPES, TXN_TYPES
from jobs.generate.common import EPOCH, NEVER, date_of, stream
from jobs.generate.consent import SOURCES as CONSENT_SOURCES
from jobs.generate.consent import TOPICS
from jobs.generate.events import DECLARATION_SOURCES, EVENTS
from jobs.generate.holdings import Holdings
from jobs.generate.people import CHANNELS, Population, draw_street
from jobs.generate.world import Snapshot, World
from jobs.postal import DIRECTIONS, STREET_SUFFIXES, US_STATES

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

# Per silo: the share of records without an address, and of those that abbreviate the street suffix and
# direction ("St", "N") where the person's address has the full word.
ADDRESS_NOISE = {
    "deposits": dict(missing=0.02, abbreviated=0.15),
    "deposits-duplicates": dict(missing=0.002, abbreviated=0.5),   # scaled by the duplicates' rate_scale
    "cards": dict(missing=0.04, abbreviated=0.9),
    "lending": dict(missing=0.03, abbreviated=0.5),
}

Columns = dict[str, pa.Array]


@dataclass(frozen=True)
class Address:
    """One silo's view of each person's address, in parts, before the silo writes it its way."""
    house_no: np.ndarray
    direction: np.ndarray
    name: np.ndarray
    suffix: np.ndarray
    unit: np.ndarray
    locality: np.ndarray
    state: np.ndarray
    abbreviated: np.ndarray   # bool: the silo wrote the suffix and direction short
    missing: np.ndarray       # bool: the silo has no address for the person


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
        # Address noise (drawn after all the above, so those draws stay as they were).
        style = ADDRESS_NOISE[silo]
        self.no_address = rng.random(n) < style["missing"] * rate_scale
        self.abbreviated = rng.random(n) < style["abbreviated"]
        self.street_typo = rng.random(n) < TYPO_RATE * rate_scale
        self.street_typo_kind = rng.integers(0, 3, n)
        self.street_typo_where = rng.random(n)
        self.old_street = draw_street(rng, n)   # where a person with a stale postcode lived before

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

    def address(self, pop: Population, people: np.ndarray) -> Address:
        """The household's address, or the one before it where the silo's postcode is stale; the street name
        with a typing slip now and then; the locality and state those of the silo's postcode."""
        stale = self.stale_postcode[people]
        now = (pop.house_no[people], pop.direction[people], pop.street_name[people], pop.street_suffix[people])
        before = tuple(part[people] for part in self.old_street)
        house_no, direction, name, suffix = (np.where(stale, b, a) for a, b in zip(now, before, strict=True))
        slip = self.street_typo[people]
        name = np.where(slip, typo(name, self.street_typo_kind[people], self.street_typo_where[people]), name)
        locality, state = ref.locality_of(self.postcode(pop, people))
        return Address(house_no, direction, name, suffix, np.where(stale, "", pop.unit[people]), locality, state,
                       self.abbreviated[people], self.no_address[people])


def _mapped(values: np.ndarray, table: dict[str, str]) -> np.ndarray:
    """Each value through `table` (unchanged where it has no entry), one lookup per distinct value."""
    keys, index = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    return np.array([table.get(str(k), str(k)) for k in keys] or [""])[index.reshape(-1)]


def street_line(a: Address, dot: str, unit_word: str, short_unit_word: str) -> np.ndarray:
    """"12 North Oak Street, Apartment 4" / "12 N Oak St, Apt 4" (dot="." gives "N. Oak St."): title case,
    the suffix and direction short where the silo abbreviates; "" where it has no address."""
    short_suffix = np.strings.add(_mapped(a.suffix, STREET_SUFFIXES), np.where(a.suffix == "Way", "", dot))
    short_direction = np.where(a.direction == "", "", np.strings.add(_mapped(a.direction, DIRECTIONS), dot))
    suffix = np.where(a.abbreviated, short_suffix, a.suffix)
    direction = np.where(a.abbreviated, short_direction, a.direction)
    line = np.strings.add(np.strings.add(a.house_no.astype(str), " "),
                          np.strings.add(np.where(direction == "", "", np.strings.add(direction, " ")), a.name))
    line = np.strings.add(np.strings.add(line, " "), suffix)
    unit = np.strings.add(np.strings.add(np.where(a.abbreviated, short_unit_word, unit_word), " "), a.unit)
    line = np.where(a.unit == "", line, np.strings.add(np.strings.add(line, ", "), unit))
    return np.where(a.missing, "", line)


def _present(a: Address, values: np.ndarray) -> pa.Array:
    return _arrow(np.where(a.missing, "", values))


def _mcc_text(mcc: np.ndarray) -> pa.Array:
    """4-digit merchant category codes; empty where there is none (0)."""
    codes = text.to_arrow(text.digits(mcc, 4))
    return pc.if_else(pa.array(np.asarray(mcc) > 0), codes, pa.scalar("", pa.string()))


def _arrow(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=str), type=pa.string())


def _phone_parts(phone: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return text.digits(phone // 10**7, 3), text.digits(phone // 10**4 % 1000, 3), text.digits(phone % 10**4, 4)


def _ordered(columns: Columns, order: np.ndarray) -> Columns:
    idx = pa.array(order)
    return {k: v.take(idx) for k, v in columns.items()}


def render(world: World, snap: Snapshot, first: int, last: int, full: bool) -> tuple[dict[str, Columns], dict]:
    """All files as text columns (before defects) for the export of world days first..last (the books
    as on `snap.day`), and the ground-truth silo id -> person map. `full`: the consent ledger from its
    beginning and the balances of every month end in the window (a full export), else only the
    window's consent events and the day's balances."""
    pop, h, seed, customers = world.pop, world.h, world.seed, world.customers
    files: dict[str, Columns] = {}
    id_map: dict[str, list] = {"silo": [], "silo_customer_id": [], "person_id": []}

    # --- deposits -----------------------------------------------------------------------------------
    noise = _Noise(seed, customers, "deposits", pop.n)
    dup_noise = _Noise(seed, customers, "deposits-duplicates", pop.n, rate_scale=15.0)
    people = np.flatnonzero(snap.members["deposits"])
    dups = np.flatnonzero(h.duplicate & snap.members["deposits"])
    rows_person = np.concatenate([people, dups])
    cif = np.concatenate([h.cif[people], h.duplicate_cif[dups]])
    f1, l1 = noise.names(pop, people)
    f2, l2 = dup_noise.names(pop, dups)
    work_domain = np.array(ref.EMPLOYER_DOMAINS)[h.employer]
    phone = _phone_parts(np.concatenate([noise.phone(pop, people), dup_noise.phone(pop, dups)]))
    nid = np.concatenate([noise.national_id(pop, people), dup_noise.national_id(pop, dups)])
    address, dup_address = noise.address(pop, people), dup_noise.address(pop, dups)
    cif_text = text.ids("D", cif, 7)
    customers_cols = {
        "cif_id": cif_text,
        "full_name": _arrow(np.strings.add(np.strings.add(np.concatenate([f1, f2]), " "), np.concatenate([l1, l2]))),
        "birth_date": text.dates(pop.birth[rows_person], "yyyy-MM-dd"),
        "email": _arrow(np.concatenate([noise.email(pop, people, work_domain),
                                        dup_noise.email(pop, dups, work_domain)])),
        "phone": text.to_arrow(text.compose("+1 ", phone[0], "-", phone[1], "-", phone[2])),
        "national_id": text.to_arrow(text.compose(nid[:, :3], "-", nid[:, 3:5], "-", nid[:, 5:])),
        "street": _arrow(np.concatenate([street_line(address, "", "Apartment", "Apt"),
                                         street_line(dup_address, "", "Apartment", "Apt")])),
        "city": _arrow(np.concatenate([np.where(address.missing, "", address.locality),
                                       np.where(dup_address.missing, "", dup_address.locality)])),
        "state": _arrow(np.concatenate([np.where(address.missing, "", address.state),
                                        np.where(dup_address.missing, "", dup_address.state)])),
        "postcode": _arrow(np.concatenate([noise.postcode(pop, people), dup_noise.postcode(pop, dups)])),
        "gender": _arrow(pop.gender[rows_person]),
        "customer_since": text.dates(np.concatenate([snap.since["deposits"][people],
                                                     np.minimum(h.duplicate_since[dups], EPOCH - 1)]), "yyyy-MM-dd"),
    }
    files["deposits/customers"] = _ordered(customers_cols, np.argsort(cif, kind="stable"))
    _add_ids(id_map, "deposits", cif_text, rows_person)

    dep = snap.deposits
    order = np.argsort(dep["account_no"], kind="stable")
    files["deposits/accounts"] = _ordered({
        "account_id": text.ids("DA", dep["account_no"], 9),
        "cif_id": text.ids("D", dep["cif"], 7),
        "product": _arrow(dep["product"]),
        "open_date": text.dates(dep["open_date"], "yyyy-MM-dd"),
        "balance": text.money(dep["balance"]),
        "currency": text.lookup(["USD"], np.zeros(len(dep["key"]), np.int64)),
    }, order)

    tx = world.rows("deposit", first, last)
    credit = np.isin(tx["txn_type"], [TXN_TYPES.index(t) for t in CREDIT_TYPES])
    files["deposits/transactions"] = {
        "txn_id": text.ids("DT", tx["id"], 12),
        "account_id": text.ids("DA", h.deposit_account.ravel()[tx["key"]], 9),
        "booking_date": text.day_dates(EPOCH, tx["day"], "yyyy-MM-dd"),
        "amount": text.money(tx["cents"]),
        "direction": text.lookup(["DR", "CR"], credit.astype(np.int64)),
        "txn_type": text.lookup(list(TXN_TYPES), tx["txn_type"]),
        "counterparty": text.lookup(COUNTERPARTIES, tx["counterparty"]),
        "mcc": _mcc_text(tx["mcc"]),
    }

    # --- cards ---------------------------------------------------------------------------------------
    noise = _Noise(seed, customers, "cards", pop.n)
    people = np.flatnonzero(snap.members["cards"])
    people = people[np.argsort(h.holder_no[people], kind="stable")]
    first_name, last_name = noise.names(pop, people)
    email = noise.email(pop, people, work_domain)
    email = np.where(noise.upper_email[people], np.strings.upper(email), np.strings.capitalize(email))
    address = noise.address(pop, people)
    holder_text = text.ids("C-", h.holder_no[people], 6)
    files["cards/cardholders"] = {
        "holder_ref": holder_text,
        "first_name": _arrow(np.strings.upper(first_name)),
        "last_name": _arrow(np.strings.upper(last_name)),
        "birth_date": text.dates(pop.birth[people], "MM/dd/yyyy"),
        "email": _arrow(email),
        "phone": text.to_arrow(text.digits(noise.phone(pop, people), 10)),
        "ssn": text.to_arrow(noise.national_id(pop, people)),
        # The processor's upper case, its lines without commas.
        "address_1": _arrow(np.strings.replace(np.strings.upper(street_line(address, "", "Apartment", "Apt")),
                                               ",", "")),
        "city": _present(address, np.strings.upper(address.locality)),
        "state_code": _present(address, address.state),
        "zip": _arrow(noise.postcode(pop, people)),
    }
    _add_ids(id_map, "cards", holder_text, people)

    cards = snap.cards
    order = np.argsort(cards["account_no"], kind="stable")
    files["cards/accounts"] = _ordered({
        "card_account_id": text.ids("CA", cards["account_no"], 8),
        "holder_ref": text.ids("C-", cards["holder_no"], 6),
        "card_product": _arrow(cards["product"]),
        "open_date": text.dates(cards["open_date"], "MM/dd/yyyy"),
        "credit_limit": text.money(np.round(cards["limit"] * 100).astype(np.int64)),
        "current_balance": text.money(cards["balance"]),
        "days_past_due": text.integers(cards["days_past_due"]),
    }, order)

    ct = world.rows("card", first, last)
    files["cards/transactions"] = {
        "txn_ref": text.ids("CT", ct["id"], 12),
        "card_account_id": text.ids("CA", h.card_account[ct["key"], 0], 8),
        "txn_date": text.day_dates(EPOCH, ct["day"], "MM/dd/yyyy"),
        "amount": text.money(ct["cents"]),
        "mcc": text.to_arrow(text.digits(ct["mcc"], 4)),
        "merchant_category": text.lookup(ref.CATEGORIES, ct["category"]),
    }

    # --- lending -------------------------------------------------------------------------------------
    noise = _Noise(seed, customers, "lending", pop.n)
    people = np.flatnonzero(snap.members["lending"])
    people = people[np.argsort(h.borrower_no[people], kind="stable")]
    first_name, last_name = noise.names(pop, people)
    phone = _phone_parts(noise.phone(pop, people))
    address = noise.address(pop, people)
    borrower_text = text.integers(h.borrower_no[people])
    files["lending/borrowers"] = {
        "borrower_no": borrower_text,
        "name": _arrow(np.strings.upper(np.strings.add(np.strings.add(last_name, ", "), first_name))),
        "dob": text.dates(pop.birth[people], "dd.MM.yyyy"),
        "email": _arrow(noise.email(pop, people, work_domain)),
        "phone": text.to_arrow(text.compose("(", phone[0], ") ", phone[1], "-", phone[2])),
        "tax_id": text.to_arrow(noise.national_id(pop, people)),
        "address_line": _arrow(street_line(address, ".", "Apartment", "Apt.")),
        "town": _present(address, address.locality),
        "state_name": _present(address, _mapped(address.state, US_STATES)),
        "postal_code": _arrow(noise.postcode(pop, people)),
    }
    _add_ids(id_map, "lending", borrower_text, people)

    loans = snap.loans
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

    rp = world.rows("repayments", first, last)
    files["lending/repayments"] = {
        "repayment_id": text.ids("R", rp["id"], 12),
        "loan_no": text.ids("L", h.loan_no.ravel()[rp["key"]], 8),
        "paid_date": text.day_dates(EPOCH, rp["day"], "dd.MM.yyyy"),
        "amount": text.money(rp["cents"]),
    }

    files.update(balances(world, snap, balance_days(world, first, last) if full else [last]))

    # --- online banking and the CRM: people by the id of their home silo ------------------------------
    ref_text, ref_silo = customer_refs(h)
    ss = world.rows("sessions", first, last)
    files["digital/sessions"] = {
        "session_id": text.ids("S", ss["id"], 12),
        "customer_ref": ref_text.take(pa.array(ss["person"])),
        "customer_silo": text.lookup(list(HOME_SILOS), ref_silo[ss["person"]]),
        "started_at": text.timestamps(date_of(ss["day"]), ss["second"]),
        "channel": text.lookup(["web", "app"], ss["app"].astype(np.int64)),
        "page": text.lookup(ref.PAGES, ss["page"]),
        "page_views": text.integers(ss["views"]),
        "duration_seconds": text.integers(ss["seconds"]),
    }
    cs = world.rows("consent", -NEVER if full else first, last)
    purpose = np.array([TOPIC_PURPOSE.index(p) for p, _ in TOPICS])[cs["topic"]]
    channel = np.array([TOPIC_CHANNEL.index(c) for _, c in TOPICS])[cs["topic"]]
    files["crm/consents"] = {
        "event_id": text.ids("CE", cs["id"], 12),
        "customer_ref": ref_text.take(pa.array(cs["person"])),
        "customer_silo": text.lookup(list(HOME_SILOS), ref_silo[cs["person"]]),
        "purpose": text.lookup(list(TOPIC_PURPOSE), purpose),
        "channel": text.lookup(list(TOPIC_CHANNEL), channel),
        "status": text.lookup(["withdrawn", "granted"], cs["granted"].astype(np.int64)),
        "recorded_at": text.timestamps(date_of(cs["day"]), cs["second"]),
        "source": text.lookup(list(CONSENT_SOURCES), cs["source"]),
    }
    ev = offer_events(world, first, last)
    files["crm/offers"] = {
        "event_id": text.ids("OE", ev["id"] * 10 + ev["kind"], 11),
        "offer_id": text.ids("OF", ev["id"], 10),
        "customer_ref": ref_text.take(pa.array(ev["person"])),
        "customer_silo": text.lookup(list(HOME_SILOS), ref_silo[ev["person"]]),
        "campaign": text.to_arrow(text.compose("LEGACY-20", text.digits(ev["id"] // 10**8, 2), "-",
                                               text.digits(ev["id"] // 10**6 % 100, 2), n=len(ev["id"]))),
        "product": text.lookup(list(PRODUCTS), ev["product"]),
        "channel": text.lookup(list(CHANNELS), ev["channel"]),
        "event_type": text.lookup(list(OFFER_EVENTS), ev["kind"]),
        "event_at": text.timestamps(date_of(ev["day"]), ev["second"]),
    }

    le = declared_events(world, first, last)
    files["crm/life_events"] = {
        "event_id": text.ids("LE", le["person"] * len(EVENTS) + le["event"], 12),
        "customer_ref": ref_text.take(pa.array(le["person"])),
        "customer_silo": text.lookup(list(HOME_SILOS), ref_silo[le["person"]]),
        "event_type": text.lookup(list(EVENTS), le["event"]),
        "event_date": text.dates(date_of(le["day"]), "yyyy-MM-dd"),
        "recorded_at": text.timestamps(date_of(le["recorded"]), le["second"]),
        "source": text.lookup(list(DECLARATION_SOURCES), le["source"]),
    }

    silo_ids = {
        "silo": np.concatenate(id_map["silo"]),
        "silo_customer_id": np.concatenate(id_map["silo_customer_id"]),
        "person_id": pop.person_id[np.concatenate(id_map["person_id"])],
    }
    return files, silo_ids


HOME_SILOS = ("deposits", "cards", "lending")
TOPIC_PURPOSE = ("marketing", "profiling", "data_sharing")
TOPIC_CHANNEL = ("mobile", "email", "branch", "atm", "all")
OFFER_EVENTS = ("holdout", "sent", "opened", "clicked", "accepted", "declined")


def customer_refs(h: Holdings) -> tuple[pa.Array, np.ndarray]:
    """Per person: the id their home silo knows them by (holdings.primary_silo), and that silo's index."""
    silo = h.primary_silo
    cif, holder, borrower = (np.asarray(a.to_numpy(zero_copy_only=False), dtype=object) for a in
                             (text.ids("D", h.cif, 7), text.ids("C-", h.holder_no, 6), text.integers(h.borrower_no)))
    return pa.array(np.select([silo == 0, silo == 1], [cif, holder], borrower), pa.string()), silo


def balance_days(world: World, first: int, last: int) -> list[int]:
    """The month ends inside first..last (before the last day) and the last day: a full export's balances."""
    ends = [m.offset + m.days - 1 for m in world.months]
    return [d for d in ends if first <= d < last] + [last]


def balances(world: World, snap: Snapshot, days: list[int]) -> dict[str, Columns]:
    """The three balance files: every account open on each day with what it held or owed that day."""
    parts: dict[str, list] = {"deposits": [], "cards": [], "lending": []}
    for day in days:
        on = snap if day == snap.day else world.snapshot(day)
        parts["deposits"].append((day, on.deposits["account_no"], on.deposits["balance"]))
        parts["cards"].append((day, on.cards["account_no"], on.cards["limit"], on.cards["balance"],
                               on.cards["days_past_due"]))
        parts["lending"].append((day, on.loans["loan_no"], on.loans["outstanding"], on.loans["days_past_due"]))

    def stack(rows, i):
        return np.concatenate([r[i] for r in rows])

    def days_of(rows):
        return date_of(np.concatenate([np.full(len(r[1]), r[0]) for r in rows]))

    dep, crd, lnd = parts["deposits"], parts["cards"], parts["lending"]
    return {
        "deposits/balances": {"account_id": text.ids("DA", stack(dep, 1), 9),
                              "balance_date": text.dates(days_of(dep), "yyyy-MM-dd"),
                              "balance": text.money(stack(dep, 2))},
        "cards/balances": {"card_account_id": text.ids("CA", stack(crd, 1), 8),
                           "balance_date": text.dates(days_of(crd), "MM/dd/yyyy"),
                           "credit_limit": text.money(np.round(stack(crd, 2) * 100).astype(np.int64)),
                           "current_balance": text.money(stack(crd, 3)),
                           "days_past_due": text.integers(stack(crd, 4))},
        "lending/balances": {"loan_no": text.ids("L", stack(lnd, 1), 8),
                             "balance_date": text.dates(days_of(lnd), "dd.MM.yyyy"),
                             "outstanding": text.money(np.round(stack(lnd, 2) * 100).astype(np.int64)),
                             "days_past_due": text.integers(stack(lnd, 3))},
    }


def declared_events(world: World, first: int, last: int) -> dict[str, np.ndarray]:
    """The life events customers declared, recorded on world days first..last, in recording order."""
    ev = world.events
    parts = []
    for i, name in enumerate(EVENTS):
        who = np.flatnonzero((ev.recorded[name] >= first) & (ev.recorded[name] <= last))
        parts.append({"person": who, "event": np.full(len(who), i), "day": ev.day[name][who],
                      "recorded": ev.recorded[name][who], "second": ev.second[name][who],
                      "source": ev.source[name][who]})
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((out["event"], out["person"], out["second"], out["recorded"]))
    return {k: v[order] for k, v in out.items()}


def offer_events(world: World, first: int, last: int) -> dict[str, np.ndarray]:
    """The campaign's event log in first..last: holdout or sent, opened, clicked, accepted or declined,
    each a few minutes after the one before on its day (offer rows: campaigns.Offers)."""
    o = world.rows("offers", first - 40, last, day="sent_day")  # responses come within days of sending
    n = len(o["id"])
    sent = np.where(o["holdout"], 0, 1)
    steps = [(sent, o["sent_day"], np.ones(n, bool)),
             (np.full(n, 2), o["opened_day"], o["opened_day"] < NEVER),
             (np.full(n, 3), o["clicked_day"], o["clicked_day"] < NEVER),
             (np.where(o["response"] == 1, 4, 5), o["response_day"], o["response"] > 0)]
    parts = {"id": [], "kind": [], "day": [], "second": [], "person": [], "product": [], "channel": []}
    for step, (kind, day, happened) in enumerate(steps):
        keep = happened & (day >= first) & (day <= last)
        parts["id"].append(o["id"][keep])
        parts["kind"].append(kind[keep])
        parts["day"].append(day[keep])
        parts["second"].append(np.minimum(o["second"][keep] + 900 * step * (day[keep] == o["sent_day"][keep]),
                                          86_399))
        for col in ("person", "product", "channel"):
            parts[col].append(o[col][keep])
    out = {k: np.concatenate(v) for k, v in parts.items()}
    order = np.lexsort((out["kind"], out["id"], out["second"], out["day"]))
    return {k: v[order] for k, v in out.items()}


def _add_ids(id_map: dict[str, list], silo: str, ids: pa.Array, people: np.ndarray) -> None:
    id_map["silo"].append(np.full(len(people), silo))
    id_map["silo_customer_id"].append(np.asarray(ids.to_numpy(zero_copy_only=False), dtype=str))
    id_map["person_id"].append(people)
