"""Which rows of a lakehouse table belong to the people being erased: one SQL condition per table.

The condition is read off the table's columns, so a table added later is covered by the same vocabulary:

- `customer_id`: a golden id;
- `silo` + `silo_customer_id` (and the `_a` / `_b` pairs of the identity review), `customer_silo` +
  `customer_ref` (the CRM's and the digital channel's exports): a silo customer id;
- `silo` + `account_id`: an account, card or loan;
- the silo exports in bronze and quarantine name the owner and the account in each silo's own columns
  (`cif_id`, `holder_ref`, `borrower_no`; `account_id`, `card_account_id`, `loan_no`), the silo being the
  table's;
- a customer master's e-mail, phone or national id column, by the person's own values (Identifiers.raw): a
  record of theirs whose id is broken;
- `_raw_line`: a quarantined line that could not be split into columns, matched when one of its fields is an id.

Values are compared trimmed: bronze keeps the exports' text as it came.
"""

from __future__ import annotations

from jobs.privacy.subjects import Identifiers

# bronze/quarantine table -> (the silo, {kind: the column naming it})
SILO_EXPORT_COLUMNS: dict[str, tuple[str, dict[str, str]]] = {
    "deposits_customers": ("deposits", {"customer": "cif_id"}),
    "deposits_accounts": ("deposits", {"customer": "cif_id", "account": "account_id"}),
    "deposits_balances": ("deposits", {"account": "account_id"}),
    "deposits_transactions": ("deposits", {"account": "account_id"}),
    "cards_cardholders": ("cards", {"customer": "holder_ref"}),
    "cards_accounts": ("cards", {"customer": "holder_ref", "account": "card_account_id"}),
    "cards_balances": ("cards", {"account": "card_account_id"}),
    "cards_transactions": ("cards", {"account": "card_account_id"}),
    "lending_borrowers": ("lending", {"customer": "borrower_no"}),
    "lending_loans": ("lending", {"customer": "borrower_no", "account": "loan_no"}),
    "lending_balances": ("lending", {"account": "loan_no"}),
    "lending_repayments": ("lending", {"account": "loan_no"}),
}
RAW_LINE = "_raw_line"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _value_in(column: str, values) -> str:
    return f"trim(cast(`{column}` AS string)) IN ({', '.join(_quote(v) for v in sorted(values))})"


def _silo_id_in(silo_column: str, id_column: str, pairs: frozenset[tuple[str, str]]) -> list[str]:
    by_silo: dict[str, set[str]] = {}
    for silo, value in pairs:
        by_silo.setdefault(silo, set()).add(value)
    return [f"(`{silo_column}` = {_quote(silo)} AND {_value_in(id_column, values)})"
            for silo, values in sorted(by_silo.items())]


def person_condition(full_name: str, columns: list[str], ids: Identifiers) -> str | None:
    """The SQL condition that matches the rows of `full_name` (with these columns) naming any of `ids`, or
    None when the table has no column that names a person."""
    have = set(columns)
    parts: list[str] = []
    if "customer_id" in have and ids.golden:
        parts.append(_value_in("customer_id", ids.golden))
    for suffix in ("", "_a", "_b"):
        silo, customer = f"silo{suffix}", f"silo_customer_id{suffix}"
        if {silo, customer} <= have:
            parts += _silo_id_in(silo, customer, ids.customers)
    if {"customer_silo", "customer_ref"} <= have:
        parts += _silo_id_in("customer_silo", "customer_ref", ids.customers)
    if {"silo", "account_id"} <= have:
        parts += _silo_id_in("silo", "account_id", ids.accounts)
    layer, name = full_name.split(".")
    if layer in ("bronze", "quarantine") and name in SILO_EXPORT_COLUMNS:
        silo, named_by = SILO_EXPORT_COLUMNS[name]
        for kind, column in named_by.items():
            values = {i for s, i in (ids.customers if kind == "customer" else ids.accounts) if s == silo}
            if values and column in have:
                parts.append(_value_in(column, values))
        for column in sorted({c for s, c, _ in ids.raw if s == silo and c in have}):
            parts.append(_value_in(column, {v for s, c, v in ids.raw if s == silo and c == column}))
    if RAW_LINE in have and ids:
        # The line's fields, quotes and blanks taken out (no id has either). Sail's DELETE cannot plan a lambda
        # (exists(..., f -> ...)) nor a coalesce here: arrays_overlap, and a NULL line (a row that could be read)
        # makes the term NULL, which a WHERE takes as false.
        fields = f"split(regexp_replace(`{RAW_LINE}`, '[\" ]', ''), '[,;|\t]')"
        values = ", ".join(_quote(v) for v in sorted(ids.values()))
        parts.append(f"arrays_overlap({fields}, array({values}))")
    return " OR ".join(parts) if parts else None


def names_people(full_name: str, columns: list[str]) -> bool:
    """Whether the table has a column that can name a person (a table an erasure searches)."""
    everyone = Identifiers(frozenset({"_"}), frozenset({("deposits", "_"), ("cards", "_"), ("lending", "_")}),
                           frozenset({("deposits", "_"), ("cards", "_"), ("lending", "_")}))
    return person_condition(full_name, columns, everyone) is not None
