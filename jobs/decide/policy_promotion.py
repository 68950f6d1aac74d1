"""Should a candidate policy replace the current one? Both evaluated off-policy on the same logged decisions
(jobs/decide/evaluate_policy.py) joined to silver.offer_response; like a champion model, the candidate is
promoted only if the lower bound of its doubly robust acceptance estimate beats the current policy's
estimate. The report goes to MLflow beside the models (experiment marketofone-policy)."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

from pyspark.sql import functions as F

from jobs.decide.catalog import Policy
from jobs.decide.evaluate_policy import evaluate, slot_candidates, with_rewards
from jobs.decide.run import LOG, standing

POLICY_EXPERIMENT = "marketofone-policy"


def logged_candidates(lh, start: dt.date | None, end: dt.date | None):
    """The standing log's slot candidates of [start, end] with their rewards."""
    rows = standing(lh.read(LOG))
    if "propensity" not in rows.columns:
        raise ValueError(f"{LOG} has no propensity column yet: run the decisions of a date first")
    if start:
        rows = rows.where(F.col("as_of_date") >= F.lit(start))
    if end:
        rows = rows.where(F.col("as_of_date") <= F.lit(end))
    responses = (lh.read("silver.offer_response") if lh.exists("silver.offer_response")
                 else lh.spark.createDataFrame([], "decision_id string, event_type string"))
    return with_rewards(slot_candidates(rows), responses)


def report(candidates, current: Policy, candidate: Policy) -> dict:
    """Both policies' estimates and the promotion decision (one small row per metric and estimator)."""
    estimates = {}
    for name, policy in (("current", current), ("candidate", candidate)):
        estimates[name] = {f"{r.metric}_{r.estimator}": {"estimate": r.estimate, "lower": r.lower,
                                                         "upper": r.upper, "n": r.n}
                           for r in evaluate(candidates, policy).collect()}
    cand, cur = estimates["candidate"].get("acceptance_dr"), estimates["current"].get("acceptance_dr")
    usable = bool(cand and cur and cand["n"] and cand["lower"] is not None and cur["estimate"] is not None)
    promote = usable and cand["lower"] > cur["estimate"]
    reason = ("no logged slot with a propensity to evaluate on" if not usable else
              f"candidate's doubly robust acceptance lower bound {cand['lower']:.4f} "
              f"{'beats' if promote else 'does not beat'} the current policy's estimate {cur['estimate']:.4f}")
    return {"current_version": current.version, "candidate_version": candidate.version, "promote": promote,
            "reason": reason, "estimates": estimates}


def log_to_mlflow(settings, result: dict, params: dict) -> str:
    """The report as an MLflow run (params, one metric per policy, metric and estimator, report.json)."""
    import mlflow

    from jobs.models.registry import configure_mlflow

    experiment_id = configure_mlflow(settings, POLICY_EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"evaluate {result['candidate_version']}") as run:
        mlflow.log_params({**params, "current_version": result["current_version"],
                           "candidate_version": result["candidate_version"]})
        mlflow.set_tag("promote", str(result["promote"]).lower())
        for name, values in result["estimates"].items():
            for key, v in values.items():
                for part in ("estimate", "lower", "upper"):
                    if v[part] is not None:
                        mlflow.log_metric(f"{name}_{key}_{part}", float(v[part]))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "report.json"
            path.write_text(json.dumps(result, indent=2, default=str))
            mlflow.log_artifact(str(path))
        return run.info.run_id
