"""Spark sessions for every engine the jobs run on.

- sail (default): Sail's Spark Connect server started in this process. One server per process: a
  server object that is garbage-collected while a session is open hangs the interpreter at exit, so it
  lives in a module-level singleton and is stopped once, at exit.
- remote: any Spark Connect server (`SPARK_REMOTE=sc://host:15002`), e.g. Spark 4 + Delta or Sail on k8s.
- jvm: classic local Spark with Delta configured by delta-spark (needs the Delta jars from Maven).
Jobs only use the DataFrame API and Spark SQL, so the same code runs on all three.

An engine that cannot start says why, in one line: a Spark Connect address nobody listens on is refused
in a second (the client's own retries would wait ~10 minutes without a word), a server that accepts the
connection but does not answer fails the first call after FIRST_CALL_TIMEOUT_S, and a JVM that exits at
start is reported with the line of its output that says why (e.g. `unresolved dependency: ...`), its
whole output kept in <home>/logs/spark-jvm.log.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import urllib.parse

from pyspark.sql import SparkSession

from jobs.settings import DELTA_PACKAGE, Settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_sail_server = None  # the process-wide Sail server
_session: SparkSession | None = None

CONNECT_TIMEOUT_S = 3.0      # a TCP connect to a live server takes milliseconds, even across a cluster network
FIRST_CALL_TIMEOUT_S = 60.0  # a first call on a healthy server takes well under a second, a cold cluster seconds
DEFAULT_CONNECT_PORT = 15002


class EngineStartError(RuntimeError):
    """The configured engine could not be started or reached; the message says why and what to do."""


SAIL_SESSION_TIMEOUT_VAR = "SAIL_SPARK__SESSION_TIMEOUT_SECS"   # Sail's spark.session_timeout_secs
SAIL_SESSION_TIMEOUT_S = 30 * 24 * 3600


def _sail_address() -> str:
    global _sail_server
    if _sail_server is None:
        from pysail.spark import SparkConnectServer

        os.environ.setdefault("RUST_LOG", "warn")  # Sail logs every session at INFO otherwise
        # The server belongs to this process: its session lives as long as the process. Sail drops a session
        # idle for 15 minutes by default, and a process can be idle on it longer than that (a DAG run in
        # another process, a long pandas step): every later query then failed with "session ... is not running".
        os.environ.setdefault(SAIL_SESSION_TIMEOUT_VAR, str(SAIL_SESSION_TIMEOUT_S))

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


# Delta on a local JVM: the defaults suit a cluster and cost seconds per table on a laptop. The snapshot of a
# table's log is rebuilt in 50 tasks by default on every read; a table's statistics are collected for 32 columns.
JVM_DELTA_CONF = {
    "spark.databricks.delta.snapshotPartitions": "2",
}


def jvm_builder(app_name: str = "marketofone", master: str = "local[2]", delta: bool = True):
    """The classic-mode builder, with Delta Lake's extension and catalog when `delta` is set."""
    builder = (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        # Python workers (the scoring's mapInPandas) run this interpreter, which has pandas and xgboost, not
        # whatever `python3` is first on the PATH.
        .config("spark.pyspark.python", sys.executable)
        # toPandas / createDataFrame(pandas) through Arrow, as over Spark Connect (the training sample, scores)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if delta:
        builder = builder.config(
            "spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension"
        ).config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        for key, value in JVM_DELTA_CONF.items():
            builder = builder.config(key, value)
    return builder


# Spark's Kafka source, for the pyspark here (Scala 2.13): from Maven Central once, then the Ivy cache.
KAFKA_SQL_PACKAGE = "org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0"


def jvm_delta_builder(app_name: str = "marketofone", master: str = "local[2]", package: str = DELTA_PACKAGE):
    """Classic JVM Spark with Delta: the Delta jars come from Maven Central at first start, then the Ivy cache."""
    return jvm_builder(app_name, master, delta=True).config("spark.jars.packages", package)


def spark_session(settings: Settings) -> SparkSession:
    """The session for the configured engine; one per process, reused by every job."""
    global _session
    with _lock:
        if _session is not None and not _session_is_dead(_session):
            return _session
        if settings.engine == "sail":
            remote = _sail_address()
            _session = SparkSession.builder.remote(remote).getOrCreate()
            _session.conf.set("spark.sql.session.timeZone", "UTC")
        elif settings.engine == "remote":
            _session = remote_session(settings.spark_remote)
        else:
            # With a Kafka broker, Spark's Kafka source for Structured Streaming (jobs/stream/structured.py).
            packages = [settings.delta_package] + ([KAFKA_SQL_PACKAGE] if settings.events_broker else [])
            builder = jvm_delta_builder(package=",".join(packages))
            for key, value in settings.spark_conf:
                builder = builder.config(key, value)
            _session = start_jvm(builder, settings.home / "logs" / "spark-jvm.log")
            _session.conf.set("spark.sql.session.timeZone", "UTC")
        return _session


# -- a Spark Connect server elsewhere ----------------------------------------------------------------
def connect_address(url: str) -> tuple[str, int]:
    """(host, port) of a Spark Connect URL `sc://host[:port][/;params]` (port 15002 when not given)."""
    if not url.startswith("sc://"):
        raise EngineStartError(f"SPARK_REMOTE must look like sc://host:port, got {url!r}")
    parsed = urllib.parse.urlparse("http" + url[2:])
    if not parsed.hostname:
        raise EngineStartError(f"SPARK_REMOTE names no host: {url!r} (expected sc://host:port)")
    return parsed.hostname, parsed.port or DEFAULT_CONNECT_PORT


def probe(url: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail at once, with the reason, when nothing accepts a TCP connection at the server's address."""
    host, port = connect_address(url)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except ConnectionRefusedError:
        why = "connection refused"
    except socket.timeout:
        why = f"no answer within {timeout:g}s"
    except OSError as exc:  # unknown host, unreachable network
        why = exc.strerror or str(exc)
    raise EngineStartError(f"cannot reach the Spark Connect server at sc://{host}:{port}: {why}; "
                           "start one or unset SPARK_REMOTE")


def remote_session(url: str, first_call_timeout: float = FIRST_CALL_TIMEOUT_S) -> SparkSession:
    """A session on a Spark Connect server, checked by a first call that must answer in time."""
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    probe(url)
    # What SparkSession.builder.remote() sets: pyspark's functions (F.col, F.monotonically_increasing_id, ...)
    # build Spark Connect expressions only when it is set; without it they look for a classic SparkContext.
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    # A session of its own for this URL (getOrCreate would hand back any session the process already has),
    # made the process's default only once it answered.
    session = ConnectSession(connection=url)
    host, port = connect_address(url)
    # The client retries a silent server for ~10 minutes: the first call runs in a daemon thread so that it
    # can be given up on (the thread is left to the client's retries and does not hold the process at exit).
    outcome: list[BaseException | None] = []

    def first_call() -> None:
        try:
            session.conf.set("spark.sql.session.timeZone", "UTC")
            outcome.append(None)
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append(exc)

    caller = threading.Thread(target=first_call, name="spark-connect-first-call", daemon=True)
    caller.start()
    caller.join(first_call_timeout)
    if not outcome:
        # Closing the channel ends the abandoned call, and spares the client's exit hook an RPC that would
        # wait on the same silent server.
        session.client.close()
        raise EngineStartError(
            f"the server at sc://{host}:{port} accepts connections but did not answer a first call within "
            f"{first_call_timeout:g}s: is it a Spark Connect server, and is it up?")
    if outcome[0] is not None:
        raise outcome[0]
    ConnectSession._set_default_and_active_session(session)
    return session


# -- classic JVM Spark ----------------------------------------------------------------------------------
# What makes pyspark's builder choose Spark Connect over the classic JVM session.
CONNECT_MODE_VARIABLES = ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE", "SPARK_LOCAL_REMOTE")


def start_jvm(builder, log_path) -> SparkSession:
    """Start the JVM with its output in `log_path`, so that a failed start can say why: pyspark itself only
    reports JAVA_GATEWAY_EXITED, the reason being a line somewhere in ~100 lines of the JVM's output."""
    # The Python workers (the scoring's mapInPandas) run PYSPARK_PYTHON, `python3` on the PATH when it is unset:
    # outside an activated virtual environment that interpreter lacks numpy, pandas and xgboost. pyspark reads
    # the variable, not spark.pyspark.python, when the driver is a Python process.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # pyspark sets SPARK_CONNECT_MODE_ENABLED on any process that opened a Spark Connect session, and child
    # processes inherit it (a scheduler or test runner that used Sail, then starts a DAG run on the JVM engine):
    # with it set, getOrCreate asks for a Connect URL (CONNECT_URL_NOT_SET) instead of starting the JVM. The
    # engine asked for here is the classic one. (Put back if the JVM does not start: the process stays as it was.)
    connect_mode = {v: os.environ.pop(v) for v in CONNECT_MODE_VARIABLES if v in os.environ}
    try:
        return _start_jvm(builder, log_path)
    except BaseException:
        os.environ.update(connect_mode)
        raise


def _start_jvm(builder, log_path) -> SparkSession:
    from pyspark import SparkConf, SparkContext
    from pyspark.errors import PySparkRuntimeError
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is None:
        conf = SparkConf(loadDefaults=False)
        for key, value in builder._options.items():  # what getOrCreate would pass to spark-submit
            conf.set(key, value)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as out:
            start = out.tell()  # the log keeps earlier starts; this start's output begins here
            try:
                gateway = launch_gateway(conf, popen_kwargs={"stdout": out, "stderr": subprocess.STDOUT})
            except PySparkRuntimeError as exc:
                with open(log_path, "rb") as fh:
                    fh.seek(start)
                    output = fh.read().decode("utf-8", errors="replace")
                raise EngineStartError(f"the JVM Spark engine did not start: {jvm_start_failure(output)} "
                                       f"(its whole output: {log_path})") from exc
        SparkContext._ensure_initialized(gateway=gateway, conf=conf)
    return builder.getOrCreate()


_JVM_EXCEPTION = re.compile(r'^Exception in thread "\S+" (?:[\w.$]+): (.+)$')
_JVM_CAUSE = re.compile(r"^Caused by: (?:[\w.$]+): (.+)$")
_JVM_ERRORS = ("Error: ", " ERROR ", "JAVA_HOME is not set", "Could not find or load main class")


def engine_message(exc: Exception, limit: int = 300) -> str:
    """The engine's reason in one line (its messages run to a JVM stack or a gRPC status dump)."""
    text = str(exc).strip()
    return next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)[:limit]


def jvm_start_failure(output: str) -> str:
    """The line of a failed JVM start that says why: the deepest cause of its exception, else an error line,
    else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    reason = None
    for line in lines:
        match = _JVM_EXCEPTION.match(line) or (_JVM_CAUSE.match(line) if reason else None)
        if match:
            reason = match.group(1)
    if reason is None:
        errors = [line for line in lines if any(marker in line for marker in _JVM_ERRORS)]
        reason = errors[0] if errors else (lines[-1] if lines else "it exited without a word")
    return reason.strip().removeprefix("[").removesuffix("]")


def _session_is_dead(session: SparkSession) -> bool:
    try:
        return bool(getattr(session, "is_stopped", False))
    except Exception:
        return True
