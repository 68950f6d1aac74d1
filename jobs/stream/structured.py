"""The event stream into the lakehouse under Spark Structured Streaming (the JVM engine, or a Spark Connect server
with Delta): the same micro-batch (jobs/stream/to_lakehouse.py) as the embedded loop, with Spark's own checkpoint.

The file source follows `<home>/stream/events/<day>/` (new files only, at most `max_files` a trigger); each
micro-batch's file names reach `foreachBatch`, which reads those files and writes them with `load_batch`. Spark
commits the batch's offsets to its checkpoint (`<home>/stream/checkpoints/structured-lakehouse/`) after
`foreachBatch` returns; a batch killed before that is run again with the same id and the same files after a
restart. Each bronze append of a batch is an idempotent Delta write besides (SQL confs
`spark.databricks.delta.write.txnAppId` / `txnVersion`: the application and the batch id, recorded in the
table's log; a batch run again skips the tables it had written), and every write is keyed on the event or the
silver row in any case, so no event is written twice and none is lost.

On a Kafka broker (MARKETOFONE_EVENTS_BROKER) the source is Spark's `kafka` source on the topic, at most
`max_files` files' worth of records a trigger (maxOffsetsPerTrigger); each micro-batch's records (a bounded
batch, never the stream) are read as EventFiles per day (jobs/stream/broker.py) and written the same way; the
offsets are Spark's checkpoint's, not the consumer group's.

Sail has no streaming sinks: there `marketofone stream` runs the embedded loop (jobs/stream/run.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from urllib.parse import unquote, urlparse

from jobs.generate.event_stream import EVENTS_PER_FILE
from jobs.stream.events import read_event_file
from jobs.stream.to_lakehouse import BatchReport, load_batch
from jobs.tables import Lakehouse

log = logging.getLogger(__name__)

APP_ID = "marketofone-stream-lakehouse"


def checkpoint_dir(home: Path) -> Path:
    return home / "stream" / "checkpoints" / "structured-lakehouse"


def run(lh: Lakehouse, max_files: int = 20, until_idle: bool = True) -> list[BatchReport]:
    """Start the streaming query; with until_idle (Trigger.AvailableNow) it stops when every file present at its
    start is processed, otherwise it runs until stopped."""
    from pyspark.sql import functions as F

    home = lh.settings.home
    root = home / "stream" / "events"
    root.mkdir(parents=True, exist_ok=True)
    reports: list[BatchReport] = []

    def each_batch(batch, batch_id: int) -> None:
        # The batch's file names only (at most max_files): the events themselves are read by load_batch.
        paths = sorted({Path(unquote(urlparse(r["path"]).path)) for r in batch.select("path").distinct().collect()})
        files = [read_event_file(p, dt.date.fromisoformat(p.parent.name), home) for p in paths]
        report = load_batch(lh, files, batch_id + 1, txn=lambda day: (f"{APP_ID}-{day}", batch_id))
        reports.append(report)
        log.info("structured batch %d: %d file(s), %d event(s): %d bronze, %d quarantined, %d already loaded",
                 batch_id, len(files), report.events, report.bronze, report.quarantined, report.repeated)

    if lh.settings.events_broker:
        return _run_kafka(lh, max_files * EVENTS_PER_FILE, until_idle, reports)
    lines = (lh.spark.readStream.format("text").option("maxFilesPerTrigger", max_files)
             .option("pathGlobFilter", "part-*.jsonl").load(f"{root}/*/")
             .select(F.input_file_name().alias("path")))
    writer = lines.writeStream.foreachBatch(each_batch).option("checkpointLocation", str(checkpoint_dir(home)))
    query = (writer.trigger(availableNow=True) if until_idle else writer.trigger(processingTime="1 second")).start()
    query.awaitTermination()
    return reports


def _run_kafka(lh: Lakehouse, max_events: int, until_idle: bool, reports: list[BatchReport]) -> list[BatchReport]:
    from pyspark.sql import functions as F

    from jobs.stream import broker

    home = lh.settings.home
    broker.ensure_topic(lh.settings.events_broker)

    def each_batch(batch, batch_id: int) -> None:
        rows = batch.select("partition", "offset", (F.unix_millis("timestamp")).alias("ms"), "value").collect()
        records = sorted((broker.Record(r["partition"], r["offset"], r["ms"], bytes(r["value"] or b""))
                          for r in rows), key=lambda r: (r.partition, r.offset))
        report = load_batch(lh, broker.as_event_files(records), batch_id + 1,
                            txn=lambda day: (f"{APP_ID}-{day}", batch_id))
        reports.append(report)
        log.info("structured batch %d: %d record(s): %d bronze, %d quarantined, %d malformed, %d already loaded",
                 batch_id, len(records), report.bronze, report.quarantined, report.malformed, report.repeated)

    records = (lh.spark.readStream.format("kafka").option("kafka.bootstrap.servers", lh.settings.events_broker)
               .option("subscribe", broker.TOPIC).option("startingOffsets", "earliest")
               .option("maxOffsetsPerTrigger", max_events).option("failOnDataLoss", "true").load())
    writer = (records.writeStream.foreachBatch(each_batch)
              .option("checkpointLocation", str(checkpoint_dir(home).with_name("structured-lakehouse-kafka"))))
    query = (writer.trigger(availableNow=True) if until_idle else writer.trigger(processingTime="1 second")).start()
    query.awaitTermination()
    return reports
