"""The retention run on tiny tables (jobs/retention/run.py): rows past the policy are gone from the current version
and from every Parquet file on disk (every version), rows inside the window stay, old sessions become monthly
counts, old landing files go, and a re-run of the same date changes nothing."""

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from jobs import maintenance
from jobs.cli import main
from jobs.retention.run import AUDIT, run

DAY = dt.date(2026, 6, 30)
D = dt.date.fromisoformat
BRONZE, C360, SESSIONS, MONTHLY = ("bronze.crm_consents", "gold.customer_360", "silver.digital_session",
                                   "silver.digital_session_monthly")
# bronze: 90 days (kept from 2026-04-01); customer_360: 400 days (from 2025-05-26); sessions: 395 days, whole months
# aggregated (rows before 2025-05-01 go: May 2025 waits until it is whole before the cutoff).
BRONZE_DAYS = ("2026-03-01", "2026-03-31", "2026-04-01", "2026-06-30")
C360_DAYS = ("2025-05-01", "2025-05-25", "2025-05-26", "2026-06-30")
SESSION_ROWS = [("S1", "C1", "2025-03-02", "app", 3, 60), ("S2", "C1", "2025-03-20", "app", 5, 100),
                ("S3", "C1", "2025-03-21", "web", 1, 10), ("S4", "C2", "2025-04-30", "app", 2, 30),
                ("S5", "C1", "2025-05-20", "app", 4, 40), ("S6", "C2", "2026-06-01", "web", 6, 90)]


def _parquet_values(path: str, column: str) -> list:
    """Every value of `column` in every Parquet file under the table's folder: all versions, vacuumed or not."""
    values = []
    for file in Path(path).rglob("*.parquet"):
        values += [str(v)[:10] for v in pq.read_table(file, columns=[column]).column(column).to_pylist()]
    return values


@pytest.fixture
def lake(spark, lh):
    for day in BRONZE_DAYS:   # each date written twice (a re-run): the first file of each is a tombstone
        for _ in range(2):
            rows = spark.createDataFrame([(f"CE{day}", "D0000001", D(day))],
                                         "event_id string, customer_ref string, _logical_date date")
            lh.replace_for_date(BRONZE, rows, D(day), count=False)
    for day in C360_DAYS:
        lh.replace_for_date(C360, spark.createDataFrame([(D(day), "C1", 1000.0)],
                                                        "as_of_date date, customer_id string, balance double"),
                            D(day), count=False)
    lh.write(SESSIONS, spark.createDataFrame(
        [(s, c, D(d), ch, pv, sec) for s, c, d, ch, pv, sec in SESSION_ROWS],
        "session_id string, customer_id string, session_date date, channel string, page_views int, "
        "duration_seconds int"), count=False)
    landing = lh.settings.landing / "crm" / "consents"
    landing.mkdir(parents=True)
    for day in ("2026-03-31", "2026-04-01"):
        (landing / f"{day}.csv").write_text("event_id\n")
    return lh


def test_expired_rows_go_from_every_version_and_file_and_the_window_stays(lake):
    lh = lake
    done = {r.table: r for r in run(lh, DAY)}
    assert {(r.rows, r.cutoff) for t, r in done.items() if t == BRONZE} == {(2, D("2026-04-01"))}
    assert (done[C360].rows, done[C360].cutoff) == (2, D("2025-05-26"))
    assert (done[SESSIONS].rows, done[SESSIONS].cutoff) == (4, D("2025-05-01"))
    for name, column, kept in ((BRONZE, "_logical_date", BRONZE_DAYS[2:]), (C360, "as_of_date", C360_DAYS[2:]),
                               (SESSIONS, "session_date", ("2025-05-20", "2026-06-01"))):
        current = sorted(str(r[0]) for r in lh.read(name).select(column).collect())
        assert current == sorted(kept), name
        assert set(_parquet_values(lh.path(name), column)) == set(kept), f"{name}: an expired row is still on disk"
        assert done[name].files >= 1
        config = maintenance.delta_table(lh.path(name)).metadata().configuration
        days = done[name].days
        assert config["delta.logRetentionDuration"] == config["delta.deletedFileRetentionDuration"] == \
            f"interval {days} days"
    # every version of the table reads no expired row: the older ones can no longer be read at all
    for version in range(lh.version(BRONZE) + 1):
        try:
            rows = lh.read(BRONZE, version=version).where(F.col("_logical_date") < F.lit(D("2026-04-01"))).count()
        except Exception:  # noqa: BLE001 - a vacuumed version fails to read: what we want
            continue
        assert rows == 0, f"version {version} still reads expired rows"
    assert sorted(p.name for p in (lh.settings.landing / "crm" / "consents").iterdir()) == ["2026-04-01.csv"]
    assert done["landing"].files == 1


