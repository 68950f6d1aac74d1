"""The production profile's checks: what is unset, what does not answer, and how to start it."""

import socket

import pytest

from jobs import production
from jobs.settings import Settings

STRONG = "Zq3v9XbL0pT7wK2mN8sR4yH6cF1dG5jA"
AIRFLOW = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:pw@127.0.0.1:{pg}/airflow",
           "AIRFLOW__CORE__EXECUTOR": "LocalExecutor"}


def _production(tmp_path, **changes) -> Settings:
    values = dict(home=tmp_path, profile="production", tokenization_key=STRONG, engine="remote",
                  spark_remote="sc://127.0.0.1:15002", tracking_uri="http://127.0.0.1:5000",
                  online_store="redis://127.0.0.1:6379/0", events_broker="127.0.0.1:9092")
    return Settings(**{**values, **changes})


def test_the_embedded_profile_needs_no_service(tmp_path):
    settings = Settings(home=tmp_path)
    assert production.configuration_problems(settings, {}) == []
    production.check(settings, {})  # nothing raised, nothing probed


def test_a_production_configuration_on_embedded_defaults_is_refused_with_what_to_set(tmp_path):
    settings = _production(tmp_path, engine="sail", spark_remote="", tracking_uri="", online_store="",
                           events_broker="")
    problems = production.configuration_problems(settings, {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:///a.db"})
    assert len(problems) == 6
    assert "set SPARK_REMOTE=sc://<host>:15002" in problems[0] and "'sail'" in problems[0]
    assert "MARKETOFONE_TRACKING_URI=http://<host>:5000 (got 'nothing')" in problems[1]
    assert "PostgreSQL" in problems[2] and "(got 'sqlite')" in problems[2]
    assert "set MARKETOFONE_ONLINE_STORE=redis://<host>:6379/0" in problems[3]
    assert "set MARKETOFONE_EVENTS_BROKER=<host>:9092" in problems[4]
    assert "AIRFLOW__CORE__EXECUTOR=LocalExecutor" in problems[5]
    with pytest.raises(production.ProductionProfileError, match="cannot run:\n  the production profile runs Spark"):
        production.check(settings, {})


def _listening_socket():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_service_that_does_not_answer_is_named_with_its_setting_and_how_to_start_it(tmp_path):
    closed = _closed_port()
    with _listening_socket() as pg, _listening_socket() as spark, _listening_socket() as redis, \
            _listening_socket() as kafka:
        settings = _production(tmp_path, spark_remote=f"sc://127.0.0.1:{spark.getsockname()[1]}",
                               tracking_uri=f"http://127.0.0.1:{closed}",
                               online_store=f"redis://127.0.0.1:{redis.getsockname()[1]}/0",
                               events_broker=f"127.0.0.1:{kafka.getsockname()[1]}")
        environ = {**AIRFLOW, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
                   AIRFLOW["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].format(pg=pg.getsockname()[1]),
                   "MARKETOFONE_TRACKING_URI": settings.tracking_uri, "SPARK_REMOTE": settings.spark_remote,
                   "MARKETOFONE_ONLINE_STORE": settings.online_store,
                   "MARKETOFONE_EVENTS_BROKER": settings.events_broker}
        assert production.configuration_problems(settings, environ) == []
        problems = production.unreachable(settings, environ)
        assert problems == [f"the MLflow tracking server at 127.0.0.1:{closed} (MARKETOFONE_TRACKING_URI) refused the "
                            f"connection: start it with {production.BY_NAME['mlflow'].start}"]
        with pytest.raises(production.ProductionProfileError, match="MLflow tracking server at"):
            production.check(settings, environ)
        production.check(settings, environ, reach=False)  # the configuration itself is sound


def test_the_object_store_is_needed_only_for_a_lakehouse_on_it(tmp_path):
    names = {s.name for s in production.needed_services(_production(tmp_path))}
    assert names == {"postgres", "mlflow", "spark-connect", "airflow-apiserver", "redis", "kafka"}
    on_s3 = _production(tmp_path, storage="s3a://lakehouse/lakehouse")
    assert "object-store" in {s.name for s in production.needed_services(on_s3)}


@pytest.mark.parametrize("setting, value, expected", [
    ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg2://u:p@postgres/airflow", ("postgres", 5432)),
    ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://u:p@db.bank:6432/airflow", ("db.bank", 6432)),
    ("MARKETOFONE_TRACKING_URI", "http://mlflow:5000", ("mlflow", 5000)),
    ("MARKETOFONE_TRACKING_URI", "https://mlflow.bank", ("mlflow.bank", 443)),
    ("SPARK_REMOTE", "sc://spark-connect:15002/;user_id=etl", ("spark-connect", 15002)),
    ("AWS_ENDPOINT_URL", "http://object-store:9000", ("object-store", 9000)),
    ("MARKETOFONE_AIRFLOW_URL", "http://airflow-apiserver:8080", ("airflow-apiserver", 8080)),
    ("MARKETOFONE_AIRFLOW_URL", "https://airflow.bank/", ("airflow.bank", 443)),
    ("MARKETOFONE_ONLINE_STORE", "redis://redis:6379/0", ("redis", 6379)),
    ("MARKETOFONE_ONLINE_STORE", "redis://:secret@cache.bank/2", ("cache.bank", 6379)),
    ("MARKETOFONE_EVENTS_BROKER", "kafka:9092", ("kafka", 9092)),
    ("MARKETOFONE_EVENTS_BROKER", "k1.bank:9094,k2.bank:9094", ("k1.bank", 9094)),
])
def test_each_setting_names_the_host_and_port_of_its_service(setting, value, expected):
    service = next(s for s in production.SERVICES if s.setting == setting)
    assert service.endpoint({setting: value}) == expected
    assert service.endpoint({}) is None


def test_a_production_run_is_refused_before_anything_starts_when_a_service_is_unset(tmp_path, monkeypatch, capsys):
    from jobs.cli import main

    for name in ("SPARK_REMOTE", "MARKETOFONE_ENGINE", "MARKETOFONE_TRACKING_URI", "AIRFLOW__CORE__EXECUTOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    monkeypatch.setenv("MARKETOFONE_PROFILE", "production")
    monkeypatch.setenv("MARKETOFONE_TOKENIZATION_KEY", STRONG)
    assert main(["run", "personalization_daily", "--date", "2026-06-30"]) == 2
    err = capsys.readouterr().err
    assert "the production profile cannot run:" in err and "set SPARK_REMOTE=sc://<host>:15002" in err
    assert not (tmp_path / "logs").exists() and not (tmp_path / "airflow").exists()  # nothing ran
