"""Session factory: embedded Sail works; the classic JVM + Delta configuration is built correctly; an engine
that cannot start says why. (A Spark Connect server of its own: tests/integration/test_engine.py; the JVM
engines themselves run the DAGs in tests/integration/test_engines.py.)"""

import os
import sys
from pathlib import Path

import pytest

from jobs.engine import jvm_delta_builder, spark_session
from jobs.settings import Settings


def test_embedded_sail_session_is_reused_in_the_process(spark, tmp_path):
    again = spark_session(Settings(home=tmp_path))
    assert again is spark
    assert spark.range(5).count() == 5


def test_classic_jvm_mode_configures_delta():
    options = jvm_delta_builder()._options
    assert options["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert options["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert options["spark.jars.packages"] == "io.delta:delta-spark_4.2_2.13:4.4.0"   # built for pyspark's Spark 4.2
    assert options["spark.pyspark.python"] == sys.executable   # workers need this venv's pandas and xgboost
    assert options["spark.sql.session.timeZone"] == "UTC"


def test_settings_validation_gives_clear_errors(monkeypatch):
    monkeypatch.setenv("MARKETOFONE_ENGINE", "flink")
    with pytest.raises(ValueError, match="MARKETOFONE_ENGINE must be one of sail, remote, jvm"):
        Settings.from_env()
    monkeypatch.setenv("MARKETOFONE_ENGINE", "remote")
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    with pytest.raises(ValueError, match="needs SPARK_REMOTE"):
        Settings.from_env()
    monkeypatch.setenv("MARKETOFONE_ENGINE", "sail")
    monkeypatch.setenv("MARKETOFONE_CUSTOMERS", "many")
    with pytest.raises(ValueError, match="bad MARKETOFONE_\\* setting"):
        Settings.from_env()


def test_everything_lives_under_the_home(monkeypatch, tmp_path):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path / "h"))
    s = Settings.from_env()
    for path in (s.lakehouse, s.landing, s.ground_truth, s.mlflow_dir, s.airflow_home, s.dq_dir):
        assert Path(path).is_relative_to(tmp_path / "h")
    assert s.mlflow_uri == f"sqlite:///{tmp_path / 'h' / 'mlflow' / 'mlflow.db'}"


# -- an engine that cannot start says why, in seconds ---------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]   # closed again on leaving: nothing listens there


def test_a_closed_spark_connect_port_fails_at_once_with_the_reason():
    import time

    from jobs import engine

    port = _free_port()
    started = time.perf_counter()
    with pytest.raises(engine.EngineStartError) as failed:
        engine.remote_session(f"sc://127.0.0.1:{port}")
    assert str(failed.value) == (f"cannot reach the Spark Connect server at sc://127.0.0.1:{port}: connection "
                                 "refused; start one or unset SPARK_REMOTE")
    assert time.perf_counter() - started < 5


def test_a_server_that_never_answers_fails_the_first_call_in_time():
    import socket
    import time

    from jobs import engine

    with socket.socket() as silent:   # accepts connections (the kernel's backlog), never speaks gRPC
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        started = time.perf_counter()
        with pytest.raises(engine.EngineStartError, match=rf"sc://127.0.0.1:{port} accepts connections but did not "
                                                          r"answer a first call within 2s"):
            engine.remote_session(f"sc://127.0.0.1:{port}", first_call_timeout=2)
        assert time.perf_counter() - started < 10


def test_connect_addresses_are_parsed_like_the_client_does():
    from jobs import engine

    assert engine.connect_address("sc://spark.internal") == ("spark.internal", 15002)
    assert engine.connect_address("sc://10.0.0.5:443/;use_ssl=true;token=abc") == ("10.0.0.5", 443)
    with pytest.raises(engine.EngineStartError, match="SPARK_REMOTE must look like sc://host:port"):
        engine.connect_address("http://spark:15002")


