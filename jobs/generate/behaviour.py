"""Money movements of one month: deposit transactions, card transactions and loan repayments.

Each kind of movement is one vectorized stream (a few Poisson or calendar draws over all people at
once), never a loop per person or per row. A person's monthly budget ties the streams together:

  money in   = salary (or pension once retired) when paid here, else transfers in from other banks
  money out  = money in x outflow ratio       (thrift lowers the ratio, stress and lifestyle raise it)
             = housing + bills + loan instalments + saving   (fixed)
             + transfers out (external share grows as wallet share falls) + ATM + card spend (the rest)

Card spend is split over merchant categories tilted by lifestyle (dining, travel, entertainment,
electronics) and big-ticket appetite (furniture, electronics). Card holders put ~60% of it on the card and
pay the card bill from checking. Life events move money too: payroll from the new employer after a job
change (sometimes after weeks without pay), a pension instead of pay after retirement, an engagement
ring months before a wedding and travel after it, baby goods while a child is on the way, a down
payment on the day of a home purchase, rent that stops and a mortgage payment that starts, furniture
after the move; most personal loans follow a big furniture or electronics purchase by a few weeks.

Rows carry world days and account keys (person * slots + slot, see holdings.py); silos.py renders them.
Balances are carried from month to month by `settle`: an account that would go below zero receives a
transfer from another institution first (what a person under strain does), so balances never go negative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.generate import reference as ref
from jobs.generate.common import NEVER, Month, arrivals_in, lognormal_noise, poisson_days, stream, to_cents
from jobs.generate.events import LifeEvents
from jobs.generate.holdings import DEPOSIT_SLOTS, LOAN_SLOTS, Holdings
from jobs.generate.people import Population

TXN_TYPES = ("PAYROLL", "TRANSFER_IN", "TRANSFER_OUT_EXTERNAL", "TRANSFER_OUT_INTERNAL", "RENT",
             "MORTGAGE_PAYMENT", "ATM", "BILL_PAYMENT", "CARD_SETTLEMENT")
CREDIT_TYPES = ("PAYROLL", "TRANSFER_IN")
CARD_SHARE = 0.6      # part of a card holder's spend that goes on the credit card
PENSION_SHARE = 0.55  # pension as a share of the last take-home pay
DEBIT_PURCHASES_PER_MONTH = 2.5
CARD_PURCHASES_PER_MONTH = 5.0
BILLS = 2

# Every counterparty text, so a transaction stores a small code instead of a string.
COUNTERPARTIES = list(dict.fromkeys(
    ref.EMPLOYERS + [ref.PENSION] + ref.EXTERNAL_IN + ref.EXTERNAL_OUT + ref.LANDLORDS + ref.EXTERNAL_MORTGAGE
    + ref.BILLERS + ref.ATM + ref.DOWN_PAYMENT
    + [ref.OWN_MORTGAGE, ref.OWN_LENDING, ref.OWN_CARDS, ref.OWN_SAVINGS, ref.OWN_CHECKING, ref.OWN_CUSTOMER,
       ref.OWN_TERM]
    + [m for c in ref.CATEGORIES for m in ref.MERCHANTS[c]]
))
_CP = {name: i for i, name in enumerate(COUNTERPARTIES)}
_TYPE = {name: i for i, name in enumerate(TXN_TYPES)}
_CAT = {name: i for i, name in enumerate(ref.CATEGORIES)}
DS, LS = len(DEPOSIT_SLOTS), len(LOAN_SLOTS)


def _codes(names: list[str]) -> np.ndarray:
    return np.array([_CP[x] for x in names], dtype=np.int16)


def _pick(rng: np.random.Generator, names: list[str], size: int) -> np.ndarray:
    return _codes(names)[rng.integers(0, len(names), size)]


@dataclass
class Habits:
    """Per-person choices that stay the same every month (an identity stream): who pays housing from
    here, to whom and on which day, the bills, the lags of event purchases, card-balance behaviour and
    the balances at EPOCH."""
    housing_here: np.ndarray
    housing_share: np.ndarray
    landlord: np.ndarray
    mortgage_payee: np.ndarray
    mortgage_day: np.ndarray
    bill_payee: np.ndarray     # (n, BILLS)
    bill_day: np.ndarray       # (n, BILLS)
    bill_share: np.ndarray     # (n, BILLS)
    ring_lag: np.ndarray
    loan_trigger: np.ndarray   # a big purchase comes before a personal loan
    trigger_lag: np.ndarray
    down_share: np.ndarray
    card_paid_share: np.ndarray  # part of the last month's card spend still owed
    card_revolve: np.ndarray     # part of the limit revolved under strain
    card_late: np.ndarray
    card_days_late: np.ndarray
    start_balance: np.ndarray    # cents per deposit key at EPOCH (accounts held then)


def draw_habits(seed: int, customers: int, pop: Population, h: Holdings) -> Habits:
    rng = stream(seed, customers, "habits")
    n = pop.n
    net = pop.income * 0.72 / 12
    start = np.zeros(n * DS, np.int64)
    noise = rng.normal(0, 1, (n, 2))
    cushion = rng.integers(2_000, 30_000, (n, DS))
    checking = net * np.exp(0.7 * pop.thrift - 0.5 * pop.stress + 0.5 * noise[:, 0])
    savings = net * np.exp(1.0 + 0.6 * pop.thrift + 0.8 * noise[:, 1])
    for slot, held, amount in (("checking", h.in_deposits, checking), ("savings", h.has_savings, savings),
                               ("term_deposit", h.has_term, h.term_balance), ("duplicate", h.duplicate,
                                                                               h.term_balance)):
        key = np.flatnonzero(held) * DS + DEPOSIT_SLOTS[slot]
        start[key] = np.round(amount[held] * 100).astype(np.int64) + cushion[held, DEPOSIT_SLOTS[slot]]
    return Habits(
        housing_here=h.in_deposits & (h.payroll_here | (rng.random(n) < pop.wallet_share)),
        housing_share=rng.uniform(0.22, 0.34, n),
        landlord=_pick(rng, ref.LANDLORDS, n), mortgage_payee=_pick(rng, ref.EXTERNAL_MORTGAGE, n),
        mortgage_day=rng.integers(1, 6, n),
        bill_payee=_pick(rng, ref.BILLERS, BILLS * n).reshape(n, BILLS), bill_day=rng.integers(1, 29, (n, BILLS)),
        bill_share=rng.uniform(0.02, 0.045, (n, BILLS)),
        ring_lag=rng.integers(60, 180, n), loan_trigger=rng.random(n) < 0.7, trigger_lag=rng.integers(3, 36, n),
        down_share=rng.uniform(0.3, 0.8, n),
        card_paid_share=rng.uniform(0.4, 1.1, n), card_revolve=rng.random(n),
        card_late=(pop.stress > 1.3) & (rng.random(n) < 0.3), card_days_late=rng.choice([5, 15, 30, 45, 60, 90], n),
        start_balance=start,
    )


@dataclass
class MonthActivity:
    deposit: dict[str, np.ndarray]     # key, day, cents, txn_type, counterparty, mcc (0: none; world days)
    card: dict[str, np.ndarray]        # key, day, cents, category, mcc
    repayments: dict[str, np.ndarray]  # key (loan key), day, cents


class _Ledger:
    """Collects deposit movements stream by stream; one concatenation at the end."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, key, day, cents, txn_type: str, counterparty, mcc=0) -> None:
        n = len(key)
        self.parts.append((np.asarray(key, np.int64), np.asarray(day, np.int64), np.asarray(cents, np.int64),
                           np.full(n, _TYPE[txn_type], np.int8),
                           np.broadcast_to(np.asarray(counterparty, np.int16), (n,)).copy(),
                           np.broadcast_to(np.asarray(mcc, np.int16), (n,)).copy()))

    def table(self) -> dict[str, np.ndarray]:
        cols = [np.concatenate([p[i] for p in self.parts]) for i in range(6)]
        return dict(zip(("key", "day", "cents", "txn_type", "counterparty", "mcc"), cols, strict=True))


