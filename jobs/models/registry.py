"""MLflow tracking store setup and champion / challenger promotion by registry alias.

Embedded default: a SQLite tracking + registry store and a file artifact root, both under the project
home (`Settings.mlflow_uri`, `Settings.mlflow_artifacts`). `MARKETOFONE_TRACKING_URI` points the same code
at a shared store (e.g. PostgreSQL) instead.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass

from jobs.settings import Settings

log = logging.getLogger(__name__)

PROPENSITY_EXPERIMENT = "marketofone-propensity"
CHAMPION = "champion"
CHALLENGER = "challenger"

# Loggers that print per-call INFO lines (DB migrations on first use, registration chatter).
_NOISY_LOGGERS = ("alembic", "mlflow.store.db.utils", "mlflow.tracking._model_registry.fluent",
                  "mlflow.models.model", "mlflow.tracking.fluent", "mlflow.store.model_registry")


def _quiet_mlflow() -> None:
    # No emoji run / model links on stdout; local stores have no UI to link to anyway.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_PRINT_MODEL_URLS_ON_CREATION", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


def _server_decides_artifacts(uri: str) -> bool:
    return uri.split(":", 1)[0].lower() in ("http", "https", "databricks")


def configure_mlflow(settings: Settings, experiment: str = PROPENSITY_EXPERIMENT) -> str:
    """Point MLflow (tracking and registry) at the project's store and return the experiment id.

    Creates the experiment on first use with its artifact root under the project home, so the whole
    MLflow footprint stays in one place. Safe to call repeatedly and from parallel processes.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    _quiet_mlflow()
    uri = settings.mlflow_uri
    if not settings.tracking_uri:
        settings.mlflow_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)

    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        location = None if _server_decides_artifacts(uri) else settings.mlflow_artifacts
        try:
            experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
        except MlflowException:
            # Another process created it between our lookup and create.
            found = mlflow.get_experiment_by_name(experiment)
            if found is None:
                raise
            experiment_id = found.experiment_id
    else:
        if found.lifecycle_stage == "deleted":
            raise ValueError(
                f"MLflow experiment {experiment!r} is deleted in {uri}; restore it "
                "(mlflow experiments restore) or remove it permanently before training"
            )
        experiment_id = found.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def client(settings: Settings):
    """An MlflowClient bound to the project's store (no reliance on process-global state)."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.mlflow_uri, registry_uri=settings.mlflow_uri)


def register(mlflow_client, name: str, model_info, run_id: str, tags: dict[str, str] | None = None,
             description: str = "") -> str:
    """Register a logged model as a new version of `name` (creating the registered model on first use).

    Same effect as `log_model(registered_model_name=...)`, minus the lines it prints to stderr.
    """
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client.create_registered_model(name, description=description or f"Model {name} (jobs.models)")
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    created = mlflow_client.create_model_version(name, source=model_info.model_uri, run_id=run_id,
                                                 tags=tags, model_id=model_info.model_id)
    return str(created.version)


def alias_version(mlflow_client, name: str, alias: str) -> str | None:
    """The version an alias points to, or None when the model or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return str(mlflow_client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def logged_auc(mlflow_client, name: str, version: str) -> float:
    """The validation AUC recorded when `version` was trained (its run's `auc` metric), NaN if unknown."""
    from mlflow.exceptions import MlflowException

    try:
        model_version = mlflow_client.get_model_version(name, version)
        tagged = model_version.tags.get("auc")
        if tagged is not None:
            return float(tagged)
        if model_version.run_id:
            return float(mlflow_client.get_run(model_version.run_id).data.metrics.get("auc", math.nan))
    except (MlflowException, ValueError):
        pass
    return math.nan


@dataclass(frozen=True)
class Floor:
    """What a model must clear, on its test set, to be champion at all (whatever the champion scores).

    `min_auc`: clearly better than chance (Settings.promotion_min_auc). `baseline_auc`: a simple rule's
    AUC on the same test rows (train.py: the best single feature of the training rows), which the model
    must beat; None when there is none to compare with.
    """
    min_auc: float = 0.5
    baseline_auc: float | None = None
    baseline: str = "the baseline"

    def falls_short(self, auc: float) -> str | None:
        """Why `auc` does not clear the floor, or None when it does."""
        if not auc >= self.min_auc:
            return f"AUC {auc:.3f} is below the floor {self.min_auc:g}"
        if self.baseline_auc is not None and not auc > self.baseline_auc:
            return f"AUC {auc:.3f} does not beat the baseline's {self.baseline_auc:.3f} ({self.baseline})"
        return None


@dataclass(frozen=True)
class PromotionDecision:
    model_name: str
    version: str
    auc: float
    margin: float
    previous_champion: str | None
    champion_auc: float | None
    promoted: bool
    reason: str
    min_auc: float = 0.5
    baseline_auc: float | None = None
    baseline: str = ""
    retired_champion: str | None = None   # the champion whose alias this decision removed (it fell short too)

    @property
    def champion(self) -> str | None:
        """The version that is champion after the decision (None: the target has no champion now)."""
        if self.promoted:
            return self.version
        return None if self.retired_champion else self.previous_champion

    def as_dict(self) -> dict:
        return {**asdict(self), "champion": self.champion}


def retire_champion(mlflow_client, name: str, version: str, reason: str) -> None:
    """Remove the champion alias from `version` (scoring then skips the model) and record why on the version."""
    mlflow_client.delete_registered_model_alias(name, CHAMPION)
    mlflow_client.set_model_version_tag(name, version, "retired", reason)
    log.warning("%s v%s is no longer champion: %s", name, version, reason)


def _champion_falls_short(current: str | None, version: str, champion_auc: float | None, short_of_version: str,
                          floor: Floor) -> str | None:
    """Why the current champion falls short of the floor too, or None (no champion, or no AUC to judge it by)."""
    if current is None:
        return None
    if current == version:   # the champion itself, judged again against a floor it no longer clears
        return short_of_version
    if champion_auc is None or math.isnan(champion_auc):
        return None
    return floor.falls_short(champion_auc)


def _challenge(auc: float, version: str, current: str, champion_auc: float, margin: float, where: str,
               floor: Floor) -> tuple[bool, str]:
    """(promoted, reason) of a version that clears the floor against the current champion."""
    if math.isnan(champion_auc):
        return True, f"champion v{current} has no AUC"
    short = floor.falls_short(champion_auc)
    if short:
        return True, f"champion v{current} falls short, {where}: {short}"
    gain = auc - champion_auc
    promoted = gain > 0 and gain >= margin
    verdict = "beats" if promoted else "does not beat"
    return promoted, (f"AUC {auc:.4f} {verdict} champion v{current} AUC {champion_auc:.4f} ({where}) "
                      f"by the margin {margin:g} (difference {gain:+.4f})")


def promote(mlflow_client, name: str, version: str, auc: float, margin: float = 0.0,
            champion_auc: float | None = None, floor: Floor | None = None) -> PromotionDecision:
    """Make `version` champion if it clears the floor and there is no champion or it beats the champion;
    otherwise alias it `challenger`.

    The floor (`Floor`: a minimum AUC and a baseline to beat on the same test set) comes first: a version
    that falls short is registered but never champion, and a champion that falls short on the same test
    set is retired, so the target has no champion and its product is not offered by model. Without a
    floor, a model must at least do better than chance (AUC 0.5).

    "Beats" means: its test AUC is higher than the champion's by at least `margin` (a tie never
    replaces the champion). `champion_auc` is the champion's AUC on the same test rows (what
    train_model passes); without it, the AUC logged when the champion was trained is used. A champion
    with no AUC at all is replaced.

    Aliases: `champion` is the version scoring uses; `challenger` is the newest version that did not
    become champion (none right after a promotion: the newest version is the champion, and one
    version never holds both aliases).
    """
    if margin is None or not math.isfinite(margin) or margin < 0:
        raise ValueError(f"promotion margin must be a finite number >= 0, got {margin!r}")
    if auc is None or not math.isfinite(auc):
        raise ValueError(f"cannot promote {name} v{version}: its AUC is {auc!r}")
    floor = floor or Floor()
    version = str(version)
    current = alias_version(mlflow_client, name, CHAMPION)
    where = "on the same test set"
    if current is not None and current != version and champion_auc is None:
        champion_auc, where = logged_auc(mlflow_client, name, current), "as logged when it was trained"

    retired = None
    short = floor.falls_short(auc)
    if short:
        promoted, reason = False, short
        champion_short = _champion_falls_short(current, version, champion_auc, short, floor)
        if champion_short:
            retired = current
            reason += f"; champion v{current} falls short too, {where}: {champion_short}; no champion now"
    elif current is None:
        promoted, reason = True, "no champion yet"
    elif current == version:
        promoted, reason = True, "already champion"
    else:
        promoted, reason = _challenge(auc, version, current, champion_auc, margin, where, floor)

    if promoted:
        mlflow_client.set_registered_model_alias(name, CHAMPION, version)
        if alias_version(mlflow_client, name, CHALLENGER) is not None:
            mlflow_client.delete_registered_model_alias(name, CHALLENGER)
    else:
        if retired:
            retire_champion(mlflow_client, name, retired, reason)
        mlflow_client.set_registered_model_alias(name, CHALLENGER, version)

    decision = PromotionDecision(name, version, float(auc), float(margin), current,
                                 None if champion_auc is None else float(champion_auc), promoted, reason,
                                 float(floor.min_auc), floor.baseline_auc, floor.baseline if floor.baseline_auc
                                 is not None else "", retired)
    log.info("%s v%s %s: %s", name, version, "promoted to champion" if promoted else "not champion", reason)
    return decision
