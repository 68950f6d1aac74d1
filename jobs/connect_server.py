"""A JVM Spark Connect server with Delta, started from pip's pyspark (no Spark download).

pip's pyspark ships the Connect server class and `bin/spark-submit` but not `sbin/start-connect-server.sh`, so
the server is started the way that script would: `spark-submit --class ...SparkConnectServer spark-internal`,
with the Delta jars from Maven Central (then the Ivy cache) and Delta's SQL extension and catalog. The tests
start one to run the DAGs over Spark Connect on real Spark + Delta; `marketofone connect-server` runs one in the
foreground: the production profile's engine on a laptop, and the `spark-connect` service of docker-compose.yml.

    server = ConnectServer.start(port=15002, log_path=home / "logs" / "spark-connect.log")
    ... MARKETOFONE_ENGINE=remote SPARK_REMOTE=server.url ...
    server.stop()
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from jobs.engine import EngineStartError, jvm_start_failure
from jobs.settings import DELTA_PACKAGE

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_TIMEOUT_S = 300.0   # the first start fetches ~90 MB of Delta jars; later ones take ~10 s


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def server_command(port: int, package: str = DELTA_PACKAGE, master: str = "local[2]",
                   conf: tuple[tuple[str, str], ...] = (), host: str = "127.0.0.1") -> list[str]:
    """The spark-submit line of a Connect server with Delta on `host:port` (loopback unless told), with `conf` on
    top. Packages in `conf` (spark.jars.packages, e.g. hadoop-aws for an s3a:// lakehouse) come with Delta's."""
    extra_packages = dict(conf).get("spark.jars.packages", "")
    confs = {
        "spark.master": master,
        "spark.connect.grpc.binding.address": host,
        "spark.connect.grpc.binding.port": str(port),
        "spark.jars.packages": package,
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "4",
        "spark.ui.enabled": "false",
        "spark.pyspark.python": sys.executable,   # the Python workers (scoring) need pandas and xgboost
        # Small tables: Delta's snapshot state is rebuilt in 50 tasks by default, seconds per read on 2 cores.
        "spark.databricks.delta.snapshotPartitions": "2",
    }
    confs.update(dict(conf))
    confs["spark.jars.packages"] = ",".join(p for p in (package, extra_packages) if p)
    command = [str(spark_home() / "bin" / "spark-submit"), "--class", SERVER_CLASS]
    for key, value in confs.items():
        command += ["--conf", f"{key}={value}"]
    return command + ["spark-internal"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


@dataclass
class ConnectServer:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, port: int | None = None, log_path: Path | None = None, package: str = DELTA_PACKAGE,
              timeout: float = START_TIMEOUT_S, conf: tuple[tuple[str, str], ...] = (),
              host: str = "127.0.0.1") -> "ConnectServer":
        """Start the server and wait until it accepts connections; a server that exits or does not listen in
        time is stopped and reported with the line of its output that says why."""
        port = port or free_port()
        log_path = Path(log_path or Path.cwd() / "spark-connect.log")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # The server's Python workers (mapInPandas, UDFs) run this interpreter, which has the project's packages.
        env = {"PYSPARK_PYTHON": sys.executable, **os.environ, "SPARK_HOME": str(spark_home())}
        env.pop("SPARK_REMOTE", None)         # the server is a classic Spark application itself
        env.pop("SPARK_CONNECT_MODE_ENABLED", None)
        with open(log_path, "ab") as out:
            start = out.tell()
            # A process group of its own: stop() ends spark-submit's JVM and anything it started.
            process = subprocess.Popen(server_command(port, package, conf=conf, host=host), stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                       start_new_session=True)
        server = cls(process, port, log_path)
        deadline = time.monotonic() + timeout
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                why = ("it did not listen within {:g}s".format(timeout) if process.poll() is None
                       else jvm_start_failure(server._output(start)))
                server.stop()
                raise EngineStartError(f"the Spark Connect server did not start: {why} (its output: {log_path})")
            time.sleep(0.5)
        return server

    def _output(self, start: int) -> str:
        with open(self.log_path, "rb") as fh:
            fh.seek(start)
            return fh.read().decode("utf-8", errors="replace")

    def stop(self, timeout: float = 30.0) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass

    def __enter__(self) -> "ConnectServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
