"""The production profile's services as processes on this machine, without Docker.

PostgreSQL in a folder of its own (Airflow's metadata and MLflow's backend store), Redis (the decision API's online
store), a Kafka broker (the event stream; jobs/kafka_server.py), the MLflow tracking server, a Spark Connect server
with Delta, and Airflow as production runs it: the api-server, the scheduler with the
LocalExecutor (tasks in parallel processes), the dag-processor and the triggerer, each a process of its own. The
production-profile test (tests/integration/test_production_profile.py) and benchmarks/scheduler.py start it;
docker-compose.yml is the same stack in containers.

    with LocalStack(folder, home).start() as stack:
        subprocess.run(["marketofone", "run", "personalization_daily", "--date", "2026-06-30"], env=stack.env)

`stack.env` is the environment of a client of the stack (the CLI, a notebook): the production profile, and where
each service is. Every process is started in a session of its own and stopped whole (SIGTERM, then SIGKILL), so
nothing is left running after `stop()`; each one's output is in `<folder>/logs/<service>.log`.

PostgreSQL refuses to run as root: as root (CI), its folder is given to the `postgres` user that Debian's package
creates, and it is run as that user (runuser).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from jobs.airflow_command import stop_group
from jobs.orchestrate import DAG_IDS, DAGS_DIR

DB_USER = "marketofone"
AIRFLOW_USER = "marketofone"
START_TIMEOUT_S = 240.0


class StackStartError(RuntimeError):
    """A service of the stack did not come up; the message names it and ends with its log's last lines."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path:
    """The folder of PostgreSQL's server programs (initdb, postgres, pg_ctl): MARKETOFONE_PG_BIN, the newest
    Debian install (/usr/lib/postgresql/<version>/bin), or the PATH."""
    candidates = [os.environ.get("MARKETOFONE_PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    which = shutil.which("initdb")
    candidates.append(str(Path(which).parent) if which else "")
    for folder in filter(None, candidates):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "postgres").is_file():
            return Path(folder)
    raise StackStartError("PostgreSQL's server programs (initdb, postgres) are not installed: install them "
                          "(`apt-get install postgresql`; .ci/run does) or point MARKETOFONE_PG_BIN at their folder")


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 25) -> str:
        text = self.log_path.read_text(errors="replace").splitlines() if self.log_path.is_file() else []
        return "\n".join(f"    {line}" for line in text[-lines:])

    def stop(self) -> None:
        stop_group(self.process.pid, grace=15, leader=self.process)
        self.process.wait()


