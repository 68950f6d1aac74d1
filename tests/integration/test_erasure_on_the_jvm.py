"""An erasure on classic JVM Spark + Delta, on tables with deletion vectors (Databricks' default): there a DELETE
or UPDATE marks rows deleted and leaves them in their files, and the erasure rewrites those files with Delta's
REORG TABLE ... APPLY (PURGE) before it purges (the embedded engine, which lacks REORG, writes the tables again:
tests/unit/privacy/test_erasure.py)."""

import os
import shutil
import subprocess
import sys

import pytest

from jobs import maintenance
from jobs.privacy.scan import scan_home
from jobs.settings import Settings
from jobs.tables import Lakehouse
from tests.paths import ROOT
from tests.small_jvm import small_data_env

pytestmark = pytest.mark.jvm


def test_the_person_is_in_no_file_and_the_marked_files_were_reorganized(spark, tmp_path):
    if shutil.which("java") is None:
        pytest.skip("no Java runtime: the JVM engine cannot start")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    env.update(MARKETOFONE_ENGINE="jvm", MARKETOFONE_HOME=str(home), **small_data_env())
    done = subprocess.run([sys.executable, "-m", "tests.privacy_fixtures", str(home)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    erasure_id = done.stdout.split()[-1]

    found = scan_home(home, {"CU0000000000AAAA", "C-1", "D1", "ann@example.com"})
    assert (found.rows_with_erased, found.files_with_erased) == (0, 0), sorted(found.hits)
    lh = Lakehouse(spark, Settings(home=home, customers=10))
    assert sorted(r.customer_id for r in lh.read("gold.customer_360").collect()) == ["CU0000000000BBBB"]
    assert sorted(r.customer_id for r in lh.read("audit.decision_log").collect()) == sorted(
        [erasure_id, "CU0000000000BBBB"])
    for name in ("gold.customer_360", "audit.decision_log", "bronze.cards_cardholders"):
        path = lh.path(name)
        assert "deletionVectors" in maintenance.delta_table(path).protocol().reader_features, name
        assert maintenance.files_with_deletion_vectors(path) == 0, name
    # The engine's own REORG rewrote the marked files: no table was written again whole.
    assert "no REORG on this engine" not in done.stderr
