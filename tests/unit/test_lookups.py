"""Literal lookups (jobs/lookups.py): a value's meaning from a small table, as a column expression."""

from __future__ import annotations

from pyspark.sql import functions as F

from jobs.lookups import looked_up
from jobs.unify.address import normalized_state, normalized_street
from jobs.unify.transactions import category_of_mcc, mcc_categories

TABLE = {"st": "street", "ave": "avenue", "n": "north"}


def values(spark, column, rows):
    df = spark.createDataFrame([(r,) for r in rows], "v string")
    return [r[0] for r in df.select(column(F.col("v")).alias("out")).collect()]


def test_a_value_reads_its_meaning_and_the_default_or_null_otherwise(spark):
    rows = ["ave", "st", "road", None]
    assert values(spark, lambda v: looked_up(v, TABLE), rows) == ["avenue", "street", None, None]
    assert values(spark, lambda v: looked_up(v, TABLE, F.lit("?")), rows) == ["avenue", "street", "?", "?"]
    assert values(spark, lambda v: looked_up(v, TABLE, v), rows) == ["avenue", "street", "road", None]


def test_numbers_stay_numbers_and_an_empty_table_gives_the_default(spark):
    ranks = spark.createDataFrame([("b",), ("a",), ("z",)], "v string").select(
        looked_up(F.col("v"), {"a": 0, "b": 1}).alias("rank"))
    assert dict(ranks.dtypes)["rank"] == "int"
    assert [r[0] for r in ranks.collect()] == [1, 0, None]
    assert values(spark, lambda v: looked_up(v, {}, F.lit("other")), ["x"]) == ["other"]
    assert values(spark, lambda v: looked_up(v, {}), ["x"]) == [None]


def test_the_tables_that_use_it_read_as_before(spark):
    code, category = sorted(mcc_categories().items())[0]
    assert values(spark, category_of_mcc, [code, "0000", None]) == [category, "other", "other"]
    assert values(spark, normalized_street, ["12 N. Oak St., Apt 4", "  ", "1 St Charles Ave"]) == [
        "12 north oak street 4", None, "1 saint charles avenue"]
    assert values(spark, normalized_state, ["Illinois", " il ", "Narnia", None]) == ["IL", "IL", None, None]
