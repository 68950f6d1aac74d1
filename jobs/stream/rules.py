"""The trigger rules (schemas/decisioning/triggers.json) and whether one event fires one: pure Python.

A trigger names the event source it listens to, conditions on the event's fields and on the customer's
features (what gold.customer_360 said at the last publish, kept in the online store), what it does (`offer`:
the customer's full decision with the trigger's product raised; `help`: a help contact, credit offers held),
the channel, its validity and its cooldown. Conditions compare numbers as numbers (the event's fields are text,
as exported) and text as text; a missing value never matches.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jobs.domain import CHANNELS, PRODUCTS
from jobs.generate.event_stream import EVENT_SOURCES
from jobs.resources import resource_dir

TRIGGERS_FILE = resource_dir("schemas") / "decisioning" / "triggers.json"
OPERATORS = ("eq", "in", "gt", "gte", "lt", "lte")
ACTIONS = ("offer", "help")


@dataclass(frozen=True)
class Condition:
    name: str                        # the event's field, or the customer's feature
    op: str
    value: object
    times_feature: str | None = None   # compare with value x this feature of the customer

    def holds(self, actual, features: dict) -> bool:
        if actual is None:
            return False
        target = self.value
        if self.times_feature is not None:
            base = features.get(self.times_feature)
            if base is None:
                return False
            target = float(self.value) * float(base)
        if self.op == "in":
            return str(actual) in {str(v) for v in target}
        if isinstance(target, int | float) and not isinstance(target, bool):
            try:
                actual = float(actual)
            except (TypeError, ValueError):
                return False
        else:
            actual, target = str(actual), str(target)
        return {"eq": actual == target, "gt": actual > target, "gte": actual >= target, "lt": actual < target,
                "lte": actual <= target}[self.op]


@dataclass(frozen=True)
class Trigger:
    trigger_id: str
    description: str
    source: str
    event: tuple[Condition, ...]
    customer: tuple[Condition, ...]
    action: str
    product: str | None
    channel: str
    valid_from: dt.date
    valid_to: dt.date
    cooldown_days: int
    content: dict | None = None

    def matches(self, source: str, data: dict, features: dict, day: dt.date) -> bool:
        """Whether the event (its source and fields) fires this trigger for a customer with these features."""
        return (source == self.source and self.valid_from <= day <= self.valid_to
                and all(c.holds(data.get(c.name), features) for c in self.event)
                and all(c.holds(features.get(c.name), features) for c in self.customer))

    @property
    def features(self) -> set[str]:
        return {c.name for c in self.customer} | {c.times_feature for c in self.event + self.customer
                                                  if c.times_feature}


@dataclass(frozen=True)
class Triggers:
    version: str
    triggers: tuple[Trigger, ...]

    @property
    def features(self) -> list[str]:
        """Every customer feature a trigger reads: what the online store keeps of gold.customer_360."""
        return sorted(set().union(*(t.features for t in self.triggers)))

    def by_source(self, source: str) -> list[Trigger]:
        return [t for t in self.triggers if t.source == source]


def _condition(raw: dict, where: str, key: str) -> Condition:
    ops = [op for op in OPERATORS if op in raw]
    unknown = set(raw) - {key, "times_feature", *OPERATORS}
    if key not in raw or len(ops) != 1 or unknown:
        raise ValueError(f"{where}: a condition is {{{key!r}: name, one of {', '.join(OPERATORS)}: value "
                         f"[, 'times_feature': feature]}}, got {raw}")
    value = raw[ops[0]]
    if ops[0] == "in" and not isinstance(value, list):
        raise ValueError(f"{where}: 'in' takes a list, got {value!r}")
    if "times_feature" in raw and not isinstance(value, int | float):
        raise ValueError(f"{where}: times_feature needs a number to multiply, got {value!r}")
    return Condition(raw[key], ops[0], value, raw.get("times_feature"))


def parse(raw: dict, source: str = "triggers.json") -> Triggers:
    out, seen = [], set()
    for t in raw.get("triggers", []):
        tid = t.get("trigger_id")
        where = f"{source}: trigger {tid!r}"
        if not tid or tid in seen:
            raise ValueError(f"{source}: every trigger needs a trigger_id of its own, got {tid!r}")
        seen.add(tid)
        if t.get("source") not in EVENT_SOURCES:
            raise ValueError(f"{where}: source must be one of {', '.join(EVENT_SOURCES)}, got {t.get('source')!r}")
        if t.get("action") not in ACTIONS:
            raise ValueError(f"{where}: action must be one of {', '.join(ACTIONS)}, got {t.get('action')!r}")
        if t["action"] == "offer" and t.get("product") not in PRODUCTS:
            raise ValueError(f"{where}: an offer trigger names a product of {', '.join(PRODUCTS)}, "
                             f"got {t.get('product')!r}")
        if t["action"] == "help" and not isinstance(t.get("content"), dict):
            raise ValueError(f"{where}: a help trigger needs its content (headline, body, disclosure)")
        if t.get("channel") not in CHANNELS:
            raise ValueError(f"{where}: channel must be one of {', '.join(CHANNELS)}, got {t.get('channel')!r}")
        out.append(Trigger(
            tid, t.get("description", ""), t["source"],
            tuple(_condition(c, where, "field") for c in t.get("event", [])),
            tuple(_condition(c, where, "feature") for c in t.get("customer", [])),
            t["action"], t.get("product"), t["channel"], dt.date.fromisoformat(t["valid_from"]),
            dt.date.fromisoformat(t["valid_to"]), int(t.get("cooldown_days", 0)), t.get("content")))
    return Triggers(str(raw.get("version", "")), tuple(out))


@lru_cache(maxsize=4)
def load(path: Path = TRIGGERS_FILE) -> Triggers:
    return parse(json.loads(Path(path).read_text()), str(path))


def trigger_products() -> dict[str, str]:
    """trigger_id -> the product an offer trigger raises (an API context's `event` may name a trigger)."""
    return {t.trigger_id: t.product for t in load().triggers if t.product}
