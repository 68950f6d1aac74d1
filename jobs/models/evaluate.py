"""How good a model is on an out-of-time test set: ranking, precision, calibration, lift.

    evaluate(y, p, w=None) -> Evaluation(auc, pr_auc, brier, lift_top_decile, base_rate, reliability, ...)

With sample weights `w` (rows whose negatives were sampled, each weighted 1 / its sampling rate,
jobs/models/sample.py) every figure is the population's: the weighted rows stand for all of them. AUC
is the same either way when the negatives share one rate; base rate, PR-AUC, Brier, lift and
reliability are not, so they are weighted.

- auc: ROC AUC (how well scores rank positives above negatives; 0.5 is chance)
- pr_auc: average precision (what the top of the list is worth when positives are rare)
- brier: mean squared error of the probabilities (calibration and sharpness together; lower is better)
- lift_top_decile: the positive rate among the 10% highest scores over the overall rate
- reliability: per decile of score, the mean predicted probability next to the observed rate

    single_feature_baseline(X_fit, y_fit, X_test, y_test) -> Baseline(feature, ..., auc)

the bar a model must beat to be champion (jobs/models/registry.py, Floor): the one feature that ranks the
training rows best, applied to the test rows.
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
    represented: float = math.nan    # the rows the test rows stand for (the sum of weights; n unweighted)

    def metrics(self, prefix: str = "") -> dict[str, float]:
        """The scalar figures, for MLflow."""
        return {f"{prefix}{k}": float(v) for k, v in asdict(self).items() if k != "reliability"}


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10, w: np.ndarray | None = None) -> list[dict]:
    """Rows sorted by score cut into `bins` groups of equal size (of equal weight, when weighted): mean
    predicted vs observed rate."""
    order = np.argsort(p, kind="stable")
    if w is not None:
        return _weighted_reliability(y, p, w, order, bins)
    rows = []
    for i, part in enumerate(np.array_split(order, bins)):
        if len(part) == 0:
            continue
        rows.append({"bin": i + 1, "rows": int(len(part)), "mean_predicted": float(p[part].mean()),
                     "observed_rate": float(y[part].mean()), "min_score": float(p[part].min()),
                     "max_score": float(p[part].max())})
    return rows


def _weighted_reliability(y, p, w, order, bins) -> list[dict]:
    cumulative = np.cumsum(w[order])
    # bin i holds the rows whose cumulative weight ends in (i/bins, (i+1)/bins] of the total
    which = np.minimum((bins * (cumulative - 0.5 * w[order]) / cumulative[-1]).astype(int), bins - 1)
    rows = []
    for i in range(bins):
        part = order[which == i]
        if len(part) == 0:
            continue
        weight = w[part]
        rows.append({"bin": i + 1, "rows": int(len(part)), "weight": float(weight.sum()),
                     "mean_predicted": float(np.average(p[part], weights=weight)),
                     "observed_rate": float(np.average(y[part], weights=weight)), "min_score": float(p[part].min()),
                     "max_score": float(p[part].max())})
    return rows


def lift_at(y: np.ndarray, p: np.ndarray, share: float = 0.1, w: np.ndarray | None = None) -> float:
    if w is not None:
        base = np.average(y, weights=w)
        if base == 0:
            return math.nan
        order = np.argsort(-p, kind="stable")
        cumulative = np.cumsum(w[order])
        top = order[: max(1, int(np.searchsorted(cumulative, share * cumulative[-1], side="right")))]
        return float(np.average(y[top], weights=w[top]) / base)
    base = y.mean()
    if base == 0:
        return math.nan
    top = np.argsort(-p, kind="stable")[: max(1, int(round(share * len(p))))]
    return float(y[top].mean() / base)


def evaluate(y, p, w=None) -> Evaluation:
    """The figures of scores `p` against labels `y`; with weights `w`, those of the population the rows stand for."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    if len(y) != len(p):
        raise ValueError(f"{len(y)} labels but {len(p)} scores")
    if w is not None:
        w = np.asarray(w, dtype=np.float64)
        if len(w) != len(y):
            raise ValueError(f"{len(y)} labels but {len(w)} weights")
    positives = int(y.sum())
    both = 0 < positives < len(y)
    return Evaluation(
        n=len(y), positives=positives,
        base_rate=(float(np.average(y, weights=w)) if w is not None else float(y.mean())) if len(y) else math.nan,
        auc=float(roc_auc_score(y, p, sample_weight=w)) if both else math.nan,
        pr_auc=float(average_precision_score(y, p, sample_weight=w)) if both else math.nan,
        brier=float(brier_score_loss(y, p, sample_weight=w)) if len(y) else math.nan,
        lift_top_decile=lift_at(y, p, w=w) if len(y) else math.nan,
        reliability=reliability_table(y, p, w=w),
        represented=float(w.sum()) if w is not None else float(len(y)),
    )


