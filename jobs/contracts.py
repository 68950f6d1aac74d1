"""Landing-file contracts (schemas/landing/<silo>/<entity>.json) and the typed view of a bronze table.

Bronze keeps the silo's values as text, exactly as exported; the contract says how to read each column
(type, date format) and what a valid row looks like. Silver reads bronze through `typed()` so every job
parses a silo's formats the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.resources import resource_dir

SCHEMAS_DIR = resource_dir("schemas")  # the packaged copy when installed from a wheel (jobs/resources.py)
TYPES = ("string", "date", "timestamp", "integer", "decimal")
# Money is a decimal end to end, so a sum never depends on the order rows arrive in (a double sum does,
# in its last bits, between runs and between engines). A contract's `decimal` (amounts, balances,
# limits, rates, all with 2 places) is MONEY in silver; gold's sums of it are MONEY_SUM (a year of a
# customer's transactions fits). Models get doubles only when their feature frame is built.
MONEY = "decimal(18,2)"
MONEY_SUM = "decimal(20,2)"
# A plain decimal number: "1234.50", "-3.05", "+4", ".5". Anything else ("1e3", "1,234.00", "NaN") is not a
# valid decimal, the same on every engine (engines disagree on exponents).
_DECIMAL_TEXT = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$"


@dataclass(frozen=True)
class ColumnContract:
    name: str
    type: str = "string"
    required: bool = False
    # Not required, but a value is expected (a customer's phone, gender): an empty one is counted as a warning in
    # the data-quality results, and the row is kept.
    expected: bool = False
    format: str | None = None
    pattern: str | None = None
    allowed: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    pii: bool = False
    description: str = ""


@dataclass(frozen=True)
class Contract:
    silo: str
    entity: str
    key: tuple[str, ...]
    columns: tuple[ColumnContract, ...]
    description: str = ""
    min_rows: int = 1  # 0 for activity files, which a quiet day leaves empty

    @property
    def name(self) -> str:
        return f"{self.silo}_{self.entity}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]

    @property
    def may_be_absent(self) -> list[str]:
        """Columns a file may lack altogether: neither required nor part of the key. A bank's older exports
        predate columns added to a contract since (the address); such a file loads with the column NULL,
        counted by the column's warning expectation where it has one."""
        return [c.name for c in self.columns if not c.required and c.name not in self.key]

    def column(self, name: str) -> ColumnContract:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


def _parse(raw: dict, source: Path) -> Contract:
    try:
        columns = []
        for c in raw["columns"]:
            if c.get("type", "string") not in TYPES:
                raise ValueError(f"column {c['name']}: type must be one of {TYPES}")
            if c.get("type") in ("date", "timestamp") and not c.get("format"):
                raise ValueError(f"column {c['name']}: a {c['type']} column needs a format")
            if c.get("required") and c.get("expected"):
                raise ValueError(f"column {c['name']}: required and expected: expected is for a column that is "
                                 "not required")
            allowed = tuple(c["allowed"]) if c.get("allowed") is not None else None
            columns.append(ColumnContract(
                name=c["name"], type=c.get("type", "string"), required=bool(c.get("required", False)),
                expected=bool(c.get("expected", False)), format=c.get("format"), pattern=c.get("pattern"),
                allowed=allowed, min=c.get("min"), max=c.get("max"), pii=bool(c.get("pii", False)),
                description=c.get("description", ""),
            ))
        contract = Contract(raw["silo"], raw["entity"], tuple(raw.get("key", ())), tuple(columns),
                            raw.get("description", ""), int(raw.get("min_rows", 1)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bad contract {source}: {exc}") from exc
    unknown = set(contract.key) - set(contract.column_names)
    if unknown:
        raise ValueError(f"bad contract {source}: key columns {sorted(unknown)} are not columns")
    return contract


@lru_cache(maxsize=None)
def load_contract(silo: str, entity: str) -> Contract:
    path = SCHEMAS_DIR / "landing" / silo / f"{entity}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no landing contract for {silo}/{entity} at {path}")
    return _parse(json.loads(path.read_text()), path)


def with_absent_columns(df: DataFrame, contract: Contract) -> DataFrame:
    """The contract's columns in contract order, those `df` lacks added as NULL text, then df's other
    columns (load metadata). For a file, or a bronze table written before a column was added, that lacks an
    optional column; a missing required column is the header check's to refuse, never filled in here."""
    present = set(df.columns)
    needed = [c for c in contract.column_names if c not in present and c not in contract.may_be_absent]
    if needed:
        raise ValueError(f"{contract.name}: required column(s) {needed} missing")
    contract_cols = [F.col(c) if c in present else F.lit(None).cast("string").alias(c) for c in contract.column_names]
    others = [F.col(c) for c in df.columns if c not in contract.column_names]
    return df.select(*contract_cols, *others)


def parse_column(col: Column, spec: ColumnContract) -> Column:
    """Text -> typed value; NULL when the text does not parse (never an error mid-job)."""
    text = F.trim(col)
    if spec.type == "date":
        return F.try_to_timestamp(text, F.lit(spec.format)).cast("date")
    if spec.type == "timestamp":
        return F.try_to_timestamp(text, F.lit(spec.format))
    if spec.type == "integer":
        return text.try_cast("bigint")
    if spec.type == "decimal":
        # More places than the scale round half up; a number too large for MONEY is NULL (not valid).
        return F.when(text.rlike(_DECIMAL_TEXT), text.try_cast(MONEY))
    return F.when(text == "", F.lit(None)).otherwise(text)


def typed(df: DataFrame, contract: Contract) -> DataFrame:
    """Contract columns parsed to their types; other columns (load metadata) kept as they are."""
    cols = []
    for name in df.columns:
        if name in contract.column_names:
            cols.append(parse_column(F.col(name), contract.column(name)).alias(name))
        else:
            cols.append(F.col(name))
    return df.select(*cols)
