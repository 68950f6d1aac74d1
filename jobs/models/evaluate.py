"""How good a model is on an out-of-time test set: ranking, precision, calibration, lift.

    evaluate(y, p) -> Evaluation(auc, pr_auc, brier, lift_top_decile, base_rate, reliability, ...)

- auc: ROC AUC (how well scores rank positives above negatives; 0.5 is chance)
- pr_auc: average precision (what the top of the list is worth when positives are rare)
- brier: mean squared error of the probabilities (calibration and sharpness together; lower is better)
- lift_top_decile: the positive rate among the 10% highest scores over the overall rate
- reliability: per decile of score, the mean predicted probability next to the observed rate
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Evaluation:
    n: int
    positives: int
    base_rate: float
    auc: float
    pr_auc: float
    brier: float
    lift_top_decile: float
    reliability: list[dict] = field(default_factory=list)

    def metrics(self, prefix: str = "") -> dict[str, float]:
        """The scalar figures, for MLflow."""
        return {f"{prefix}{k}": float(v) for k, v in asdict(self).items() if k != "reliability"}


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Rows sorted by score cut into `bins` groups of equal size: mean predicted vs observed rate."""
    order = np.argsort(p, kind="stable")
    rows = []
    for i, part in enumerate(np.array_split(order, bins)):
        if len(part) == 0:
            continue
        rows.append({"bin": i + 1, "rows": int(len(part)), "mean_predicted": float(p[part].mean()),
                     "observed_rate": float(y[part].mean()), "min_score": float(p[part].min()),
                     "max_score": float(p[part].max())})
    return rows


def lift_at(y: np.ndarray, p: np.ndarray, share: float = 0.1) -> float:
    base = y.mean()
    if base == 0:
        return math.nan
    top = np.argsort(-p, kind="stable")[: max(1, int(round(share * len(p))))]
    return float(y[top].mean() / base)


def evaluate(y, p) -> Evaluation:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    if len(y) != len(p):
        raise ValueError(f"{len(y)} labels but {len(p)} scores")
    positives = int(y.sum())
    both = 0 < positives < len(y)
    return Evaluation(
        n=len(y), positives=positives, base_rate=float(y.mean()) if len(y) else math.nan,
        auc=float(roc_auc_score(y, p)) if both else math.nan,
        pr_auc=float(average_precision_score(y, p)) if both else math.nan,
        brier=float(brier_score_loss(y, p)) if len(y) else math.nan,
        lift_top_decile=lift_at(y, p) if len(y) else math.nan,
        reliability=reliability_table(y, p),
    )
