"""`marketofone maintain`, run as a command on a small lakehouse: a line per table, a dry run that changes
nothing, then compaction and vacuum."""

import os
import subprocess
import sys

from jobs.publish import publish
from tests.paths import ROOT as REPO
from tests.seam_fixtures import D1, _kpis, _small_files


# -- maintenance ------------------------------------------------------------------------------------
def test_marketofone_maintain_prints_a_line_per_table(lh, spark):
    _small_files(lh, spark)
    publish(lh, "gold.kpi_daily", _kpis(spark, D1, [("retention_rate", 0.9)]), D1)
    env = {**os.environ, "MARKETOFONE_HOME": str(lh.settings.home), "RUST_LOG": "error"}
    env.pop("MARKETOFONE_STORAGE_URI", None)

    def maintain(*args):
        out = subprocess.run([sys.executable, "-m", "jobs.cli", "maintain", *args], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()

    dry = maintain("--dry-run", "--vacuum-hours", "0")
    tables = ["audit.dq_results", "gold.kpi_daily", "gold.offer_catalog", "quarantine.gold_kpi_daily"]
    assert [line.split(":")[0] for line in dry[:-1]] == tables
    assert "dry run" in dry[-1] and "(compacted)" not in "".join(dry)
    lines = maintain("--vacuum-hours", "0")
    catalog = next(line for line in lines if line.startswith("gold.offer_catalog: "))
    assert catalog.startswith("gold.offer_catalog: files 4 -> 1 (compacted); vacuum removed ")
    assert lines[-1].startswith("4 table(s)")

