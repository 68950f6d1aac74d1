"""The lakehouse seam (issue 14): each table's declaration drives how it is written, publish() validates the
tables with a suite, exists() asks the engine, delta-rs maintenance lives in jobs/maintenance.py, and the
storage is a URI. (`marketofone maintain` run as a command: tests/integration/test_seam.py.)"""

import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs import maintenance, quality
from jobs.publish import publish
from jobs.tables import REGISTRY, WRITE_MODES, Lakehouse, Table, quarantine_of
from tests.paths import ROOT as REPO
from tests.seam_fixtures import D1, D2, _kpis, _small_files


# -- declarations ------------------------------------------------------------------------------------
def test_every_table_is_declared_with_a_known_mode_and_its_suite():
    suites = set(quality.available_suites())
    for name, t in REGISTRY.items():
        assert t.write in WRITE_MODES, name
        if t.write == "replace_date":
            assert t.date_column and t.cluster_by == (t.date_column,), name
        assert t.suite == (name in suites), f"{name}: suite={t.suite} but expectations/ says otherwise"
        if t.suite and t.layer != "bronze":
            assert REGISTRY[quarantine_of(name)].write == "replace_date"


def test_the_modes_follow_how_each_table_was_written():
    modes = {n: t.write for n, t in REGISTRY.items()}
    assert modes["silver.customer"] == modes["silver.customer_crosswalk"] == modes["silver.account"] == "snapshot"
    assert modes["silver.consent"] == modes["silver.offer_interaction"] == "sync"
    assert modes["silver.transaction"] == modes["gold.channel_publication"] == modes["audit.dq_results"] == "merge"
    for name in ("gold.customer_360", "gold.training_set", "gold.propensity_scores", "gold.kpi_daily",
                 "gold.fairness_daily", "audit.decision_log", "gold.offers_mobile", "bronze.cards_accounts"):
        assert modes[name] == "replace_date", name


def test_the_six_newly_validated_tables_have_suites_and_quarantines():
    for name in ("audit.decision_log", "gold.propensity_scores", "gold.kpi_daily", "gold.kpi_by_segment",
                 "gold.training_set", "gold.fairness_daily"):
        assert REGISTRY[name].suite and quality.load_suite(name).expectations
        assert quarantine_of(name) in REGISTRY


def test_a_declaration_that_cannot_be_written_is_refused():
    with pytest.raises(ValueError, match="needs a date_column"):
        Table("gold", "x", ("k",), None, write="replace_date")
    with pytest.raises(ValueError, match="needs keys"):
        Table("gold", "x", (), None, write="merge")
    with pytest.raises(ValueError, match="unknown write mode"):
        Table("gold", "x", ("k",), None, write="upsert")


def _value_set(suite: str, column: str) -> set:
    data = json.loads(quality.suite_path(suite).read_text())
    return {v for e in data["expectations"] if e["type"] == "expect_column_values_to_be_in_set"
            and e["kwargs"]["column"] == column for v in e["kwargs"]["value_set"]}


def test_the_new_suites_value_sets_follow_the_code():
    from jobs.decide.catalog import CHANNELS
    from jobs.gold.targets import TARGETS
    from jobs.measure.kpis import KPIS

    assert _value_set("gold.kpi_daily", "kpi") == _value_set("gold.kpi_by_segment", "kpi") == set(KPIS)
    assert _value_set("gold.propensity_scores", "target") == set(TARGETS)
    assert _value_set("gold.propensity_scores", "kind") == {t.kind for t in TARGETS.values()}
    assert _value_set("audit.decision_log", "channel") == set(CHANNELS)
    arbitrate = (REPO / "jobs" / "decide" / "arbitrate.py").read_text()
    for outcome in _value_set("audit.decision_log", "outcome"):
        assert f'"{outcome}"' in arbitrate


# -- publish: the declaration drives the write ----------------------------------------------------------
def test_a_replace_date_table_republished_for_a_date_keeps_one_copy(lh, spark):
    publish(lh, "gold.kpi_daily", _kpis(spark, D1, [("retention_rate", 0.9)]), D1)
    publish(lh, "gold.kpi_daily", _kpis(spark, D2, [("retention_rate", 0.8)]), D2)
    counts = publish(lh, "gold.kpi_daily", _kpis(spark, D1, [("retention_rate", 0.95), ("wallet_share", 0.3)]), D1)
    assert counts == {"gold.kpi_daily": 2, "quarantine.gold_kpi_daily": 0}
    rows = sorted((r.as_of_date, r.kpi, r.treated) for r in lh.read("gold.kpi_daily").collect())
    assert rows == [(D1, "retention_rate", 0.95), (D1, "wallet_share", 0.3), (D2, "retention_rate", 0.8)]
    # Validated: its results are in audit.dq_results.
    assert lh.read("audit.dq_results").where("table = 'gold.kpi_daily'").count() > 0


