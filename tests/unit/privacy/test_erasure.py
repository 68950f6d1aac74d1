"""An erasure run on a tiny lakehouse: the person's rows go from the current version and from every file, the
decisions stay redacted, and a run that stopped part way finishes when the task is tried again."""

from pathlib import Path

import pytest

from jobs import maintenance
from jobs.privacy import erasure
from jobs.privacy.scan import scan_home
from tests.privacy_fixtures import DAY, tiny_lake


@pytest.fixture
def lake(spark, tmp_path):
    return tiny_lake(spark, tmp_path / "home")


def _values(lh, name, column):
    return sorted(r[0] for r in lh.read(name).select(column).collect())


def test_a_run_that_stopped_part_way_finishes_when_tried_again(lake, monkeypatch):
    lh = lake
    erasure_id = erasure.queue(lh, "cards:C-1", "ticket 1")
    home: Path = lh.settings.home

    def stop(*_args):
        raise RuntimeError("killed")
    monkeypatch.setattr(erasure, "_erase_files", stop)
    with pytest.raises(RuntimeError, match="killed"):
        erasure.run(lh, DAY)   # the rows are deleted, nothing purged, the request still queued
    assert _values(lh, "gold.customer_360", "customer_id") == ["CU0000000000BBBB"]
    assert scan_home(home, {"CU0000000000AAAA"}).files_with_erased > 0    # older versions still read them
    monkeypatch.undo()

    outcome = erasure.run(lh, DAY)   # the crosswalk no longer names them: found again by the tombstones
    assert outcome.erased == [erasure_id] and not outcome.unknown
    found = scan_home(home, {"CU0000000000AAAA", "C-1", "D1"})
    assert (found.rows_with_erased, found.files_with_erased) == (0, 0), found.hits
    assert _values(lh, "audit.decision_log", "customer_id") == ["CU0000000000BBBB", erasure_id]
    # Her record with a broken id goes by her own e-mail; a shared phone takes no one else's record.
    assert _values(lh, "bronze.cards_cardholders", "holder_ref") == ["C-2"]
    assert _values(lh, "quarantine.cards_cardholders", "holder_ref") == ["C-3?"]
    request = lh.read(erasure.REQUESTS).first()
    assert (request.status, request.reference, request.completed_on) == ("erased", None, DAY)
    assert erasure.run(lh, DAY).erased == []   # nothing queued: nothing to do


def test_a_request_naming_no_one_or_an_ambiguous_id_is_refused_at_once(lake):
    with pytest.raises(ValueError, match="no customer 'CU0000000000EEEE'"):
        erasure.queue(lake, "CU0000000000EEEE")
    # D1 is a deposits id; once lending knows a D1 too, the bare id names two people.
    lake.spark.createDataFrame([("lending", "D1", "CU0000000000DDDD")],
                               "silo string, silo_customer_id string, customer_id string") \
        .write.format("delta").mode("append").save(lake.path("silver.customer_crosswalk"))
    with pytest.raises(ValueError, match="several silos; name one: deposits:D1, lending:D1"):
        erasure.queue(lake, "D1")
    assert not lake.exists(erasure.REQUESTS)   # nothing queued


def test_with_deletion_vectors_the_person_is_in_no_file_and_every_table_still_reads(spark, tmp_path, caplog):
    """With deletion vectors on (Databricks' default, or a table's property), a DELETE or UPDATE only marks rows
    deleted, their values staying in the data files; the erasure rewrites those files before it purges (a purge
    alone left the rows in the files and deleted the marks, so the tables no longer read)."""
    lh = tiny_lake(spark, tmp_path / "home", {"delta.enableDeletionVectors": "true"})
    marked = [name for name in ("gold.customer_360", "audit.decision_log") if lh.exists(name)]
    erasure_id = erasure.queue(lh, "cards:C-1", "ticket 1")

    outcome = erasure.run(lh, DAY)

    assert outcome.erased == [erasure_id] and not outcome.unknown
    found = scan_home(lh.settings.home, {"CU0000000000AAAA", "C-1", "D1", "ann@example.com"})
    assert (found.rows_with_erased, found.files_with_erased) == (0, 0), found.hits
    assert _values(lh, "gold.customer_360", "customer_id") == ["CU0000000000BBBB"]
    assert _values(lh, "audit.decision_log", "customer_id") == sorted([erasure_id, "CU0000000000BBBB"])
    assert _values(lh, "bronze.cards_cardholders", "holder_ref") == ["C-2"]
    for name in marked:
        assert maintenance.files_with_deletion_vectors(lh.path(name)) == 0, name
    # The embedded engine has no REORG: the tables whose files carried vectors were written again, and it says so.
    assert "no REORG on this engine" in caplog.text
