"""Session factory: embedded Sail works; the classic JVM + Delta configuration is built correctly.

(The JVM + Delta session itself cannot start offline: delta-spark downloads Delta's jars from Maven
Central when the session starts. What is checked here is the configuration it would start with.)"""

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
    assert options["spark.jars.packages"].startswith("io.delta:delta-spark_")  # e.g. delta-spark_4.2_2.13:4.4.1
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
