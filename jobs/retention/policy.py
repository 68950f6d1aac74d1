"""The retention policy (schemas/governance/retention.json), loaded and checked: one rule per layer, a table's own
rule over its layer's, and the folders of the home aged by the dates in their file names.

A bad file is refused at load with a message that names the problem (a table the registry does not know, an
action that is not one of ACTIONS, days that are not a whole number of days >= 0, an aggregate without a known
target), before any row is touched."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from jobs.resources import resource_dir
from jobs.tables import LAYERS, REGISTRY, table

POLICY_FILE = resource_dir("schemas") / "governance" / "retention.json"
ACTIONS = ("delete", "aggregate", "keep")
FOLDERS = ("landing", "exports")   # <home>/<folder>: files named by their logical date


class RetentionPolicyError(ValueError):
    """The retention policy file is not valid; nothing was applied."""


@dataclass(frozen=True)
class Rule:
    """What happens to one table's rows: kept `days` days by `column` (None: the table's logical-date column),
    then deleted, aggregated `into` a table first, or kept."""
    days: int
    action: str
    column: str | None = None
    into: str | None = None


@dataclass(frozen=True)
class RetentionPolicy:
    version: str
    layers: dict[str, Rule]
    tables: dict[str, Rule]
    files: dict[str, int]

    def rule(self, full_name: str) -> Rule:
        return self.tables.get(full_name) or self.layers[table(full_name).layer]

    def age_column(self, full_name: str) -> str | None:
        """The column a table's rows are aged by, or None (the table has no date: its rows are kept)."""
        return self.rule(full_name).column or table(full_name).date_column


def load(path: Path | str | None = None) -> RetentionPolicy:
    path = Path(path or POLICY_FILE)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RetentionPolicyError(f"{path}: cannot read the retention policy: {exc}") from None
    return parse(raw, str(path))


def parse(raw: dict, where: str = "retention policy") -> RetentionPolicy:
    def fail(message: str):
        raise RetentionPolicyError(f"{where}: {message}")

    unknown = set(raw) - {"version", "description", "layers", "tables", "files"}
    if unknown:
        fail(f"unknown key(s) {', '.join(sorted(unknown))}")
    layers_raw = raw.get("layers") or {}
    missing = [layer for layer in LAYERS if layer not in layers_raw]
    if missing:
        fail(f"no rule for layer(s) {', '.join(missing)}: every layer needs one")
    for layer in layers_raw:
        if layer not in LAYERS:
            fail(f"unknown layer {layer!r}; layers: {', '.join(LAYERS)}")
    layers = {layer: _rule(f"layer {layer}", spec, None, fail) for layer, spec in layers_raw.items()}
    tables = {}
    for name, spec in (raw.get("tables") or {}).items():
        if name not in REGISTRY:
            fail(f"unknown table {name!r} (not in jobs/tables.py)")
        tables[name] = _rule(name, spec, layers[table(name).layer], fail)
    files = {}
    for folder, spec in (raw.get("files") or {}).items():
        if folder not in FOLDERS:
            fail(f"unknown folder {folder!r}; folders: {', '.join(FOLDERS)}")
        files[folder] = _days(f"files.{folder}", (spec or {}).get("days"), fail)
    return RetentionPolicy(str(raw.get("version", "")), layers, tables, files)


def _days(what: str, days, fail) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        fail(f"{what}: days must be a whole number of days, 0 or more (got {days!r})")
    return days


def _rule(what: str, spec: dict, inherited: Rule | None, fail) -> Rule:
    if not isinstance(spec, dict):
        fail(f"{what}: a rule is an object with days and action (got {spec!r})")
    unknown = set(spec) - {"days", "action", "column", "into", "why"}
    if unknown:
        fail(f"{what}: unknown key(s) {', '.join(sorted(unknown))}")
    days = spec.get("days", inherited.days if inherited else None)
    action = spec.get("action", inherited.action if inherited else None)
    days = _days(what, days, fail)
    if action not in ACTIONS:
        fail(f"{what}: unknown action {action!r}; actions: {', '.join(ACTIONS)}")
    into = spec.get("into")
    if action == "aggregate" and inherited is None:
        fail(f"{what}: `aggregate` is for a table (it names what the rows become), not a whole layer")
    if action == "aggregate":
        from jobs.retention.aggregate import AGGREGATES

        if into not in REGISTRY:
            fail(f"{what}: `aggregate` needs `into`, a table of jobs/tables.py (got {into!r})")
        if AGGREGATES.get(what, (None,))[0] != into:
            known = ", ".join(f"{s} -> {t}" for s, (t, _) in AGGREGATES.items())
            fail(f"{what}: no aggregation of it into {into} is defined (jobs/retention/aggregate.py: {known})")
    elif into is not None:
        fail(f"{what}: `into` is only for action `aggregate`")
    return Rule(days, action, spec.get("column"), into)
