"""`marketofone rotate-key` on a small generated bank: afterwards no file of any table, of any
version, holds a token of the old key; every token is the new key's token of the same value, every other column
(customer_id first) unchanged; the old key is refused; and the silver step re-run for the same date changes
nothing. Kept small: the three silos with customer masters are ingested, and the silver step's masters part runs
(the part that tokenizes: crosswalk, accounts, golden records and their versions, the clerical review)."""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobs.tables import REGISTRY

DAY = dt.date(2026, 6, 30)
TOKEN = re.compile(rb"[0-9a-f]{64}")
MASTER_SILOS = ("deposits", "cards", "lending")


def _rows(lh, name: str) -> collections.Counter:
    df = lh.read(name)
    return collections.Counter(tuple(str(v) for v in row) for row in df.select(*sorted(df.columns)).collect())


def _tables(lh) -> list[str]:
    return [n for n in sorted(REGISTRY) if not n.startswith("bronze.") and lh.exists(n)]


@pytest.fixture(scope="module")
def rotated(spark, tmp_path_factory):
    from jobs import cli
    from jobs.generate import generate_bank
    from jobs.ingest import load
    from jobs.key_rotation import token_columns
    from jobs.settings import Settings
    from jobs.tables import Lakehouse
    from jobs.unify import run as silver
    from jobs.unify.standardize import all_silo_customers

    settings = Settings(home=tmp_path_factory.mktemp("rotation"), customers=60, history_days=60)
    generate_bank(settings, DAY)
    lh = Lakehouse(spark, settings)
    load.run(lh, DAY, MASTER_SILOS)
    silver.masters(lh, DAY, DAY)
    old_key = settings.token_key()
    before = {n: _rows(lh, n) for n in _tables(lh)}
    columns = {n: token_columns(lh.read(n)) for n in before}
    records = all_silo_customers(*(lh.read(f"bronze.{n}") for n in ("deposits_customers", "cards_cardholders",
                                                                      "lending_borrowers"))).toPandas()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MARKETOFONE_HOME", str(settings.home))
        env.delenv("MARKETOFONE_TOKENIZATION_KEY", raising=False)
        env.delenv("MARKETOFONE_TOKENIZATION_KEY_FILE", raising=False)
        assert cli.main(["rotate-key"]) == 0
    return lh, old_key, settings.token_key(), before, columns, records


def _expected_map(records, old_key: str, new_key: str) -> dict[str, str]:
    """old token -> new token for every value the records hold, computed here (hashlib), not by the product; names:
    every given name x surname of the bank (a superset of what survivorship may join)."""
    def h(key, kind, value):
        return hashlib.sha256(f"{key}|{kind}|{value}".encode()).hexdigest()

    values = {(kind, v) for kind, column in (("email", "email_norm"), ("phone", "phone_norm"),
                                             ("national_id", "national_id_norm"), ("street", "street"))
              for v in records[column].dropna()}
    given = {v.lower() for v in records["first_name"].dropna()} | {None}
    surnames = {v.lower() for v in records["last_name"].dropna()} | {None}
    values |= {("name", " ".join(p for p in (f, s) if p)) for f in given for s in surnames if f or s}
    return {h(old_key, k, v): h(new_key, k, v) for k, v in values if v}


def test_every_token_is_the_new_keys_token_of_the_same_value_and_nothing_else_changed(rotated):
    lh, old_key, new_key, before, columns, records = rotated
    assert new_key != old_key
    assert set(columns) >= {"silver.customer", "silver.customer_version", "audit.identity_review"}
    mapping = _expected_map(records, old_key, new_key)
    for name, token_columns in columns.items():
        if not token_columns:
            assert _rows(lh, name) == before[name], name   # a table without tokens is left as it was
            continue
        ordered = sorted(lh.read(name).columns)
        at = [ordered.index(c) for c in token_columns]
        expected = collections.Counter()
        for row, n in before[name].items():
            row = list(row)
            for i in at:
                if row[i] != "None":
                    row[i] = mapping[row[i]]   # KeyError: an old token of a value bronze lacks
            expected[tuple(row)] += n
        assert _rows(lh, name) == expected, name


def test_no_file_of_any_table_of_any_version_holds_a_token_of_the_old_key(rotated):
    lh, old_key, _, before, columns, _ = rotated
    old_tokens = set()
    for name, token_columns in columns.items():
        ordered = sorted(lh.read(name).columns)
        old_tokens |= {row[ordered.index(c)].encode() for c in token_columns for row in before[name]}
    old_tokens.discard(b"None")
    assert len(old_tokens) > 200
    found, scanned = [], 0
    for path in Path(lh.settings.storage_uri).rglob("*"):
        if not path.is_file():
            continue
        scanned += 1
        text = path.read_bytes()                     # JSON commits, checksums, Parquet footers' statistics
        if path.suffix == ".parquet":                # and the values themselves, however the pages are encoded
            text += repr(pq.read_table(path).to_pylist()).encode()
        if hits := set(TOKEN.findall(text)) & old_tokens:
            found.append(f"{path}: {len(hits)}")
    assert scanned > 100 and found == []


def test_the_rotation_is_recorded_without_the_keys_and_the_old_key_is_refused(rotated):
    from jobs import keys
    from jobs.key_rotation import current_key

    lh, old_key, new_key, _, columns, _ = rotated
    record = lh.read("audit.key_rotation").toPandas()
    assert set(record["table"]) == {n for n, cs in columns.items() if cs}
    assert set(record["retired_key"]) == {keys.fingerprint(old_key)}
    assert set(record["new_key"]) == {keys.fingerprint(new_key)}
    rewritten = dict(zip(record["table"], record["rows_rewritten"], strict=True))
    assert rewritten["silver.customer"] == lh.read("silver.customer").count() > 0
    assert (record["tokens_forgotten"] == 0).all()
    assert record["files_vacuumed"].sum() > 0
    assert old_key not in repr(record.to_dict()) and new_key not in repr(record.to_dict())
    secrets = lh.settings.home / "secrets"
    assert [p.name for p in secrets.iterdir()] == ["tokenization.key"]   # the old key is gone, nothing pending
    assert current_key(lh) == new_key
    with pytest.raises(ValueError, match="retired"):
        current_key(type(lh)(lh.spark, lh.settings.with_(tokenization_key=old_key)))


def test_the_silver_step_run_again_under_the_new_key_changes_nothing(rotated):
    from jobs.unify import run as silver

    lh = rotated[0]
    tables = [n for n in _tables(lh) if n.startswith(("silver.", "audit.identity", "quarantine.silver"))]
    after_rotation = {n: _rows(lh, n) for n in tables}
    silver.masters(lh, DAY, DAY)
    assert {n: _rows(lh, n) for n in tables} == after_rotation
