"""The live state the triggers consumer writes and the API reads (jobs/serve/live.py): the API's cached reads see
a write of another process at once, and a later event wins over an earlier one read late."""

import datetime as dt

from jobs.serve.live import LiveState

AFTER = "2026-07-01 23:59:59"   # the end of the store's date


def test_a_write_of_another_process_is_read_at_once_despite_the_cache(tmp_path):
    api, consumer = LiveState(tmp_path), LiveState(tmp_path)   # two connections, as two processes have
    assert api.withdrawn("C1", AFTER) == {} and api.holds("C1", dt.date(2026, 7, 2)) == []
    consumer.record_consent("C1", "email", "withdrawn", "2026-07-02 09:00:00", "E1")
    assert api.withdrawn("C1", AFTER) == {"email": "E1"}
    consumer.fire("T", "E2", "C1", "branch", "help", "", dt.date(2026, 7, 2), {}, True, dt.date(2026, 7, 31))
    assert api.holds("C1", dt.date(2026, 7, 2)) == ["T"]
    assert api.holds("C1", dt.date(2026, 8, 1)) == []            # the hold ran out


def test_a_consent_event_read_late_does_not_undo_a_later_one(tmp_path):
    live = LiveState(tmp_path)
    live.record_consent("C1", "email", "withdrawn", "2026-07-02 09:00:00", "E2")
    live.record_consent("C1", "email", "granted", "2026-07-02 08:00:00", "E1")   # older, arriving after
    assert live.withdrawn("C1", AFTER) == {"email": "E2"}
    live.record_consent("C1", "email", "granted", "2026-07-02 10:00:00", "E3")
    assert live.withdrawn("C1", AFTER) == {}
    assert live.withdrawn("C1", "2026-07-02 23:59:59") == {}     # recorded by the end of a later store's date


def test_a_withdrawal_of_marketing_as_a_whole_covers_every_channel_until_a_later_grant(tmp_path):
    live = LiveState(tmp_path)
    live.record_consent("C1", "all", "withdrawn", "2026-07-02 09:00:00", "E1")
    assert live.withdrawn("C1", AFTER) == {c: "E1" for c in ("mobile", "email", "atm", "branch")}
    live.record_consent("C1", "email", "granted", "2026-07-02 10:00:00", "E2")    # email again, later
    assert live.withdrawn("C1", AFTER) == {c: "E1" for c in ("mobile", "atm", "branch")}
    live.record_consent("C1", "mobile", "withdrawn", "2026-07-02 08:00:00", "E0")  # earlier: "all" is the last word
    assert live.withdrawn("C1", AFTER)["mobile"] == "E1"
