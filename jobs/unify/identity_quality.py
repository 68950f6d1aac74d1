"""How good identity resolution is, measured against the generator's ground truth.

Pairwise precision and recall over silo records: a pair of records is *predicted same* when the
crosswalk gives both the same customer_id and *truly same* when the ground truth gives both the same
person_id. Pairs are counted per group (n records in a group make n*(n-1)/2 pairs), never enumerated.
Only records present on both sides count: a record quarantined at ingest never reaches the crosswalk
and is left out (reported as `left_out`).

Pure pandas, on a crosswalk read through Spark (`lh.read(...).toArrow().to_pandas()`).
"""

from __future__ import annotations

import pandas as pd

KEY = ["silo", "silo_customer_id"]


def _pairs(sizes: pd.Series) -> int:
    sizes = sizes.astype("int64")
    return int((sizes * (sizes - 1) // 2).sum())


def pair_precision_recall(crosswalk: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """crosswalk (silo, silo_customer_id, customer_id), truth (silo, silo_customer_id, person_id) ->
    {"silo_records", "left_out", "unknown", "true_pairs", "predicted_pairs", "correct_pairs",
     "precision", "recall"}.

    `left_out`: truth records absent from the crosswalk (quarantined at ingest); `unknown`: crosswalk
    records the truth does not know (there should be none). Neither counts on either side. Precision
    (recall) is 1.0 when nothing is predicted (nothing is truly) the same."""
    xw = crosswalk[KEY + ["customer_id"]].astype({"silo": str, "silo_customer_id": str})
    gt = truth[KEY + ["person_id"]].astype({"silo": str, "silo_customer_id": str})
    both = xw.merge(gt, on=KEY, how="inner", validate="one_to_one")
    true_pairs = _pairs(both.groupby("person_id").size())
    predicted_pairs = _pairs(both.groupby("customer_id").size())
    correct_pairs = _pairs(both.groupby(["customer_id", "person_id"]).size())
    return {
        "silo_records": len(both),
        "left_out": len(gt) - len(both),
        "unknown": len(xw) - len(both),
        "true_pairs": true_pairs,
        "predicted_pairs": predicted_pairs,
        "correct_pairs": correct_pairs,
        "precision": correct_pairs / predicted_pairs if predicted_pairs else 1.0,
        "recall": correct_pairs / true_pairs if true_pairs else 1.0,
    }


def error_pairs(crosswalk: pd.DataFrame, truth: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(false merges, missed merges) as groups, for looking at what went wrong:
    false merges: customer_ids holding records of more than one person, with their records;
    missed merges: persons whose records landed under more than one customer_id, with their records."""
    xw = crosswalk.astype({"silo": str, "silo_customer_id": str})
    gt = truth[KEY + ["person_id"]].astype({"silo": str, "silo_customer_id": str})
    both = xw.merge(gt, on=KEY, how="inner")
    persons_per_customer = both.groupby("customer_id")["person_id"].transform("nunique")
    customers_per_person = both.groupby("person_id")["customer_id"].transform("nunique")
    return (both[persons_per_customer > 1].sort_values(["customer_id", "person_id"]),
            both[customers_per_person > 1].sort_values(["person_id", "customer_id"]))
