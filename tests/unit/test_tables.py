import datetime as dt

import pytest
from deltalake import DeltaTable

from jobs.tables import REGISTRY, table

D1, D2 = dt.date(2026, 6, 1), dt.date(2026, 6, 2)


def _with_a(spark, day, customers, a):
    return spark.createDataFrame([(day, customers, a)], "as_of_date date, customers long, a double")


def _kpis(spark, day, customers):
    return spark.createDataFrame([(day, customers)], "as_of_date date, customers long")


def test_registry_names_are_layer_dot_name_and_unknown_names_fail_clearly():
    assert all(name == f"{t.layer}.{t.name}" for name, t in REGISTRY.items())
    assert "gold.customer_360" in REGISTRY
    with pytest.raises(KeyError, match="unknown table 'gold.nope'"):
        table("gold.nope")


def test_replace_for_date_touches_only_that_date_and_is_idempotent(lh, spark):
    lh.replace_for_date("gold.kpi_daily", _kpis(spark, D1, 10), D1)
    lh.replace_for_date("gold.kpi_daily", _kpis(spark, D2, 20), D2)
    lh.replace_for_date("gold.kpi_daily", _kpis(spark, D1, 11), D1)
    lh.replace_for_date("gold.kpi_daily", _kpis(spark, D1, 11), D1)
    rows = sorted((r.as_of_date, r.customers) for r in lh.read("gold.kpi_daily").collect())
    assert rows == [(D1, 11), (D2, 20)]
    # Real Delta: delta-rs reads the same table, with one commit per write.
    assert DeltaTable(str(lh.path("gold.kpi_daily"))).to_pyarrow_table().num_rows == 2
    assert len(lh.history("gold.kpi_daily")) == 4


def test_replace_for_date_adds_new_columns_and_writes_by_name_not_position(lh, spark):
    # A new feature column must reach the table (Sail alone would drop it without a word), and columns
    # given in another order must land under their own names (Sail alone writes by position).
    lh.replace_for_date("gold.kpi_daily", _with_a(spark, D1, 10, 1.0), D1)
    later = spark.createDataFrame([(2.0, 7.5, 20, D2)], "a double, b double, customers long, as_of_date date")
    lh.replace_for_date("gold.kpi_daily", later, D2)
    rows = sorted(tuple(r) for r in lh.read("gold.kpi_daily").select("as_of_date", "customers", "a", "b").collect())
    assert rows == [(D1, 10, 1.0, None), (D2, 20, 2.0, 7.5)]
    assert [f.name for f in DeltaTable(str(lh.path("gold.kpi_daily"))).schema().fields] == [
        "as_of_date", "customers", "a", "b"]


def test_a_new_column_reaches_a_table_that_has_a_not_null_column(lh, spark):
    # Sail's schema merge kept the old schema, the new column dropped without a word, once the table had a NOT
    # NULL column (a date written from a literal) that the rows to write had as nullable: the training set's
    # new features vanished on a lakehouse built before them.
    first = spark.createDataFrame([(D1, 10)], "as_of_date date not null, customers long")
    lh.replace_for_date("gold.kpi_daily", first, D1)
    later = spark.createDataFrame([(D2, 20, 7.5)], "as_of_date date, customers long, b double")
    lh.replace_for_date("gold.kpi_daily", later, D2)
    fields = DeltaTable(str(lh.path("gold.kpi_daily"))).schema().fields
    assert [(f.name, f.nullable) for f in fields] == [("as_of_date", False), ("customers", True), ("b", True)]
    assert sorted(tuple(r) for r in lh.read("gold.kpi_daily").collect()) == [(D1, 10, None), (D2, 20, 7.5)]


def test_replace_for_date_refuses_rows_that_lack_a_column_or_change_its_type(lh, spark):
    lh.replace_for_date("gold.kpi_daily", _with_a(spark, D1, 10, 1.0), D1)
    with pytest.raises(ValueError, match="lack column.* a that the table has"):
        lh.replace_for_date("gold.kpi_daily", _kpis(spark, D2, 20), D2)
    with pytest.raises(ValueError, match=r"type\(s\) changed: a \(double -> string\)"):
        changed = spark.createDataFrame([(D2, 20, "x")], "as_of_date date, customers long, a string")
        lh.replace_for_date("gold.kpi_daily", changed, D2)
    assert [tuple(r) for r in lh.read("gold.kpi_daily").collect()] == [(D1, 10, 1.0)]


