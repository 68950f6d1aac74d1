"""The production profile (MARKETOFONE_PROFILE=production): the services it runs against, the settings that point
at them, and the checks that name a missing one before a run fails deep inside a task.

The embedded profile (the default) needs no server: Sail in the process, SQLite for Airflow and MLflow, the home
folder for everything. The production profile runs against services:

    service         what                              port   the setting that points at it
    postgres        PostgreSQL (Airflow's metadata)   5432   AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
    mlflow          the MLflow tracking server        5000   MARKETOFONE_TRACKING_URI
    spark-connect   a Spark Connect server with Delta 15002  SPARK_REMOTE
    object-store    an S3-compatible object store     9000   AWS_ENDPOINT_URL (when the lakehouse is on s3)
    airflow-apiserver  Airflow's api-server (REST API)  8080  MARKETOFONE_AIRFLOW_URL (`marketofone run` asks it)
    redis           Redis (the decision API's online store)  6379  MARKETOFONE_ONLINE_STORE
    kafka           a Kafka broker (the event stream) 9092   MARKETOFONE_EVENTS_BROKER

docker-compose.yml declares the same services under the same names and ports, and points the Airflow services at
them with these settings (tests/unit/test_compose.py checks that both agree).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from jobs.settings import Settings


@dataclass(frozen=True)
class Service:
    name: str          # the docker-compose.yml service
    what: str          # what a reader calls it
    port: int          # the port it listens on (its default when the setting's URL names none)
    setting: str       # the environment variable that points the product at it
    start: str         # how to start it

    def endpoint(self, environ: dict[str, str]) -> tuple[str, int] | None:
        """(host, port) of the service as its setting names it; None when the setting is empty."""
        value = environ.get(self.setting, "").strip()
        if not value:
            return None
        if "://" not in value:   # Kafka's bootstrap servers: host:port[,host:port], the first one
            host, _, port = value.split(",")[0].strip().rpartition(":")
            return host, int(port) if port.isdigit() else self.port
        url = urlsplit(value)
        if url.scheme == "sc":  # Spark Connect URLs carry ;parameters after the port
            from jobs.engine import connect_address

            return connect_address(value)
        default = {"http": 80, "https": 443}.get(url.scheme, self.port)
        return url.hostname or "", url.port or default


SERVICES = (
    Service("postgres", "PostgreSQL", 5432, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            "docker compose up -d postgres (or any PostgreSQL 15+, with the airflow and mlflow databases)"),
    Service("mlflow", "the MLflow tracking server", 5000, "MARKETOFONE_TRACKING_URI",
            "docker compose up -d mlflow (or: mlflow server --backend-store-uri postgresql://... --port 5000)"),
    Service("spark-connect", "the Spark Connect server", 15002, "SPARK_REMOTE",
            "docker compose up -d spark-connect (or: marketofone connect-server --host 0.0.0.0 --port 15002)"),
    Service("object-store", "the S3-compatible object store", 9000, "AWS_ENDPOINT_URL",
            "docker compose up -d object-store"),
    Service("airflow-apiserver", "the Airflow api-server", 8080, "MARKETOFONE_AIRFLOW_URL",
            "docker compose up -d airflow-apiserver (or: airflow api-server --port 8080, with the scheduler, "
            "dag-processor and triggerer)"),
    Service("redis", "Redis (the online store)", 6379, "MARKETOFONE_ONLINE_STORE",
            "docker compose up -d redis (or: redis-server --port 6379)"),
    Service("kafka", "the Kafka broker", 9092, "MARKETOFONE_EVENTS_BROKER",
            "docker compose up -d kafka (or: marketofone kafka-server --folder <dir> --port 9092)"),
)
BY_NAME = {service.name: service for service in SERVICES}


def _on_object_store(settings: Settings) -> bool:
    return urlsplit(settings.storage_uri).scheme in ("s3", "s3a")


def configuration_problems(settings: Settings, environ: dict[str, str]) -> list[str]:
    """What keeps `settings` (and the Airflow settings in `environ`) from being a production configuration; empty
    in the embedded profile, which needs none of it. The tokenization key is checked by Settings itself."""
    if settings.profile != "production":
        return []
    problems = []
    if settings.engine != "remote":
        problems.append(f"the production profile runs Spark on a Spark Connect server, not on {settings.engine!r}: "
                        "set SPARK_REMOTE=sc://<host>:15002 (MARKETOFONE_ENGINE=remote)")
    if urlsplit(settings.tracking_uri).scheme not in ("http", "https"):
        problems.append("the production profile logs models to an MLflow tracking server: set "
                        f"MARKETOFONE_TRACKING_URI=http://<host>:5000 (got {settings.tracking_uri or 'nothing'!r})")
    database = environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if not database.startswith("postgresql"):
        problems.append("the production profile keeps Airflow's metadata in PostgreSQL: set "
                        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://<user>:<password>@<host>:5432/"
                        f"airflow (got {database.split(':', 1)[0] or 'nothing'!r})")
    if not settings.online_store.startswith(("redis://", "rediss://")):
        problems.append("the production profile's decision API answers from a Redis online store that every process "
                        "shares: set MARKETOFONE_ONLINE_STORE=redis://<host>:6379/0")
    if not settings.events_broker:
        problems.append("the production profile's event stream is a Kafka topic: set "
                        "MARKETOFONE_EVENTS_BROKER=<host>:9092")
    if environ.get("AIRFLOW__CORE__EXECUTOR", "") not in ("LocalExecutor", "CeleryExecutor", "KubernetesExecutor"):
        problems.append("the production profile runs tasks in parallel: set AIRFLOW__CORE__EXECUTOR=LocalExecutor")
    return problems


def needed_services(settings: Settings) -> tuple[Service, ...]:
    """The services this configuration talks to (the object store only when the lakehouse is on it)."""
    return tuple(s for s in SERVICES if s.name != "object-store" or _on_object_store(settings))


def unreachable_one(endpoint: tuple[str, int], timeout: float = 3.0) -> str | None:
    """Why the service at `endpoint` takes no connection ("refused the connection", ...), None when it answers."""
    try:
        with socket.create_connection(endpoint, timeout=timeout):
            return None
    except ConnectionRefusedError:
        return "refused the connection"
    except socket.timeout:
        return f"did not answer within {timeout:g}s"
    except OSError as exc:  # unknown host, unreachable network
        return f"cannot be reached ({exc.strerror or exc})"


def unreachable(settings: Settings, environ: dict[str, str], timeout: float = 3.0) -> list[str]:
    """One line per needed service that does not accept a connection, saying where it was looked for, which setting
    named it and how to start it; empty when every one answers."""
    problems = []
    for service in needed_services(settings):
        endpoint = service.endpoint(environ)
        if endpoint is None:
            continue  # configuration_problems says what is unset
        why = unreachable_one(endpoint, timeout)
        if why:
            problems.append(f"{service.what} at {endpoint[0]}:{endpoint[1]} ({service.setting}) {why}: "
                            f"start it with {service.start}")
    return problems


def check(settings: Settings, environ: dict[str, str], reach: bool = True) -> None:
    """Raise a ProductionProfileError listing every problem of a production configuration (none in the embedded
    profile): what is unset, then, when `reach`, what does not answer."""
    problems = configuration_problems(settings, environ)
    if not problems and reach and settings.profile == "production":
        problems = unreachable(settings, environ)
    if problems:
        raise ProductionProfileError("the production profile cannot run:\n  " + "\n  ".join(problems))


class ProductionProfileError(RuntimeError):
    pass
