"""A tiny lakehouse for the erasure's tests: two people in the crosswalk, a silo's cardholders and its
quarantine, gold and the decision log (tests/unit/privacy/test_erasure.py, and on the JVM engine
tests/integration/test_erasure_on_the_jvm.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from jobs.settings import Settings
from jobs.tables import Lakehouse

DAY = dt.date(2026, 7, 5)


def tiny_lake(spark, home: Path, options: dict | None = None) -> Lakehouse:
    """The tiny lakehouse; `options`: the Delta options its tables are created with."""
    lh = Lakehouse(spark, Settings(home=home, customers=10))

    def put(name, rows, schema):
        spark.createDataFrame(rows, schema).write.format("delta").options(**(options or {})).save(lh.path(name))

    put("silver.customer_crosswalk", [("deposits", "D1", "CU0000000000AAAA"), ("cards", "C-1", "CU0000000000AAAA"),
                                      ("deposits", "D2", "CU0000000000BBBB"), ("cards", "C-2", "CU0000000000CCCC")],
        "silo string, silo_customer_id string, customer_id string")
    put("bronze.cards_cardholders", [("C-1", "ann@example.com", "555"), ("C-2", "cho@example.com", "555")],
        "holder_ref string, email string, phone string")   # the phone is shared: someone else's too
    put("quarantine.cards_cardholders", [("C-1?", "ann@example.com", None), ("C-3?", "dan@example.com", "555")],
        "holder_ref string, email string, phone string")
    put("gold.customer_360", [(DAY, "CU0000000000AAAA", 1.0), (DAY, "CU0000000000BBBB", 2.0)],
        "as_of_date date, customer_id string, total_balance double")
    put("audit.decision_log",
        [("DX1", DAY, "CU0000000000AAAA", "offered"), ("DX2", DAY, "CU0000000000BBBB", "offered")],
        "decision_id string, as_of_date date, customer_id string, outcome string")
    return lh


def main() -> None:
    """`python -m tests.privacy_fixtures HOME`: the tiny lakehouse made with deletion vectors on, on the engine the
    environment names (MARKETOFONE_ENGINE), then one erasure run (cards:C-1); prints the request's erasure id."""
    import sys

    from jobs.engine import spark_session
    from jobs.privacy import erasure

    settings = Settings.from_env().with_(home=Path(sys.argv[1]), customers=10)
    lh = tiny_lake(spark_session(settings), settings.home, {"delta.enableDeletionVectors": "true"})
    lh = Lakehouse(lh.spark, settings)
    erasure_id = erasure.queue(lh, "cards:C-1", "ticket 1")
    outcome = erasure.run(lh, DAY)
    assert outcome.erased == [erasure_id], outcome
    print(erasure_id)


if __name__ == "__main__":
    main()
