"""jobs.quality: suites load, rows are split with reasons, GX agrees with the split, results are kept."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import functions as F

from jobs import quality
from jobs.engine import spark_session
from jobs.quality import DataQualityError, QualityResult, SplitMismatchError, split
from jobs.settings import Settings
from jobs.tables import REGISTRY

RUN_DATE = dt.date(2024, 3, 31)
TXN_SCHEMA = ("silo string, txn_id string, account_id string, customer_id string, txn_date date, "
              "amount double, category string")
PAYMENTS_SCHEMA = "id string, amount double, currency string, ref string"

# A suite written for these tests (the real suites have no `amount >= 0`: transactions are signed).
PAYMENTS_SUITE = {
    "name": "test.payments",
    "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        {"type": "expect_column_to_exist", "kwargs": {"column": "id"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": 0}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "currency", "value_set": ["EUR", "USD"]}},
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "ref", "regex": "^R[0-9]{3}$"}},
    ],
    "meta": {},
}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("quality_home")


@pytest.fixture(scope="module")
def settings(home):
    return Settings(home=home)


@pytest.fixture(scope="module")
def spark(settings):
    return spark_session(settings)


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("expectations")
    (directory / "test.payments.json").write_text(json.dumps(PAYMENTS_SUITE))
    return directory


@pytest.fixture(scope="module")
def payments_suite(suite_dir):
    return quality.load_suite("test.payments", directory=suite_dir)


@pytest.fixture(scope="module")
def bad_payments(spark, payments_suite, settings) -> tuple:
    rows = [
        ("p1", 10.0, "EUR", "R001"),
        ("p2", -12.5, "EUR", "R002"),   # negative amount
        (None, 5.0, "USD", "R003"),     # null id
        ("p4", 1.0, "EUR", "R004"),     # first p4 (smaller amount sorts first): kept
        ("p4", 2.0, "EUR", "R005"),     # second p4: quarantined
        ("p6", 7.0, None, None),        # nulls are not judged by in_set / regex
    ]
    df = spark.createDataFrame(rows, PAYMENTS_SCHEMA)
    return df, quality.validate(df, payments_suite, settings, RUN_DATE)


def _by_type(result: QualityResult, expectation: str, column: str = "") -> dict:
    [match] = [r for r in result.results if r["expectation"] == expectation and r["column"] == column]
    return match


def _txn_frame(spark, rows):
    return spark.createDataFrame(rows, TXN_SCHEMA)


CLEAN_TXNS = [
    ("deposits", "t1", "a1", "c1", dt.date(2024, 3, 1), -12.5, "groceries"),
    ("cards", "t2", "a2", "c1", dt.date(2024, 3, 2), -3.2, "fuel"),
    ("lending", "t3", "a3", "c2", dt.date(2024, 3, 3), -100.0, "loan_repayment"),
    ("deposits", "t4", "a1", "c1", dt.date(2024, 3, 4), 2500.0, "payroll"),
]


# -- suites ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", quality.available_suites())
def test_every_suite_loads_and_names_a_registered_table(name):
    suite = quality.load_suite(name)
    assert suite.name == name
    assert name in REGISTRY, f"suite {name} is not named after a table in jobs.tables"
    assert suite.expectations, f"suite {name} is empty"
    types = {e.expectation_type for e in suite.expectations}
    assert "expect_table_row_count_to_be_between" in types


def test_the_four_table_suites_exist():
    assert {"silver.customer", "silver.transaction", "gold.customer_360", "gold.next_best_offer"} <= set(
        quality.available_suites()
    )


def test_missing_suite_is_a_clear_error(tmp_path):
    with pytest.raises(DataQualityError, match="no expectation suite 'nope'"):
        quality.load_suite("nope", directory=tmp_path)


@pytest.mark.parametrize("expectation, message", [
    ({"type": "expect_column_values_to_be_increasing", "kwargs": {"column": "a"}}, "no quarantine predicate"),
    pytest.param({"type": "expect_column_values_to_not_be_null",
                  "kwargs": {"column": "a", "row_condition": 'col("b") > 1', "condition_parser": "great_expectations"}},
                 "which the quarantine split does not support",
                 marks=pytest.mark.filterwarnings("ignore:.*(condition_parser|row_condition).*:DeprecationWarning")),
])
def test_row_level_expectation_the_split_cannot_follow_is_refused(tmp_path, expectation, message):
    (tmp_path / "t.x.json").write_text(json.dumps({"name": "t.x", "expectations": [expectation]}))
    with pytest.raises(DataQualityError, match=message):
        quality.load_suite("t.x", directory=tmp_path)


# -- the split -------------------------------------------------------------------------------------
def test_clean_frame_passes_with_nothing_quarantined(spark, settings):
    df = _txn_frame(spark, CLEAN_TXNS)
    result = quality.validate(df, "silver.transaction", settings, RUN_DATE)
    assert result.success
    assert result.quarantined.count() == 0
    assert result.valid.count() == len(CLEAN_TXNS) == result.row_count
    assert result.valid.columns == df.columns
    assert all(r["success"] for r in result.results)
    assert quality.raise_on_failure(result) is result


def test_bad_rows_are_quarantined_with_expectation_and_reason(bad_payments):
    df, result = bad_payments
    got = {(r["id"], r["amount"]): (r["_check"], r["_reason"]) for r in result.quarantined.collect()}
    assert got == {
        ("p2", -12.5): ("expect_column_values_to_be_between(amount)", "amount must be >= 0, got -12.5"),
        (None, 5.0): ("expect_column_values_to_not_be_null(id)", "id must not be null"),
        ("p4", 2.0): ("expect_column_values_to_be_unique(id)",
                      "id must be unique, got a repeat of 'p4' (its first occurrence is kept)"),
    }
    assert result.quarantined.columns == df.columns + ["_check", "_reason"]
    assert sorted(r["id"] for r in result.valid.collect()) == ["p1", "p4", "p6"]
    assert result.success  # row-level failures are quarantined, not fatal


def test_counts_add_up(bad_payments):
    df, result = bad_payments
    total = df.count()
    assert result.valid.count() + result.quarantined.count() == total == result.row_count
    assert result.quarantined_count == result.quarantined.count() == 3
    assert result.valid_count == result.valid.count() == 3


def test_materialized_verdicts_are_read_by_every_later_pass_with_the_same_split(bad_payments, payments_suite,
                                                                             settings, spark, tmp_path):
    """With `materialize`, the rules are evaluated once, into what it writes; the counts, the valid rows and the
    quarantine are the ones computed without it. The suite has a uniqueness rule, so the input is written first, as
    it is (its repeats are then found by an aggregate, not a sort of every row), then the verdicts."""
    df, plain = bad_payments
    written = []

    def materialize(frame, name):
        path = str(tmp_path / name)
        frame.write.mode("overwrite").parquet(path)
        written.append((name, frame.columns, path))
        return spark.read.schema(frame.schema).parquet(path)

    result = quality.validate(df, payments_suite, settings, RUN_DATE, materialize=materialize)
    [(first, first_columns, _), (name, columns, path)] = written
    assert (first, first_columns) == ("input_test_payments", df.columns)
    assert name == "checked_test_payments" and {"_check", "_reason"} <= set(columns)
    assert (result.row_count, result.quarantined_count) == (plain.row_count, plain.quarantined_count)
    assert sorted(map(tuple, result.quarantined.collect()), key=repr) == \
        sorted(map(tuple, plain.quarantined.collect()), key=repr)
    assert sorted(r["id"] for r in result.valid.collect()) == ["p1", "p4", "p6"]
    # What was written holds the verdicts every later pass reads: the same rows, the same checks.
    stored = {(r["id"], r["amount"]): r["_check"] for r in spark.read.parquet(path).collect()}
    assert {k: v for k, v in stored.items() if v} == {(r["id"], r["amount"]): r["_check"]
                                                      for r in plain.quarantined.collect()}


def test_with_materialize_the_input_is_computed_once_for_the_split_and_gx(payments_suite, settings, spark, tmp_path):
    """A step's frame (its whole build) is computed once, into the materialized file, and GX's queries read that
    file: each computation of a row is counted by the UDF that makes its amount."""
    computed = tmp_path / "computed.txt"

    @F.udf("double")
    def amount(i):
        with open(computed, "a") as fh:   # one line each time a row is computed
            fh.write(f"{i}\n")
        return float(i % 5) - 1.0         # one row in five is negative

    df = spark.range(50).select(F.concat(F.lit("p"), F.col("id").cast("string")).alias("id"),
                                amount("id").alias("amount"), F.lit("EUR").alias("currency"),
                                F.lit("R001").alias("ref"))

    def materialize(frame, name):
        path = str(tmp_path / name)
        frame.write.mode("overwrite").parquet(path)
        return spark.read.schema(frame.schema).parquet(path)

    result = quality.validate(df, payments_suite, settings, RUN_DATE, materialize=materialize)
    assert _by_type(result, "expect_column_values_to_be_between", "amount")["unexpected_count"] == 10
    assert result.quarantined_count == 10 and result.valid.count() == 40
    assert len(computed.read_text().splitlines()) == 50


def test_gx_runs_no_query_for_the_example_values_it_is_asked_none_of(payments_suite, settings, spark, monkeypatch):
    """GX's BASIC result asks each of the five row-level rules for its example values with a query of its own, even
    when it is asked for none: those five queries return an empty list without reaching the engine. Left: the
    split's one aggregate, GX's two bundled metric passes and the uniqueness rule's count (9 queries without)."""
    df = spark.createDataFrame([("p1", 1.0, "EUR", "R001"), ("p2", 2.0, "USD", "R002")], PAYMENTS_SCHEMA)
    queries = []
    frame_class = type(df)

    def counting(action):
        def counted(*args, **kwargs):
            queries.append(action.__name__)
            return action(*args, **kwargs)
        return counted

    for name in ("collect", "count", "toPandas", "take", "head", "first", "isEmpty"):
        monkeypatch.setattr(frame_class, name, counting(getattr(frame_class, name)))
    result = quality.validate(df, payments_suite, settings, RUN_DATE)
    assert result.success and result.quarantined_count == 0
    assert len(queries) == 4, queries


