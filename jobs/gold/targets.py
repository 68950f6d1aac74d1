"""What the models predict, and for whom: one place for the targets of the propensity and life-event
models, their labels and the population each model is for.

`eligible` is a Spark SQL condition over gold.customer_360 columns (the same features the model
sees), used to build training rows and to choose whom to score: a product model is for customers who
do not hold the product; a life-event model for the customers the event can still happen to.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.domain import PRODUCTS

KINDS = ("product", "life_event")


@dataclass(frozen=True)
class Target:
    name: str
    kind: str         # "product" | "life_event"
    eligible: str     # Spark SQL over gold.customer_360
    question: str     # what the model answers, for the README, MLflow and reasons

    @property
    def label(self) -> str:
        return f"label_{self.name}"

    @property
    def model_name(self) -> str:
        return f"{'propensity' if self.kind == 'product' else 'life_event'}_{self.name}"

    @property
    def experiment(self) -> str:
        return "marketofone-propensity" if self.kind == "product" else "marketofone-life-events"


TARGETS: dict[str, Target] = {t.name: t for t in (
    *[Target(p, "product", f"has_{p} = 0", f"will the customer open a {p.replace('_', ' ')} in the next 30 days?")
      for p in PRODUCTS],
    Target("home_purchase", "life_event", "age BETWEEN 20 AND 70",
           "will the customer buy a home in the next 30 days?"),
    Target("marriage", "life_event", "had_marriage = 0 AND age BETWEEN 18 AND 60",
           "will the customer marry in the next 30 days?"),
    Target("new_child", "life_event", "age BETWEEN 18 AND 49",
           "will the customer have a child in the next 30 days?"),
    Target("job_change", "life_event", "had_retirement = 0 AND pension_30d = 0 AND age BETWEEN 18 AND 63",
           "will the customer change jobs in the next 30 days?"),
    Target("retirement", "life_event", "had_retirement = 0 AND pension_30d = 0 AND age BETWEEN 55 AND 75",
           "will the customer retire in the next 30 days?"),
)}


def target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise KeyError(f"unknown target {name!r}; targets: {', '.join(TARGETS)}") from None


def by_model_name(model_name: str) -> Target:
    for t in TARGETS.values():
        if t.model_name == model_name:
            return t
    raise KeyError(f"no target has the model {model_name!r}")
