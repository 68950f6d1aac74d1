"""An erasure run on a tiny lakehouse: the person's rows go from the current version and from every file, the
decisions stay redacted, and a run that stopped part way finishes when the task is tried again."""

import datetime as dt
from pathlib import Path

import pytest

from jobs.privacy import erasure
from jobs.privacy.scan import scan_home
from jobs.settings import Settings
from jobs.tables import Lakehouse

DAY = dt.date(2026, 7, 5)


@pytest.fixture
def lake(spark, tmp_path):
    lh = Lakehouse(spark, Settings(home=tmp_path / "home", customers=10))

    def put(name, rows, schema):
        spark.createDataFrame(rows, schema).write.format("delta").save(lh.path(name))

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