# A single feature ranks as well as its AUC on the training rows says; choosing it there (and never on
# the test rows, where picking the best of a hundred features would flatter the baseline by chance)
# makes it a rule a bank could write by hand: "offer to those with the most X".
BASELINE_SAMPLE = 50_000   # training rows used to choose the feature (the choice is stable well below this)


@dataclass(frozen=True)
class Baseline:
    """The best single feature of the training rows, applied to the test rows: the bar a model must beat."""
    feature: str
    higher_is_likelier: bool   # the direction the training rows showed
    fit_auc: float             # its AUC on the training rows (in its direction)
    auc: float                 # its AUC on the test rows, in the same direction

    def describe(self) -> str:
        return f"ranking by {self.feature} alone, {'highest' if self.higher_is_likelier else 'lowest'} first"


def _ranking_auc(y: np.ndarray, x: np.ndarray, w: np.ndarray | None = None) -> float:
    """The (weighted) AUC of ranking by `x`: the chance that a positive ranks above a negative, a tie counting
    half, as sklearn's roc_auc_score. Counted per distinct value (one sort), which is several times faster than
    sklearn's curve for the hundred-odd features a baseline tries."""
    weights = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
    positive = np.asarray(y) == 1
    values, index = np.unique(x, return_inverse=True)
    pos = np.bincount(index, weights=np.where(positive, weights, 0.0), minlength=len(values))
    neg = np.bincount(index, weights=np.where(positive, 0.0, weights), minlength=len(values))
    below = np.cumsum(neg) - neg   # the negatives' weight under each value
    return float(np.sum(pos * (below + 0.5 * neg)) / (pos.sum() * neg.sum()))


def single_feature_baseline(X_fit, y_fit, X_test, y_test, seed: int = 0, w_fit=None, w_test=None) -> Baseline | None:
    """The feature whose values alone rank the training rows best (AUC furthest from 0.5, either way), and
    its AUC on the test rows in the same direction; None when no feature varies or a set lacks a class.

    Missing values rank as the training median, so a feature that is often missing is neither helped nor hurt.
    With sample weights (`w_fit`, `w_test`), the AUCs are weighted.
    """
    y_fit, y_test = np.asarray(y_fit, dtype=np.int64), np.asarray(y_test, dtype=np.int64)
    if not (0 < y_fit.sum() < len(y_fit) and 0 < y_test.sum() < len(y_test)):
        return None
    if len(y_fit) > BASELINE_SAMPLE:
        rows = np.random.default_rng(seed).choice(len(y_fit), BASELINE_SAMPLE, replace=False)
        X_fit, y_fit = X_fit.iloc[rows], y_fit[rows]
        w_fit = None if w_fit is None else np.asarray(w_fit)[rows]
        if not 0 < y_fit.sum() < len(y_fit):
            return None
    best = None
    for feature in X_fit.columns:
        values = X_fit[feature].to_numpy(dtype=np.float64)
        median = np.nanmedian(values) if not np.isnan(values).all() else np.nan
        if np.isnan(median):
            continue
        values = np.where(np.isnan(values), median, values)
        if values.min() == values.max():
            continue
        auc = _ranking_auc(y_fit, values, w_fit)
        if best is None or abs(auc - 0.5) > abs(best[1] - 0.5):
            best = (feature, auc, median)
    if best is None:
        return None
    feature, fit_auc, median = best
    test = X_test[feature].to_numpy(dtype=np.float64)
    test = np.where(np.isnan(test), median, test)
    higher = fit_auc >= 0.5
    return Baseline(feature, higher, max(fit_auc, 1 - fit_auc), _ranking_auc(y_test, test if higher else -test, w_test))
