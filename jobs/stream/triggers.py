"""The moment of need: each event, as it comes, against the trigger rules, and the customer decided at once.

The `triggers` consumer of the event stream (its own checkpoint, beside the lakehouse's) reads each file as soon
as it lands, event by event in the stream's order, in plain Python against the online store (no engine on the
way: seconds matter here, not throughput):

1. the event's silo id (an account, a silo customer) gives the customer, through the store's keys;
2. a marketing consent event goes to the live state (jobs/serve/live.py): a withdrawal takes effect in the next
   API answer;
3. every trigger of the event's source whose conditions hold (jobs/stream/rules.py), and that did not fire for the
   customer within its cooldown, fires: an `offer` trigger runs the customer's full decision through the decision
   API's Decider (catalog, policy, consent, contact limits, pricing, holdout, every answer written to the decision
   write-ahead file and from there to audit.decision_log) on the trigger's channel with its product raised; a
   `help` trigger publishes its help contact and holds the customer's credit offers for its cooldown;
4. the result is committed to the triggered-offers queue in live.sqlite (GET /triggered-offers), once per
   (trigger, event): an event read again, after a crash or a replay, fires nothing twice.

The file is committed to the checkpoint after its last event (on a Kafka broker, the records' offsets after
each batch of them, in the `marketofone-triggers` group: jobs/stream/broker.py); a crash in between reads it
again, and (4) makes that harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from jobs.domain import CHANNELS
from jobs.serve.answer import Context, Decider
from jobs.serve.live import ALL_CHANNELS, LiveState
from jobs.stream import checkpoint
from jobs.stream.events import iter_events, parse_event
from jobs.stream.rules import Trigger, Triggers, load

log = logging.getLogger(__name__)

CONSUMER = "triggers"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
# Which field of each source names the customer, and what kind of id it is (the store's keys).
_OWNER = {"deposits/transactions": ("account:deposits", "account_id"),
          "cards/transactions": ("account:cards", "card_account_id"),
          "lending/repayments": ("account:lending", "loan_no")}


class TriggerEngine:
    def __init__(self, home: Path, decider: Decider, live: LiveState, triggers: Triggers | None = None):
        self.home, self.decider, self.live = home, decider, live
        self.triggers = triggers or load()
        self.counts: Counter = Counter()
        self.day: dt.date | None = None   # the day of the event being handled (a standalone Decider decides on it)

    def customer_of(self, source: str, data: dict) -> str | None:
        if source in _OWNER:
            kind, field = _OWNER[source]
            return self.decider.store.resolve(kind, data.get(field))
        if source == "channels/responses":
            return data.get("customer_id")
        return self.decider.store.resolve(f"customer:{data.get('customer_silo')}", data.get("customer_ref"))

    def handle(self, event: dict, day: dt.date) -> list[int]:
        """One event; the queue's seqs it published."""
        self.counts["events"] += 1
        self.day = day
        self.decider.store.refresh()   # a new publish: its keys and features from this event on
        source, data = event["source"], event["data"]
        customer = self.customer_of(source, data)
        if customer is None:   # an id the store does not know yet (opened since the last publish) or a defect
            self.counts["unknown_customer"] += 1
            return []
        if source == "crm/consents":
            self._consent(customer, data, event["event_id"])
        features = self.decider.store.features(customer)
        published = []
        for trigger in self.triggers.by_source(source):
            if not trigger.matches(source, data, features, day):
                continue
            since = day - dt.timedelta(days=max(trigger.cooldown_days - 1, 0))
            if trigger.cooldown_days and self.live.fired_since(customer, trigger.trigger_id, since):
                self.counts["cooling_down"] += 1
                continue
            seq = self._fire(trigger, event, customer, day)
            if seq is not None:
                published.append(seq)
        return published

    def _consent(self, customer: str, data: dict, event_id: str) -> None:
        if (data.get("purpose") == "marketing" and data.get("status") in ("granted", "withdrawn")
                and data.get("channel") in (*CHANNELS, ALL_CHANNELS)
                and TIMESTAMP.fullmatch(data.get("recorded_at") or "")):
            self.live.record_consent(customer, data["channel"], data["status"], data["recorded_at"], event_id)
            self.counts[f"consent_{data['status']}"] += 1

    def _fire(self, trigger: Trigger, event: dict, customer: str, day: dt.date) -> int | None:
        record = {"trigger_id": trigger.trigger_id, "triggers_version": self.triggers.version,
                  "event_id": event["event_id"], "event_source": event["source"],
                  "occurred_at": event.get("occurred_at"), "customer_id": customer, "channel": trigger.channel,
                  "action": trigger.action, "why": trigger.description}
        hold = None
        if trigger.action == "offer":
            answer = self.decider.answer(customer, trigger.channel,
                                         Context(event=trigger.trigger_id, raises=trigger.product))
            self.decider.wal.sync()   # the decision is on disk before the trigger counts as fired
            record |= {"request_id": answer["request_id"], "offers": answer["offers"],
                       "catalog_version": answer["catalog_version"], "policy_version": answer["policy_version"],
                       "store_date": answer["store_date"], "holdout": answer["holdout"]}
            has_something = bool(answer["offers"])
        else:
            hold = day + dt.timedelta(days=max(trigger.cooldown_days - 1, 0))
            record |= {"offers": [], "help": trigger.content, "credit_offers_held_until": hold.isoformat()}
            has_something = True
        seq = self.live.fire(trigger.trigger_id, event["event_id"], customer, trigger.channel, trigger.action,
                             event.get("occurred_at") or "", day, record, has_something, hold)
        if seq is None:
            self.counts["already_fired"] += 1
        else:
            self.counts["fired"] += 1
            self.counts["published" if has_something else "no_offer"] += 1
            log.info("%s fired for %s on %s (event %s): %s", trigger.trigger_id, customer, trigger.channel,
                     event["event_id"], ", ".join(o["offer_id"] for o in record["offers"]) or trigger.action
                     if has_something else "no offer open (consent, contact limits, holdout or not a candidate)")
        return seq if has_something else None


