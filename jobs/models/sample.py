"""A model's training rows, sampled in Spark before anything reaches pandas on the driver.

    sample_training_rows(df, label, seed, ratio=20, min_negatives=..., max_negatives=...) -> (DataFrame, Sampling)

At 10M customers a target's eligible rows over all as-of dates are tens of millions; the positives are a
few percent of them and carry most of what a model learns. So every positive is kept, and the negatives
are sampled to `min(max(ratio * positives, min_negatives), max_negatives)` (all of them when there are
fewer). Each kept negative gets the weight 1 / sampling rate (positives 1): the weighted rows stand for
the whole population, so a model fit with those weights (XGBoost sample weights) still predicts
probabilities, and the weighted metrics (base rate, Brier, PR-AUC, lift, reliability) are those of the
population (jobs/models/evaluate.py). AUC is unchanged by a uniform sample of the negatives.

The sample is deterministic and the same on every engine: a negative is kept when the first hex digits of
SHA-256(`<seed>|<customer_id>|<as_of_date>`) fall below the rate (a string comparison of fixed-length hex,
so no engine-specific hash function or random generator is involved). A re-run with the same seed and
rows keeps the same rows, on Sail and on JVM Spark alike.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

WEIGHT_COLUMN = "sample_weight"
HEX_DIGITS = 13                       # 52 bits of the hash: the rate's resolution is 2**-52
_SCALE = 16 ** HEX_DIGITS


@dataclass(frozen=True)
class Sampling:
    """How a target's training rows were sampled (logged, and recorded as MLflow params)."""
    positives: int            # eligible positive rows: all kept
    negatives: int            # eligible negative rows
    negatives_wanted: int     # the cap: min(max(ratio * positives, min_negatives), max_negatives)
    negative_rate: float      # the share of negatives kept (1.0: all); their weight is 1 / this
    negatives_kept: int = -1  # counted once the sample is read (-1: not yet)

    @property
    def negative_weight(self) -> float:
        return 1.0 / self.negative_rate if self.negative_rate > 0 else 0.0

    def params(self, prefix: str = "sample_") -> dict:
        return {f"{prefix}{k}": v for k, v in {**asdict(self), "negative_weight": self.negative_weight}.items()}


def negatives_wanted(positives: int, ratio: float, min_negatives: int, max_negatives: int) -> int:
    return int(min(max(math.ceil(ratio * positives), min_negatives), max_negatives))


def negative_rate(positives: int, negatives: int, ratio: float, min_negatives: int, max_negatives: int) -> float:
    """The share of the negatives to keep (1.0 when there are no more than wanted)."""
    wanted = negatives_wanted(positives, ratio, min_negatives, max_negatives)
    return 1.0 if negatives <= wanted else wanted / negatives


def hash_hex(seed: int, id_columns: tuple[str, ...]):
    """The first HEX_DIGITS hex digits of SHA-256 over `<seed>|<id>|<id>...` (a Spark column)."""
    key = F.concat_ws("|", F.lit(str(seed)), *[F.coalesce(F.col(c).cast("string"), F.lit("")) for c in id_columns])
    return F.substring(F.sha2(key, 256), 1, HEX_DIGITS)


def threshold_hex(rate: float) -> str:
    """Rows whose hash_hex is below this (as a string) are kept: a share `rate` of them."""
    return f"{min(int(rate * _SCALE), _SCALE - 1):0{HEX_DIGITS}x}"


def count_classes(df: DataFrame, label: str) -> tuple[int, int]:
    """(positives, negatives) of the rows, in one Spark aggregate (a row with label 1 is a positive)."""
    row = df.agg(F.count(F.lit(1)).alias("rows"),
                 F.sum(F.when(F.col(label).cast("int") == 1, 1).otherwise(0)).alias("positives")).first()
    positives = int(row["positives"] or 0)
    return positives, int(row["rows"] or 0) - positives


def sample_training_rows(df: DataFrame, label: str, seed: int, ratio: float = 20.0, min_negatives: int = 100_000,
                         max_negatives: int = 1_000_000, id_columns: tuple[str, ...] = ("customer_id", "as_of_date"),
                         weight_column: str = WEIGHT_COLUMN) -> tuple[DataFrame, Sampling]:
    """Every positive of `df` and a deterministic sample of its negatives, with a weight column
    (1 for positives, 1 / sampling rate for negatives); the rows stay in Spark."""
    positives, negatives = count_classes(df, label)
    rate = negative_rate(positives, negatives, ratio, min_negatives, max_negatives)
    sampling = Sampling(positives, negatives, negatives_wanted(positives, ratio, min_negatives, max_negatives), rate)
    positive = F.col(label).cast("int") == 1
    if rate >= 1.0:
        kept = df
    else:
        kept = df.where(positive | (hash_hex(seed, id_columns) < F.lit(threshold_hex(rate))))
    weight = F.when(positive, F.lit(1.0)).otherwise(F.lit(sampling.negative_weight)).cast("double")
    return kept.withColumn(weight_column, weight), sampling