def test_merge_upsert_updates_inserts_and_a_rerun_changes_no_row(lh, spark):
    schema = "silo string, silo_customer_id string, customer_id string, match_rule string"
    first = spark.createDataFrame([("cards", "1", "A", "email"), ("cards", "2", "B", "email")], schema)
    lh.merge_upsert("silver.customer_crosswalk", first)
    second = spark.createDataFrame([("cards", "1", "A", "national_id"), ("lending", "9", "C", "name_dob")], schema)
    lh.merge_upsert("silver.customer_crosswalk", second)
    lh.merge_upsert("silver.customer_crosswalk", second)
    rows = sorted(tuple(r) for r in lh.read("silver.customer_crosswalk").collect())
    assert rows == [("cards", "1", "A", "national_id"), ("cards", "2", "B", "email"), ("lending", "9", "C", "name_dob")]
    lh.merge_upsert("silver.customer_crosswalk", second, delete_missing=True)
    assert lh.read("silver.customer_crosswalk").count() == 2


def test_time_travel_and_describe(lh, spark):
    lh.overwrite("gold.kpi_daily", _kpis(spark, D1, 1))
    lh.overwrite("gold.kpi_daily", _kpis(spark, D1, 2))
    assert lh.read("gold.kpi_daily", version=0).collect()[0].customers == 1
    described = {r["table"]: r for r in lh.describe()}
    assert described["gold.kpi_daily"]["rows"] == 1 and described["gold.kpi_daily"]["version"] == 1


def test_catalog_exposes_tables_by_name(lh, spark):
    lh.overwrite("gold.kpi_daily", _kpis(spark, D1, 7))
    assert lh.sql("select customers from gold.kpi_daily").collect()[0].customers == 7


def test_with_a_catalog_and_schema_prefix_each_write_names_its_table_there(spark, settings):
    from jobs.tables import Lakehouse

    lh = Lakehouse(spark, settings.with_(catalog="spark_catalog", schema_prefix="mo_t1_"))
    assert lh.sql_name("gold.kpi_daily") == "spark_catalog.mo_t1_gold.kpi_daily"
    lh.write("gold.kpi_daily", _kpis(spark, D1, 7), D1)
    lh.write("gold.kpi_daily", _kpis(spark, D2, 9), D2)  # the name exists already: no error, the same table
    rows = spark.sql("select as_of_date, customers from spark_catalog.mo_t1_gold.kpi_daily order by 1").collect()
    assert [(r.as_of_date, r.customers) for r in rows] == [(D1, 7), (D2, 9)]
    assert lh.register_catalog() == ["spark_catalog.mo_t1_gold.kpi_daily"]


def test_catalog_and_schema_prefix_must_be_plain_names(settings):
    with pytest.raises(ValueError, match="MARKETOFONE_CATALOG must be a plain name"):
        settings.with_(catalog="main; drop table x")
    with pytest.raises(ValueError, match="MARKETOFONE_SCHEMA_PREFIX"):
        settings.with_(schema_prefix="mo-")
    assert settings.table_name("gold", "x") == "gold.x"
    assert settings.with_(schema_prefix="mo_").table_name("gold", "x") == "mo_gold.x"


def test_reading_a_missing_table_says_which_step_to_run(lh):
    with pytest.raises(FileNotFoundError, match="gold.next_best_offer has not been written yet"):
        lh.read("gold.next_best_offer")