def test_a_merge_table_upserts_on_its_keys(lh, spark):
    schema = "catalog_version string, offer_id string, product string"
    publish(lh, "gold.offer_catalog", spark.createDataFrame([("v1", "o1", "savings"), ("v1", "o2", "mortgage")],
                                                           schema), D1)
    changed = spark.createDataFrame([("v1", "o2", "auto_loan"), ("v2", "o1", "savings")], schema)
    counts = publish(lh, "gold.offer_catalog", changed, D2)
    assert counts == {"gold.offer_catalog": 3}      # no suite: written as declared, nothing quarantined
    rows = sorted(tuple(r) for r in lh.read("gold.offer_catalog").collect())
    assert rows == [("v1", "o1", "savings"), ("v1", "o2", "auto_loan"), ("v2", "o1", "savings")]
    assert "quarantine.gold_offer_catalog" not in REGISTRY


def test_an_append_table_adds_only_new_keys(lh, spark, monkeypatch):
    monkeypatch.setitem(REGISTRY, "gold.appended", Table("gold", "appended", ("k",), None, write="append"))
    lh.write("gold.appended", spark.createDataFrame([(1, "a"), (2, "b")], "k long, v string"))
    lh.write("gold.appended", spark.createDataFrame([(2, "changed"), (3, "c")], "k long, v string"))
    lh.write("gold.appended", spark.createDataFrame([(2, "changed"), (3, "c")], "k long, v string"))
    assert sorted(tuple(r) for r in lh.read("gold.appended").collect()) == [(1, "a"), (2, "b"), (3, "c")]


def test_a_new_suite_quarantines_a_bad_row_with_its_reason_and_the_counts_add_up(lh, spark, monkeypatch):
    rows = _kpis(spark, D1, [("retention_rate", 0.9), ("wallet_share", 0.4), ("made_up_kpi", 1.0)])
    rows = rows.unionByName(_kpis(spark, D1, [("wallet_share", 0.5)]).withColumn("kpi", F.lit(None).cast("string")))
    read_back = []
    monkeypatch.setattr(lh, "_count", lambda *args: read_back.append(args))
    for _ in range(2):   # the second publish of the date replaces the first: the same counts
        counts = publish(lh, "gold.kpi_daily", rows, D1)
        assert counts == {"gold.kpi_daily": 2, "quarantine.gold_kpi_daily": 2}
    assert read_back == []   # the counts come from the validation, not from reading the tables back
    assert lh.read("quarantine.gold_kpi_daily").count() == 2
    assert sum(counts.values()) == rows.count()
    assert lh.read("gold.kpi_daily").count() == 2
    reasons = {r.kpi: r._reason for r in lh.read("quarantine.gold_kpi_daily").collect()}
    assert "made_up_kpi" in reasons["made_up_kpi"]
    assert "null" in reasons[None]


def test_propensity_scores_out_of_range_are_quarantined(lh, spark):
    schema = ("as_of_date date, customer_id string, kind string, target string, model string, probability double, "
              "model_version string, reason_codes string, reason string")
    rows = spark.createDataFrame([(D1, "c1", "product", "savings", "m", 0.4, "1", "", ""),
                                  (D1, "c2", "product", "savings", "m", 1.7, "1", "", "")], schema)
    assert publish(lh, "gold.propensity_scores", rows, D1) == {"gold.propensity_scores": 1,
                                                             "quarantine.gold_propensity_scores": 1}
    [bad] = lh.read("quarantine.gold_propensity_scores").collect()
    assert bad.customer_id == "c2" and "probability" in bad._reason


# -- exists() asks the engine -------------------------------------------------------------------------
def test_exists_is_false_for_a_missing_or_non_delta_location_without_looking_for_delta_log(lh, spark, monkeypatch):
    spark.createDataFrame([(1,)], "k long").write.mode("overwrite").parquet(lh.path("gold.kpi_daily"))
    looked = []
    real_is_dir, real_exists = Path.is_dir, Path.exists
    monkeypatch.setattr(Path, "is_dir", lambda self: looked.append(self) or real_is_dir(self))
    monkeypatch.setattr(Path, "exists", lambda self: looked.append(self) or real_exists(self))
    assert not lh.exists("gold.kpi_daily")          # a Parquet folder, not a Delta table
    assert not lh.exists("gold.kpi_by_segment")     # nothing there
    assert not [p for p in looked if "_delta_log" in str(p)]
    assert not Lakehouse(None, lh.settings).exists("gold.kpi_by_segment")   # no session: delta-rs answers