# The output of a JVM start whose Delta jars cannot be resolved (trimmed from a real one: 92 lines).
DELTA_UNRESOLVED = """\
WARNING: Using incubator modules: jdk.incubator.vector
:: loading settings :: url = jar:file:/venv/pyspark/jars/ivy-2.5.3.jar!/org/apache/ivy/core/settings/ivysettings.xml
io.delta#delta-spark_2.13 added as a dependency
:: resolving dependencies :: org.apache.spark#spark-submit-parent-adc0d0e0;1.0
:: problems summary ::
:::: WARNINGS
\t\tmodule not found: io.delta#delta-spark_2.13;4.4.1
\t\t::          UNRESOLVED DEPENDENCIES         ::
\t\t:: io.delta#delta-spark_2.13;4.4.1: not found
:: USE VERBOSE OR DEBUG MESSAGE LEVEL FOR MORE DETAILS
Exception in thread "main" java.lang.RuntimeException: \
[unresolved dependency: io.delta#delta-spark_2.13;4.4.1: not found]
\tat org.apache.spark.util.MavenUtils$.resolveMavenCoordinates(MavenUtils.scala:539)
\tat org.apache.spark.deploy.SparkSubmit.main(SparkSubmit.scala)
"""


def test_the_cause_of_a_failed_jvm_start_is_found_in_its_output():
    from jobs.engine import jvm_start_failure

    assert jvm_start_failure(DELTA_UNRESOLVED) == "unresolved dependency: io.delta#delta-spark_2.13;4.4.1: not found"
    chained = ('Exception in thread "main" org.apache.spark.SparkException: Failed to start\n\tat x.y(Z.scala:1)\n'
               "Caused by: java.net.BindException: Cannot assign requested address\n")
    assert jvm_start_failure(chained) == "Cannot assign requested address"
    assert jvm_start_failure("JAVA_HOME is not set\n") == "JAVA_HOME is not set"
    assert jvm_start_failure("") == "it exited without a word"


def test_a_failed_jvm_start_reports_its_cause_not_java_gateway_exited(monkeypatch, tmp_path):
    """The launcher is faked (a real start fetches Delta's jars): what it printed must reach the error."""
    import pyspark.java_gateway
    from pyspark import SparkContext
    from pyspark.errors import PySparkRuntimeError

    from jobs import engine

    def launch_that_exits(conf, popen_kwargs):
        assert conf.get("spark.jars.packages").startswith("io.delta:delta-spark_")  # the builder's options
        popen_kwargs["stdout"].write(DELTA_UNRESOLVED.encode())
        popen_kwargs["stdout"].flush()
        raise PySparkRuntimeError(errorClass="JAVA_GATEWAY_EXITED", messageParameters={})

    monkeypatch.setattr(pyspark.java_gateway, "launch_gateway", launch_that_exits)
    monkeypatch.setattr(SparkContext, "_gateway", None)
    log = tmp_path / "logs" / "spark-jvm.log"
    log.parent.mkdir()
    log.write_text("an earlier start's output\nException in thread \"main\" java.lang.Error: old news\n")
    monkeypatch.setenv("SPARK_CONNECT_MODE_ENABLED", "1")   # the process's Sail session set it
    with pytest.raises(engine.EngineStartError) as failed:
        engine.start_jvm(jvm_delta_builder(), log)
    assert str(failed.value) == ("the JVM Spark engine did not start: unresolved dependency: "
                                 f"io.delta#delta-spark_2.13;4.4.1: not found (its whole output: {log})")
    # The start set Connect mode aside for the JVM session; failed, it puts it back (the process's Sail session
    # builds its expressions by it).
    assert os.environ["SPARK_CONNECT_MODE_ENABLED"] == "1"


def test_extra_spark_settings_reach_the_jvm_engine_and_bad_ones_are_refused(monkeypatch):
    from jobs.connect_server import server_command
    from jobs.settings import parse_spark_conf

    monkeypatch.setenv("MARKETOFONE_SPARK_CONF", "spark.sql.shuffle.partitions=1, spark.sql.adaptive.enabled=false")
    settings = Settings.from_env()
    assert settings.spark_conf == (("spark.sql.shuffle.partitions", "1"), ("spark.sql.adaptive.enabled", "false"))
    command = server_command(15999, conf=settings.spark_conf)
    assert "spark.sql.shuffle.partitions=1" in command and "spark.sql.shuffle.partitions=4" not in command
    assert "spark.connect.grpc.binding.port=15999" in command and command[-1] == "spark-internal"
    for bad in ("shuffle=1", "spark.sql.shuffle.partitions", "spark.x="):
        with pytest.raises(ValueError, match="MARKETOFONE_SPARK_CONF wants spark.key=value"):
            parse_spark_conf(bad)