def test_reading_a_version_the_table_lacks_is_the_engines_error_not_a_missing_table(lh, spark):
    lh.replace_for_date("gold.kpi_daily", _kpis(spark, D1, 3), D1)
    assert lh.read("gold.kpi_daily", version=0).count() == 1
    with pytest.raises(Exception) as raised:
        lh.read("gold.kpi_daily", version=99).collect()
    assert not isinstance(raised.value, FileNotFoundError)
    with pytest.raises(FileNotFoundError, match="gold.kpi_by_segment has not been written yet"):
        lh.read("gold.kpi_by_segment", version=0)


def test_replace_for_date_refuses_a_table_without_a_date_column(lh, spark):
    with pytest.raises(ValueError, match="no logical-date column"):
        lh.replace_for_date("silver.customer", _kpis(spark, D1, 1), D1)


def test_the_bounds_of_a_date_column_come_from_the_delta_log(lh, spark):
    for day, customers in ((D2, 20), (D1, 10)):
        lh.replace_for_date("gold.kpi_daily", _kpis(spark, day, customers), day)
    bounds = (lh.bound("gold.kpi_daily", "as_of_date", "min"), lh.bound("gold.kpi_daily", "as_of_date", "max"))
    assert bounds == (D1, D2)
    assert lh.bound("gold.kpi_daily", "customers", "max") == 20


def test_merge_snapshot_keeps_the_newest_values_and_the_earliest_known_date_in_any_order(lh, spark):
    schema = "silo string, silo_customer_id string, customer_id string, match_rule string, _snapshot_date date, " \
             "_known_on date"
    older = spark.createDataFrame([("deposits", "D1", "CU_A", "single_record", D1, D1)], schema)
    newer = spark.createDataFrame([("deposits", "D1", "CU_B", "email", D2, D2),
                                   ("deposits", "D2", "CU_C", "single_record", D2, D2)], schema)
    results = []
    for order in ((older, newer, older), (newer, older, newer)):
        if lh.exists("silver.customer_crosswalk"):
            lh.delete_unmatched("silver.customer_crosswalk", spark.createDataFrame([], "customer_id string"),
                                ("customer_id",))
        for snapshot in order:
            lh.merge_snapshot("silver.customer_crosswalk", snapshot)
        results.append(sorted((r.silo_customer_id, r.customer_id, r._snapshot_date, r._known_on)
                              for r in lh.read("silver.customer_crosswalk").collect()))
    assert results[0] == results[1] == [("D1", "CU_B", D2, D1), ("D2", "CU_C", D2, D2)]


def test_a_replace_of_a_date_leaves_the_rows_another_writer_owns(lh, spark):
    # The decision log: the daily run replaces its own decisions of a date (ids DX...), the decision API's (DA...)
    # of the same date stay.
    schema = "decision_id string, as_of_date date, outcome string"
    lh.replace_for_date("audit.decision_log", spark.createDataFrame([("DX1", D1, "offered")], schema), D1)
    lh.append_new("audit.decision_log", spark.createDataFrame([("DA1", D1, "offered")], schema))
    lh.replace_for_date("audit.decision_log", spark.createDataFrame([("DX2", D1, "excluded")], schema), D1)
    assert sorted(tuple(r) for r in lh.read("audit.decision_log").collect()) == [
        ("DA1", D1, "offered"), ("DX2", D1, "excluded")]


# -- writes into a large table: a MERGE reads all of it, so new keys are appended and unchanged rows left alone --
CROSSWALK = "silo string, silo_customer_id string, customer_id string, match_rule string"


def _operations(lh, name) -> list[str]:
    return [h["operation"] for h in reversed(lh.history(name))]


@pytest.fixture
def large(spark, settings):
    """A Lakehouse of a home of its own for which every table is large (Settings.large_table_bytes = 0)."""
    from jobs.tables import Lakehouse

    return Lakehouse(spark, settings.with_(home=settings.home.parent / "large", large_table_bytes=0))


