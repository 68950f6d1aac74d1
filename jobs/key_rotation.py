"""Rotating the tokenization key: every token past bronze made again with a new key in one run, the old key retired.

A token is sha256(key | kind | value) (jobs/unify/tokenize.py): without its value a token cannot be turned into
the new key's token, and only bronze holds the values. `rotate(lh, new_key)`:

1. builds the map old token -> new token from bronze's three customer masters, every export loaded, normalized
   as the silver step normalizes them (jobs/unify/standardize.py). A golden record may join one record's given
   name with another's surname (survivorship picks each alone, jobs/unify/customers.py), so the names mapped
   are every given name x surname among the records one customer links (silver.customer_crosswalk);
2. finds every table past bronze with token columns (by their names, `tokenize.token_kind`: silver.customer,
   silver.customer_version, audit.identity_review, their quarantines, and any table that gains one) and
   checks that the map knows each token in them. A token whose value bronze no longer holds stops the rotation
   before anything is written, naming the tables, unless `forget_unmapped` (that token becomes NULL);
3. rewrites each such table whole, only its token columns changed (customer_id is derived from silo ids, not
   from PII: it stays), then purges the table's history (jobs/maintenance.py, `purge_history`), so that no
   file of it on storage, of any version, holds a token of the old key;
4. records the rotation in audit.key_rotation, one row per table (fingerprints, never a key). From then on
   `current_key` refuses the old key: the silver step, the only writer of tokens, stops with a clear error
   rather than mixing the two keys' tokens.

The rotation is for an operator to run while no DAG runs. One that stopped half way is run again with the same
new key: a table already rewritten holds the new key's tokens, which the map maps to themselves.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs import keys, lakehouse_lock
from jobs.tables import REGISTRY, Lakehouse, table
from jobs.unify.standardize import all_silo_customers
from jobs.unify.tokenize import token, token_kind

log = logging.getLogger(__name__)

AUDIT_TABLE = "audit.key_rotation"
CUSTOMER_MASTERS = ("bronze.deposits_customers", "bronze.cards_cardholders", "bronze.lending_borrowers")
# Each kind's value in a standardized record, as jobs/unify/tokenize.py hashes it (names: see `identifier_values`).
RECORD_VALUES = {"email": "email_norm", "phone": "phone_norm", "national_id": "national_id_norm", "street": "street"}


@dataclass(frozen=True)
class Rotated:
    """What the rotation did to one table."""
    table: str
    columns: tuple[str, ...]   # its token columns
    rows: int                  # rows rewritten
    forgotten: int             # tokens the map did not know, made NULL (forget_unmapped)
    files_removed: int         # data files of older versions vacuumed


def identifier_values(records: DataFrame, crosswalk: DataFrame | None) -> DataFrame:
    """(kind, value): every value a token can be of, from standardized customer records (standardize.py's
    all_silo_customers). A name is `lower(given) lower(surname)` as tokenize.person_tokens joins them: each
    record's own (the review rows), and every given name x surname of one customer's records (the golden
    record; a missing part included, as survivorship may find none)."""
    by_kind = [records.select(F.lit(kind).alias("kind"), F.col(column).alias("value"))
               for kind, column in RECORD_VALUES.items()]
    names = records.select("silo", "silo_customer_id", "first_name", "last_name")
    if crosswalk is not None:
        linked = names.join(crosswalk.select("silo", "silo_customer_id", "customer_id"),
                            ["silo", "silo_customer_id"])
        given = linked.select("customer_id", "first_name").distinct()
        surnames = linked.select("customer_id", "last_name").distinct()
        names = names.select("first_name", "last_name").unionByName(
            given.join(surnames, "customer_id").select("first_name", "last_name"))
    full_name = F.concat_ws(" ", F.lower("first_name"), F.lower("last_name"))
    by_kind.append(names.select(F.lit("name").alias("kind"), full_name.alias("value")))
    values = by_kind[0]
    for more in by_kind[1:]:
        values = values.unionByName(more)
    return values.where(F.col("value").isNotNull() & (F.col("value") != "")).distinct()


def token_map(values: DataFrame, old_key: str, new_key: str) -> DataFrame:
    """(kind, old, new): each value's token under the old key and under the new one, and each new token mapped to
    itself (a table a stopped rotation already rewrote)."""
    value, kind = F.col("value"), F.col("kind")
    pairs = values.select("kind", token(value, old_key, kind).alias("old"), token(value, new_key, kind).alias("new"))
    return pairs.unionByName(pairs.select("kind", F.col("new").alias("old"), "new")).distinct()


def token_columns(df: DataFrame) -> tuple[str, ...]:
    return tuple(c for c in df.columns if token_kind(c))


def retokenized(df: DataFrame, mapping: DataFrame) -> DataFrame:
    """`df` with each token column's tokens replaced by the map's new ones, every other column as it was, and a
    column `_unmapped`: how many of the row's tokens the map did not know (they read NULL)."""
    columns, out = df.columns, df
    unmapped = F.lit(0)
    for column in token_columns(df):
        of_kind = mapping.where(F.col("kind") == token_kind(column)).select(
            F.col("old").alias(f"_old_{column}"), F.col("new").alias(f"_new_{column}"))
        out = out.join(of_kind, out[column] == of_kind[f"_old_{column}"], "left")
        unmapped = unmapped + (F.col(column).isNotNull() & F.col(f"_new_{column}").isNull()).cast("int")
    return out.select(*[F.col(f"_new_{c}").alias(c) if token_kind(c) else F.col(c) for c in columns],
                      unmapped.alias("_unmapped"))