def _spend_weights(pop: Population, idx: np.ndarray, categories: list[str]) -> np.ndarray:
    """Per person (rows) share of spend per category (columns), tilted by lifestyle and big-ticket appetite."""
    life, big = pop.lifestyle[idx, None], pop.big_ticket[idx, None]
    tilt = {"dining": 0.6 * life, "travel": 0.7 * life, "entertainment": 0.6 * life,
            "electronics": 0.4 * life + 0.6 * big, "furniture": 0.8 * big}
    w = np.column_stack([ref.BASE_SHARE[c] * np.exp(tilt.get(c, 0.0 * life)[:, 0]) for c in categories])
    return w / w.sum(axis=1, keepdims=True)


def _purchases(rng: np.random.Generator, pop: Population, idx: np.ndarray, budget: np.ndarray,
               active_from: np.ndarray, days: int, categories: list[str], max_per_month: float):
    """Purchases of people `idx` with monthly budgets: (position in idx, local day, cents, category)."""
    weights = _spend_weights(pop, idx, categories)
    ticket = np.array([ref.TICKET[c] for c in categories])
    # A spending lifestyle means more, smaller purchases, not just bigger ones.
    rate = budget[:, None] * weights / ticket * np.exp(0.5 * pop.lifestyle[idx, None])
    rate *= np.minimum(1.0, max_per_month / np.maximum(rate.sum(axis=1, keepdims=True), 1e-9))
    mean_amount = budget[:, None] * weights / np.maximum(rate, 1e-9)
    flat_owner, day = poisson_days(rng, rate.ravel(), np.repeat(active_from, len(categories)), days)
    owner, cat = np.divmod(flat_owner, len(categories))
    cents = to_cents(mean_amount.ravel()[flat_owner] * lognormal_noise(rng, len(owner), 0.45))
    return owner, day, cents, np.array([_CAT[c] for c in categories])[cat]


