"""jobs/quality/repeats.py: the repeated keys found by an aggregate give what a window by the key gives."""

import random

from pyspark.sql import Window
from pyspark.sql import functions as F

from jobs.quality.repeats import with_repeats


def test_counts_and_places_are_those_of_a_window_by_the_key(spark):
    rng = random.Random(7)
    # Few repeats among many single keys, nulls in either key column (a null equals a null, as in a window).
    rows = [(rng.choice(["a", "b", None]), rng.choice([str(i) for i in range(40)] + [None]), i) for i in range(300)]
    rows += [(None, None, 300), (None, None, 301), ("a", None, 302), ("a", None, 303)]
    df = spark.createDataFrame(rows, "silo string, id string, n long")
    order = [F.desc("n")]
    got = with_repeats(df, ["silo", "id"], order, "count", "place")
    by_key = Window.partitionBy("silo", "id")
    want = (df.withColumn("count", F.count(F.lit(1)).over(by_key))
            .withColumn("place", F.row_number().over(by_key.orderBy(*order))))
    assert got.columns == want.columns
    assert sorted(map(tuple, got.collect()), key=lambda r: r[2]) == sorted(map(tuple, want.collect()),
                                                                          key=lambda r: r[2])
    assert got.where("count > 1").count() > 0 and got.where("count = 1").count() > 0
    assert got.where("silo IS NULL AND id IS NULL AND count > 1").count() > 0   # nulls grouped together
