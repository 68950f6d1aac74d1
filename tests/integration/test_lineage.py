"""`marketofone tables --describe`, run as a command: a table's declaration, writer and readers, or a refusal."""

import subprocess
import sys

from tests.paths import ROOT


def test_the_command_describes_a_table_and_refuses_an_unknown_one():
    done = subprocess.run([sys.executable, "-m", "jobs.cli", "tables", "--describe", "silver.customer"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "written by   silver" in done.stdout and "quarantine   quarantine.silver_customer" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "jobs.cli", "tables", "--describe", "gold.nothing"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "unknown table 'gold.nothing'" in bad.stderr