def test_gx_still_gives_example_values_when_asked_for_them(payments_suite, spark):
    from jobs.quality.suites import _batch_definition

    df = spark.createDataFrame([("p1", -1.0, "EUR", "R001"), ("p2", -2.0, "USD", "R002")], PAYMENTS_SCHEMA)
    batch = _batch_definition("test.payments").get_batch(batch_parameters={"dataframe": df})
    outcome = batch.validate(payments_suite, result_format={"result_format": "BASIC", "partial_unexpected_count": 5})
    [between] = [r for r in outcome.results if r.expectation_config.type == "expect_column_values_to_be_between"]
    assert sorted(between.result["partial_unexpected_list"]) == [-2.0, -1.0]


def test_a_row_failing_several_expectations_is_quarantined_once(spark, payments_suite, settings):
    df = spark.createDataFrame([("p1", -1.0, "GBP", "X1"), ("p2", 1.0, "EUR", "R002")], PAYMENTS_SCHEMA)
    result = quality.validate(df, payments_suite, settings, RUN_DATE)
    [row] = result.quarantined.collect()
    assert row["id"] == "p1"
    assert row["_check"] == ("expect_column_values_to_be_between(amount); "
                                   "expect_column_values_to_be_in_set(currency); "
                                   "expect_column_values_to_match_regex(ref)")
    assert row["_reason"] == ("amount must be >= 0, got -1.0; currency must be one of EUR, USD, got 'GBP'; "
                              "ref must match /^R[0-9]{3}$/, got 'X1'")
    assert result.valid.count() + result.quarantined.count() == 2


