"""Spark sessions for every engine the jobs run on.

- sail (default): Sail's Spark Connect server started in this process. One server per process: a
  server object that is garbage-collected while a session is open hangs the interpreter at exit, so it
  lives in a module-level singleton and is stopped once, at exit.
- remote: any Spark Connect server (`SPARK_REMOTE=sc://host:15002`), e.g. Spark 4 + Delta or Sail on k8s.
- jvm: classic local Spark with Delta configured by delta-spark (needs the Delta jars from Maven).
Jobs only use the DataFrame API and Spark SQL, so the same code runs on all three.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading

from pyspark.sql import SparkSession

from jobs.settings import Settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_sail_server = None  # the process-wide Sail server
_session: SparkSession | None = None


def _sail_address() -> str:
    global _sail_server
    if _sail_server is None:
        from pysail.spark import SparkConnectServer

        os.environ.setdefault("RUST_LOG", "warn")  # Sail logs every session at INFO otherwise

        server = SparkConnectServer(ip="127.0.0.1", port=0)
        server.start(background=True)
        _sail_server = server
        atexit.register(_stop_sail)
        log.info("embedded Sail engine listening on %s:%s", *server.listening_address)
    host, port = _sail_server.listening_address
    return f"sc://{host}:{port}"


def _stop_sail() -> None:
    global _session, _sail_server
    if _session is not None:
        try:
            _session.stop()
        except Exception:  # already gone at interpreter exit; nothing to recover
            pass
        _session = None
    if _sail_server is not None:
        _sail_server.stop()
        _sail_server = None


def jvm_builder(app_name: str = "marketofone", master: str = "local[2]", delta: bool = True):
    """The classic-mode builder, with Delta Lake's extension and catalog when `delta` is set."""
    builder = (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if delta:
        builder = builder.config(
            "spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension"
        ).config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
    return builder


def jvm_delta_builder(app_name: str = "marketofone", master: str = "local[2]"):
    """Classic JVM Spark with Delta: delta-spark adds the Delta jars (fetched from Maven at start)."""
    from delta import configure_spark_with_delta_pip

    return configure_spark_with_delta_pip(jvm_builder(app_name, master, delta=True))


def spark_session(settings: Settings) -> SparkSession:
    """The session for the configured engine; one per process, reused by every job."""
    global _session
    with _lock:
        if _session is not None and not _session_is_dead(_session):
            return _session
        if settings.engine == "sail":
            remote = _sail_address()
            _session = SparkSession.builder.remote(remote).getOrCreate()
        elif settings.engine == "remote":
            _session = SparkSession.builder.remote(settings.spark_remote).getOrCreate()
        else:
            _session = jvm_delta_builder().getOrCreate()
        _session.conf.set("spark.sql.session.timeZone", "UTC")
        return _session


def _session_is_dead(session: SparkSession) -> bool:
    try:
        return bool(getattr(session, "is_stopped", False))
    except Exception:
        return True
