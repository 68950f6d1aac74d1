"""Per-row feature contributions of an XGBoost model: exact path-dependent TreeSHAP, the values XGBoost's
`predict(pred_contribs=True)` gives, computed once per way through a tree instead of once per row.

Why: the daily score step explains every scored row (its reason codes), and XGBoost's TreeSHAP walks every
path of every tree for every row. Yet a tree's contributions to a row depend only on which way the row goes
at each of the tree's splits: at depth 4, 15 yes/no answers. On the 100,000-customer bank a model's 24,000 to
90,000 eligible rows of a day take a median 139 to 2,135 distinct patterns through a tree, depending on the
model. So per tree the rows are grouped by pattern, the contributions are worked out once per pattern, and each
row takes its pattern's. Measured on a 100-tree depth-4 model and 55,000 rows: the same values (within 4e-6,
XGBoost sums in float32) in a twentieth of the time; the daily score step of that bank went from 71 s to 29 s.

How, for one tree: path-dependent TreeSHAP's value of a feature subset S is the sum over the leaves of
    leaf value x product over the splits on the leaf's path of
        (1 if the row goes the path's way, else 0)   where the split's feature is in S,
        (the share of the training cover that went the path's way)   where it is not.
Each leaf's term is a game of the few features on its path only, so a feature's Shapley value is the sum over
the leaves of its Shapley value in each leaf's game: for a path of at most `TABLE_DEPTH` splits, a table per
leaf of the value for every "goes the path's way or not" pattern of its splits, worked out once per model.

Trees deeper than TABLE_DEPTH (the bring-your-own search may grow them), other boosters (dart) or
categorical splits: XGBoost's own TreeSHAP.
"""

from __future__ import annotations

import json
import math
import threading
import weakref
from dataclasses import dataclass

import numpy as np

TABLE_DEPTH = 6   # a leaf's table has 2^depth patterns x 2^depth subsets: 4,096 values at 6, 65,536 at 8
_SMALL_CODE = 16  # trees with at most this many splits index their patterns with a lookup array, not a sort


@dataclass(frozen=True)
class _Tree:
    """One tree, ready to explain rows: its splits, and per leaf path the positions of the splits on it, the way
    it goes at each, the features it credits and their table."""
    features: np.ndarray      # per split: the feature it tests
    thresholds: np.ndarray    # per split: float32, a row goes left when its value is below
    default_left: np.ndarray  # per split: where a missing value goes
    credited: np.ndarray      # the distinct features the tree splits on
    paths: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]  # (splits, goes_left, credited index, table)


class TreeExplainer:
    """Feature contributions of one booster's rows (`contributions`), the trees prepared once."""

    def __init__(self, booster):
        # Weakly: explainer_of keeps an explainer per booster as long as the booster lives, which a strong
        # reference from here would be forever.
        self._booster = weakref.ref(booster)
        model = json.loads(booster.save_raw("json"))["learner"]
        params, trees = model["learner_model_param"], model["gradient_booster"]
        self._features = int(params["num_feature"])
        supported = (trees.get("name") == "gbtree" and int(params.get("num_class", "0")) == 0
                     and int(params.get("num_target", "1")) == 1)
        nodes = trees["model"]["trees"] if supported else []
        supported = supported and all(not any(t["split_type"]) and _depth(t) <= TABLE_DEPTH for t in nodes)
        self._trees = [tree for tree in map(_prepare, nodes) if tree is not None] if supported else None

    @property
    def exact_tables(self) -> bool:
        """Whether the pattern tables explain this model (else XGBoost's TreeSHAP does)."""
        return self._trees is not None

    def contributions(self, X) -> np.ndarray:
        """[rows, features] contributions in log-odds (no bias column), as `pred_contribs=True` gives them."""
        values = np.asarray(X, dtype=np.float32)   # XGBoost compares float32 values with float32 thresholds
        if values.ndim != 2 or values.shape[1] != self._features:
            raise ValueError(f"expected rows of {self._features} features, got shape {values.shape}")
        if self._trees is None:
            import xgboost as xgb

            return self._booster().predict(xgb.DMatrix(values), pred_contribs=True)[:, : self._features]
        columns = np.ascontiguousarray(values.T)    # one feature's values contiguous
        result = np.zeros((self._features, len(values)))
        for tree in self._trees:
            _add_tree(tree, columns, result)
        return result.T


def _depth(tree: dict) -> int:
    left, right = tree["left_children"], tree["right_children"]
    deepest, stack = 0, [(0, 0)]
    while stack:
        node, depth = stack.pop()
        if left[node] == -1:
            deepest = max(deepest, depth)
        else:
            stack += [(left[node], depth + 1), (right[node], depth + 1)]
    return deepest