@pytest.mark.parametrize("stored", [False, True], ids=["window", "aggregate"])
def test_duplicates_keep_the_first_by_keep_first_by_then_all_columns(spark, settings, stored):
    rows = [
        ("c1", dt.date(1980, 1, 1), "F", "1000", None, None, None, dt.date(2023, 5, 1)),
        ("c1", dt.date(1980, 1, 1), "F", "1000", None, None, None, dt.date(2021, 1, 1)),  # earliest: kept
        ("c1", dt.date(1980, 1, 1), "F", "2000", None, None, None, dt.date(2022, 1, 1)),
        ("c2", dt.date(1990, 6, 1), "M", "3000", None, None, None, dt.date(2022, 1, 1)),
    ]
    df = spark.createDataFrame(rows, "customer_id string, birth_date date, gender string, postcode string, "
                                     "email_token string, phone_token string, national_id_token string, "
                                     "first_seen date")
    result = quality.validate(df, "silver.customer", settings, RUN_DATE, stored=stored)
    assert {(r["customer_id"], r["first_seen"]) for r in result.valid.collect()} == {
        ("c1", dt.date(2021, 1, 1)), ("c2", dt.date(2022, 1, 1))}
    assert result.quarantined.count() == 2
    unique = _by_type(result, "expect_column_values_to_be_unique", "customer_id")
    assert (unique["unexpected_count"], unique["quarantined_count"]) == (3, 2)


