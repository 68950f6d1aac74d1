"""A session on a Spark Connect server started for the test, in a fresh process of its own."""

import os
import sys

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