def _prepare(tree: dict) -> _Tree | None:
    """The tree's splits and its leaves' tables (None for a tree of one leaf: it credits no feature)."""
    left, right = tree["left_children"], tree["right_children"]
    cover, feature = tree["sum_hessian"], tree["split_indices"]
    splits = [n for n, child in enumerate(left) if child != -1]
    if not splits:
        return None
    position = {node: i for i, node in enumerate(splits)}
    credited = sorted({feature[n] for n in splits})
    index = {f: i for i, f in enumerate(credited)}
    paths, stack = [], [(0, ())]
    while stack:
        node, path = stack.pop()
        if left[node] == -1:
            on_path = [n for n, _, _ in path]
            players = list(dict.fromkeys(feature[n] for n in on_path))   # distinct, in path order
            table = _leaf_table(tree["split_conditions"][node], [r for _, _, r in path],
                                [players.index(feature[n]) for n in on_path], len(players))
            paths.append((np.array([position[n] for n in on_path]), np.array([g for _, g, _ in path]),
                          np.array([index[f] for f in players]), table))
            continue
        for child, goes_left in ((left[node], True), (right[node], False)):
            share = cover[child] / cover[node] if cover[node] else 0.0
            stack.append((child, (*path, (node, goes_left, share))))
    return _Tree(np.array([feature[n] for n in splits]),
                 np.array([tree["split_conditions"][n] for n in splits], dtype=np.float32),
                 np.array([bool(tree["default_left"][n]) for n in splits]), np.array(credited), paths)


def _leaf_table(value: float, shares: list[float], players: list[int], count: int) -> np.ndarray:
    """[2^len(path), count]: for each pattern of a leaf's path (bit i set: the row goes the path's way at its
    i-th split), the Shapley value of each of its `count` distinct features in the game
    v(S) = value x prod_i (bit i if players[i] in S else shares[i])."""
    length = len(shares)
    patterns = np.arange(1 << length)
    follows = ((patterns[:, None] >> np.arange(length)) & 1).astype(float)      # [pattern, split]
    subsets = np.arange(1 << count)
    in_subset = ((subsets[:, None] >> np.array(players)) & 1).astype(bool)      # [subset, split]
    game = value * np.where(in_subset[None], follows[:, None], np.array(shares)).prod(axis=2)  # [pattern, subset]
    sizes = np.array([bin(s).count("1") for s in subsets])
    table = np.zeros((len(patterns), count))
    for player in range(count):
        without = subsets[(subsets >> player) & 1 == 0]
        weight = np.array([math.factorial(k) * math.factorial(count - k - 1) for k in sizes[without]])
        table[:, player] = (game[:, without | (1 << player)] - game[:, without]) @ weight / math.factorial(count)
    return table


def _add_tree(tree: _Tree, columns: np.ndarray, result: np.ndarray) -> None:
    """Add one tree's contributions to `result` [feature, row]: rows grouped by the way they go at its splits."""
    rows = columns.shape[1]
    code = np.zeros(rows, np.int64)
    for i, (f, threshold, default_left) in enumerate(zip(tree.features, tree.thresholds, tree.default_left,
                                                         strict=True)):
        values = columns[f]
        # A missing value fails both comparisons: `not >=` sends it left, `<` right.
        goes_left = ~(values >= threshold) if default_left else values < threshold
        code |= goes_left.astype(np.int64) << i
    if len(tree.features) <= _SMALL_CODE:
        seen = np.zeros(1 << len(tree.features), bool)
        seen[code] = True
        patterns = np.flatnonzero(seen)
        slot = np.empty(len(seen), np.int64)
        slot[patterns] = np.arange(len(patterns))
        which = slot[code]
    else:
        patterns, which = np.unique(code, return_inverse=True)
    lefts = ((patterns[:, None] >> np.arange(len(tree.features))) & 1).astype(bool)   # [pattern, split]
    per_pattern = np.zeros((len(tree.credited), len(patterns)))
    for splits, goes_left, credited, table in tree.paths:
        follows = (lefts[:, splits] == goes_left).astype(np.int64) @ (1 << np.arange(len(splits)))
        per_pattern[credited] += table[follows].T
    for i, f in enumerate(tree.credited):
        result[f] += per_pattern[i][which]


_PREPARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # booster -> its explainer
_PREPARING = threading.Lock()


def explainer_of(booster) -> TreeExplainer:
    """The booster's explainer, prepared once per booster object (a champion is scored in many batches)."""
    with _PREPARING:
        explainer = _PREPARED.get(booster)
        if explainer is None:
            explainer = _PREPARED[booster] = TreeExplainer(booster)
    return explainer
