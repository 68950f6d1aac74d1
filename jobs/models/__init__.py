"""Product propensity models: train (XGBoost, tracked in MLflow), promote by registry alias, score with reasons.

`train.train_propensity` logs a run and registers a version; `registry.promote` moves the `challenger` /
`champion` aliases; `score.score` loads `propensity_<product>@champion` and explains each row from
XGBoost's own feature contributions, in the plain words kept in `reasons`.
"""
