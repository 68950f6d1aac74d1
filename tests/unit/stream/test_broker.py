"""The event stream on a Kafka broker, without one: records read as the landing folder's files are
(jobs/stream/broker.py), the broker's settings (jobs/kafka_server.py) and MARKETOFONE_EVENTS_BROKER.
The broker itself runs in tests/integration/test_stream.py and the production profile's test."""

import datetime as dt
import json

import pytest

from jobs.kafka_server import server_properties
from jobs.settings import Settings
from jobs.stream import broker


def _event(event_id, txn_id="DT1"):
    return json.dumps({"event_id": event_id, "source": "deposits/transactions", "occurred_at": "2026-07-01T09:00:00",
                       "data": {"txn_id": txn_id, "account_id": "DA1", "amount": "12.50"}}).encode()


def test_a_records_day_is_its_events_time_in_utc():
    assert broker.epoch_ms("2026-07-01T23:59:59") == 1782950399000
    assert broker.Record(0, 5, broker.epoch_ms("2026-07-01T23:59:59"), b"").day == dt.date(2026, 7, 1)
    assert broker.Record(0, 6, broker.epoch_ms("2026-07-02T00:00:00"), b"").day == dt.date(2026, 7, 2)


def test_records_become_one_event_file_per_day_keyed_by_their_offsets():
    day1, day2 = broker.epoch_ms("2026-07-01T10:00:00"), broker.epoch_ms("2026-07-02T08:00:00")
    records = [broker.Record(0, 40, day1, _event("E1")), broker.Record(0, 41, day1, b"{not json"),
               broker.Record(0, 42, day2, _event("E2", "DT2")), broker.Record(0, 43, day1, _event("E3", "DT3"))]
    first, second = broker.as_event_files(records)
    assert (first.day, second.day) == (dt.date(2026, 7, 1), dt.date(2026, 7, 2))
    assert first.name == "kafka/marketofone.events/0/40-43"
    rows = first.rows["deposits/transactions"]
    assert rows["_event_id"] == ["E1", "E3"] and rows["txn_id"] == ["DT1", "DT3"]
    # The offset orders the day's rows, as a file's line does; the partition keeps two partitions' rows apart.
    assert rows["_row_id"] == [40 * broker.OFFSETS_PER_ROW_ID, 43 * broker.OFFSETS_PER_ROW_ID]
    [bad] = first.malformed
    assert (bad.line, bad.row_id, first.unit) == (41, 41 * broker.OFFSETS_PER_ROW_ID, "offset")
    assert bad.reason.startswith("not JSON") and bad.text == "{not json"
    assert second.rows["deposits/transactions"]["_event_id"] == ["E2"] and not second.malformed
    assert first.events == 3 and second.events == 1
    # The same records give the same file (a batch read again after a crash is the same batch).
    again, _ = broker.as_event_files(records)
    assert again.checksum == first.checksum and again.rows == first.rows


def test_the_broker_keeps_records_by_size_not_age(tmp_path):
    """A record's timestamp is its event's time: a day published late must not be deleted as too old."""
    assert broker.TOPIC_CONFIG["retention.ms"] == "-1"
    properties = dict(line.split("=", 1) for line in server_properties(tmp_path, 9092, 9093).splitlines() if line)
    assert properties["log.retention.ms"] == "-1" and int(properties["log.retention.bytes"]) > 2**30
    assert properties["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert properties["process.roles"] == "broker,controller"
    assert properties["log.dirs"] == str(tmp_path / "data")


@pytest.mark.parametrize("value", ["127.0.0.1:9092", "kafka:9092", "k1.bank:9094,k2.bank:9094"])
def test_the_broker_setting_takes_bootstrap_servers(tmp_path, monkeypatch, value):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    monkeypatch.setenv("MARKETOFONE_EVENTS_BROKER", value)
    assert Settings.from_env().events_broker == value


@pytest.mark.parametrize("value", ["kafka", "http://kafka:9092", "kafka:port"])
def test_a_broker_setting_that_is_not_host_port_is_refused_with_what_to_write(tmp_path, value):
    with pytest.raises(ValueError, match=r"MARKETOFONE_EVENTS_BROKER must be Kafka's bootstrap servers, host:port"):
        Settings(home=tmp_path, events_broker=value)