@pytest.mark.parametrize("stored", [False, True], ids=["window", "aggregate"])
def test_compound_key_uniqueness_agrees_with_gx_and_keeps_the_first(spark, settings, tmp_path, stored):
    suite = {"name": "t.compound", "expectations": [
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["silo", "id"]},
         "meta": {"keep_first_by": ["n"]}},
        {"type": "expect_compound_columns_to_be_unique",
         "kwargs": {"column_list": ["silo", "ref"], "ignore_row_if": "never"}},
    ]}
    (tmp_path / "t.compound.json").write_text(json.dumps(suite))
    rows = [("a", "1", 2, "r1"), ("a", "1", 1, "r2"), ("b", "1", 3, "r3"),
            (None, None, 4, "r4"), (None, None, 5, "r5"),  # all of (silo, id) missing: ignored by default
            ("a", None, 6, "r6"), ("a", None, 7, "r6")]  # partly missing: judged, and (silo, ref) repeats
    df = spark.createDataFrame(rows, "silo string, id string, n long, ref string")
    result = quality.validate(df, quality.load_suite("t.compound", directory=tmp_path), settings, RUN_DATE,
                              stored=stored)
    assert sorted(r["n"] for r in result.quarantined.collect()) == [2, 7]
    by_columns = {r["column"]: r for r in result.results}
    assert (by_columns["silo, id"]["unexpected_count"], by_columns["silo, id"]["quarantined_count"]) == (4, 2)
    assert (by_columns["silo, ref"]["unexpected_count"], by_columns["silo, ref"]["quarantined_count"]) == (2, 1)
    [row] = [r for r in result.quarantined.collect() if r["n"] == 2]
    assert row["_check"] == "expect_compound_columns_to_be_unique(silo, id)"
    assert row["_reason"] == ("(silo, id) must be unique together, got a repeat of ('a', '1') "
                              "(its first occurrence is kept)")


def test_meta_reason_explains_and_pii_values_are_never_repeated(spark, settings, tmp_path):
    suite = {"name": "t.pii", "expectations": [
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "email", "regex": "@"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "owner"},
         "meta": {"reason": "orphan: the owner is unknown"}},
    ], "meta": {"pii_columns": ["email"]}}
    (tmp_path / "t.pii.json").write_text(json.dumps(suite))
    df = spark.createDataFrame([("secret-address", None, "k1"), ("a@b", "o", "k2")],
                               "email string, owner string, key string")
    result = quality.validate(df, quality.load_suite("t.pii", directory=tmp_path), settings, RUN_DATE)
    [row] = result.quarantined.collect()
    assert row["email"] == "secret-address"  # the quarantined row itself keeps its value
    assert row["_reason"] == "email must match /@/; owner must not be null (orphan: the owner is unknown)"
    report = result.report_path.read_text()
    assert "secret-address" not in report
    assert [set(r) for r in json.loads(report)["quarantine_sample"]] == [{"owner", "key", "_check", "_reason"}]


def test_a_warning_counts_its_rows_in_the_results_and_quarantines_none(spark, settings, tmp_path):
    """meta.severity "warning": a customer without a phone on file is reported, and kept."""
    suite = {"name": "t.warn", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "phone"},
         "meta": {"severity": "warning"}},
    ], "meta": {}}
    (tmp_path / "t.warn.json").write_text(json.dumps(suite))
    df = spark.createDataFrame([("c1", None), ("c2", "555"), (None, None)], "id string, phone string")
    result = quality.validate(df, quality.load_suite("t.warn", directory=tmp_path), settings, RUN_DATE)
    assert sorted(r["id"] or "" for r in result.valid.collect()) == ["c1", "c2"]   # no phone: kept
    [bad] = result.quarantined.collect()
    assert bad["id"] is None and bad["_check"] == "expect_column_values_to_not_be_null(id)"   # not the phone's
    phone = _by_type(result, "expect_column_values_to_not_be_null", "phone")
    assert (phone["level"], phone["unexpected_count"], phone["quarantined_count"]) == ("warning", 2, 0)
    assert phone["success"] is False and result.success   # reported as failing, the table still passes
    assert result.row_count == 3 and result.quarantined_count == 1


