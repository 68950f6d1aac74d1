"""The event stream on a Kafka broker (the production profile; MARKETOFONE_EVENTS_BROKER names its bootstrap
servers): the generator publishes a day's events to one topic, and each consumer (`lakehouse`, `triggers`)
reads it in a consumer group of its own, committing its offsets after the events are written, as the landing
folder's consumers commit their files (jobs/stream/checkpoint.py).

A record is one event line, as in a file: its value is the line's bytes (a record that is not an event is
quarantined as a malformed line is), its timestamp the event's `occurred_at`, which names the day the event
belongs to. Its offset is its place in the day's stream (`_row_id`), and the batch of records is read as an
EventFile per day (jobs/stream/events.py), so the lakehouse's batch (jobs/stream/to_lakehouse.py) and the
triggers take the same input whichever carries the events.

Exactly once, as with files: offsets are committed after the batch's writes; a consumer killed in between reads
the batch again after a restart, and the lakehouse leaves out the events it already has (their event ids), the
triggers fire once per (trigger, event). A re-published day (the generator run again) is the same events with
the same ids: nothing is written twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from jobs.stream.events import EventFile, read_lines

log = logging.getLogger(__name__)

TOPIC = "marketofone.events"
PARTITIONS = 1            # the day's order is the stream's order, as the landing folder's files give it
OFFSETS_PER_ROW_ID = 1000  # _row_id = offset * 1000 + partition: unique and in order within each partition
# Kept by size, never by age: a record's timestamp is its event's time, and a day published late (a replay, a
# backfill) would otherwise be older than a time limit and deleted as soon as it is written.
TOPIC_CONFIG = {"retention.ms": "-1", "retention.bytes": str(64 * 2**30)}


def group_id(consumer: str) -> str:
    return f"marketofone-{consumer}"


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes

    @property
    def day(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.timestamp_ms / 1000, dt.timezone.utc).date()


def epoch_ms(occurred_at: str) -> int:
    """An event's `occurred_at` (a time of the bank's day, UTC) as a record timestamp."""
    moment = dt.datetime.fromisoformat(occurred_at)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1000)


def ensure_topic(bootstrap: str, topic: str = TOPIC, partitions: int = PARTITIONS) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": log})
    if topic in admin.list_topics(timeout=30).topics:
        return
    for future in admin.create_topics([NewTopic(topic, partitions, 1, config=TOPIC_CONFIG)]).values():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise


def publish(bootstrap: str, records: Iterable[tuple[int, bytes]], topic: str = TOPIC) -> int:
    """Send (timestamp ms, value) records in order, each acknowledged by the broker (an idempotent producer: a
    retry never writes a record twice); returns how many. Raises when one could not be delivered."""
    from confluent_kafka import Producer

    ensure_topic(bootstrap, topic)
    failures: list[str] = []

    def delivered(error, _message) -> None:
        if error is not None:
            failures.append(str(error))

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 20, "compression.type": "lz4", "logger": log})
    sent = 0
    for timestamp, value in records:
        while True:
            try:
                producer.produce(topic, value=value, timestamp=timestamp, on_delivery=delivered)
                break
            except BufferError:   # the local queue is full: let the broker take some first
                producer.poll(0.5)
        sent += 1
        producer.poll(0)
    left = producer.flush(120)
    if failures or left:
        raise RuntimeError(f"{len(failures) + left} of {sent} events not delivered to {topic} on {bootstrap}: "
                           f"{'; '.join(failures[:3]) or 'the broker did not acknowledge them in time'}")
    return sent


def as_event_files(records: list[Record], topic: str = TOPIC) -> list[EventFile]:
    """The records as one EventFile per day (the records of a day in the order they came)."""
    by_day: dict[dt.date, list[Record]] = {}
    for record in records:
        by_day.setdefault(record.day, []).append(record)
    files = []
    for day, day_records in sorted(by_day.items()):
        first, last = day_records[0], day_records[-1]
        name = f"kafka/{topic}/{first.partition}/{first.offset}-{last.offset}"
        checksum = hashlib.sha256(b"\n".join(r.value for r in day_records)).hexdigest()
        lines = ((r.offset * OFFSETS_PER_ROW_ID + r.partition, r.offset, r.value) for r in day_records)
        files.append(read_lines(day, Path(name), name, checksum, lines, unit="offset"))
    return files


class Consumer:
    """One consumer group's reading of the topic: `take` a batch, write it, `commit` it."""

    def __init__(self, bootstrap: str, consumer: str, topic: str = TOPIC):
        from confluent_kafka import Consumer as KafkaConsumer

        ensure_topic(bootstrap, topic)
        self.topic = topic
        self._consumer = KafkaConsumer({
            "bootstrap.servers": bootstrap, "group.id": group_id(consumer), "auto.offset.reset": "earliest",
            # Offsets are committed by hand, after the batch is written: never before.
            "enable.auto.commit": False, "enable.auto.offset.store": False,
            "enable.partition.eof": True, "logger": log,
            # A batch's writes (bronze, then the day's silver) may take minutes at a bank's size: the group keeps
            # the consumer that long before it hands its partitions to another (and refuses its commit).
            "max.poll.interval.ms": 30 * 60 * 1000})
        self._consumer.subscribe([topic])
        self._pending: dict[int, int] = {}

    def take(self, limit: int, timeout: float = 1.0) -> list[Record]:
        """Up to `limit` records after the group's committed offsets (and after the last batch taken); fewer,
        or none, when the topic has no more within `timeout` (`idle` tells the end of the topic from a slow poll)."""
        from confluent_kafka import KafkaError, KafkaException

        records: list[Record] = []
        for message in self._consumer.consume(num_messages=limit, timeout=timeout):
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:   # the end of a partition: not a record
                    continue
                raise KafkaException(error)
            _kind, timestamp = message.timestamp()
            records.append(Record(message.partition(), message.offset(), timestamp, message.value() or b""))
            self._pending[message.partition()] = message.offset() + 1
        return records

    def commit(self) -> None:
        """Commit what was taken (the next offset of each partition), synchronously."""
        from confluent_kafka import TopicPartition

        if self._pending:
            self._consumer.commit(offsets=[TopicPartition(self.topic, p, o) for p, o in self._pending.items()],
                                  asynchronous=False)
            self._pending = {}

    def idle(self) -> bool:
        """True once the group has its partitions and has read everything in them (`until_idle` runs stop)."""
        return bool(self._consumer.assignment()) and self.lag() == 0

    def lag(self) -> int:
        """Records in the topic after this group's position (what it still has to read)."""
        behind = 0
        for partition in self._consumer.assignment():
            _low, high = self._consumer.get_watermark_offsets(partition, timeout=10, cached=False)
            position = self._consumer.position([partition])[0].offset
            behind += max(0, high - max(position, 0))
        return behind

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> "Consumer":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
