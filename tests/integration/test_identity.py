"""Identity resolution on the silos of a whole generated bank, scored against its ground truth. (The rules, one
pair of records at a time: tests/unit/unify/test_identity.py.)"""

import pandas as pd

from jobs.unify.identity import resolve
from jobs.unify.identity_quality import pair_precision_recall
from jobs.unify.standardize import all_silo_customers, newest_export


def test_resolution_of_a_generated_bank_meets_the_targets(small_bank):
    """The whole identity layer on the silos of a generated bank, scored against the ground truth
    (benchmarks/identity_resolution.py measures the same at scale)."""
    lh, _ = small_bank
    records = all_silo_customers(*(newest_export(lh.read(f"bronze.{name}"))
                                   for name in ("deposits_customers", "cards_cardholders", "lending_borrowers")))
    crosswalk = resolve(records, lh.scratch).toPandas()
    truth = pd.read_parquet(lh.settings.ground_truth / "silo_ids.parquet")
    quality = pair_precision_recall(crosswalk, truth)
    assert quality["true_pairs"] > 100 and quality["unknown"] == 0
    assert quality["precision"] >= 0.995 and quality["recall"] >= 0.98, quality

