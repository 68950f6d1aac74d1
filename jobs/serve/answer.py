"""One customer's next best offers on one channel, decided now from the online store.

The batch decided every customer on the store's date. An answer re-decides the customer from the candidates the
batch left open with what changed since:

- contacts: the offers the API itself gave since (decision ids starting `DA`) count against the channel cap and
  the fatigue cap, on top of the contacts the batch counted;
- context (POST /decisions): the page the customer is viewing names a product (CONTEXT_PAGES), and so does a
  trigger's id given as the event (schemas/decisioning/triggers.json); that product's offer on the asking channel
  (the customer is there now) weighs CONTEXT_BOOST times its expected value in this answer, and the product's
  other channels are left out (every rule still applies: an excluded offer stays excluded);
- the stream (live.py, written by the triggers consumer): a marketing consent withdrawn on a channel since the
  store's date excludes that channel's offers (the policy's consent rule), and a help trigger's hold excludes
  credit offers (the trigger's id), until the next publish decides with the whole ledger.

Then the batch's own arbitration picks and ranks (arbitrate.py). An offer the batch also offered on that channel
is the batch's decision, id and reason: without context and without API offers since, the answer is the batch's
decision for the channel, id for id. Any other offer is a new decision, `DA` + a hash of the day, customer,
offer, channel and context, and counts as a contact. The same request again the same day (customer, channel and
context) gets the same answer, until a new API decision for the customer changes the contact room.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field

from jobs.domain import CHANNELS, CREDIT_PRODUCTS
from jobs.serve.arbitrate import arbitrate
from jobs.serve.backend import Store
from jobs.serve.decision_wal import API_PREFIX, DecisionWal, read_records
from jobs.serve.live import LiveState
from jobs.stream.rules import trigger_products

CONTEXT_BOOST = 3.0
# A page of the app or the web site -> the product it is about (the intent pages of gold.customer_360).
CONTEXT_PAGES = {"savings_rates": "savings", "term_deposits": "term_deposit", "credit_cards": "credit_card",
                 "personal_loans": "personal_loan", "auto_loans": "auto_loan", "mortgage_calculator": "mortgage",
                 "home_buying_guide": "mortgage"}


class UnknownCustomerError(LookupError):
    pass


@dataclass
class Context:
    page: str | None = None
    location: str | None = None
    event: str | None = None
    raises: str | None = None   # the product a fired trigger raises (jobs/stream/triggers.py)

    def key(self) -> str:
        parts = (self.page, self.location, self.event) + ((self.raises,) if self.raises else ())
        return "|".join(v or "" for v in parts)

    def as_record(self) -> dict:
        """As the decision log's record keeps it (`raises` only where a trigger set it)."""
        return {k: v for k, v in self.__dict__.items() if k != "raises" or v}

    def product(self) -> str | None:
        if self.raises:
            return self.raises
        if self.page in CONTEXT_PAGES:
            return CONTEXT_PAGES[self.page]
        return trigger_products().get(self.event) if self.event else None


@dataclass
class _Live:
    """What the API did today for one customer: its own offers (decision id -> channel), and the offers of each
    answer that gave any, by channel and context (the same request again gets the same answer)."""
    offers: dict[str, str] = field(default_factory=dict)
    answers: dict[tuple[str, str], list[dict]] = field(default_factory=dict)


def api_decision_id(day: dt.date, customer_id: str, offer_id: str, channel: str, context: Context) -> str:
    key = "|".join((day.isoformat(), customer_id, offer_id, channel, context.key()))
    return API_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:18].upper()


def price_text(price: float | None, kind: str | None, unit: str | None) -> str | None:
    """As the channel tables show it (jobs/decide/channels.py): 4.10% APY, 11.99% APR, $5,000."""
    if price is None:
        return None
    if kind == "credit_limit":
        return f"${price:,.0f}"
    return f"{price:.2f}{unit or ''}"