def test_an_upsert_into_a_large_table_appends_new_keys_merges_the_others_and_a_rerun_writes_nothing(large, lh, spark):
    first = [("cards", "1", "A", "email"), ("cards", None, "B", "email")]   # a NULL key part equals a NULL
    second = [("cards", "1", "A", "national_id"), ("lending", "9", "C", "name_dob"), ("cards", None, "B", "email")]
    for each in (large, lh):
        each.merge_upsert("silver.customer_crosswalk", spark.createDataFrame(first, CROSSWALK))
        each.merge_upsert("silver.customer_crosswalk", spark.createDataFrame(second, CROSSWALK))
        rows = sorted(each.read("silver.customer_crosswalk").collect(), key=lambda r: (r[0], r[1] or ""))
        assert [tuple(r) for r in rows] == [("cards", None, "B", "email"), ("cards", "1", "A", "national_id"),
                                            ("lending", "9", "C", "name_dob")]
    # The large table got the new key by an append and the changed row by a MERGE; the small one by one MERGE.
    assert _operations(large, "silver.customer_crosswalk")[1:] == ["WRITE", "MERGE"]
    assert _operations(lh, "silver.customer_crosswalk")[1:] == ["MERGE"]
    version = large.version("silver.customer_crosswalk")
    large.merge_upsert("silver.customer_crosswalk", spark.createDataFrame(second, CROSSWALK))
    assert large.version("silver.customer_crosswalk") == version


def test_an_upsert_never_replaces_a_rows_values_with_older_ones_where_the_table_orders_them(large, lh, spark):
    # silver.life_event orders its rows' versions by `_arrived_on` (Table.newest_by); this one was written before
    # the column was declared, so its rows have none: older than any.
    assert table("silver.life_event").newest_by == "_arrived_on"
    d1, d2 = D1, D1 + dt.timedelta(days=1)

    def rows(*values):
        return spark.createDataFrame(list(values), "event_id string, kind string, _arrived_on date")

    for each in (lh, large):
        each.overwrite("silver.life_event", spark.createDataFrame([("E1", "old"), ("E2", "old")],
                                                                  "event_id string, kind string"))
        each.merge_upsert("silver.life_event", rows(("E1", "from day 2", d2), ("E3", "from day 1", d1)))
        each.merge_upsert("silver.life_event", rows(("E1", "from day 1", d1), ("E3", "from day 1 again", d1)))
        got = {r.event_id: (r.kind, r._arrived_on) for r in each.read("silver.life_event").collect()}
        assert got == {"E1": ("from day 2", d2), "E2": ("old", None), "E3": ("from day 1 again", d1)}


def test_an_upsert_adds_a_column_the_table_lacks_and_matches_columns_by_name(lh, spark):
    """A release that adds a column to a MERGEd table: the table gains it (earlier rows read NULL), rows given
    in another column order keep their values, and rows that lack a column the table has are refused."""
    name = "gold.channel_publication"
    assert table(name).write == "merge" and table(name).newest_by is None
    keys = table(name).keys
    schema = ", ".join(f"`{k}` {'date' if k == 'as_of_date' else 'string'}" for k in keys)
    key_values = tuple(D1 if k == "as_of_date" else "mobile" for k in keys)
    other_key = tuple(D1 if k == "as_of_date" else "email" for k in keys)
    lh.overwrite(name, spark.createDataFrame([key_values + ("v1",)], f"{schema}, note string"))
    lh.merge_upsert(name, spark.createDataFrame([("added", "v2") + other_key],
                                                f"extra string, note string, {schema}"))
    got = {r.channel: (r.note, r.extra) for r in lh.read(name).collect()}
    assert got == {"mobile": ("v1", None), "email": ("v2", "added")}
    with pytest.raises(ValueError, match="lack column"):
        lh.merge_upsert(name, spark.createDataFrame([key_values + ("v3",)], f"{schema}, note string"))


def test_an_idempotent_append_to_a_large_table_appends_only_new_keys_without_a_merge(large, spark):
    large.append_new("silver.customer_crosswalk", spark.createDataFrame([("cards", "1", "A", "email")], CROSSWALK))
    again = spark.createDataFrame([("cards", "1", "Z", "other"), ("cards", "2", "B", "email")], CROSSWALK)
    large.append_new("silver.customer_crosswalk", again)
    large.append_new("silver.customer_crosswalk", again)
    assert sorted(tuple(r) for r in large.read("silver.customer_crosswalk").collect()) == [
        ("cards", "1", "A", "email"), ("cards", "2", "B", "email")]
    assert _operations(large, "silver.customer_crosswalk")[1:] == ["WRITE"]   # the retry added nothing


