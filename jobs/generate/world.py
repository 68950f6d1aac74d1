"""The generated world: one bank, simulated month by month from EPOCH, and what it looks like on a day.

    world = simulate_world(seed, customers, through)   # every month from EPOCH to the month of `through`
    snap = world.snapshot(day)                         # accounts, balances, customers on a world day

Each month, in this order, from the state the world is in when the month starts:
  1. organic openings of the *next* month are decided (openings.py), so the research that precedes
     them can show up in this month's sessions;
  2. consent changes (consent.py);
  3. the legacy campaign's offers, on the consent of their send day; acceptances open products within
     days (campaigns.py);
  4. money movements (behaviour.py), then balances are carried (top-ups where one would go negative);
  5. online sessions (digital.py).
Every month draws from its own streams, so the world up to a date is the same whichever later date an
export is written for: exports of different dates agree on every transaction, id and balance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from jobs.generate import reference as ref
from jobs.generate.behaviour import (
    _CP,
    _TYPE,
    CREDIT_TYPES,
    DS,
    LS,
    Habits,
    draw_habits,
    loan_schedule,
    settle,
    simulate_month,
)
from jobs.generate.campaigns import contacts_per_topic, month_offers
from jobs.generate.common import EPOCH, NEVER, Month, Window, date_of, day_of, months_through, stream
from jobs.generate.consent import TOPICS, ConsentLedger, apply, month_changes, onboarding
from jobs.generate.digital import RESEARCH_SHARE, interest_rates, month_sessions
from jobs.generate.events import LifeEvents, draw_life_events, event_hazards_at
from jobs.generate.holdings import CARD_PRODUCTS, DEPOSIT_SLOTS, LOAN_SLOTS, LOAN_TYPES, Holdings, build_holdings
from jobs.generate.openings import (
    CAUSES,
    PRODUCTS,
    draw_month,
    monthly_probabilities,
    mortgage_choice,
    mortgage_share,
)
from jobs.generate.people import Population, build_population

LOAN_PRODUCT = {"mortgage": "mortgage", "auto": "auto_loan", "personal": "personal_loan"}
CARD_LATE_AFTER_DAYS = 60  # a card is not late before its first statements are due


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _with_ids(rows: dict[str, np.ndarray], month: Month, sort_by: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Rows of one month in a stable order with ids yymm * 10^8 + position (the same in every export)."""
    # One mixed-radix int64 sort key (much faster than a lexsort); ties keep the generation order.
    composite = np.zeros(len(rows[sort_by[0]]), np.int64)
    for k in sort_by:
        low = rows[k].min(initial=0)
        composite = composite * (int(rows[k].max(initial=0)) - int(low) + 1) + (rows[k] - low)
    order = np.argsort(composite, kind="stable")
    out = {k: v[order] for k, v in rows.items()}
    if len(order) >= 10**8:
        raise ValueError(f"more than 10^8 rows in {month.start}: ids would overflow")
    out["id"] = month.code * 10**8 + np.arange(len(order), dtype=np.int64)
    return out


@dataclass
class Snapshot:
    """The books on one world day (accounts open that day, with their balances) and who is a customer
    of which silo since when."""
    day: int
    deposits: dict[str, np.ndarray]  # key, person, account_no, cif, product, open_date, balance (cents)
    cards: dict[str, np.ndarray]     # person, account_no, holder_no, product, open_date, limit, balance, dpd
    loans: dict[str, np.ndarray]     # person, loan_no, borrower_no, loan_type, principal, rate, start, outstanding, dpd
    members: dict[str, np.ndarray]   # silo -> bool per person: a customer of the silo that day
    since: dict[str, np.ndarray]     # silo -> datetime64 per person: customer since


