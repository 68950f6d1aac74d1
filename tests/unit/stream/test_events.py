"""Event files as rows (jobs/stream/events.py) and the consumers' checkpoints (jobs/stream/checkpoint.py)."""

import datetime as dt
import json

import pytest

from jobs.stream import checkpoint
from jobs.stream.events import ROW_ID_PER_FILE, read_event_file

DAY = dt.date(2026, 7, 1)


def _event(event_id="E1", source="deposits/transactions", **data):
    return json.dumps({"event_id": event_id, "source": source, "occurred_at": "2026-07-01T09:00:00",
                       "data": {"txn_id": "DT1", "account_id": "DA1", "amount": "12.50", **data}})


def _write(home, part, lines):
    folder = home / "stream" / "events" / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{part:05d}.jsonl"
    path.write_bytes(b"\n".join(x if isinstance(x, bytes) else x.encode() for x in lines) + b"\n")
    return path


def test_each_event_becomes_a_row_of_its_source_with_the_contract_columns_as_text(tmp_path):
    path = _write(tmp_path, 3, [_event("E1"), _event("E2", txn_id="DT2", amount=7, mcc="")])
    read = read_event_file(path, DAY, tmp_path)
    rows = read.rows["deposits/transactions"]
    assert read.name == "stream/events/2026-07-01/part-00003.jsonl"
    assert rows["txn_id"] == ["DT1", "DT2"]
    assert rows["amount"] == ["12.50", "7"]               # a number arrives as the text an export would write
    assert rows["mcc"] == [None, None]                    # absent or empty: null, as an empty CSV value
    assert rows["booking_date"] == [None, None]           # a field the event lacks is null: the contract judges it
    assert rows["_event_id"] == ["E1", "E2"]
    assert rows["_row_id"] == [3 * ROW_ID_PER_FILE + 1, 3 * ROW_ID_PER_FILE + 2]   # the stream's order in the day
    assert read.events == 2 and not read.malformed


@pytest.mark.parametrize(("line", "reason"), [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (_event(source="crm/offers").encode(), "source 'crm/offers' is not one of"),
    (_event(event_id="").encode(), "event_id is missing"),
    (_event(iban="DE00").encode(), "data has field(s) iban that the deposits/transactions contract does not have"),
    (b'{"event_id": "E9", "source": "cards/transactions", "data": "DT1"}', "data is not an object"),
    (b"\xff\xfe{}", "bytes that are not UTF-8"),
])
def test_a_line_that_is_not_an_event_is_set_apart_with_its_reason_and_the_rest_is_read(tmp_path, line, reason):
    path = _write(tmp_path, 1, [_event("E1"), line, _event("E2", txn_id="DT2")])
    read = read_event_file(path, DAY, tmp_path)
    assert [m.line for m in read.malformed] == [2]
    assert reason in read.malformed[0].reason
    assert read.rows["deposits/transactions"]["_event_id"] == ["E1", "E2"]
    assert read.events == 3


def test_a_consumer_gets_the_files_it_has_not_committed_in_the_streams_order(tmp_path):
    parts = [_write(tmp_path, n, [_event(f"E{n}")]) for n in (1, 2, 3)]
    assert [p for _, p in checkpoint.pending(tmp_path, "lakehouse")] == parts
    assert [p for _, p in checkpoint.pending(tmp_path, "lakehouse", limit=2)] == parts[:2]
    checkpoint.commit(tmp_path, "lakehouse", [(DAY, parts[0]), (DAY, parts[1])])
    assert checkpoint.committed(tmp_path, "lakehouse") == {"2026-07-01": 2}
    assert [p for _, p in checkpoint.pending(tmp_path, "lakehouse")] == parts[2:]
    assert len(checkpoint.pending(tmp_path, "triggers")) == 3      # each consumer keeps its own place
    checkpoint.commit(tmp_path, "lakehouse", [(DAY, parts[0])])   # committing an older file again moves nothing back
    assert checkpoint.committed(tmp_path, "lakehouse") == {"2026-07-01": 2}
