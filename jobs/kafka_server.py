"""An Apache Kafka broker for the production profile's event stream, from Maven Central (no Kafka download).

The broker's jars are resolved with the Ivy that pip's pyspark ships (the same Ivy cache Spark's own
`spark.jars.packages` use: the first start fetches ~45 MB from Maven Central, later ones none), and the broker runs
in KRaft mode as its own controller (one process, no ZooKeeper): the size of one machine, as the embedded
profile's landing folder is. `marketofone kafka-server` runs one in the foreground (jobs/local_stack.py starts it
as a service; docker-compose.yml uses the project's image the same way).

    server = KafkaServer.start(folder, port=9092)       # bootstrap servers: server.bootstrap
    ...
    server.stop()

Why Kafka: the bank's silos publish events on a log that keeps them (days, not until read), that several
consumers read at their own pace (the lakehouse stream and the triggers consumer each commit their own offsets),
and that Spark Structured Streaming reads with its own checkpointed offsets (the `kafka` source).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

KAFKA_VERSION = "4.1.1"
# The broker and, for its logging, log4j2 behind SLF4J (the Kafka distribution's libs/ has the same binding).
ARTIFACTS = (("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
             ("org.apache.logging.log4j", "log4j-slf4j-impl", "2.24.3"))
START_TIMEOUT_S = 180.0
DEFAULT_PORT = 9092


class KafkaStartError(RuntimeError):
    """The broker did not start; the message says why and ends with its log's last lines."""


def ivy_cache() -> Path:
    """Spark's Ivy folder (~/.ivy2.5.2, or spark.jars.ivy's MARKETOFONE_IVY_HOME): one download for both."""
    return Path(os.environ.get("MARKETOFONE_IVY_HOME", Path.home() / ".ivy2.5.2")).expanduser()


def _ivy_jar() -> Path:
    import pyspark

    jars = sorted((Path(pyspark.__file__).parent / "jars").glob("ivy-*.jar"))
    if not jars:
        raise KafkaStartError("pyspark's Ivy jar is missing (pyspark/jars/ivy-*.jar): reinstall the venv (make venv)")
    return jars[-1]


def classpath() -> str:
    """The broker's classpath, resolved from Maven Central once and read from the Ivy cache after."""
    home = ivy_cache()
    listing = home / f"kafka-{KAFKA_VERSION}.classpath"
    if listing.is_file() and all(Path(p).is_file() for p in listing.read_text().strip().split(os.pathsep)):
        return listing.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    deps = "\n".join(f'    <dependency org="{o}" name="{n}" rev="{r}" conf="default->default"/>'
                     for o, n, r in ARTIFACTS)
    module = home / f"kafka-{KAFKA_VERSION}.ivy.xml"
    module.write_text(f'<ivy-module version="2.0">\n  <info organisation="marketofone" module="kafka-broker"/>\n'
                      f'  <configurations><conf name="default"/></configurations>\n'
                      f'  <dependencies>\n{deps}\n  </dependencies>\n</ivy-module>\n')
    partial = listing.with_name(f".{listing.name}.{os.getpid()}")
    done = subprocess.run(["java", "-jar", str(_ivy_jar()), "-ivy", str(module), "-confs", "default",
                           "-cache", str(home / "cache"), "-cachepath", str(partial)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or not partial.is_file():
        raise KafkaStartError(f"resolving Kafka {KAFKA_VERSION} from Maven Central failed:\n{done.stdout[-2000:]}\n"
                              f"{done.stderr[-2000:]}")
    os.replace(partial, listing)
    return listing.read_text().strip()


def server_properties(folder: Path, port: int, controller_port: int, host: str = "127.0.0.1") -> str:
    """One node, broker and its own controller (KRaft); one partition per topic unless a topic says otherwise:
    the stream's order is the day's order, as the landing folder's files give it."""
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@{host}:{controller_port}",
        f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        f"advertised.listeners=PLAINTEXT://{host}:{port}",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        f"log.dirs={folder / 'data'}",
        "num.partitions=1",
        # One node: the internal topics (consumers' offsets, transactions) have one replica.
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        # Kept by size, not age (the records carry their events' times; jobs/stream/broker.py creates the topic
        # with the same settings): a consumer stopped for days catches up from the log.
        "log.retention.ms=-1",
        f"log.retention.bytes={64 * 2**30}",
        "auto.create.topics.enable=false",
        "",
    ])


LOG4J2 = """status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka.server.KafkaRaftServer
logger.kafka.level = info
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = info
"""


def prepare(folder: Path, port: int, controller_port: int, host: str = "127.0.0.1") -> list[str]:
    """Write the broker's settings, format its log folder once (a KRaft cluster id of its own), and return the
    command that runs it."""
    folder.mkdir(parents=True, exist_ok=True)
    properties, logging = folder / "server.properties", folder / "log4j2.properties"
    properties.write_text(server_properties(folder, port, controller_port, host))
    logging.write_text(LOG4J2)
    java = ["java", "-Xms128m", "-Xmx512m", f"-Dlog4j2.configurationFile={logging}", "-cp", classpath()]
    if not (folder / "data" / "meta.properties").is_file():
        done = subprocess.run([*java, "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(properties)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise KafkaStartError(f"formatting {folder / 'data'} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return [*java, "kafka.Kafka", str(properties)]


def _cluster_id() -> str:
    # Kafka's cluster ids are a UUID's 16 bytes in URL-safe base64 without padding (StorageTool random-uuid).
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def ready(bootstrap: str, timeout: float = 2.0) -> bool:
    """True once the broker answers a metadata request."""
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=timeout)
        return True
    except Exception:   # KafkaException: not answering yet
        return False


@dataclass
class KafkaServer:
    process: subprocess.Popen
    bootstrap: str
    log_path: Path

    @classmethod
    def start(cls, folder: Path, port: int, controller_port: int, timeout: float = START_TIMEOUT_S) -> "KafkaServer":
        if shutil.which("java") is None:
            raise KafkaStartError("java is not on the PATH: the broker needs Java 17")
        command = prepare(folder, port, controller_port)
        log_path = folder / "broker.log"
        with log_path.open("ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        server = cls(process, f"127.0.0.1:{port}", log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise KafkaStartError(f"the Kafka broker exited with {process.returncode}; {log_path} ends:\n"
                                      + "\n".join(log_path.read_text(errors="replace").splitlines()[-25:]))
            if ready(server.bootstrap):
                return server
            time.sleep(0.5)
        server.stop()
        raise KafkaStartError(f"the Kafka broker did not answer on {server.bootstrap} within {timeout:.0f}s; "
                              f"see {log_path}")

    def stop(self) -> None:
        from jobs.airflow_command import stop_group

        if self.process.poll() is None:
            stop_group(self.process.pid, grace=15, leader=self.process)
        self.process.wait()


def run_foreground(folder: Path, port: int, controller_port: int, host: str = "127.0.0.1") -> int:
    """`marketofone kafka-server`: format if new, then become the broker (its signals are the broker's)."""
    command = prepare(folder, port, controller_port, host)
    print(f"Kafka {KAFKA_VERSION} broker on {host}:{port} (log folder {folder / 'data'})", flush=True)
    sys.stdout.flush()
    os.execvp(command[0], command)
    return 0   # not reached