def loan_schedule(loans: dict[str, np.ndarray], window):
    """Instalment, instalments paid by the window's end and the outstanding principal of every loan
    slot, plus the repayments booked inside the window: (loan key, local day, cents). A loan that
    starts after the window has nothing due yet."""
    r = loans["rate"] / 1200.0
    term = loans["term"]
    instalment = loans["principal"] * r / (1 - (1 + r) ** -term)
    start = loans["start"]
    start_month = start.astype("datetime64[M]")
    dom = np.minimum((start - start_month.astype("datetime64[D]")).astype(np.int64) + 1, 28)
    as_of = window.end
    as_of_month = as_of.astype("datetime64[M]")
    as_of_dom = (as_of - as_of_month.astype("datetime64[D]")).astype(np.int64) + 1
    due_so_far = (as_of_month - start_month).astype(np.int64) - (as_of_dom < dom)
    missed = np.ceil(loans["days_past_due"] / 30.0).astype(np.int64)
    paid = np.clip(due_so_far - missed, 0, term)
    growth = (1 + r) ** paid
    outstanding = np.maximum(loans["principal"] * growth - instalment * (growth - 1) / r, 0.0)

    owners, days = [], []
    first_month = window.start.astype("datetime64[M]")
    for k, month_start in enumerate(window.month_starts()):
        due_index = (first_month + k - start_month).astype(np.int64)  # 1 = first instalment
        day = month_start + dom - 1
        ok = (due_index >= 1) & (due_index <= paid) & (day >= 0) & (day < window.days)
        owners.append(np.flatnonzero(ok))
        days.append(day[ok])
    key, day = np.concatenate(owners), np.concatenate(days)
    return instalment, paid, outstanding, (key, day, to_cents(instalment[key]))