def test_the_storage_can_be_a_file_uri(spark, tmp_path):
    from jobs.settings import Settings

    settings = Settings(home=tmp_path / "home", storage=(tmp_path / "elsewhere").as_uri() + "/")
    lh = Lakehouse(spark, settings)
    assert lh.path("gold.kpi_daily") == f"{(tmp_path / 'elsewhere').as_uri()}/gold/kpi_daily"
    publish(lh, "gold.kpi_daily", _kpis(spark, D1, [("retention_rate", 0.9)]), D1)
    assert lh.exists("gold.kpi_daily") and lh.read("gold.kpi_daily").count() == 1
    assert (tmp_path / "elsewhere" / "gold" / "kpi_daily").is_dir() and not (tmp_path / "home" / "lakehouse").exists()
    assert maintenance.version(lh.path("gold.kpi_daily")) == 0


def test_the_storage_uri_comes_from_the_environment(monkeypatch, tmp_path):
    from jobs.settings import Settings

    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    assert Settings.from_env().storage_uri == str(tmp_path / "lakehouse")
    monkeypatch.setenv("MARKETOFONE_STORAGE_URI", "s3://bank/lakehouse/")
    assert Settings.from_env().storage_uri == "s3://bank/lakehouse"


# -- maintenance ------------------------------------------------------------------------------------
def test_maintenance_compacts_and_vacuum_lists_then_removes_old_files(lh, spark):
    _small_files(lh, spark)
    path = lh.path("gold.offer_catalog")
    before = maintenance.file_count(path)
    assert before > 1
    done = maintenance.maintain(path, "gold.offer_catalog", retention_hours=0, dry_run=True)
    assert done.files_after == before and len(done.vacuumed) == 0   # a dry run compacts nothing, nothing is stale
    done = maintenance.maintain(path, "gold.offer_catalog", retention_hours=0)
    assert done.compacted and done.files_after < before == done.files_before
    assert len(done.vacuumed) >= before                            # the files compaction replaced
    assert not [f for f in done.vacuumed if (Path(path) / f).exists()]   # gone from the storage
    assert len(list(Path(path).glob("*.parquet"))) == done.files_after
    assert lh.read("gold.offer_catalog").count() == 4               # the same rows


def test_delta_rs_never_purges_or_compacts_files_that_carry_deletion_vectors(lh, spark):
    """A DELETE on a table with deletion vectors marks the row in a vector file and leaves it in its data file:
    delta-rs's full VACUUM deleted the vector files the table reads and kept the row; its compaction rewrote the
    files without applying them. So both are refused, naming the REORG that rewrites the files, and `maintain`
    vacuums such a table without compacting it, saying why."""
    path = lh.path("gold.offer_catalog")
    for part in ("a", "b"):
        spark.createDataFrame([(f"{part}{i}", i) for i in range(3)], "offer_id string, n int").write.format(
            "delta").mode("append").option("delta.enableDeletionVectors", "true").save(path)
    spark.sql(f"DELETE FROM delta.`{path}` WHERE offer_id = 'a1'")
    vectors = sorted(Path(path).rglob("deletion_vector_*.bin"))
    assert vectors and maintenance.files_with_deletion_vectors(path) == 1

    for purge in (maintenance.purge_history, maintenance.compact):
        with pytest.raises(maintenance.DeletionVectorsError, match=r"REORG TABLE delta\.`.*` APPLY \(PURGE\)"):
            purge(path)
    done = maintenance.maintain(path, "gold.offer_catalog", retention_hours=0)
    assert not done.compacted and "not compacted: 1 file(s) carry deletion vectors" in done.line()
    assert all(v.exists() for v in vectors)                          # the vacuum kept what the table reads
    assert sorted(r.offer_id for r in lh.read("gold.offer_catalog").collect()) == ["a0", "a2", "b0", "b1", "b2"]