def standalone(home: Path, store=None) -> TriggerEngine:
    """An engine with a Decider of its own that decides on each event's day (`marketofone triggers`, replays); in
    the API server (`marketofone serve --triggers`) the engine shares the server's Decider and its clock. `store`:
    the online store to decide from (jobs/serve/backend.py open_store; default the home's embedded one)."""
    from jobs.serve.decision_wal import DecisionWal
    from jobs.serve.store import OnlineStore

    live = LiveState(home)
    holder: list[TriggerEngine] = []
    decider = Decider(store or OnlineStore(home), DecisionWal(home), today=lambda: holder[0].day, live=live)
    holder.append(TriggerEngine(home, decider, live))
    return holder[0]


def run(engine: TriggerEngine, until_idle: bool = True, poll_seconds: float = 0.05,
        stop: Callable[[], bool] | None = None, broker: str = "") -> Counter:
    """Follow the stream: every file the `triggers` consumer has not committed, event by event; with a `broker`
    (Kafka's bootstrap servers), every record after the `triggers` group's committed offsets."""
    if broker:
        return _run_broker(engine, broker, until_idle, poll_seconds, stop)
    home = engine.home
    while not (stop and stop()):
        files = checkpoint.pending(home, CONSUMER, limit=10)
        if not files:
            if until_idle:
                break
            time.sleep(poll_seconds)
            continue
        for day, path in files:
            for event in iter_events(path):
                engine.handle(event, day)
            checkpoint.commit(home, CONSUMER, [(day, path)])
    return engine.counts


def _run_broker(engine: TriggerEngine, bootstrap: str, until_idle: bool, poll_seconds: float,
                stop: Callable[[], bool] | None) -> Counter:
    from jobs.stream import broker

    with broker.Consumer(bootstrap, CONSUMER) as source:
        while not (stop and stop()):
            records = source.take(100, timeout=max(poll_seconds, 0.2))
            for record in records:
                event = parse_event(record.value)
                if event is not None:
                    engine.handle(event, record.day)
            if records:
                source.commit()   # after the batch's triggers are in the queue: a crash before reads them again
            elif until_idle and source.idle():
                break
    return engine.counts
