"""A session on a Spark Connect server started for the test, in a fresh process of its own; the JVM engine's Python
workers in a process without the virtual environment on its PATH."""

import os
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT


def test_functions_build_connect_expressions_on_a_remote_session():
    """In a fresh process (no Spark Connect mode set yet), a session on a Connect server must make pyspark's
    functions build Connect expressions: monotonically_increasing_id failed with an AssertionError on a JVM
    Connect server before."""
    import subprocess

    script = (
        "import os\n"
        "from pysail.spark import SparkConnectServer\n"
        "from pyspark.sql import functions as F\n"
        "from jobs.engine import remote_session\n"
        "assert 'SPARK_CONNECT_MODE_ENABLED' not in os.environ\n"
        "server = SparkConnectServer(ip='127.0.0.1', port=0); server.start(background=True)\n"
        "host, port = server.listening_address\n"
        "spark = remote_session(f'sc://{host}:{port}')\n"
        "print(spark.range(3).withColumn('i', F.monotonically_increasing_id()).count())\n"
        "spark.stop(); server.stop()\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "3"


@pytest.mark.jvm
def test_python_workers_of_the_jvm_engine_run_the_projects_interpreter(tmp_path):
    """Started from a process in Spark Connect mode, the JVM engine still starts a classic session. The
    scoring's mapInPandas runs in Spark's Python workers. Outside an activated virtual environment (no
    .venv/bin on the PATH, as under `make test` or Airflow) they ran `python3`, which lacks numpy: scoring
    failed on the JVM engines with ModuleNotFoundError."""
    import shutil
    import subprocess

    if shutil.which("java") is None:
        pytest.skip("no Java runtime")
    script = (
        "import os, sys\n"
        "from jobs.engine import spark_session\n"
        "from jobs.settings import Settings\n"
        f"spark = spark_session(Settings(home=__import__('pathlib').Path({str(tmp_path)!r}), engine='jvm'))\n"
        "def worker(frames):\n"
        "    import numpy, sys\n"
        "    for pdf in frames:\n"
        "        yield pdf.assign(exe=sys.executable, total=numpy.int64(pdf['id'].sum()))\n"
        "row = spark.range(3).mapInPandas(worker, 'id long, exe string, total long').first()\n"
        "print(row.exe == sys.executable)\n"
    )
    bare = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if not p.startswith(str(Path(sys.executable).parent)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYSPARK_PYTHON", "SPARK_REMOTE", "VIRTUAL_ENV")}
    # What a parent that opened a Spark Connect session hands down (pyspark sets it on the process): the JVM
    # engine refused to start with CONNECT_URL_NOT_SET under it (the parity run under `make test` failed so).
    env.update(PATH=bare, MARKETOFONE_ENGINE="jvm", SPARK_CONNECT_MODE_ENABLED="1")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "True"


def _sail_idle_run(timeout: str | None) -> str:
    import subprocess

    script = (
        "import os, time\n"
        "from jobs.engine import spark_session, SAIL_SESSION_TIMEOUT_VAR\n"
        "from jobs.settings import Settings\n"
        f"spark = spark_session(Settings(home=__import__('pathlib').Path({str(ROOT / '.marketofone')!r})))\n"
        "spark.range(1).count()\n"
        "time.sleep(4)\n"
        "try:\n"
        "    print('alive', spark.range(2).count(), os.environ[SAIL_SESSION_TIMEOUT_VAR])\n"
        "except Exception as exc:\n"
        "    print('dropped', str(exc).splitlines()[0][:200])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "MARKETOFONE_ENGINE",
                                                              "SAIL_SPARK__SESSION_TIMEOUT_SECS",
                                                              "SPARK_CONNECT_MODE_ENABLED")}
    if timeout is not None:
        env["SAIL_SPARK__SESSION_TIMEOUT_SECS"] = timeout
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_embedded_sail_session_outlives_sails_idle_timeout():
    """Sail drops a session idle for its spark.session_timeout_secs (15 minutes by default); the test process
    once sat idle longer than that during a DAG run in another process, and every later query failed with
    "session ... is not running". The embedded engine sets the timeout to 30 days unless the user set one."""
    assert _sail_idle_run("2").startswith("dropped")          # the variable is the one Sail reads
    assert _sail_idle_run(None) == f"alive 2 {30 * 24 * 3600}"


@pytest.mark.jvm
def test_identity_rules_are_named_the_same_on_the_jvm_engine(tmp_path):
    """A record linked to no other is `single_record`. JVM Spark 4.2 folds element_at(<literal array>, NULL) to the
    array's last element, so the rule's name, once looked up that way, came out `fuzzy_name_dob` for every such
    record on the JVM engines (found by the three-engine parity run)."""
    import shutil
    import subprocess

    if shutil.which("java") is None:
        pytest.skip("no Java runtime")
    script = (
        "import datetime as dt\n"
        "from pathlib import Path\n"
        "from jobs.engine import spark_session\n"
        "from jobs.settings import Settings\n"
        "from jobs.unify.identity import resolve\n"
        f"spark = spark_session(Settings(home=Path({str(tmp_path)!r}), engine='jvm'))\n"
        "b = dt.date(1980, 1, 2)\n"
        "rows = [('deposits', 'D1', 'Ann', 'Lee', 'ann lee', b, 'F', '11111', 'ann@x.com', None, '111223333'),\n"
        "        ('cards', 'C-1', 'Ann', 'Lee', 'ann lee', b, None, '11111', None, None, '111223333'),\n"
        "        ('cards', 'C-3', 'Cy', 'Day', 'cy day', b, None, '33333', 'cy@x.com', None, '999887777')]\n"
        "schema = ('silo string, silo_customer_id string, first_name string, last_name string, name_key string, '\n"
        "          'birth_date date, gender string, postcode string, email_norm string, phone_norm string, '\n"
        "          'national_id_norm string')\n"
        f"scratch_dir = {str(tmp_path / 'scratch')!r}\n"
        "def scratch(df, name):\n"
        "    df.write.mode('overwrite').parquet(f'{scratch_dir}/{name}')\n"
        "    return spark.read.schema(df.schema).parquet(f'{scratch_dir}/{name}')\n"
        "resolved = resolve(spark.createDataFrame(rows, schema), scratch)\n"
        "rules = {r.silo_customer_id: r.match_rule for r in resolved.collect()}\n"
        "print(rules['C-1'], rules['C-3'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    env["MARKETOFONE_ENGINE"] = "jvm"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["national_id", "single_record"]


@pytest.mark.jvm
def test_the_connect_server_command_serves_delta_until_it_is_stopped(tmp_path):
    """`marketofone connect-server` (the spark-connect service of docker-compose.yml): a client creates and reads
    a Delta table through it; SIGTERM (docker stop) ends the server's JVM too, nothing is left listening."""
    import shutil
    import signal
    import socket
    import subprocess

    from jobs.connect_server import free_port

    if shutil.which("java") is None:
        pytest.skip("no Java runtime")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    env.update(MARKETOFONE_HOME=str(tmp_path / "home"))
    server = subprocess.Popen([sys.executable, "-m", "jobs.cli", "connect-server", "--port", str(port)], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in server.stdout:  # the command prints `listening: ...` once the server accepts connections
            lines.append(line)
            if line.startswith("listening:"):
                break
        assert lines and lines[-1].strip() == f"listening: SPARK_REMOTE=sc://localhost:{port}", "".join(lines)
        client = (
            "from jobs.engine import remote_session\n"
            f"spark = remote_session('sc://127.0.0.1:{port}')\n"
            f"path = {str(tmp_path / 'table')!r}\n"
            "spark.range(5).write.format('delta').save(path)\n"
            "print(spark.read.format('delta').load(path).selectExpr('sum(id)').first()[0])\n"
        )
        done = subprocess.run([sys.executable, "-c", client], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split()[-1] == "10"
        assert (tmp_path / "table" / "_delta_log").is_dir()
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        if server.poll() is None:
            server.kill()