def test_a_severity_other_than_warning_is_refused(tmp_path):
    suite = {"name": "t.sev", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}, "meta": {"severity": "low"}},
    ], "meta": {}}
    (tmp_path / "t.sev.json").write_text(json.dumps(suite))
    with pytest.raises(DataQualityError, match="meta.severity must be 'warning' or absent, got 'low'"):
        quality.load_suite("t.sev", directory=tmp_path)


# -- GX agrees with the split ----------------------------------------------------------------------
def test_gx_unexpected_counts_agree_with_the_split(bad_payments):
    _, result = bad_payments
    expected = {  # (GX unexpected_count, rows quarantined for it)
        ("expect_column_values_to_not_be_null", "id"): (1, 1),
        ("expect_column_values_to_be_unique", "id"): (2, 1),  # GX counts both p4 rows; the first is kept
        ("expect_column_values_to_be_between", "amount"): (1, 1),
        ("expect_column_values_to_be_in_set", "currency"): (0, 0),
        ("expect_column_values_to_match_regex", "ref"): (0, 0),
    }
    for (expectation, column), (unexpected, quarantined) in expected.items():
        r = _by_type(result, expectation, column)
        assert r["level"] == "row"
        assert r["element_count"] == 6
        assert (r["unexpected_count"], r["quarantined_count"]) == (unexpected, quarantined), r
        assert r["success"] == (unexpected == 0)


def test_split_that_disagrees_with_gx_is_an_error(spark, payments_suite, settings, monkeypatch):
    real = split._predicate

    def wrong(rule, df, types, stored=False):  # a translation bug: the not-null predicate never fires
        df, pred = real(rule, df, types, stored)
        if rule.type == "expect_column_values_to_not_be_null":
            pred = split._Predicate(F.lit(False), F.lit(False), pred.reason)
        return df, pred

    monkeypatch.setattr(split, "_predicate", wrong)
    df = spark.createDataFrame([(None, 1.0, "EUR", "R001")], PAYMENTS_SCHEMA)
    with pytest.raises(SplitMismatchError, match=r"not_be_null\(id\): GX counted 1 unexpected rows, the split 0"):
        quality.validate(df, payments_suite, settings, RUN_DATE)


# -- table-level failures ------------------------------------------------------------------------
def test_table_level_failure_sets_success_false_and_raises_clearly(spark, settings, tmp_path):
    empty = _txn_frame(spark, [])
    # A day without transactions is a quiet day for the daily increment ...
    assert quality.validate(empty, "silver.transaction", settings, RUN_DATE).success
    # ... but not for a table that must have rows.
    data = json.loads(quality.suite_path("silver.transaction").read_text())
    data["expectations"][0]["kwargs"]["min_value"] = 1
    (tmp_path / "silver.transaction.json").write_text(json.dumps(data))
    result = quality.validate(empty, quality.load_suite("silver.transaction", tmp_path), settings, RUN_DATE)
    assert not result.success
    assert [r["expectation"] for r in result.failed_table_expectations] == ["expect_table_row_count_to_be_between"]
    with pytest.raises(DataQualityError) as excinfo:
        quality.raise_on_failure(result)
    message = str(excinfo.value)
    assert "silver.transaction failed 1 table-level expectation(s) on 2024-03-31" in message
    assert "expect_table_row_count_to_be_between: row count must be >= 1 | observed: 0" in message


def test_aggregate_expectation_is_table_level(spark, settings, tmp_path):
    suite = {"name": "t.mean", "expectations": [
        {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "amount", "min_value": 0}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "max_value": 100},
         "meta": {}}]}
    (tmp_path / "t.mean.json").write_text(json.dumps(suite))
    df = spark.createDataFrame([("a", -50.0, "EUR", "R001"), ("b", 10.0, "EUR", "R002"), ("c", 500.0, "EUR", "R003")],
                               PAYMENTS_SCHEMA)
    result = quality.validate(df, quality.load_suite("t.mean", directory=tmp_path), settings, RUN_DATE)
    mean = _by_type(result, "expect_column_mean_to_be_between", "amount")
    assert (mean["level"], mean["success"]) == ("table", True)  # mean of -50, 10, 500 is >= 0
    assert result.success and [r["amount"] for r in result.quarantined.collect()] == [500.0]
    # the mean is judged on the whole input, quarantined rows included (GX validates the input frame)
    df2 = spark.createDataFrame([("a", -50.0, "EUR", "R001"), ("b", 10.0, "EUR", "R002")], PAYMENTS_SCHEMA)
    result2 = quality.validate(df2, quality.load_suite("t.mean", directory=tmp_path), settings, RUN_DATE)
    assert not result2.success
    with pytest.raises(DataQualityError, match=r"expect_column_mean_to_be_between\(amount\)"):
        quality.raise_on_failure(result2)