def test_rows_follow_their_account_and_a_day_nothing_moved_runs_no_merge(large, spark, monkeypatch):
    schema = "silo string, txn_id string, account_id string, customer_id string"
    large.merge_upsert("silver.transaction", spark.createDataFrame(
        [("cards", "t1", "A1", "C1"), ("cards", "t2", "A2", "C2"), ("cards", "t3", None, "C3")], schema))
    statements = []
    sql = spark.sql
    monkeypatch.setattr(spark, "sql", lambda text, *a, **k: statements.append(text) or sql(text, *a, **k))
    accounts = spark.createDataFrame([("cards", "A1", "C9"), ("cards", "A2", "C2"), ("cards", None, "C4")],
                                     "silo string, account_id string, customer_id string")
    large.update_matching("silver.transaction", accounts, ("silo", "account_id"), ("customer_id",))
    assert sorted(tuple(r) for r in large.read("silver.transaction").collect()) == [
        ("cards", "t1", "A1", "C9"), ("cards", "t2", "A2", "C2"), ("cards", "t3", None, "C3")]   # NULL matches nothing
    assert sum(s.startswith("MERGE") for s in statements) == 1
    # Nothing moves the second time: no MERGE reads the table.
    large.update_matching("silver.transaction", accounts, ("silo", "account_id"), ("customer_id",))
    assert sum(s.startswith("MERGE") for s in statements) == 1


def test_no_rows_to_replace_a_date_the_table_lacks_write_nothing_and_empty_a_date_it_has(lh, spark, monkeypatch):
    lh.write("gold.kpi_daily", _kpis(spark, D1, 10), D1)
    replaced = []
    replace = lh.replace_for_date
    monkeypatch.setattr(lh, "replace_for_date", lambda name, df, day, **k: replaced.append(day) or replace(
        name, df, day, **k))
    none = _kpis(spark, D2, 0).where("false")
    lh.write("gold.kpi_daily", none, D2, rows=0)
    assert replaced == [] and len(lh.history("gold.kpi_daily")) == 1   # no write, no version, for nothing
    # A re-run of D1 that has no rows this time still removes the rows the date had.
    lh.write("gold.kpi_daily", none, D1, rows=0)
    assert replaced == [D1] and lh.read("gold.kpi_daily").count() == 0
    assert len(lh.history("gold.kpi_daily")) == 2


def test_settling_or_deleting_with_no_source_row_runs_no_merge(lh, spark, monkeypatch):
    schema = "silo string, txn_id string, account_id string, customer_id string"
    lh.merge_upsert("silver.transaction", spark.createDataFrame([("cards", "t1", "A1", "C1")], schema))
    statements = []
    sql = spark.sql
    monkeypatch.setattr(spark, "sql", lambda text, *a, **k: statements.append(text) or sql(text, *a, **k))
    accounts = "silo string, account_id string, customer_id string"
    none = spark.createDataFrame([], accounts)
    lh.update_matching("silver.transaction", none, ("silo", "account_id"), ("customer_id",))
    lh.delete_matching("silver.transaction", none.select("silo", "account_id"), ("silo", "account_id"))
    assert not [s for s in statements if s.startswith("MERGE")]
    # With a source row, each does its work: the row follows its account, then is deleted.
    lh.update_matching("silver.transaction", spark.createDataFrame([("cards", "A1", "C9")], accounts),
                       ("silo", "account_id"), ("customer_id",))
    assert [tuple(r) for r in lh.read("silver.transaction").collect()] == [("cards", "t1", "A1", "C9")]
    lh.delete_matching("silver.transaction", spark.createDataFrame([("cards", "A1")], "silo string, account_id string"),
                       ("silo", "account_id"))
    assert lh.read("silver.transaction").count() == 0
    assert len([s for s in statements if s.startswith("MERGE")]) == 2
