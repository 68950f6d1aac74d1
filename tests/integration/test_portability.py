"""Every job's pure transforms give the same rows on embedded Sail and on classic JVM Spark."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.paths import ROOT
from tests.portability_cases import run_cases

pytestmark = pytest.mark.jvm


@pytest.fixture(scope="module")
def jvm_results(tmp_path_factory):
    if shutil.which("java") is None:
        pytest.skip("no Java runtime: the classic JVM engine cannot start")
    out = tmp_path_factory.mktemp("jvm") / "results.json"
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    done = subprocess.run([sys.executable, "-m", "tests.portability_cases", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def sail_results(spark):
    return json.loads(json.dumps(run_cases(spark)))


def test_every_case_ran_on_both_engines(jvm_results, sail_results):
    assert sorted(jvm_results) == sorted(sail_results)
    assert all(sail_results[name] for name in sail_results), "a case produced no rows"


@pytest.mark.parametrize("case", [
    "ingest.check_rows", "contracts.typed", "unify.standardize", "unify.resolve",
    "unify.deposit_transactions", "unify.current_consent", "unify.offer_interactions",
    "unify.golden_customers", "unify.conform_accounts", "unify.customer_versions", "unify.keep_known_ids",
    "unify.late_arrivals.published", "unify.late_arrivals.waits",
    "gold.customer_360", "gold.training_set", "decide.arbitrate", "decide.arbitrate_exploring", "decide.learn",
    "decide.with_learned_factor", "gold.kpi_daily",
])
def test_same_output_on_sail_and_jvm_spark(case, jvm_results, sail_results):
    assert sail_results[case] == jvm_results[case]