def test_the_examples_are_the_first_failing_rows_in_value_order_whatever_the_partitions(spark, payments_suite,
                                                                                       settings):
    """The quarantine sample is the first rows in value order: a bare limit took whichever rows an engine's
    partitions gave first, so dq_results differed between Sail and the JVM (found by the parity run)."""
    rows = [(f"p{i:02d}", -float(i), "EUR", f"R{i:03d}") for i in range(40, 0, -1)]
    for partitions in (1, 7):
        df = spark.createDataFrame(rows, PAYMENTS_SCHEMA).repartition(partitions)
        result = quality.validate(df, payments_suite, settings, RUN_DATE)
        between = next(r for r in result.results if r["expectation"] == "expect_column_values_to_be_between")
        # the rows in order of their columns (id first: p01, p02, ...), whatever the partitions
        assert "e.g. -1, -2, -3, -4, -5 |" in between["details"], between["details"]


def test_missing_column_fails_the_table_without_crashing(spark, settings):
    df = _txn_frame(spark, CLEAN_TXNS).drop("category")
    result = quality.validate(df, "silver.transaction", settings, RUN_DATE)
    assert not result.success
    failed = {(r["expectation"], r["column"]) for r in result.failed_table_expectations}
    assert failed == {("expect_table_columns_to_match_set", ""), ("expect_column_values_to_not_be_null", "category")}
    with pytest.raises(DataQualityError, match="category is missing"):
        quality.raise_on_failure(result)
    assert result.valid.count() + result.quarantined.count() == len(CLEAN_TXNS)


# -- kept results -------------------------------------------------------------------------------------
def test_result_json_is_written_and_overwritten_on_rerun(spark, settings):
    df = _txn_frame(spark, CLEAN_TXNS + [("bank", None, "a9", "c9", dt.date(2024, 3, 5), 1.0, "fee")])
    path = settings.dq_dir / "silver.transaction" / "2024-02-29.json"
    first = quality.validate(df, "silver.transaction", settings, "2024-02-29")
    assert first.report_path == path and path.is_file()
    report = json.loads(path.read_text())
    assert report["run_date"] == "2024-02-29" and report["suite"] == "silver.transaction"
    assert (report["row_count"], report["valid_count"], report["quarantined_count"]) == (5, 4, 1)
    assert report["success"] is True
    [sample] = report["quarantine_sample"]
    assert sample["_reason"] == "txn_id must not be null; silo must be one of deposits, cards, lending, got 'bank'"
    assert len(report["results"]) == len(quality.load_suite("silver.transaction").expectations)

    quality.validate(_txn_frame(spark, CLEAN_TXNS), "silver.transaction", settings, "2024-02-29")
    report = json.loads(path.read_text())
    assert report["quarantined_count"] == 0 and report["quarantine_sample"] == []
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith("2024-02-29")) == ["2024-02-29.json"]


def test_results_frame_has_one_audit_row_per_expectation(spark, bad_payments):
    _, result = bad_payments
    frame = quality.results_frame(spark, result, RUN_DATE)
    assert frame.columns == ["run_date", "table", "expectation", "column", "success", "element_count",
                             "unexpected_count", "details"]
    rows = frame.collect()
    assert len(rows) == len(PAYMENTS_SUITE["expectations"])
    assert {r["run_date"] for r in rows} == {RUN_DATE}
    assert {r["table"] for r in rows} == {"test.payments"}
    between = next(r for r in rows if r["expectation"] == "expect_column_values_to_be_between")
    assert (between["column"], between["success"], between["unexpected_count"]) == ("amount", False, 1)
    assert "amount must be >= 0" in between["details"] and "quarantined: 1" in between["details"]
    # the failing values shown come from the quarantined rows, the rule's own failures only
    assert "1 of 6 rows unexpected (16.67%); e.g. -12.5 |" in between["details"]
    unique = next(r for r in rows if r["expectation"] == "expect_column_values_to_be_unique")
    assert "; e.g. p4 |" in unique["details"]
    row_count = next(r for r in rows if r["expectation"] == "expect_table_row_count_to_be_between")
    assert (row_count["column"], row_count["success"], row_count["element_count"]) == ("", True, 6)