def simulate_month(rng: np.random.Generator, pop: Population, h: Holdings, habits: Habits, events: LifeEvents,
                   opened: dict[str, np.ndarray], loans: dict[str, np.ndarray], month: Month) -> MonthActivity:
    """`opened[product]`: world day each person opened (or opens) each product, NEVER if not."""
    n, off, days = pop.n, month.offset, month.days
    last = off + days - 1
    window = month.window
    ledger = _Ledger()
    person = np.arange(n)
    has_ck = h.in_deposits
    ck, sv, td = person * DS + DEPOSIT_SLOTS["checking"], person * DS + DEPOSIT_SLOTS["savings"], \
        person * DS + DEPOSIT_SLOTS["term_deposit"]
    ws = pop.wallet_share
    age = pop.age_at(month.start)
    base_net = pop.income * 0.72 / 12
    retire, job, home = events.day["retirement"], events.day["job_change"], events.day["home_purchase"]
    zeros = np.zeros(n, np.int64)

    def at(idx, day):  # what a payment on world day `day` to people `idx` looks like
        new_job = day >= job[idx]
        working = (day < retire[idx]) & ~((day >= job[idx] - h.pay_gap[idx]) & (day < job[idx]))
        amount = base_net[idx] * np.where(new_job, h.pay_change[idx], 1.0)
        employer = _codes(ref.EMPLOYERS)[np.where(new_job, h.next_employer[idx], h.employer[idx])]
        return working, amount, employer

    # --- money in -------------------------------------------------------------------------------
    paid_here = has_ck & h.payroll_here
    who = np.flatnonzero(paid_here & ~h.biweekly)
    owner, day = window.monthly(h.payday[who], zeros[who], who)
    working, amount, employer = at(owner, off + day)
    ledger.add(ck[owner[working]], off + day[working],
               to_cents(amount[working] * rng.normal(1, 0.01, working.sum())), "PAYROLL", employer[working])
    who = np.flatnonzero(paid_here & h.biweekly)
    first = (h.pay_phase[who] - window.start.astype(np.int64)) % 14
    owner, day = window.periodic(first, 14, zeros[who], who)
    working, amount, employer = at(owner, off + day)
    ledger.add(ck[owner[working]], off + day[working],
               to_cents(amount[working] * 12 / 26 * rng.normal(1, 0.01, working.sum())), "PAYROLL",
               employer[working])
    who = np.flatnonzero(paid_here)
    owner, day = window.monthly(np.full(len(who), 3), zeros[who], who)
    pensioned = off + day >= retire[owner]
    pension = base_net * np.where(job < retire, h.pay_change, 1.0) * PENSION_SHARE
    ledger.add(ck[owner[pensioned]], off + day[pensioned], to_cents(pension[owner[pensioned]]), "PAYROLL",
               _CP[ref.PENSION])

    earned = np.where(retire <= off, pension, base_net * np.where(job <= off, h.pay_change, 1.0))
    inflow = np.where(h.payroll_here, earned, earned * (0.25 + 0.6 * ws))
    # Paid elsewhere: the checking account is fed by transfers from other banks.
    who = np.flatnonzero(has_ck & ~h.payroll_here)
    owner, day = poisson_days(rng, np.full(len(who), 2.0), zeros[who], days)
    owner = who[owner]
    ledger.add(ck[owner], off + day, to_cents(inflow[owner] / 2 * lognormal_noise(rng, len(owner), 0.3)),
               "TRANSFER_IN", _pick(rng, ref.EXTERNAL_IN, len(owner)))
    # Odd small credits (refunds, gifts) for everyone.
    who = np.flatnonzero(has_ck)
    owner, day = poisson_days(rng, np.full(len(who), 0.25), zeros[who], days)
    owner = who[owner]
    ledger.add(ck[owner], off + day, to_cents(120 * lognormal_noise(rng, len(owner), 0.8)), "TRANSFER_IN",
               _pick(rng, ref.EXTERNAL_IN, len(owner)))

    # --- fixed outflows ---------------------------------------------------------------------------
    ratio = np.clip(0.96 - 0.12 * pop.thrift + 0.16 * pop.stress + 0.03 * pop.lifestyle
                    + rng.normal(0, 0.03, n), 0.6, 1.45)
    outflow = inflow * ratio

    # Loans at this bank: the lending silo books the repayment, checking shows the debit.
    instalment, paid, _, (loan_key, loan_day, loan_cents) = loan_schedule(loans, window)
    borrower = loan_key // LS
    mirror = has_ck[borrower]
    is_mortgage = loan_key % LS == LOAN_SLOTS["mortgage"]
    for mortgage, txn_type, cp in ((True, "MORTGAGE_PAYMENT", ref.OWN_MORTGAGE),
                                   (False, "TRANSFER_OUT_INTERNAL", ref.OWN_LENDING)):
        sel = mirror & (is_mortgage == mortgage)
        ledger.add(ck[borrower[sel]], off + loan_day[sel], loan_cents[sel], txn_type, _CP[cp])
    running = (loans["start"] <= month.start) & (paid < loans["term"])
    instalments = np.bincount(np.flatnonzero(running) // LS, weights=instalment[running], minlength=n)

    # Housing paid from here: rent until a home purchase; a mortgage held elsewhere (from EPOCH, or
    # taken elsewhere for the purchase) from the month after it.
    bought = home <= last
    mortgage_elsewhere_from = np.where(h.mortgage_elsewhere, -NEVER,
                                       np.where((home < NEVER) & (opened["mortgage"] > home + 30), home + 25, NEVER))
    renting = h.renter & (home > off)
    elsewhere = mortgage_elsewhere_from <= last
    housing = np.where(habits.housing_here & (renting | elsewhere), base_net * habits.housing_share, 0.0)
    who = np.flatnonzero(habits.housing_here & h.renter & (home > off))
    owner, day = window.monthly(np.ones(len(who), np.int64), zeros[who], who)
    keep = off + day < home[owner]
    ledger.add(ck[owner[keep]], off + day[keep], to_cents(housing[owner[keep]]), "RENT", habits.landlord[owner[keep]])
    who = np.flatnonzero(habits.housing_here & elsewhere)
    owner, day = window.monthly(habits.mortgage_day[who], zeros[who], who)
    keep = off + day >= mortgage_elsewhere_from[owner]
    ledger.add(ck[owner[keep]], off + day[keep], to_cents(housing[owner[keep]]), "MORTGAGE_PAYMENT",
               habits.mortgage_payee[owner[keep]])
    who = np.flatnonzero(has_ck & bought & (home >= off))
    ledger.add(ck[who], home[who], to_cents(pop.income[who] * habits.down_share[who]), "TRANSFER_OUT_EXTERNAL",
               _pick(rng, ref.DOWN_PAYMENT, len(who)))

    # Monthly bills.
    bills = np.zeros(n)
    who = np.flatnonzero(has_ck)
    for k in range(BILLS):
        amount = inflow * habits.bill_share[:, k]
        bills += np.where(has_ck, amount, 0.0)
        owner, day = window.monthly(habits.bill_day[who, k], zeros[who], who)
        ledger.add(ck[owner], off + day, to_cents(amount[owner] * lognormal_noise(rng, len(owner), 0.1)),
                   "BILL_PAYMENT", habits.bill_payee[owner, k])

    # Saving: a standing order from checking to savings once the savings account exists.
    sv_open, td_open = opened["savings"], opened["term_deposit"]
    saves = has_ck & (sv_open <= last)
    saving = np.where(saves, inflow * np.clip(0.04 + 0.04 * pop.thrift, 0.01, 0.15), 0.0)
    who = np.flatnonzero(saves)
    owner, day = window.monthly(h.saving_day[who], zeros[who], who)
    keep = off + day > sv_open[owner]
    owner, day = owner[keep], off + day[keep]
    cents = to_cents(saving[owner])
    ledger.add(ck[owner], day, cents, "TRANSFER_OUT_INTERNAL", _CP[ref.OWN_SAVINGS])
    ledger.add(sv[owner], day, cents, "TRANSFER_IN", _CP[ref.OWN_CHECKING])
    # Opening deposits: into a new savings account or term deposit, from checking or another bank.
    for key, opens, amount, own in (
            (sv, sv_open, np.where(has_ck, inflow * rng.uniform(0.3, 1.5, n), base_net * rng.uniform(0.5, 3.0, n)),
             ref.OWN_SAVINGS),
            (td, td_open, h.term_balance * rng.uniform(0.5, 1.0, n), ref.OWN_TERM)):
        who = np.flatnonzero((opens >= off) & (opens <= last))
        cents = to_cents(amount[who])
        from_ck = has_ck[who]
        ledger.add(ck[who[from_ck]], opens[who[from_ck]], cents[from_ck], "TRANSFER_OUT_INTERNAL", _CP[own])
        ledger.add(key[who], opens[who], cents, "TRANSFER_IN",
                   np.where(from_ck, _CP[ref.OWN_CHECKING], _pick(rng, ref.EXTERNAL_IN, len(who))))
    # A new personal loan is paid out into checking.
    who = np.flatnonzero(has_ck & (opened["personal_loan"] >= off) & (opened["personal_loan"] <= last))
    ledger.add(ck[who], opened["personal_loan"][who],
               to_cents(loans["principal"][who * LS + LOAN_SLOTS["personal"]]), "TRANSFER_IN", _CP[ref.OWN_LENDING])

    # --- variable outflows --------------------------------------------------------------------------
    fixed = housing + bills + instalments + saving
    rest = np.maximum(outflow - fixed, 0.12 * inflow)
    external = rest * (0.06 + 0.38 * (1 - ws))
    p2p = rest * 0.04
    atm = rest * np.where(age > 60, 0.10, 0.06)
    spend = rest - external - p2p - atm

    who = np.flatnonzero(has_ck)
    zero = zeros[who]
    rate = 0.4 + 1.2 * (1 - ws[who])
    owner, day = poisson_days(rng, rate, zero, days)
    ledger.add(ck[who[owner]], off + day, to_cents(external[who][owner] / rate[owner]
                                                   * lognormal_noise(rng, len(owner), 0.5)),
               "TRANSFER_OUT_EXTERNAL", _pick(rng, ref.EXTERNAL_OUT, len(owner)))
    owner, day = poisson_days(rng, np.full(len(who), 0.3), zero, days)
    ledger.add(ck[who[owner]], off + day, to_cents(p2p[who][owner] / 0.3 * lognormal_noise(rng, len(owner), 0.6)),
               "TRANSFER_OUT_INTERNAL", _CP[ref.OWN_CUSTOMER])
    rate = np.clip(atm[who] / 160, 0.3, 3.0)
    owner, day = poisson_days(rng, rate, zero, days)
    cash = np.maximum(np.round(atm[who][owner] / rate[owner] * lognormal_noise(rng, len(owner), 0.4) / 20) * 20, 20)
    ledger.add(ck[who[owner]], off + day, to_cents(cash), "ATM", _pick(rng, ref.ATM, len(owner)))

    # Debit-card purchases settle on checking; a card holder moves most spend to the card.
    card_open = opened["credit_card"]
    card_from = card_open - off  # local day the card exists from (<= 0: all month)
    holds_card = card_open <= off
    debit_categories = [c for c in ref.CATEGORIES if c != "utilities"]  # bills are paid as BILL_PAYMENT
    debit_budget = spend * np.where(holds_card, 1 - CARD_SHARE, 1.0)
    owner, day, cents, cat = _purchases(rng, pop, who, debit_budget[who], zero, days, debit_categories,
                                        DEBIT_PURCHASES_PER_MONTH)
    payer = who[owner]
    moved = ~holds_card[payer] & (day >= card_from[payer]) & (rng.random(len(owner)) < CARD_SHARE)
    debit = {"person": payer[~moved], "day": off + day[~moved], "cents": cents[~moved], "category": cat[~moved]}

    cards = np.flatnonzero(card_open <= last)
    standalone = base_net * 0.22 * np.exp(0.25 * pop.lifestyle + 0.15 * pop.stress)  # card users banking elsewhere
    card_budget = np.where(has_ck, spend * CARD_SHARE, standalone)
    c_owner, c_day, c_cents, c_cat = _purchases(rng, pop, cards, card_budget[cards],
                                                np.maximum(card_from[cards], 0), days, ref.CATEGORIES,
                                                CARD_PURCHASES_PER_MONTH)
    credit = {"person": cards[c_owner], "day": off + c_day, "cents": c_cents, "category": c_cat}

    # Purchases that life events and big decisions bring, on the card when there is one (mostly).
    extra = _event_purchases(rng, pop, habits, events, opened, month)
    on_card = (card_open[extra["person"]] <= extra["day"]) & ((rng.random(len(extra["day"])) < 0.6)
                                                                | ~has_ck[extra["person"]])
    on_debit = ~on_card & has_ck[extra["person"]]
    for target, mask in ((credit, on_card), (debit, on_debit)):
        for k in target:
            target[k] = np.concatenate([target[k], extra[k][mask]])

    merchant = _merchants(rng, debit["category"])
    ledger.add(ck[debit["person"]], debit["day"], debit["cents"], "CARD_SETTLEMENT", merchant,
               _mccs(rng, debit["category"]))
    mcc = _mccs(rng, credit["category"])

    # The card bill is paid from checking (when checking is here and used for it).
    who = np.flatnonzero(has_ck & (card_open <= last) & (h.card_payer | (card_open >= 0)))
    owner, day = window.monthly(h.card_bill_day[who], zeros[who], who)
    keep = off + day >= card_open[owner] + 20
    owner, day = owner[keep], off + day[keep]
    ledger.add(ck[owner], day, to_cents(card_budget[owner] * rng.uniform(0.6, 1.0, len(owner))),
               "TRANSFER_OUT_INTERNAL", _CP[ref.OWN_CARDS])

    return MonthActivity(
        deposit=ledger.table(),
        card={"key": credit["person"], "day": credit["day"], "cents": credit["cents"], "category": credit["category"],
              "mcc": mcc},
        repayments={"key": loan_key, "day": off + loan_day, "cents": loan_cents},
    )


def _event_purchases(rng: np.random.Generator, pop: Population, habits: Habits, events: LifeEvents,
                     opened: dict[str, np.ndarray], month: Month) -> dict[str, np.ndarray]:
    """(person, world day, cents, category) of the purchases events bring within the month."""
    net = pop.income * 0.72 / 12
    parts = []

    def add(person, day, cents, category):
        parts.append((person, day, cents, np.full(len(person), _CAT[category])))

    first, last = month.offset, month.offset + month.days - 1
    marriage, child, home = events.day["marriage"], events.day["new_child"], events.day["home_purchase"]
    ring = marriage - habits.ring_lag
    who = np.flatnonzero((ring >= first) & (ring <= last) & (marriage < NEVER))
    add(who, ring[who], to_cents(pop.income[who] * rng.uniform(0.03, 0.08, len(who))), "jewelry")
    for start, end, rate, category, size in (
            (marriage + 1, marriage + 21, 3.0, "travel", 0.25 * net),
            (child - 90, child + 60, 4.0, "kids", np.full(pop.n, 70.0)),
            (home, home + 60, 3.0, "furniture", 0.2 * net)):
        owner, day = arrivals_in(rng, np.where(start < NEVER // 2, start, NEVER), end, rate, month)
        add(owner, day, to_cents(size[owner] * lognormal_noise(rng, len(owner), 0.5)), category)
    loan = opened["personal_loan"]
    big = loan - habits.trigger_lag
    who = np.flatnonzero(habits.loan_trigger & (loan < NEVER) & (loan >= 0) & (big >= first) & (big <= last))
    category = np.where(rng.random(len(who)) < 0.5, _CAT["furniture"], _CAT["electronics"])
    parts.append((who, big[who], to_cents(net[who] * rng.uniform(0.6, 1.8, len(who))), category))
    person, day, cents, cat = (np.concatenate([p[i] for p in parts]) for i in range(4))
    return {"person": person, "day": day, "cents": cents, "category": cat}


def _merchants(rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
    counts = np.array([len(ref.MERCHANTS[c]) for c in ref.CATEGORIES])
    first = np.cumsum(np.r_[0, counts])[:-1]
    names = _codes([m for c in ref.CATEGORIES for m in ref.MERCHANTS[c]])
    return names[first[category] + (rng.random(len(category)) * counts[category]).astype(np.int64)]


def _mccs(rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
    lists = [ref.MCC[c] for c in ref.CATEGORIES]
    counts = np.array([len(m) for m in lists])
    first = np.cumsum(np.r_[0, counts])[:-1]
    codes = np.array([m for lst in lists for m in lst])
    return codes[first[category] + (rng.random(len(category)) * counts[category]).astype(np.int64)]


def settle(balance: np.ndarray, txns: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Carry deposit balances (cents per key, updated in place) through a month's movements; returns
    the top-up transfers booked first on an account's first day of the month where, without them, its
    balance would go below zero."""
    credit = np.isin(txns["txn_type"], [_TYPE[t] for t in CREDIT_TYPES])
    signed = np.where(credit, txns["cents"], -txns["cents"])
    # By account, then day, credits before debits within a day (one int64 sort key).
    span = int(txns["day"].max(initial=0) - txns["day"].min(initial=0)) + 1
    rel = txns["day"] - txns["day"].min(initial=0)
    order = np.argsort((txns["key"] * span + rel) * 2 + ~credit, kind="stable")
    key, amount = txns["key"][order], signed[order]
    empty = {"key": np.empty(0, np.int64), "day": np.empty(0, np.int64), "cents": np.empty(0, np.int64)}
    if len(key) == 0:
        return empty
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    running = np.cumsum(amount)
    offset = np.where(starts > 0, running[np.maximum(starts - 1, 0)], 0)
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(key)]))
    lowest = np.minimum(np.minimum.reduceat(running - offset[group], starts), 0)
    accounts = key[starts]
    short = balance[accounts] + lowest < 0
    topup = np.where(short, -(balance[accounts] + lowest) + rng.integers(5_000, 50_000, len(accounts)), 0)
    balance[accounts] += np.add.reduceat(amount, starts) + topup
    first_day = txns["day"][order][starts]
    return {"key": accounts[short], "day": first_day[short], "cents": topup[short]}
