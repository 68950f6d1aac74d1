"""Which step writes each table and which steps read it: the flow of the lakehouse in one place.

Together with the table's declaration (jobs/tables.py) and its suite (expectations/<table>.json), this is
what `marketofone tables --describe <table>` prints. The tests check it against the code: every table a
step's package reads by name is declared here as one of that package's reads, every table the steps write
is declared as written, and every registered table has exactly one writer.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from jobs.resources import resource_dir
from jobs.tables import REGISTRY, quarantine_of, table


@dataclass(frozen=True)
class StepIO:
    package: str                  # where the step's code is (jobs/<package>/)
    writes: tuple[str, ...]       # table names or patterns (fnmatch)
    reads: tuple[str, ...] = ()


# In the order the DAGs run them. Every step that validates a table also writes its quarantine and
# audit.dq_results (see jobs/publish.py); those writes are implied, not listed.
STEPS: dict[str, StepIO] = {
    "ingest": StepIO("ingest", ("bronze.*", "quarantine.deposits_*", "quarantine.cards_*", "quarantine.lending_*",
                                "quarantine.digital_*", "quarantine.crm_*", "quarantine.channels_*")),
    "silver": StepIO("unify", ("silver.*", "audit.identity_review"),
                     ("bronze.*", "silver.*", "audit.decision_log", "audit.identity_decision")),
    "customer_360": StepIO("gold", ("gold.customer_360",),
                           ("silver.customer_version", "silver.account", "silver.account_balance",
                            "silver.transaction", "silver.digital_session", "silver.offer_event",
                            "silver.life_event")),
    "training_set": StepIO("gold", ("gold.training_set",),
                           ("silver.customer_version", "silver.account", "silver.account_balance",
                            "silver.transaction", "silver.digital_session", "silver.offer_event",
                            "silver.life_event", "silver.offer_response")),
    "train": StepIO("models", (), ("gold.training_set",)),
    "score": StepIO("models", ("gold.propensity_scores",), ("gold.customer_360",)),
    "offers": StepIO("decide", ("gold.next_best_offer", "gold.offers_*", "gold.channel_publication",
                                "gold.offer_catalog", "gold.decision_policy", "gold.fairness_daily",
                                "gold.offer_learning", "audit.decision_log"),
                     ("gold.customer_360", "gold.propensity_scores", "silver.customer_version", "silver.account",
                      "silver.customer_crosswalk",
                      "silver.consent_event", "silver.offer_event", "silver.offer_response",
                      "audit.decision_log", "gold.channel_publication", "gold.offer_catalog",
                      "gold.decision_policy", "gold.next_best_offer", "gold.fairness_daily",
                      "gold.offer_learning")),
    "kpis": StepIO("measure", ("gold.kpi_daily", "gold.kpi_by_segment"),
                   ("gold.customer_360", "silver.account", "silver.offer_response", "audit.decision_log")),
    # It also appends the decision API's and the triggers' decisions to audit.decision_log (the offers step's).
    "drain_decisions": StepIO("serve", ("gold.triggered_offers",)),
    # Not a DAG step: `marketofone stream`. It also appends the events' rows to bronze and refreshes the day's
    # activity in silver, with the ingest and silver steps' own code (jobs/stream/to_lakehouse.py); those
    # tables stay theirs.
    "stream": StepIO("stream", ("quarantine.stream_events",), ("bronze.*", "silver.*")),
    # Not a DAG step: `marketofone identity-review --decisions FILE` keeps a reviewer's answers to the pairs the
    # silver step put up for review (jobs/unify/review.py); the next silver run reads them.
    "identity_review": StepIO("unify", ("audit.identity_decision",), ("audit.identity_review",)),
    # The daily DAG's last task: rows past the retention policy deleted (or aggregated first), files vacuumed.
    "retention": StepIO("retention", ("audit.retention_run", "silver.digital_session_monthly"),
                        ("silver.digital_session",)),
    # The erasure DAG (and `marketofone erase`, which queues): besides its own tables it deletes the people's rows
    # from every table (redacts them in audit.decision_log); those tables stay their steps'. Ingest reads the
    # tombstones (jobs/privacy/tombstones.py) to keep the people out.
    "erase": StepIO("privacy", ("audit.erasure_request", "audit.erasure_report", "audit.erasure_tombstone"),
                    ("silver.customer_crosswalk", "silver.account", "silver.customer", "gold.training_set",
                     "gold.channel_publication", "audit.decision_log", "audit.erasure_request",
                     "audit.erasure_tombstone", "bronze.*", "quarantine.*")),
    # Not a DAG step: `marketofone rotate-key` re-makes every token past bronze with a new key from bronze's values.
    "rotate_key": StepIO("key_rotation", ("audit.key_rotation",), ("bronze.*", "silver.customer",
                                                                   "silver.customer_version", "audit.identity_review")),
}
VALIDATING_WRITES = ("audit.dq_results",)  # every step that validates writes its results here


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def writers(name: str) -> list[str]:
    """The steps that write `name` (a table's quarantine is written by the step that writes the table)."""
    if name in VALIDATING_WRITES:
        return ["every validating step"]
    # A step naming the table beats a step's pattern (silver.* is the silver step's but for the table retention
    # aggregates into).
    found = [step for step, io in STEPS.items() if name in io.writes] or \
        [step for step, io in STEPS.items() if _matches(name, io.writes)]
    if not found and name.startswith("quarantine."):
        source = next((t for t in REGISTRY if quarantine_of(t) == name and t != name), None)
        if source:
            return writers(source)
    return found


def readers(name: str) -> list[str]:
    return [step for step, io in STEPS.items() if _matches(name, io.reads)]


def suite_path(name: str) -> Path | None:
    path = resource_dir("expectations") / f"{name}.json"
    return path if path.exists() else None


def describe(name: str) -> str:
    """A table in one look: its declaration, its suite, the step that writes it and the steps that read it."""
    t = table(name)
    lines = [f"{name}: {t.description}"]
    declared = (("keys", ", ".join(t.keys) or "-"), ("date column", t.date_column or "-"),
                ("write", getattr(t, "write", None)), ("clustered by", ", ".join(getattr(t, "cluster_by", ()))))
    for label, value in declared:
        if value:
            lines.append(f"  {label:<12} {value}")
    suite = suite_path(name)
    lines.append(f"  {'suite':<12} {suite if suite else '-'}")
    if not name.startswith("quarantine.") and (suite or name.startswith("bronze.")):
        lines.append(f"  {'quarantine':<12} {quarantine_of(name)}")
    lines.append(f"  {'written by':<12} {', '.join(writers(name)) or '-'}")
    lines.append(f"  {'read by':<12} {', '.join(readers(name)) or '-'}")
    return "\n".join(lines)
