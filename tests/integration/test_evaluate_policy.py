"""marketofone evaluate-policy on a home whose decision log is the simulated one: both policies estimated, the
promotion rule reported and the report logged to MLflow (an MLflow run: an integration test, not a unit test)."""

import json

import pytest

from jobs.decide.policy_promotion import POLICY_EXPERIMENT
from jobs.settings import Settings
from jobs.tables import Lakehouse
from tests.unit.decide.test_evaluate_policy import simulated_log


@pytest.mark.usefixtures("spark")
def test_evaluate_policy_reports_both_policies_and_logs_to_mlflow(tmp_path, monkeypatch, capsys, spark):
    import mlflow

    from jobs import cli
    from jobs.decide.catalog import load_policy

    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path / "home"))
    lh = Lakehouse(spark, Settings.from_env())
    log, responses = simulated_log(spark)
    lh.overwrite("audit.decision_log", log.where("customer_id < 'CU11'"))
    lh.overwrite("silver.offer_response", responses)
    raw = json.loads(load_policy.__globals__["DECISIONING"].joinpath("policy.json").read_text())
    raw["arbitration"]["use_value"] = True
    candidate = tmp_path / "candidate.json"
    candidate.write_text(json.dumps(raw))
    assert cli.main(["evaluate-policy", "--candidate", str(candidate)]) == 0
    out = capsys.readouterr().out
    assert "candidate acceptance_dr" in out and "current   acceptance_ips" in out and "MLflow run" in out
    runs = mlflow.search_runs(experiment_names=[POLICY_EXPERIMENT])
    assert len(runs) == 1 and "metrics.candidate_acceptance_dr_lower" in runs.columns