class Decider:
    """Answers from `store`, logging every answer to `wal` before it is returned. Thread-safe."""

    def __init__(self, store: Store, wal: DecisionWal, today=lambda: dt.datetime.now(dt.timezone.utc).date(),
                 live: LiveState | None = None):
        self.store, self.wal, self.today, self.live = store, wal, today, live
        self._live: dict[tuple[str, str], _Live] = {}   # (day, customer id) -> what the API did
        self._day: dt.date | None = None
        self._lock = threading.Lock()

    def _replay(self, day: dt.date) -> None:
        """The day's answers so far, from its write-ahead file (a restarted server counts its offers again)."""
        path = self.wal.folder / f"{day.isoformat()}.jsonl"
        if path.exists():
            for record in read_records(path)[0]:
                self._remember(record)

    def _remember(self, record: dict) -> None:
        live = self._live.setdefault((record["as_of_date"], record["customer_id"]), _Live())
        new = {o["decision_id"] for o in record["offers"] if o["decision_id"].startswith(API_PREFIX)} - set(live.offers)
        if new:     # a new offer changed the contact room: earlier answers no longer hold
            live.answers.clear()
        for decision in new:
            live.offers[decision] = record["channel"]
        if record["offers"]:
            stream = tuple(tuple(x) for x in record.get("stream", ((), ())))
            live.answers[(record["channel"], Context(**record["context"]).key(), stream)] = record["offers"]

    def _stream_state(self, customer_id: str, meta: dict, day: dt.date) -> tuple[tuple, tuple]:
        """(channels whose marketing consent the stream withdrew since the store's date, triggers holding the
        customer's credit offers): part of what an answer depends on."""
        if self.live is None:
            return (), ()
        end_of_store_day = meta["as_of_date"] + " 23:59:59"
        return (tuple(sorted(self.live.withdrawn(customer_id, end_of_store_day))),
                tuple(self.live.holds(customer_id, day)))

    def answer(self, customer_id: str, channel: str, context: Context | None = None) -> dict:
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}")
        context = context or Context()
        self.store.refresh()
        meta = self.store.meta
        found = self.store.customer(customer_id)
        if found is None:
            raise UnknownCustomerError(f"customer {customer_id!r} is not in the online store of {meta['as_of_date']}")
        holdout, candidates = found
        day = self.today()
        with self._lock:
            if self._day != day:     # the first answer of a day: yesterday's no longer count here (the log has them)
                self._live = {k: v for k, v in self._live.items() if k[0] == day.isoformat()}
                self._day = day
                self._replay(day)
            live = self._live.get((day.isoformat(), customer_id), _Live())
            stream = self._stream_state(customer_id, meta, day)
            offers = live.answers.get((channel, context.key(), stream))
            if offers is None:
                offers = [] if holdout else self._decide(candidates, meta, live, customer_id, channel, context, day,
                                                         stream)
            record = {"request_id": uuid.uuid4().hex, "as_of_date": day.isoformat(), "customer_id": customer_id,
                      "channel": channel, "context": context.as_record(), "stream": list(map(list, stream)),
                      "store_date": meta["as_of_date"],
                      "catalog_version": meta["catalog_version"], "policy_version": meta["policy_version"],
                      "holdout": holdout, "offers": offers,
                      "decided_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")}
            self.wal.append(record)       # written before the answer leaves: nothing answered is lost
            self._remember(record)
        return record

    def _decide(self, candidates: list[dict], meta: dict, live: _Live, customer_id: str, channel: str,
                context: Context, day: dt.date, stream: tuple[tuple, tuple] = ((), ())) -> list[dict]:
        boosted = context.product()
        given_on = Counter(live.offers.values())   # the API's offers of today, per channel
        rows = []
        for c in candidates:
            if boosted and c["product"] == boosted and c["channel"] != channel:
                continue
            c = dict(c)
            c["outcome_batch"] = c.pop("outcome")   # the batch's; arbitrate() sets this answer's outcome and rank
            c["channel_contacts"] += given_on[c["channel"]]
            c["contacts"] += len(live.offers)
            by_stream, by_contacts = self._stream_exclusions(c, meta, stream), self._contact_exclusions(c, meta)
            c["excluded_by"] = ",".join(by_stream + by_contacts)
            c["excluded_at"] = "stream" if by_stream else "contact" if by_contacts else None
            c["holdout"] = False
            if boosted and c["product"] == boosted:
                c["expected_value"] = round(c["expected_value"] * CONTEXT_BOOST, 6)
            rows.append(c)
        decided = arbitrate(rows, meta["offers_per_channel"], meta["channel_cap"], meta["fatigue_cap"])
        chosen = sorted((r for r in decided if r["outcome"] == "offered" and r["channel"] == channel),
                        key=lambda r: r["rank"])
        return [self._shown(r, meta, customer_id, context, day, boosted) for r in chosen]

    @staticmethod
    def _stream_exclusions(c: dict, meta: dict, stream: tuple[tuple, tuple]) -> list[str]:
        withdrawn, holds = stream
        out = [meta.get("consent_rule", "CONSENT-MARKETING")] if c["channel"] in withdrawn else []
        return out + (list(holds) if c["product"] in CREDIT_PRODUCTS else [])

    @staticmethod
    def _contact_exclusions(c: dict, meta: dict) -> list[str]:
        rules, out = meta["contact_rules"], []
        if meta["channel_cap"] is not None and c["channel_contacts"] >= meta["channel_cap"]:
            out.append(rules["channel_cap"])
        if meta["fatigue_cap"] is not None and c["contacts"] >= meta["fatigue_cap"]:
            out.append(rules["fatigue_cap"])
        return out

    def _shown(self, r: dict, meta: dict, customer_id: str, context: Context, day: dt.date,
               boosted: str | None) -> dict:
        offer = meta["offers"][r["offer_id"]]
        store_day = dt.date.fromisoformat(meta["as_of_date"])
        batch = r["outcome_batch"] == "offered"
        if batch:
            decision_id, first = r["decision_id"], store_day + dt.timedelta(days=1)
            last = store_day + dt.timedelta(days=offer["validity_days"])
        else:
            decision_id, first = api_decision_id(day, customer_id, r["offer_id"], r["channel"], context), day
            last = day + dt.timedelta(days=offer["validity_days"] - 1)
        text = price_text(r["price"], offer["price_kind"], offer["price_unit"])
        reason = r["reason"]
        if boosted and r["product"] == boosted and not batch:
            now = f"viewing {context.page} now" if context.page in CONTEXT_PAGES else f"{context.event} just now"
            reason = f"{reason}; {now}" if reason else now
        return {"decision_id": decision_id, "rank": r["rank"], "offer_id": r["offer_id"], "product": r["product"],
                "headline": offer["headline"],
                "body": offer["body"].replace("{price}", text) if text is not None else offer["body"],
                "disclosure": offer["disclosure"], "image": offer["image"], "price": r["price"],
                "price_unit": offer["price_unit"], "score": r["probability"], "probability": r["probability"],
                "expected_value": r["expected_value"], "value": r["value"], "lever": r["lever"], "risk": r["risk"],
                "reason": reason, "reason_codes": r["reason_codes"], "model": r["model"],
                "model_version": r["model_version"], "note": r["note"],
                "valid_from": first.isoformat(), "valid_to": last.isoformat()}