@dataclass
class World:
    seed: int
    customers: int
    pop: Population
    h: Holdings
    events: LifeEvents
    habits: Habits
    months: list[Month]
    opened: dict[str, np.ndarray]          # world day each person opened each product (NEVER: not yet)
    cause: dict[str, np.ndarray]           # index into CAUSES
    loans: dict[str, np.ndarray]           # every loan slot (person * LS + slot) with its terms and start
    # What happened, month by month (one dict of parallel arrays per month, `day` in world days):
    deposit: list[dict[str, np.ndarray]]     # key, day, cents, txn_type, counterparty, mcc, id
    card: list[dict[str, np.ndarray]]        # key (person), day, cents, category, mcc, id
    repayments: list[dict[str, np.ndarray]]  # key (loan slot), day, cents, id
    sessions: list[dict[str, np.ndarray]]    # person, day, second, app, page, views, seconds, id
    consent: list[dict[str, np.ndarray]]     # the ledger; the first part holds the onboarding grants
    offers: list[dict[str, np.ndarray]]      # one row per offer (campaigns.py), `sent_day`
    probabilities: list[dict[str, np.ndarray]] = field(default_factory=list)  # month, person, p_*, h_*
    month_end_balance: list[np.ndarray] = field(default_factory=list)  # cents per deposit key after each month

    @property
    def last_day(self) -> int:
        m = self.months[-1]
        return m.offset + m.days - 1

    def rows(self, kind: str, first: int, last: int, day: str = "day") -> dict[str, np.ndarray]:
        """The rows of one kind (deposit, card, ...) whose `day` is in first..last (world days)."""
        parts = []
        for p in getattr(self, kind):
            if not len(p[day]) or p[day].min() > last or p[day].max() < first:
                continue
            inside = p[day].min() >= first and p[day].max() <= last  # a whole month: no copy needed
            parts.append(p if inside else {k: v[(p[day] >= first) & (p[day] <= last)] for k, v in p.items()})
        return _concat(parts) if parts else {k: v[:0] for k, v in getattr(self, kind)[0].items()}

    def snapshot(self, day: int) -> Snapshot:
        pop, h, n = self.pop, self.h, self.pop.n
        # Deposits: checking and the second CIF's term deposit from before EPOCH; savings and term
        # deposits once opened. Balance: EPOCH balance + every movement up to the day.
        # The month's opening balances (carried month to month) plus its movements up to the day.
        month = next(i for i, m in enumerate(self.months) if m.offset <= day < m.offset + m.days)
        balance = (self.month_end_balance[month - 1] if month else self.habits.start_balance).copy()
        part = self.deposit[month]
        upto = part["day"] <= day
        signed = np.where(np.isin(part["txn_type"][upto], [_TYPE[t] for t in CREDIT_TYPES]), 1, -1) \
            * part["cents"][upto]
        balance += np.rint(np.bincount(part["key"][upto], weights=signed, minlength=n * DS)).astype(np.int64)
        exists = np.zeros((n, DS), dtype=bool)
        open_day = np.full((n, DS), NEVER, np.int64)
        exists[:, DEPOSIT_SLOTS["checking"]] = h.in_deposits
        open_day[:, DEPOSIT_SLOTS["checking"]] = np.minimum(day_of(h.deposits_since), -1)
        exists[:, DEPOSIT_SLOTS["duplicate"]] = h.duplicate
        open_day[:, DEPOSIT_SLOTS["duplicate"]] = np.minimum(day_of(h.duplicate_since), -1)
        for product in ("savings", "term_deposit"):
            exists[:, DEPOSIT_SLOTS[product]] = self.opened[product] <= day
            open_day[:, DEPOSIT_SLOTS[product]] = self.opened[product]
        key = np.flatnonzero(exists.ravel())
        owner, slot = np.divmod(key, DS)
        names = np.array(list(DEPOSIT_SLOTS))
        deposits = {"key": key, "person": owner, "account_no": h.deposit_account.ravel()[key],
                    "cif": np.where(slot == DEPOSIT_SLOTS["duplicate"], h.duplicate_cif[owner], h.cif[owner]),
                    "product": np.where(slot == DEPOSIT_SLOTS["duplicate"], "term_deposit", names[slot]),
                    "open_date": date_of(open_day.ravel()[key]), "balance": balance[key]}

        # Cards: what is owed is the last cycle's spend still unpaid, plus a revolving part under strain.
        card_open = self.opened["credit_card"]
        holders = np.flatnonzero(card_open <= day)
        at_epoch = h.has_card[holders]
        limit = np.where(at_epoch, h.card_limit[holders], h.new_card_limit[holders])
        recent = self.rows("card", day - 29, day)
        spent = np.bincount(recent["key"], weights=recent["cents"], minlength=n)[holders]
        strain = np.clip(0.25 * (pop.stress[holders] - 0.5), 0, 0.7)
        owed = spent / 100 * self.habits.card_paid_share[holders] + limit * strain * self.habits.card_revolve[holders]
        late = self.habits.card_late[holders] & (card_open[holders] <= day - CARD_LATE_AFTER_DAYS)
        cards = {"person": holders, "account_no": h.card_account[holders, 0], "holder_no": h.holder_no[holders],
                 "product": np.array(CARD_PRODUCTS)[np.where(at_epoch, np.maximum(h.card_product[holders], 0),
                                                             h.new_card_product[holders])],
                 "open_date": date_of(card_open[holders]), "limit": limit,
                 "balance": np.round(np.minimum(owed, limit * 1.02) * 100).astype(np.int64),
                 "days_past_due": np.where(late, self.habits.card_days_late[holders], 0)}

        # Loans started by the day, with what is outstanding that day.
        _, _, outstanding, _ = loan_schedule(self.loans, Window(date_of(day).astype(dt.date), 1))
        started = np.flatnonzero(self.loans["start"] <= date_of(day))
        owner = started // LS
        loans = {"person": owner, "loan_no": h.loan_no.ravel()[started], "borrower_no": h.borrower_no[owner],
                 "loan_type": np.array(LOAN_TYPES)[started % LS], "principal": self.loans["principal"][started],
                 "rate": self.loans["rate"][started], "start": self.loans["start"][started],
                 "outstanding": outstanding[started], "days_past_due": self.loans["days_past_due"][started]}

        deposit_owner = np.zeros(n, bool)
        deposit_owner[deposits["person"]] = True
        lend = np.zeros(n, bool)
        lend[owner] = True
        first_deposit = np.minimum(self.opened["savings"], self.opened["term_deposit"])
        first_loan = np.full(n, NEVER, np.int64)
        np.minimum.at(first_loan, owner, day_of(loans["start"]))
        members = {"deposits": deposit_owner, "cards": card_open <= day, "lending": lend}
        since = {"deposits": np.where(h.in_deposits, np.minimum(h.deposits_since, EPOCH - 1), date_of(first_deposit)),
                 "cards": np.where(h.has_card, np.minimum(h.cards_since, EPOCH - 1), date_of(card_open)),
                 "lending": date_of(first_loan)}
        return Snapshot(day, deposits, cards, loans, members, since)


