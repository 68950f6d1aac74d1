"""Policy rules applied to candidates: every rule is evaluated on every candidate, so the decision log can
name all the rules that excluded one (not just the first), and answer "why not" completely.

A condition that evaluates to NULL excludes (when in doubt, no offer): rules are written null-safe
(COALESCE) where a missing value should not exclude.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.decide.catalog import CatalogError, Policy

STAGES = ("eligibility", "consent", "suitability", "contact")


def _excluded_by(conditions: list[tuple[str, Column]]) -> Column:
    """Comma-separated ids of the rules whose condition holds (or is NULL); "" when none."""
    if not conditions:
        return F.lit("")
    return F.concat_ws(",", *[F.when(F.coalesce(cond, F.lit(True)), F.lit(rule_id)) for rule_id, cond in conditions])


def contact_conditions(policy: Policy) -> list[tuple[str, str, Column]]:
    """The contact limits as conditions on the history counted before the day's decisions."""
    out = []
    for rule in policy.rules:
        if rule.kind == "channel_cap":
            out.append((rule.rule_id, "contact", F.col("channel_contacts") >= rule.limit))
        elif rule.kind == "fatigue_cap":
            out.append((rule.rule_id, "contact", F.col("contacts") >= rule.limit))
        elif rule.kind == "cooldown":
            out.append((rule.rule_id, "contact", F.col("declined_recently")))
    return out


def check_rules(candidates: DataFrame, policy: Policy) -> None:
    """Refuse a policy whose conditions do not parse or name columns a candidate does not have."""
    for rule in policy.filters():
        try:
            _ = candidates.select(F.expr(rule.exclude_when).cast("boolean")).schema   # analysis only
        except Exception as exc:   # the engine's analysis error, reworded with the rule's id
            first_line = str(exc).strip().splitlines()[0][:300]
            raise CatalogError(f"policy {policy.version}: rule {rule.rule_id} has a condition the engine cannot "
                               f"evaluate on candidates ({rule.exclude_when!r}): {first_line}") from None


def apply_rules(candidates: DataFrame, policy: Policy) -> DataFrame:
    """Adds `excluded_by` (all rule ids, comma-separated, in policy order) and `excluded_at` (the first
    stage, in STAGES order, with a rule that excluded the candidate; null when none did)."""
    by_stage: dict[str, list[tuple[str, Column]]] = {s: [] for s in STAGES}
    for rule in policy.filters():
        by_stage[rule.rule_type].append((rule.rule_id, F.expr(rule.exclude_when).cast("boolean")))
    for rule_id, stage, cond in contact_conditions(policy):
        by_stage[stage].append((rule_id, cond))
    staged = candidates
    for stage in STAGES:
        staged = staged.withColumn(f"_x_{stage}", _excluded_by(by_stage[stage]))
    stage_parts = [F.when(F.col(f"_x_{s}") != "", F.col(f"_x_{s}")) for s in STAGES]
    first_stage = F.coalesce(*[F.when(F.col(f"_x_{s}") != "", F.lit(s)) for s in STAGES])
    return (staged.withColumn("excluded_by", F.concat_ws(",", *stage_parts))
            .withColumn("excluded_at", first_stage)
            .drop(*[f"_x_{s}" for s in STAGES]))
