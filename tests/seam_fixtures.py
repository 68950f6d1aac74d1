"""Small tables for the lakehouse-seam tests (tests/unit/test_seam.py, tests/integration/test_seam.py): two
dates of gold.kpi_daily rows, and gold.offer_catalog written in several small files."""

import datetime as dt

D1, D2 = dt.date(2026, 6, 1), dt.date(2026, 6, 2)
KPI_SCHEMA = ("as_of_date date, kpi string, treated double, holdout double, all_customers double, uplift double, "
              "uplift_ci_low double, uplift_ci_high double, treated_customers long, holdout_customers long")


def _kpis(spark, day, rows):
    return spark.createDataFrame([(day, k, v, 0.0, v, v, None, None, 10, 2) for k, v in rows], KPI_SCHEMA)


def _small_files(lh, spark, n=4):
    """gold.offer_catalog in n files: one MERGE (insert) per row."""
    for i in range(n):
        lh.write("gold.offer_catalog", spark.createDataFrame([("v1", f"o{i}", "savings")],
                                                             "catalog_version string, offer_id string, product string"))