def _opened_at_epoch(h: Holdings) -> dict[str, np.ndarray]:
    """World day each product held at EPOCH was opened (negative), NEVER where not held."""
    before = EPOCH - 1
    dates = {"savings": h.savings_open, "term_deposit": h.term_open, "credit_card": h.cards_since,
             "personal_loan": h.loans["personal"].start, "auto_loan": h.loans["auto"].start,
             "mortgage": h.loans["mortgage"].start}
    return {p: np.where(h.held_at_epoch(p), day_of(np.minimum(dates[p], before)), NEVER) for p in PRODUCTS}


def _loan_table(h: Holdings, opened: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    n = len(h.cif)
    table = {k: np.empty(n * LS, dtype) for k, dtype in (("principal", float), ("rate", float), ("term", np.int64),
                                                         ("start", "datetime64[D]"), ("days_past_due", np.int64))}
    for kind, slot in LOAN_SLOTS.items():
        spec = h.loans[kind]
        rows = np.arange(n) * LS + slot
        table["principal"][rows], table["rate"][rows], table["term"][rows] = spec.principal, spec.rate, spec.term
        table["days_past_due"][rows] = spec.days_past_due
        table["start"][rows] = np.where(spec.held, np.minimum(spec.start, EPOCH - 1),
                                        date_of(np.minimum(opened[LOAN_PRODUCT[kind]], NEVER)))
    return table


def _set_loan_starts(loans: dict[str, np.ndarray], h: Holdings, opened: dict[str, np.ndarray]) -> None:
    for kind, slot in LOAN_SLOTS.items():
        new = ~h.loans[kind].held & (opened[LOAN_PRODUCT[kind]] < NEVER)
        loans["start"][np.flatnonzero(new) * LS + slot] = date_of(opened[LOAN_PRODUCT[kind]][new])


def simulate_world(seed: int, customers: int, through: dt.date) -> World:
    pop = build_population(seed, customers)
    h = build_holdings(seed, customers, pop)
    events = draw_life_events(seed, customers, pop, h)
    habits = draw_habits(seed, customers, pop, h)
    months = months_through(through)
    n = pop.n

    opened = _opened_at_epoch(h)
    cause = {p: np.where(opened[p] < NEVER, CAUSES.index("held"), -1).astype(np.int8) for p in PRODUCTS}
    # A home buyer who takes the mortgage here opens it on the day of the purchase.
    buys_here = mortgage_choice(seed, customers, pop, h) & (events.day["home_purchase"] < NEVER) \
        & (opened["mortgage"] >= NEVER)
    opened["mortgage"] = np.where(buys_here, events.day["home_purchase"], opened["mortgage"])
    cause["mortgage"] = np.where(buys_here, CAUSES.index("life_event"), cause["mortgage"]).astype(np.int8)
    loans = _loan_table(h, opened)

    onboard = np.where(h.in_deposits, h.deposits_since, np.where(h.in_cards, h.cards_since,
                                                                 h.loans["personal"].start))
    for kind in LOAN_TYPES:  # borrowers only: their first loan
        onboard = np.where(~h.in_deposits & ~h.in_cards & h.loans[kind].held,
                           np.minimum(onboard, h.loans[kind].start), onboard)
    consent_state, onboarding_ledger = onboarding(stream(seed, customers, "consent-onboarding"), pop, h,
                                                  day_of(np.minimum(onboard, EPOCH - 1)))
    consent_parts = [{**onboarding_ledger.columns, "id": onboarding_ledger.columns["seq"]}]
    contacts = np.zeros((n, len(TOPICS)))
    balance = habits.start_balance.copy()
    month_end_balance: list[np.ndarray] = []
    parts: dict[str, list] = {"deposit": [], "card": [], "repayments": [], "sessions": [], "offers": [],
                              "probabilities": []}

    interest: dict[int, dict[str, np.ndarray]] = {}
    here_share = mortgage_share(pop, h)
    researcher = stream(seed, customers, "researchers").random(n) < RESEARCH_SHARE

    def decide(month: Month) -> dict[str, np.ndarray]:
        probability = monthly_probabilities(pop, events, month)
        eligible = {p: opened[p] >= NEVER for p in PRODUCTS}
        organic = draw_month(month.stream(seed, customers, "openings"), probability, eligible, month)
        for p in PRODUCTS:
            new = organic[p] < NEVER
            opened[p] = np.where(new, organic[p], opened[p])
            cause[p] = np.where(new, CAUSES.index("organic"), cause[p]).astype(np.int8)
        hazards = event_hazards_at(pop, h, events, month)
        interest[month.index] = interest_rates(probability, hazards)
        # The true chance of opening each product in the month: organic, and for a mortgage also the
        # chance of buying a home and taking the mortgage here (its ex-ante share, not the draw).
        true = {p: np.where(eligible[p], probability[p], 0.0) for p in PRODUCTS}
        # (A buyer's mortgage is scheduled on the purchase day long before it: not held yet is what counts.)
        not_held = opened["mortgage"] >= month.offset
        true["mortgage"] = np.where(not_held, true["mortgage"] + hazards["home_purchase"] * here_share, 0.0)
        parts["probabilities"].append({
            "month": np.full(n, month.index, np.int64), "person": np.arange(n),
            **{f"p_{p}": v for p, v in true.items()}, **{f"h_{e}": v for e, v in hazards.items()},
        })
        return probability

    probability = decide(months[0])
    for i, month in enumerate(months):
        nxt = months[i + 1] if i + 1 < len(months) else months_through(month.start + month.days)[-1]
        probability_next = decide(nxt)

        # Consent changes, then the campaign on the consent of each send day.
        changes = month_changes(month.stream(seed, customers, "consent"), pop, consent_state, contacts, month)
        rng = month.stream(seed, customers, "campaign")
        send_day = month.offset + rng.integers(2, min(month.days, 22), n)
        c = changes.columns
        at_send = consent_state.copy()
        early = c["day"] < send_day[c["person"]]
        at_send[c["person"][early], c["topic"][early]] = c["granted"][early]
        eligible = {p: opened[p] >= NEVER for p in PRODUCTS}
        offers = month_offers(rng, pop, h.holdout, eligible, at_send, probability, month, send_day)
        consent_state = apply(consent_state, changes)
        contacts = contacts_per_topic(offers, n)
        o = offers.columns
        for k, p in enumerate(PRODUCTS):
            take = (o["product"] == k) & (o["open_day"] < NEVER)
            who = o["person"][take]
            earlier = o["open_day"][take] < opened[p][who]
            opened[p][who[earlier]] = o["open_day"][take][earlier]
            cause[p][who[earlier]] = CAUSES.index("offer")
        _set_loan_starts(loans, h, opened)

        activity = simulate_month(month.stream(seed, customers, "behaviour"), pop, h, habits, events, opened, loans,
                                  month)
        topups = settle(balance, activity.deposit, month.stream(seed, customers, "topups"))
        month_end_balance.append(balance.copy())
        deposit = _concat([activity.deposit, {
            "key": topups["key"], "day": topups["day"], "cents": topups["cents"],
            "txn_type": np.full(len(topups["key"]), _TYPE["TRANSFER_IN"], np.int8),
            "counterparty": np.full(len(topups["key"]), _CP[ref.EXTERNAL_IN[0]], np.int16),
            "mcc": np.zeros(len(topups["key"]), np.int16)}])
        parts["deposit"].append(_with_ids(deposit, month, ("day", "key", "txn_type")))
        parts["card"].append(_with_ids(activity.card, month, ("day", "key", "cents")))
        parts["repayments"].append(_with_ids(activity.repayments, month, ("day", "key")))
        sessions = month_sessions(month.stream(seed, customers, "sessions"), pop, events, opened,
                                  interest.pop(month.index), researcher, month)
        parts["sessions"].append(_with_ids(sessions.columns, month, ("day", "second", "person")))
        consent_parts.append({**c, "id": month.code * 10**8 + c["seq"]})
        parts["offers"].append({**o, "id": month.code * 10**6 + o["seq"]})
        probability = probability_next

    return World(
        seed=seed, customers=customers, pop=pop, h=h, events=events, habits=habits, months=months,
        opened=opened, cause=cause, loans=loans,
        deposit=parts["deposit"], card=parts["card"], repayments=parts["repayments"], sessions=parts["sessions"],
        consent=consent_parts, offers=parts["offers"], probabilities=parts["probabilities"],
        month_end_balance=month_end_balance,
    )


__all__ = ["World", "Snapshot", "simulate_world", "ConsentLedger"]
