"""Turn any labelled table into a model's feature matrix, the same way at training and at scoring.

A bank bringing its own data (`marketofone train --table ... --label ...`) has ids, dates, text and
flags next to its numbers. `FeaturePlan.infer` decides once, from the training frame:
- id columns (given, or text columns whose values are nearly all different) and the label: left out;
- numbers: as they are (NaN stays missing, XGBoost handles it); booleans: 0/1;
- dates and timestamps: days since 1970-01-01;
- text with few distinct values (<= MAX_LEVELS): one 0/1 column per value (`<column>=<value>`), an
  unseen value at scoring time reads as none of them.
The plan is stored with the model (a booster attribute) so scoring encodes new rows identically.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

MAX_LEVELS = 30
ID_UNIQUE_SHARE = 0.9  # a text column this unique is an identifier, not a feature
PLAN_ATTR = "feature_plan"


def _safe(name: str) -> str:
    """XGBoost feature names may not contain [, ] or <."""
    return re.sub(r"[\[\]<]", "_", name)


@dataclass
class FeaturePlan:
    numeric: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    levels: dict[str, list[str]] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature

    @property
    def features(self) -> list[str]:
        return ([*self.numeric, *self.flags, *self.dates]
                + [_safe(f"{c}={v}") for c, values in self.levels.items() for v in values])

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "FeaturePlan":
        return cls(**json.loads(text))

    @classmethod
    def infer(cls, frame: pd.DataFrame, label: str, id_columns=(), exclude=()) -> "FeaturePlan":
        plan = cls()
        for column in frame.columns:
            values = frame[column]
            if column == label:
                continue
            if column in id_columns:
                plan.dropped[column] = "id column"
            elif column in exclude:
                plan.dropped[column] = "excluded"
            elif pd.api.types.is_bool_dtype(values):
                plan.flags.append(column)
            elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_complex_dtype(values):
                plan.numeric.append(column)
            elif pd.api.types.is_datetime64_any_dtype(values) or _all_dates(values):
                plan.dates.append(column)
            elif _all_numbers(values):  # Spark decimals arrive as decimal.Decimal objects
                plan.numeric.append(column)
            else:
                text = values.dropna().astype(str)
                distinct = text.nunique()
                if len(text) and distinct > ID_UNIQUE_SHARE * len(text) and distinct > MAX_LEVELS:
                    plan.dropped[column] = "looks like an identifier (nearly every value different)"
                elif distinct > MAX_LEVELS:
                    plan.dropped[column] = f"text with {distinct} distinct values (more than {MAX_LEVELS})"
                elif distinct == 0:
                    plan.dropped[column] = "always empty"
                else:
                    plan.levels[column] = sorted(text.unique().tolist())
        if not plan.features:
            raise ValueError(f"no usable feature column besides the label {label!r}: "
                             + ", ".join(f"{c} ({why})" for c, why in plan.dropped.items()))
        return plan

    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame encoded as float64 columns named `self.features` (clear errors for what is missing)."""
        needed = [*self.numeric, *self.flags, *self.dates, *self.levels]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"column(s) the model needs are missing: {', '.join(missing)}")
        parts = {}
        for c in self.numeric:
            try:
                parts[c] = pd.to_numeric(frame[c], errors="raise").astype("float64")
            except (TypeError, ValueError) as exc:
                raise ValueError(f"column {c} must be numeric: {exc}") from None
        for c in self.flags:
            parts[c] = frame[c].astype("float64")
        for c in self.dates:
            days = pd.to_datetime(frame[c], errors="coerce")
            parts[c] = (days - pd.Timestamp("1970-01-01")).dt.days.astype("float64")
        for c, values in self.levels.items():
            text = frame[c].astype("string")
            for v in values:
                parts[_safe(f"{c}={v}")] = (text == v).fillna(False).astype("float64")
        out = pd.DataFrame(parts, index=frame.index)[self.features]
        infinite = [c for c in out.columns if np.isinf(out[c].to_numpy()).any()]
        if infinite:
            raise ValueError(f"column(s) contain infinite values: {', '.join(infinite)}")
        return out


def _all_numbers(values: pd.Series) -> bool:
    import decimal

    present = values.dropna()
    return len(present) > 0 and all(isinstance(v, (decimal.Decimal, int, float, np.number)) and not isinstance(v, bool)
                                    for v in present)


def _all_dates(values: pd.Series) -> bool:
    import datetime as dt

    present = values.dropna()
    return len(present) > 0 and all(isinstance(v, (dt.date, dt.datetime, pd.Timestamp)) for v in present)
