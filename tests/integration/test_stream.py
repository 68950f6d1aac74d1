"""The event stream into the lakehouse, exactly once: a day of events gives silver the rows the batch load of
the day's export gives, also when the streaming process is killed (SIGKILL) mid-batch and started again.

One small bank loaded for 2026-06-30, copied twice: one copy loads the 2026-07-01 export (the batch), the
other streams the same day's events, killed after the bronze writes of its second micro-batch and restarted. A
third copy streams them under Spark Structured Streaming on the JVM engine (`MARKETOFONE_ENGINE=jvm`).

The production profile's stream: a real Kafka broker (jobs/kafka_server.py, its jars from Maven Central then the
Ivy cache) to which the generator publishes the same day's events; a fourth copy streams them from the topic on
the embedded engine (killed and restarted the same way), a fifth under Structured Streaming's Kafka source.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys

import pytest
from deltalake import DeltaTable

from jobs.generate import generate_bank
from jobs.pipeline import run_step
from jobs.settings import Settings
from jobs.stream import checkpoint
from jobs.stream.to_lakehouse import KILL_AFTER_BRONZE
from tests.paths import ROOT as REPO
from tests.small_jvm import small_data_env

BASE, DAY = dt.date(2026, 6, 30), dt.date(2026, 7, 1)
EVENT_TABLES = ("silver/transaction", "silver/digital_session", "silver/consent_event", "silver/offer_response")
KEYS = {"silver/transaction": ("silo", "txn_id"), "silver/digital_session": ("session_id",),
        "silver/consent_event": ("event_id",), "silver/offer_response": ("decision_id", "event_type")}
SOURCES = ("deposits_transactions", "cards_transactions", "lending_repayments", "digital_sessions", "crm_consents",
           "channels_responses")


def _frame(home, table):
    path = home / "lakehouse" / table
    return DeltaTable(str(path)).to_pandas() if path.is_dir() else None


def _rows(frame, drop=("_loaded_at",)) -> set[tuple]:
    columns = sorted(c for c in frame.columns if c not in drop)
    return set(map(tuple, frame[columns].astype(str).values))


def _env(home) -> dict:
    return {**os.environ, "MARKETOFONE_HOME": str(home), "MARKETOFONE_CUSTOMERS": "300", "MARKETOFONE_PROGRESS": "0"}


@pytest.fixture(scope="module")
def day_both_ways(tmp_path_factory):
    """(batch home, stream home, events written, the killed run's result), both loaded for BASE the same way."""
    base = tmp_path_factory.mktemp("stream") / "base"
    settings = Settings(home=base, customers=300)
    generate_bank(settings, BASE)
    for step in ("ingest", "silver"):
        run_step(step, BASE, settings)
    events = generate_bank(settings, DAY, daily=True, events=True)["events"]
    batch, streamed = base.parent / "batch", base.parent / "streamed"
    shutil.copytree(base, batch)
    shutil.copytree(base, streamed)
    for step in ("ingest", "silver"):
        run_step(step, DAY, settings.with_(home=batch))
    command = [sys.executable, "-m", "jobs.cli", "stream", "--until-idle", "--max-files", "2"]
    killed = subprocess.run(command, cwd=REPO, env={**_env(streamed), KILL_AFTER_BRONZE: "2"}, capture_output=True,
                            text=True, timeout=600)
    done_before_restart = checkpoint.committed(streamed, "lakehouse")
    restarted = subprocess.run(command, cwd=REPO, env=_env(streamed), capture_output=True, text=True, timeout=600)
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    return batch, streamed, events, killed, done_before_restart, restarted.stdout


@pytest.fixture(scope="module")
def streamed_on_the_jvm(day_both_ways):
    """A copy of the bank loaded for BASE that streams the day under Structured Streaming (one micro-batch)."""
    batch, _, _, _, _, _ = day_both_ways
    base = batch.parent / "base"
    jvm = base.parent / "jvm"
    shutil.copytree(base, jvm, ignore=shutil.ignore_patterns("scratch"))
    out = subprocess.run([sys.executable, "-m", "jobs.cli", "stream", "--until-idle", "--max-files", "10"], cwd=REPO,
                         env={**_env(jvm), **small_data_env(), "MARKETOFONE_ENGINE": "jvm"},
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return jvm, out.stdout


def test_the_stream_was_killed_mid_batch_and_resumed_from_its_checkpoint(day_both_ways):
    _, streamed, events, killed, done_before_restart, _ = day_both_ways
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    # Batch 1 (files 1-2) was committed; batch 2 wrote bronze and died before its silver and its commit.
    assert done_before_restart == {DAY.isoformat(): 2}
    assert events > 200
    files = sorted((streamed / "stream" / "events" / DAY.isoformat()).glob("part-*.jsonl"))
    assert checkpoint.committed(streamed, "lakehouse") == {DAY.isoformat(): len(files)}


def _event_ids(home) -> list[str]:
    """Every event id in the sources' bronze and quarantine tables (one per row written)."""
    ids = []
    for source in SOURCES:
        for layer in ("bronze", "quarantine"):
            frame = _frame(home, f"{layer}/{source}")
            if frame is not None:
                ids += list(frame.loc[frame["_event_id"].notna(), "_event_id"])
    return ids


def test_every_event_is_in_bronze_or_quarantine_exactly_once_after_the_kill(day_both_ways):
    _, streamed, events, _, _, output = day_both_ways
    event_ids = _event_ids(streamed)
    assert len(event_ids) == len(set(event_ids)), "an event was written twice"
    assert len(event_ids) == events, "an event was lost"
    # The restart read batch 2's files again and found their bronze rows there: written once, counted as such.
    assert "already loaded" in output and " 0 already loaded" not in output


def test_the_day_in_silver_is_what_the_batch_load_of_its_export_gives(day_both_ways):
    batch, streamed, _, _, _, _ = day_both_ways
    _assert_silver_is_the_batchs(batch, streamed)


def _assert_silver_is_the_batchs(batch, streamed) -> None:
    for table in EVENT_TABLES:
        by_stream, by_batch = _frame(streamed, table), _frame(batch, table)
        if by_batch is None:
            assert by_stream is None
            continue
        keys = list(KEYS[table])
        of_day = lambda f: f[f["_known_on"].astype(str) == DAY.isoformat()]  # noqa: E731
        # Rows of earlier days the export's new masters released are the batch's alone (no master is an event).
        quarantine = _frame(batch, "quarantine/" + table.replace("/", "_"))
        released = set()
        if quarantine is not None:
            r = quarantine[(quarantine["_status"] == "released")
                           & (quarantine["_held_since"].astype(str) < DAY.isoformat())]
            released = set(map(tuple, r[keys].astype(str).values))
        day_batch = of_day(by_batch)
        day_batch = day_batch.loc[[tuple(k) not in released for k in day_batch[keys].astype(str).values]]
        day_stream = of_day(by_stream)
        assert _rows(day_stream) <= _rows(day_batch), table
        # What the batch published beyond the stream waits, in the stream's lakehouse, for a master only the export
        # brings; the rest of what waits there waits in the batch's too.
        def waiting(home, table=table, keys=keys):
            q = _frame(home, "quarantine/" + table.replace("/", "_"))
            if q is None or q.empty:
                return set()
            q = q[(q["_status"] == "waiting") & (q["_held_since"].astype(str) == DAY.isoformat())]
            return set(map(tuple, q[keys].astype(str).values))

        missing = set(map(tuple, day_batch[keys].astype(str).values)) - set(
            map(tuple, day_stream[keys].astype(str).values))
        assert waiting(streamed) == missing | waiting(batch), table
        assert not missing & waiting(batch)
        assert len(day_stream) > 0 or table != "silver/transaction"
    assert len(of_day(_frame(streamed, "silver/transaction"))) > 150


def test_structured_streaming_on_the_jvm_gives_silver_what_the_embedded_loop_gives(day_both_ways,
                                                                                   streamed_on_the_jvm):
    _, streamed, events, _, _, _ = day_both_ways
    jvm, output = streamed_on_the_jvm
    assert f"{events} event(s)" in output and "0 already loaded" in output
    # Spark's checkpoint, and Delta's record of each batch's idempotent bronze appends.
    assert (jvm / "stream" / "checkpoints" / "structured-lakehouse" / "commits" / "0").is_file()
    log = "".join(p.read_text() for p in (jvm / "lakehouse" / "bronze" / "deposits_transactions" / "_delta_log")
                  .glob("*.json"))
    assert f'"appId":"marketofone-stream-lakehouse-{DAY}","version":0' in log
    for table in (*EVENT_TABLES, "bronze/deposits_transactions", "quarantine/silver_transaction"):
        a, b = _frame(jvm, table), _frame(streamed, table)
        assert (a is None) == (b is None), table
        if a is not None:
            assert _rows(a, ("_loaded_at", "_source_checksum")) == _rows(b, ("_loaded_at", "_source_checksum")), table


@pytest.fixture(scope="module")
def kafka(tmp_path_factory):
    """A Kafka broker of the module's own, stopped at its end."""
    from jobs.kafka_server import KafkaServer
    from jobs.local_stack import free_port

    server = KafkaServer.start(tmp_path_factory.mktemp("kafka"), free_port(), free_port())
    yield server.bootstrap
    server.stop()


@pytest.fixture(scope="module")
def streamed_from_kafka(day_both_ways, kafka):
    """A copy of the bank loaded for BASE whose day of events the generator publishes to the broker, streamed from
    the topic on the embedded engine: killed after batch 2's bronze writes, then restarted. (home, published,
    the killed run's result, the group's committed offset at the kill, the restart's output)."""
    from jobs.stream.broker import TOPIC, group_id

    batch, _, _, _, _, _ = day_both_ways
    home = batch.parent / "kafka"
    shutil.copytree(batch.parent / "base", home, ignore=shutil.ignore_patterns("scratch"))
    published = generate_bank(Settings(home=home, customers=300, events_broker=kafka), DAY, daily=True,
                              events=True)["events"]
    env = {**_env(home), "MARKETOFONE_EVENTS_BROKER": kafka}
    command = [sys.executable, "-m", "jobs.cli", "stream", "--until-idle", "--max-files", "2"]
    killed = subprocess.run(command, cwd=REPO, env={**env, KILL_AFTER_BRONZE: "2"}, capture_output=True, text=True,
                            timeout=600)
    committed = _committed(kafka, group_id("lakehouse"), TOPIC)
    restarted = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    return home, published, killed, committed, restarted.stdout


def _committed(bootstrap: str, group: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        [partition] = consumer.committed([TopicPartition(topic, 0)], timeout=30)
        return partition.offset
    finally:
        consumer.close()


def test_the_generator_publishes_the_days_events_to_the_broker_as_the_files_hold_them(day_both_ways,
                                                                                      streamed_from_kafka, kafka):
    from jobs.stream import broker

    _, streamed, events, _, _, _ = day_both_ways
    _, published, _, _, _ = streamed_from_kafka
    assert published == events
    lines = [line for path in sorted((streamed / "stream" / "events" / DAY.isoformat()).glob("part-*.jsonl"))
             for line in path.read_bytes().splitlines()]
    records = []
    with broker.Consumer(kafka, "test-reader") as reader:
        while not (reader.idle() and records):
            records += reader.take(500, timeout=2.0)
    assert [r.value for r in records] == lines   # the same events, in the same order
    assert {r.day for r in records} == {DAY}     # each record's timestamp is its event's time on the day


def test_the_kafka_stream_killed_mid_batch_writes_each_event_once_and_silver_is_the_batchs(day_both_ways,
                                                                                          streamed_from_kafka):
    batch, _, _, _, _, _ = day_both_ways
    home, published, killed, committed, output = streamed_from_kafka
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert committed == 100   # batch 1 (2 files' worth: 100 records) committed; batch 2 died before its commit
    ids = _event_ids(home)
    assert len(ids) == len(set(ids)), "an event was written twice"
    assert len(ids) == published, "an event was lost"
    assert "already loaded" in output and " 0 already loaded" not in output
    assert "streaming the Kafka topic marketofone.events on 127.0.0.1:" in output
    _assert_silver_is_the_batchs(batch, home)


def test_structured_streamings_kafka_source_gives_the_rows_the_file_source_gives(day_both_ways, streamed_on_the_jvm,
                                                                                 streamed_from_kafka, kafka):
    """Spark's own Kafka source and checkpoint, on the JVM engine, over the topic the generator filled."""
    batch, _, _, _, _, _ = day_both_ways
    jvm_files, _ = streamed_on_the_jvm
    _, published, _, _, _ = streamed_from_kafka
    home = batch.parent / "jvm-kafka"
    shutil.copytree(batch.parent / "base", home, ignore=shutil.ignore_patterns("scratch"))
    out = subprocess.run([sys.executable, "-m", "jobs.cli", "stream", "--until-idle", "--max-files", "10"], cwd=REPO,
                         env={**_env(home), **small_data_env(), "MARKETOFONE_ENGINE": "jvm",
                              "MARKETOFONE_EVENTS_BROKER": kafka},
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"{published} event(s)" in out.stdout and "0 already loaded" in out.stdout
    assert (home / "stream" / "checkpoints" / "structured-lakehouse-kafka" / "commits" / "0").is_file()
    # Where each row came from differs (a file and its line, a record and its offset); the rows do not.
    where = ("_loaded_at", "_source_file", "_source_checksum", "_row_id", "_line")
    for table in (*EVENT_TABLES, "bronze/deposits_transactions", "bronze/cards_transactions",
                  "quarantine/silver_transaction"):
        a, b = _frame(home, table), _frame(jvm_files, table)
        assert (a is None) == (b is None), table
        if a is not None:
            assert _rows(a, where) == _rows(b, where), table
    _assert_silver_is_the_batchs(batch, home)


def test_after_the_nightly_load_the_two_lakehouses_hold_the_same_rows(day_both_ways):
    batch, streamed, _, _, _, _ = day_both_ways
    settings = Settings(home=streamed, customers=300)
    for step in ("ingest", "silver"):
        run_step(step, DAY, settings)
    metadata = ("_loaded_at", "_source_file", "_source_checksum", "_row_id", "_event_id", "_check", "_reason",
                "_line", "_raw_line")
    for table in (*EVENT_TABLES, "silver/account", "silver/customer", "bronze/deposits_transactions",
                  "quarantine/silver_transaction", "quarantine/cards_transactions"):
        a, b = _frame(streamed, table), _frame(batch, table)
        assert (a is None) == (b is None), table
        if a is not None:
            assert _rows(a, metadata) == _rows(b, metadata), table
    # The export replaced the day's events in bronze: no row of the day names an event any more.
    day_rows = _frame(streamed, "bronze/deposits_transactions")
    assert day_rows[day_rows["_logical_date"].astype(str) == DAY.isoformat()]["_event_id"].isna().all()


def test_the_stream_run_again_from_scratch_changes_nothing(day_both_ways):
    """Every file read again (the checkpoint lost): the export is loaded, so every event is left to it."""
    _, streamed, events, _, _, _ = day_both_ways
    before = {t: _rows(_frame(streamed, t)) for t in EVENT_TABLES if _frame(streamed, t) is not None}
    (streamed / "stream" / "checkpoints" / "lakehouse.json").unlink()
    out = subprocess.run([sys.executable, "-m", "jobs.cli", "stream", "--until-idle", "--max-files", "50"], cwd=REPO,
                         env=_env(streamed), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"{events} left to the day's export" in out.stdout
    assert {t: _rows(_frame(streamed, t)) for t in before} == before