def test_the_readers_without_spark_read_a_table_with_deletion_vectors_as_the_engine_does(lh, spark, settings):
    """delta-rs's pyarrow reader refuses a table with deletion vectors (Databricks' default), so the CLI's listings,
    `dq`, `why` and a channel's pull failed on one. They read through delta-rs's DataFusion engine, which applies
    the vectors: the deleted row is gone, an older version still has it, and the columns keep the table's types."""
    import datetime as dt

    import pyarrow as pa

    path = lh.path("gold.offer_catalog")
    day = dt.date(2026, 6, 30)
    spark.createDataFrame([(f"O{i}", day, "it's" if i == 1 else "plain", i) for i in range(4)],
                          "offer_id string, as_of_date date, note string, n int").write.format("delta").option(
        "delta.enableDeletionVectors", "true").save(path)
    spark.sql(f"DELETE FROM delta.`{path}` WHERE offer_id = 'O2'")
    assert maintenance.files_with_deletion_vectors(path) == 1
    with pytest.raises(Exception, match="deletionVectors"):    # what the listings met before
        maintenance.delta_table(path).to_pyarrow_table()

    reader = Lakehouse(None, settings)
    rows = reader.rows("gold.offer_catalog")
    assert sorted(rows.column("offer_id").to_pylist()) == ["O0", "O1", "O3"]
    assert rows.schema == pa.schema([("offer_id", pa.string()), ("as_of_date", pa.date32()), ("note", pa.string()),
                                     ("n", pa.int32())])
    assert reader.rows("gold.offer_catalog", filters=[("note", "=", "it's"), ("as_of_date", "=", day)],
                       columns=["n"]).to_pylist() == [{"n": 1}]
    assert sorted(reader.rows("gold.offer_catalog", version=0, columns=["offer_id"]).column(0).to_pylist()) == [
        "O0", "O1", "O2", "O3"]
    assert maintenance.count_rows(path) == 3 == maintenance.count_rows(path, [("as_of_date", "=", day)])
    assert [t for t in reader.describe() if t["table"] == "gold.offer_catalog"][0]["rows"] == 3
    with pytest.raises(ValueError, match="has no column price"):
        reader.rows("gold.offer_catalog", filters=[("price", "=", 1)])


def test_a_history_purge_leaves_no_checksum_file_of_a_version_gone(lh, spark):
    """JVM Delta writes `_delta_log/<version>.crc` beside a commit, listing a small table's files with their column
    statistics (an erased customer's id among them); delta-rs's log cleanup removes the commits and leaves those."""
    path = lh.path("gold.offer_catalog")
    for offer in ("O1", "O2"):
        spark.createDataFrame([(offer, 1)], "offer_id string, n int").write.format("delta").mode("overwrite").save(path)
    log_dir = Path(path) / "_delta_log"
    for version in (0, 1):   # what a JVM writer leaves: the version's checksum, and Hadoop's hidden checksums
        stats = json.dumps({"minValues": {"offer_id": "O1"}})
        (log_dir / f"{version:020d}.crc").write_text(json.dumps({"allFiles": [{"stats": stats}]}))
        (log_dir / f".{version:020d}.json.crc").write_bytes(b"crc")

    maintenance.purge_history(path)

    left = sorted(p.name for p in log_dir.iterdir() if p.is_file())
    assert not [name for name in left if name.endswith(".crc")], left
    assert [r.offer_id for r in lh.read("gold.offer_catalog").collect()] == ["O2"]


# -- the step's data-quality results: one write per step ---------------------------------------------------
def _results_of(lh, day):
    return {(r["table"], r["expectation"], r["column"]) for r in
            lh.read("audit.dq_results").where(F.col("run_date") == F.lit(day)).collect()}


def test_a_step_writes_its_quality_results_once_at_its_end(lh, spark):
    from jobs.publish import results_per_step

    publish(lh, "gold.kpi_daily", _kpis(spark, D1, [("retention_rate", 0.9)]), D1)   # the table exists before
    before = lh.version("audit.dq_results")
    with results_per_step(lh):
        publish(lh, "gold.kpi_daily", _kpis(spark, D2, [("retention_rate", 0.8)]), D2)
        publish(lh, "gold.kpi_daily", _kpis(spark, D2, [("retention_rate", 0.7)]), D2)   # validated twice: one row each
        assert lh.version("audit.dq_results") == before                          # nothing written yet
    assert lh.version("audit.dq_results") == before + 1                          # one commit for the step
    expected = {(r["table"], r["expectation"], r["column"] or "")
                for r in quality.validate(_kpis(spark, D2, [("retention_rate", 0.7)]), "gold.kpi_daily",
                                          lh.settings, D2).results}
    rows = lh.read("audit.dq_results").where(F.col("run_date") == F.lit(D2)).collect()
    assert len(rows) == len(expected) and _results_of(lh, D2) == expected


def test_a_failing_step_still_writes_the_results_that_say_why(lh, spark):
    from jobs.publish import results_per_step

    with pytest.raises(quality.DataQualityError, match="gold.kpi_daily failed"):
        with results_per_step(lh):
            # a column missing: a table-level failure, nothing published
            publish(lh, "gold.kpi_daily", _kpis(spark, D1, [("retention_rate", 0.9)]).drop("uplift"), D1)
    failed = [(r["table"], r["column"]) for r in lh.read("audit.dq_results").collect() if not r["success"]]
    assert failed and set(failed) <= {("gold.kpi_daily", ""), ("gold.kpi_daily", "uplift")}
    assert not lh.exists("gold.kpi_daily")