def tables_with_tokens(lh: Lakehouse) -> dict[str, tuple[str, ...]]:
    """Every written table past bronze (bronze and its quarantine hold the raw values, not tokens) with token
    columns, and those columns."""
    found = {}
    for name in sorted(REGISTRY):
        if table(name).layer == "bronze" or not lh.exists(name):
            continue
        columns = token_columns(lh.read(name))
        if columns:
            found[name] = columns
    return found


def bronze_token_map(lh: Lakehouse, old_key: str, new_key: str) -> DataFrame:
    """token_map of every customer record bronze holds (every export loaded)."""
    missing = [name for name in CUSTOMER_MASTERS if not lh.exists(name)]
    if missing:
        raise LookupError(f"the key rotation maps tokens from bronze's customer masters, and {', '.join(missing)} "
                          "has not been written: run ingest first")
    records = all_silo_customers(*(lh.read(name) for name in CUSTOMER_MASTERS))
    crosswalk = lh.read("silver.customer_crosswalk") if lh.exists("silver.customer_crosswalk") else None
    return lh.scratch(token_map(identifier_values(records, crosswalk), old_key, new_key), "key_rotation_map")


def rotate(lh: Lakehouse, new_key: str, forget_unmapped: bool = False) -> list[Rotated]:
    """Re-tokenize every table past bronze with `new_key` (the old key: the settings'), purge their history and
    record the rotation in audit.key_rotation. The caller installs the new key after (jobs/cli.py). No other writer
    runs beside it (jobs/lakehouse_lock.py): one would write tokens of the old key."""
    with lakehouse_lock.exclusive(lh.settings.home, "the key rotation"):
        return _rotate(lh, new_key, forget_unmapped)


def _rotate(lh: Lakehouse, new_key: str, forget_unmapped: bool) -> list[Rotated]:
    old_key = lh.settings.token_key()
    if why := keys.weakness(new_key):
        raise ValueError(f"the new tokenization key is too weak: {why}; {keys.HOW_TO_MAKE_ONE}")
    if new_key == old_key:
        raise ValueError("the new tokenization key is the key in use; give another one")
    mapping = bronze_token_map(lh, old_key, new_key)
    targets = tables_with_tokens(lh)
    staged = {name: lh.scratch(retokenized(lh.read(name), mapping), f"key_rotation_{name}") for name in targets}
    unknown = {name: n for name, df in staged.items() if (n := df.agg(F.sum("_unmapped")).collect()[0][0] or 0)}
    if unknown and not forget_unmapped:
        listed = ", ".join(f"{name}: {n}" for name, n in unknown.items())
        raise ValueError(f"tokens whose value bronze no longer holds (a bronze row past its retention, or a record "
                         f"erased from bronze alone): {listed}. Nothing was changed; erase those records, or rotate "
                         "with --forget-unmapped to make those tokens NULL")
    done = []
    for name, columns in targets.items():
        rows = lh.read(name).columns
        lh.overwrite(name, staged[name].select(*rows), count=False)
        files = _purged(lh, name)
        done.append(Rotated(name, columns, staged[name].count(), unknown.get(name, 0), files))
        log.info("%s: %d rows re-tokenized, %d old files removed", name, done[-1].rows, files)
    _record(lh, old_key, new_key, done)
    return done


def _purged(lh: Lakehouse, name: str) -> int:
    from jobs import maintenance

    return maintenance.purge_history(lh.path(name))


def _record(lh: Lakehouse, old_key: str, new_key: str, done: list[Rotated]) -> None:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    rotation_id = f"KR{now:%Y%m%d%H%M%S}{keys.fingerprint(new_key)[:6].upper()}"
    rows = [(rotation_id, now, keys.fingerprint(old_key), keys.fingerprint(new_key), r.table, ",".join(r.columns),
             r.rows, r.forgotten, r.files_removed) for r in done]
    schema = ("rotation_id string, rotated_at timestamp, retired_key string, new_key string, table string, "
              "token_columns string, rows_rewritten long, tokens_forgotten long, files_vacuumed long")
    lh.write(AUDIT_TABLE, lh.spark.createDataFrame(rows, schema), count=False)


def retired_keys(lh: Lakehouse) -> set[str]:
    """The fingerprints of every key a rotation retired."""
    if not lh.exists(AUDIT_TABLE):
        return set()
    return {r.retired_key for r in lh.read(AUDIT_TABLE).select("retired_key").distinct().collect()}


def current_key(lh: Lakehouse) -> str:
    """The settings' tokenization key, refused when a rotation retired it (a secret left unchanged after a
    rotation would write the old key's tokens beside the new key's)."""
    key = lh.settings.token_key()
    if keys.fingerprint(key) in retired_keys(lh):
        raise ValueError(f"the tokenization key (fingerprint {keys.fingerprint(key)}) was retired by "
                         f"`marketofone rotate-key` ({AUDIT_TABLE}); set the new key in MARKETOFONE_TOKENIZATION_KEY "
                         "or the file MARKETOFONE_TOKENIZATION_KEY_FILE names")
    return key
