"""Who an erasure request is about: the identifiers that name the person anywhere in the lakehouse.

A request names a person by a golden `customer_id` (CU…), by a silo id (`deposits:D1234567`, or a bare
`D1234567` when only one silo knows it). From that:

- **silo customer ids** (`customer`): every silo record the crosswalk links to the golden id; a silo id the
  crosswalk lacks (a record never resolved, e.g. quarantined at ingest) is still erased where it appears;
- **account ids** (`account`): the person's accounts, cards and loans in every export loaded (bronze, quarantine
  included) and in silver.account;
- **golden ids** (`golden`): the crosswalk's, and every id the person could have carried on an earlier day (a
  golden id is derived from one of the person's own records, jobs/unify/identity.customer_id: before two of
  their records were linked, gold rows were written under each record's id).

Only these few ids per person reach the driver, never a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.tables import SOURCES, Lakehouse

CROSSWALK = "silver.customer_crosswalk"

# Each silo's customer master and its id column; its account list, the account and the owner columns.
CUSTOMER_MASTERS = {"deposits": ("customers", "cif_id"), "cards": ("cardholders", "holder_ref"),
                    "lending": ("borrowers", "borrower_no")}
# Each master's direct identifiers other than its id (Identifiers.raw).
RAW_IDENTIFIERS = {"deposits": ("email", "phone", "national_id"), "cards": ("email", "phone", "ssn"),
                   "lending": ("email", "phone", "tax_id")}
ACCOUNT_LISTS = {"deposits": ("accounts", "account_id", "cif_id"),
                 "cards": ("accounts", "card_account_id", "holder_ref"),
                 "lending": ("loans", "loan_no", "borrower_no")}


class UnknownSubject(ValueError):
    """The request names no one the lakehouse knows."""


@dataclass(frozen=True)
class Identifiers:
    """Every id of the people of a batch of requests, by kind (see the module's doc)."""
    golden: frozenset[str] = frozenset()
    customers: frozenset[tuple[str, str]] = frozenset()   # (silo, silo_customer_id)
    accounts: frozenset[tuple[str, str]] = frozenset()    # (silo, account_id)
    # (silo, column, value): the person's own e-mail, phone and national id as their silo's master exported them,
    # where no one else's record carries the value: they find a record of theirs whose id is broken (quarantined).
    # Never tombstoned: the tombstones keep ids, not PII.
    raw: frozenset[tuple[str, str, str]] = frozenset()

    def __or__(self, other: "Identifiers") -> "Identifiers":
        return Identifiers(self.golden | other.golden, self.customers | other.customers, self.accounts | other.accounts,
                           self.raw | other.raw)

    def __bool__(self) -> bool:
        return bool(self.golden or self.customers or self.accounts)

    def values(self) -> set[str]:
        """Every id and raw identifier as text, whatever its kind (for a raw line or a file, where no column says
        the kind)."""
        return (set(self.golden) | {i for _, i in self.customers} | {i for _, i in self.accounts}
                | {v for _, _, v in self.raw})

    def tombstones(self, erasure_id: str, day) -> list[tuple]:
        """The rows of audit.erasure_tombstone: (kind, silo, id, erasure_id, erased_on)."""
        return ([("golden", "", i, erasure_id, day) for i in sorted(self.golden)]
                + [("customer", s, i, erasure_id, day) for s, i in sorted(self.customers)]
                + [("account", s, i, erasure_id, day) for s, i in sorted(self.accounts)])


@dataclass(frozen=True)
class Subject:
    """One request's person: its ids, and how the request named them."""
    erasure_id: str
    reference: str
    ids: Identifiers = field(default_factory=Identifiers)


def parse_reference(reference: str) -> tuple[str | None, str]:
    """`deposits:D123` -> ("deposits", "D123"); `CU…` or a bare silo id -> (None, the id)."""
    reference = reference.strip()
    if not reference:
        raise UnknownSubject("an erasure request needs a customer: a golden customer_id (CU…) or a silo id "
                             "(silo:id, e.g. deposits:D1234567)")
    silo, sep, rest = reference.partition(":")
    if sep and silo in SOURCES:
        if not rest.strip():
            raise UnknownSubject(f"{reference!r}: no id after the silo")
        return silo, rest.strip()
    return None, reference


def _crosswalk(lh: Lakehouse) -> DataFrame | None:
    return lh.read(CROSSWALK).select("silo", "silo_customer_id", "customer_id") if lh.exists(CROSSWALK) else None


def _rows(df: DataFrame) -> list:
    return df.distinct().collect()   # the requests' handful of ids per person


def _masters_holding(lh: Lakehouse, silo_id: str) -> set[tuple[str, str]]:
    """(silo, id) of every silo whose loaded customer master (bronze or quarantine) has the id."""
    found = set()
    for silo, (entity, column) in CUSTOMER_MASTERS.items():
        for name in (f"bronze.{silo}_{entity}", f"quarantine.{silo}_{entity}"):
            if lh.exists(name) and lh.read(name).where(F.trim(F.col(column)) == silo_id).limit(1).count():
                found.add((silo, silo_id))
                break
    return found


def _named(lh: Lakehouse, crosswalk: DataFrame | None, parsed: dict[str, tuple[str | None, str]]
           ) -> tuple[dict[str, tuple[set[str], set[tuple[str, str]]]], dict[str, str]]:
    """Each request's (golden ids, silo ids) as its reference names them; the requests naming no one, why."""
    values = sorted({value for _, value in parsed.values()})
    known = _rows(crosswalk.where(F.col("customer_id").isin(*values) | F.col("silo_customer_id").isin(*values))) \
        if crosswalk is not None and values else []
    named, unknown = {}, {}
    for erasure_id, (silo, value) in parsed.items():
        if silo is None and value.upper().startswith("CU"):
            rows = [r for r in known if r.customer_id == value]
            if not rows:
                unknown[erasure_id] = f"no customer {value!r} in {CROSSWALK}"
                continue
            named[erasure_id] = ({value}, {(r.silo, r.silo_customer_id) for r in rows})
            continue
        rows = [r for r in known if r.silo_customer_id == value and silo in (None, r.silo)]
        silo_ids = {(r.silo, r.silo_customer_id) for r in rows} or (
            {(silo, value)} if silo is not None else _masters_holding(lh, value))
        if not silo_ids:
            unknown[erasure_id] = f"no silo knows {value!r}: not in {CROSSWALK} nor in any customer master loaded"
        elif len({s for s, _ in silo_ids}) > 1:
            choices = ", ".join(f"{s}:{i}" for s, i in sorted(silo_ids))
            unknown[erasure_id] = f"{value!r} is an id in several silos; name one: {choices}"
        else:
            named[erasure_id] = ({r.customer_id for r in rows if r.customer_id}, silo_ids)
    return named, unknown


def _with_other_silos(crosswalk: DataFrame | None, named: dict) -> dict:
    """The person's records in the other silos: every silo id the crosswalk links to their golden ids."""
    golden = sorted({g for ids, _ in named.values() for g in ids})
    if crosswalk is None or not golden:
        return named
    linked = _rows(crosswalk.where(F.col("customer_id").isin(*golden)))
    return {erasure_id: (ids, silo_ids | {(r.silo, r.silo_customer_id) for r in linked if r.customer_id in ids})
            for erasure_id, (ids, silo_ids) in named.items()}


def _accounts(lh: Lakehouse, named: dict) -> dict[str, set[tuple[str, str]]]:
    """Each request's (silo, account id)s: in every account list loaded, and in silver.account."""
    owner_of = {(s, i): e for e, (_, silo_ids) in named.items() for s, i in silo_ids}
    accounts: dict[str, set[tuple[str, str]]] = {e: set() for e in named}
    for silo, (entity, account, owner) in ACCOUNT_LISTS.items():
        owners = sorted(i for s, i in owner_of if s == silo)
        if not owners:
            continue
        for name in (f"bronze.{silo}_{entity}", f"quarantine.{silo}_{entity}"):
            if lh.exists(name):
                rows = _rows(lh.read(name).where(F.trim(F.col(owner)).isin(*owners))
                             .select(F.trim(F.col(owner)), F.trim(F.col(account))))
                for r in rows:
                    if r[1]:
                        accounts[owner_of[(silo, r[0])]].add((silo, r[1]))
    holder_of = {g: e for e, (ids, _) in named.items() for g in ids}
    if holder_of and lh.exists("silver.account"):
        rows = _rows(lh.read("silver.account").where(F.col("customer_id").isin(*sorted(holder_of)))
                     .select("customer_id", "silo", "account_id"))
        for r in rows:
            accounts[holder_of[r.customer_id]].add((r.silo, r.account_id))
    return accounts


def _known_ids(lh: Lakehouse, silo: str, ids: list[str]) -> set[str]:
    """Which of a silo's ids the crosswalk resolved (all of them, to be safe, when there is no crosswalk)."""
    crosswalk = _crosswalk(lh)
    if crosswalk is None or not ids:
        return set(ids)
    rows = _rows(crosswalk.where((F.col("silo") == silo) & F.col("silo_customer_id").isin(*ids))
                 .select("silo_customer_id"))
    return {r[0] for r in rows}


def _raw_identifiers(lh: Lakehouse, named: dict) -> dict[str, set[tuple[str, str, str]]]:
    """Each request's (silo, column, value) of the e-mails, phones and national ids its person's master records
    carry (bronze and quarantine), less those another person's record carries in either (a household's shared
    e-mail, a placeholder national id): a value only the person has."""
    owner_of = {(s, i): e for e, (_, silo_ids) in named.items() for s, i in silo_ids}
    raw: dict[str, set[tuple[str, str, str]]] = {e: set() for e in named}
    for silo, (entity, id_column) in CUSTOMER_MASTERS.items():
        owners = sorted(i for s, i in owner_of if s == silo)
        tables = [lh.read(name) for name in (f"bronze.{silo}_{entity}", f"quarantine.{silo}_{entity}")
                  if owners and lh.exists(name)]
        found: set[tuple[str, str, str]] = set()
        for df in tables:
            columns = [c for c in RAW_IDENTIFIERS[silo] if c in df.columns]
            mine = _rows(df.where(F.trim(F.col(id_column)).isin(*owners)).select(
                F.trim(F.col(id_column)), *[F.trim(F.col(c)) for c in columns]))
            found |= {(owner_of[(silo, r[0])], c, v) for r in mine for c, v in zip(columns, r[1:], strict=True) if v}
        carriers: set[tuple[str, str, str]] = set()   # (column, value, another record's id)
        for df in tables:
            for column in sorted({c for _, c, _ in found if c in df.columns}):
                values = sorted({v for _, c, v in found if c == column})
                others = df.where(F.trim(F.col(column)).isin(*values) & ~F.trim(F.col(id_column)).isin(*owners))
                carriers |= {(column, r[0], r[1]) for r in _rows(others.select(F.trim(F.col(column)),
                                                                             F.trim(F.col(id_column))))}
        # Another person is a record the crosswalk resolved; a record whose id it does not know (the person's own,
        # quarantined with a broken id) shares nothing.
        known = _known_ids(lh, silo, sorted({i for _, _, i in carriers if i}))
        shared = {(c, v) for c, v, i in carriers if i in known}
        for erasure_id, column, value in found:
            if (column, value) not in shared:
                raw[erasure_id].add((silo, column, value))
    return raw


def _golden_ids_of_records(lh: Lakehouse, crosswalk: DataFrame | None, named: dict) -> dict[str, set[str]]:
    """The golden id each of a person's records would carry as the anchor of its own cluster, unless the
    crosswalk gives that id to someone else's record today (an id is kept across days by its first claimant:
    erasing it would take another person's rows)."""
    from jobs.unify.identity import customer_id

    records = sorted((e, s, i) for e, (_, silo_ids) in named.items() for s, i in silo_ids)
    if not records:
        return {}
    frame = lh.spark.createDataFrame(records, "erasure_id string, silo string, silo_customer_id string")
    derived: dict[str, set[str]] = {}
    for r in frame.select("erasure_id", customer_id(F.concat_ws(":", "silo", "silo_customer_id"))).collect():
        derived.setdefault(r[0], set()).add(r[1])
    everyone = sorted({g for ids in derived.values() for g in ids})
    holders = _rows(crosswalk.where(F.col("customer_id").isin(*everyone))) if crosswalk is not None else []
    return {e: {g for g in ids if all((r.silo, r.silo_customer_id) in named[e][1]
                                      for r in holders if r.customer_id == g)}
            for e, ids in derived.items()}


def identify_all(lh: Lakehouse, references: dict[str, str]) -> tuple[list[Subject], dict[str, str]]:
    """Each request's person and every id they carry (see the module's doc), for all the requests in a few
    queries: (the subjects, {erasure id: why it names no one})."""
    parsed, unknown = {}, {}
    for erasure_id, reference in references.items():
        try:
            parsed[erasure_id] = parse_reference(reference)
        except UnknownSubject as exc:
            unknown[erasure_id] = str(exc)
    crosswalk = _crosswalk(lh)
    named, not_found = _named(lh, crosswalk, parsed)
    unknown.update(not_found)
    named = _with_other_silos(crosswalk, named)
    accounts = _accounts(lh, named)
    raw = _raw_identifiers(lh, named)
    anchors = _golden_ids_of_records(lh, crosswalk, named)
    subjects = [Subject(e, references[e], Identifiers(frozenset(ids | anchors.get(e, set())), frozenset(silo_ids),
                                                      frozenset(accounts[e]), frozenset(raw[e])))
                for e, (ids, silo_ids) in named.items()]
    return subjects, unknown


def identify(lh: Lakehouse, erasure_id: str, reference: str) -> Subject:
    """One request's person (identify_all); UnknownSubject, saying why, when it names no one."""
    subjects, unknown = identify_all(lh, {erasure_id: reference})
    if unknown:
        raise UnknownSubject(unknown[erasure_id])
    return subjects[0]