@dataclass
class LocalStack:
    folder: Path
    home: Path
    connect_engine: str = "sail"     # the Spark Connect server: sail (Sail's, no JVM) or jvm (Spark 4 + Delta)
    parallelism: int = 6             # task processes the LocalExecutor runs at once: the six ingests
    settings_env: dict[str, str] = field(default_factory=dict)  # MARKETOFONE_* settings every process runs with
    # The DAGs' own schedules (a daily run each midnight for yesterday): off unless asked for, so that the only runs
    # are the ones asked for; unpausing a DAG otherwise starts a run for its latest interval at once (today's date,
    # whose exports a test or a benchmark does not have).
    schedules: bool = False
    services: list[Service] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    _pg_root: Path | None = None

    # -- the environment every process of the stack and its clients share --------------------------------
    def _environment(self) -> dict[str, str]:
        ports = {name: free_port() for name in ("postgres", "mlflow", "connect", "airflow", "redis", "kafka",
                                                "kafka-controller")}
        self.ports = ports
        airflow_home = self.home / "airflow"
        venv_bin = str(Path(sys.executable).parent)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MARKETOFONE_", "AIRFLOW", "SPARK_REMOTE", "SPARK_CONNECT_MODE"))}
        env.update({
            "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")]),
            "MARKETOFONE_PROFILE": "production",
            "MARKETOFONE_HOME": str(self.home),
            "MARKETOFONE_TOKENIZATION_KEY": secrets.token_urlsafe(32),
            "MARKETOFONE_ENGINE": "remote",
            "SPARK_REMOTE": f"sc://127.0.0.1:{ports['connect']}",
            "MARKETOFONE_TRACKING_URI": f"http://127.0.0.1:{ports['mlflow']}",
            "MARKETOFONE_AIRFLOW_URL": f"http://127.0.0.1:{ports['airflow']}",
            "MARKETOFONE_AIRFLOW_USER": AIRFLOW_USER,
            "MARKETOFONE_ONLINE_STORE": f"redis://127.0.0.1:{ports['redis']}/0",
            "MARKETOFONE_EVENTS_BROKER": f"127.0.0.1:{ports['kafka']}",
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
                f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{ports['postgres']}/airflow",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(ports["airflow"]),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{ports['airflow']}/execution/",
            # Every component signs and checks the workers' tokens with the same secret.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{AIRFLOW_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
            # A new DAG file is listed at the dag-processor's start; the scheduler looks for work every second.
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(self.schedules),
            "PYTHONUNBUFFERED": "1",
        })
        # The tasks run with the scheduler's environment: the bank's settings go to every process.
        env.update(self.settings_env)
        return env

    # -- starting ---------------------------------------------------------------------------------------
    def start(self) -> "LocalStack":
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "logs").mkdir(exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = self._environment()
        try:
            self._start_postgres()
            self._start_redis()
            self._start_kafka()
            self._start_connect_server()
            self._start_mlflow()
            self._start_airflow()
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self) -> "LocalStack":
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> Service:
        log_path = self.folder / "logs" / f"{name}.log"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(command, env=env or self.env, stdout=log_file, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.folder)
        service = Service(name, process, log_path)
        self.services.append(service)
        return service

    def _wait(self, service: Service, ready, what: str, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not service.alive():
                raise StackStartError(f"{what} ({service.name}) exited with code {service.process.returncode} at "
                                      f"start; its log {service.log_path} ends:\n{service.tail()}")
            try:
                if ready():
                    return
            except StackStartError:
                raise
            except Exception:  # not answering yet: refused, reset, a database still starting up
                pass
            time.sleep(0.5)
        raise StackStartError(f"{what} ({service.name}) not ready after {timeout:.0f}s; its log {service.log_path} "
                              f"ends:\n{service.tail()}")

    def _as_postgres_user(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def _start_postgres(self) -> None:
        pg = postgres_bin()
        # Its own folder under the system's temporary folder: as root, the postgres user must reach it, and a
        # test's tmp_path is private to root.
        self._pg_root = Path(tempfile.mkdtemp(prefix="marketofone-pg-"))
        data, sockets = self._pg_root / "data", self._pg_root / "sockets"
        sockets.mkdir()
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise StackStartError("PostgreSQL refuses to run as root, and there is no `postgres` user to run it "
                                      "as (Debian's postgresql package creates one)") from None
            for path in (self._pg_root, sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        done = subprocess.run(self._as_postgres_user([str(pg / "initdb"), "-D", str(data), "-A", "trust", "-U", DB_USER,
                                                      "-E", "UTF8", "--no-sync"]),
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise StackStartError(f"initdb failed:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
        port = self.ports["postgres"]
        service = self._spawn("postgres", self._as_postgres_user([
            str(pg / "postgres"), "-D", str(data), "-p", str(port), "-k", str(sockets),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"]))

        def ready() -> bool:
            import psycopg2

            psycopg2.connect(host="127.0.0.1", port=port, user=DB_USER, dbname="postgres").close()
            return True

        self._wait(service, ready, "PostgreSQL")
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=port, user=DB_USER, dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            for database in ("airflow", "mlflow"):
                cursor.execute(f"CREATE DATABASE {database}")
        connection.close()

    def _start_redis(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise StackStartError("redis-server is not installed: install it (`apt-get install redis-server`; "
                                  ".ci/run does)")
        port = self.ports["redis"]
        data = self.folder / "redis"
        data.mkdir(exist_ok=True)
        service = self._spawn("redis", [server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data),
                                        "--save", "", "--appendonly", "yes"])

        def ready() -> bool:
            import redis

            return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2).ping()

        self._wait(service, ready, "Redis")

    def _start_kafka(self) -> None:
        from jobs.kafka_server import ready

        port = self.ports["kafka"]
        service = self._spawn("kafka", [sys.executable, "-m", "jobs.cli", "kafka-server", "--folder",
                                        str(self.folder / "kafka"), "--port", str(port), "--controller-port",
                                        str(self.ports["kafka-controller"])])
        self._wait(service, lambda: ready(f"127.0.0.1:{port}"), "the Kafka broker")

    def _start_connect_server(self) -> None:
        port = self.ports["connect"]
        service = self._spawn("spark-connect", [sys.executable, "-m", "jobs.cli", "connect-server", "--engine",
                                                self.connect_engine, "--port", str(port)])
        self._wait(service, lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() is None,
                   f"the Spark Connect server ({self.connect_engine})")

    def _start_mlflow(self) -> None:
        port = self.ports["mlflow"]
        artifacts = self.folder / "mlflow-artifacts"
        artifacts.mkdir(exist_ok=True)
        service = self._spawn("mlflow", [
            str(Path(sys.executable).with_name("mlflow")), "server",
            "--backend-store-uri", f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{self.ports['postgres']}/mlflow",
            "--artifacts-destination", artifacts.as_uri(), "--serve-artifacts",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            # No job runner: MLflow 3 starts one by default (four task-queue consumers, for its GenAI jobs), which
            # this project never submits to, and which polls for work at a quarter of a core on an idle server.
            env={**self.env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
        self._wait(service, lambda: requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok,
                   "the MLflow tracking server")

    def _start_airflow(self) -> None:
        airflow = str(Path(sys.executable).with_name("airflow"))
        airflow_home = Path(self.env["AIRFLOW_HOME"])
        airflow_home.mkdir(parents=True, exist_ok=True)
        # The CLI's password: written before the api-server starts, which keeps a password it finds for a user.
        self.password = secrets.token_urlsafe(16)
        (airflow_home / "passwords.json").write_text(f'{{"{AIRFLOW_USER}": "{self.password}"}}')
        self.env["MARKETOFONE_AIRFLOW_PASSWORD"] = self.password
        done = subprocess.run([airflow, "db", "migrate"], env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise StackStartError(f"airflow db migrate failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        api = self._spawn("airflow-apiserver", [airflow, "api-server"])
        for component in ("scheduler", "dag-processor", "triggerer"):
            self._spawn(f"airflow-{component}", [airflow, component])
        base = self.env["MARKETOFONE_AIRFLOW_URL"]
        self._wait(api, lambda: requests.get(f"{base}/api/v2/monitor/health", timeout=2).ok, "the Airflow api-server")
        from jobs.airflow_api import AirflowApi

        client = AirflowApi(base, AIRFLOW_USER, self.password)

        def dags_parsed() -> bool:
            for component in self.services:
                if not component.alive():
                    raise StackStartError(f"{component.name} exited at start; its log {component.log_path} ends:\n"
                                          f"{component.tail()}")
            return all(client.call("GET", f"/dags/{dag_id}", expect=(200, 404)).status_code == 200
                       for dag_id in DAG_IDS)

        self._wait(api, dags_parsed, "the dag-processor's first parse of the DAGs")

    # -- stopping ---------------------------------------------------------------------------------------
    def turn_schedules_on(self) -> None:
        """Start the scheduler again with its own run creation on (`schedules`): the DAGs' schedules, and the runs
        of event-driven DAGs when their assets get events (asset-triggered runs are the scheduler's to create, like
        any run it was not asked for). Pause the DAGs that should not run on their own first."""
        old = next(s for s in self.services if s.name == "airflow-scheduler")
        old.stop()
        self.services.remove(old)
        self.schedules = True
        self.env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "True"
        self._spawn("airflow-scheduler", [str(Path(sys.executable).with_name("airflow")), "scheduler"])

    def stop(self) -> None:
        """Stop every process (Airflow first, PostgreSQL last) and remove PostgreSQL's folder."""
        for service in reversed(self.services):
            if service.name == "postgres" and service.alive():
                # A fast shutdown (clients disconnected, then exit) rather than a signal to runuser.
                subprocess.run(self._as_postgres_user([str(postgres_bin() / "pg_ctl"), "stop", "-D",
                                                       str(self._pg_root / "data"), "-m", "fast", "-w", "-t", "30"]),
                               capture_output=True, check=False)
            if service.alive():
                service.stop()
        self.services.clear()
        if self._pg_root is not None:
            shutil.rmtree(self._pg_root, ignore_errors=True)
            self._pg_root = None

    def processes(self) -> list[int]:
        """The process ids of every service still running (a test checks none is left)."""
        return [s.process.pid for s in self.services if s.alive()]
