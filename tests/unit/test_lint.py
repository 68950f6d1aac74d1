"""The code passes the project's ruff rules (pyproject.toml), Airflow 3 rules (AIR) included."""

import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run([str(ruff), "check", "jobs", "dags", "tests", "benchmarks"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-4000:]