def test_old_sessions_become_monthly_counts_per_customer_and_channel(lake):
    run(lake, DAY)
    got = {(r.customer_id, str(r.month), r.channel): (r.sessions, r.page_views, r.duration_seconds, r.aggregated_on)
           for r in lake.read(MONTHLY).collect()}
    assert got == {("C1", "2025-03-01", "app"): (2, 8, 160, DAY), ("C1", "2025-03-01", "web"): (1, 1, 10, DAY),
                   ("C2", "2025-04-01", "app"): (1, 2, 30, DAY)}


def test_a_rerun_of_the_same_date_changes_nothing(lake):
    lh = lake
    first = [(r.table, r.rows, r.files) for r in run(lh, DAY)]
    names = (BRONZE, C360, SESSIONS, MONTHLY, AUDIT)
    versions = {n: lh.version(n) for n in names}
    audit = sorted(tuple(r) for r in lh.read(AUDIT).collect())
    # The first run made tables (the aggregate's validation results and quarantine, its own record) that the re-run
    # covers too: nothing in them is old enough to go.
    again = [(r.table, r.rows, r.files) for r in run(lh, DAY)]
    assert [r for r in again if r[0] in {t for t, _, _ in first}] == first
    assert all(rows in (0, None) and not files for t, rows, files in again if t not in {t for t, _, _ in first})
    assert {n: lh.version(n) for n in names} == versions
    assert sorted(tuple(r) for r in lh.read(AUDIT).collect()) == audit
    recorded = {r.table: (r.action, r.rows, r.files) for r in lh.read(AUDIT).collect()}
    assert recorded[BRONZE] == ("delete", 2, dict((t, f) for t, _, f in first)[BRONZE])
    assert recorded[SESSIONS][:2] == ("aggregate", 4) and recorded["landing"] == ("delete", None, 1)


def test_the_command_prints_per_table_and_a_dry_run_changes_nothing(lake, monkeypatch, capsys, tmp_path):
    lh = lake
    monkeypatch.setenv("MARKETOFONE_HOME", str(lh.settings.home))
    version = lh.version(BRONZE)
    assert main(["retention", "--date", str(DAY), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{BRONZE}: would remove 2 row(s) before 2026-04-01 (delete, 90 days)" in out
    assert f"{SESSIONS}: would remove 4 row(s) before 2025-05-01 (aggregate, 395 days, aggregated into {MONTHLY})" \
        in out
    assert "silver.consent_event" not in out or "kept" in out
    assert lh.version(BRONZE) == version and not lh.exists(AUDIT)
    bad = tmp_path / "bad.json"
    bad.write_text('{"layers": {}}')
    assert main(["retention", "--date", str(DAY), "--policy", str(bad)]) == 2
    assert "no rule for layer(s) bronze, silver, gold, quarantine, audit" in capsys.readouterr().err


class _Unread:
    """Stands for a table's expired rows that must not be read: the Delta log's statistics answer."""

    def limit(self, n):
        raise AssertionError("the rows were read")


def test_which_tables_hold_expired_rows_comes_from_the_logs_statistics_without_reading_them(lake):
    from jobs.retention import run as retention

    lh = lake
    expired = {BRONZE: retention._Expired(_Unread(), "_logical_date", D("2026-04-01")),   # holds 2026-03-*
               C360: retention._Expired(_Unread(), "as_of_date", D("2025-05-01")),       # its first day is 05-01
               SESSIONS: retention._Expired(_Unread(), "session_date", D("2025-03-02"))}  # S1 is that day
    assert retention._holding_rows(lh, expired) == {BRONZE}
    expired[C360] = retention._Expired(_Unread(), "as_of_date", D("2025-05-02"))
    assert retention._holding_rows(lh, expired) == {BRONZE, C360}


def test_a_table_without_statistics_for_the_column_is_asked_with_a_query(lake, monkeypatch):
    from jobs.retention import run as retention

    lh = lake
    monkeypatch.setattr(maintenance, "column_bound", lambda location, column, which: None)
    table = lh.read(C360)
    expired = {C360: retention._Expired(table.where(F.col("as_of_date") < F.lit(D("2025-05-26"))), "as_of_date",
                                        D("2025-05-26")),
               BRONZE: retention._Expired(lh.read(BRONZE).where(F.col("_logical_date") < F.lit(D("2026-01-01"))),
                                          "_logical_date", D("2026-01-01"))}
    assert retention._holding_rows(lh, expired) == {C360}
