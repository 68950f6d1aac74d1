"""Money movements over the window: deposit transactions, card transactions and loan repayments.

Each kind of movement is one vectorized stream (a few Poisson or calendar draws over all people at
once), never a loop per person or per row. A person's monthly budget ties the streams together:

  money in   = salary (or pension) when paid here, else transfers in from other banks (wallet share)
  money out  = money in x outflow ratio       (thrift lowers the ratio, stress and lifestyle raise it)
             = housing + bills + loan instalments + saving   (fixed)
             + transfers out (external share grows as wallet share falls) + ATM + card spend (the rest)

Card spend is split over merchant categories tilted by lifestyle (dining, travel, entertainment,
electronics) and big-ticket appetite (furniture, electronics). Card holders put ~60% of it on the card and
pay the card bill from checking. Balances are the window's net flow on top of a starting balance chosen
so an account never goes below zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.generate import reference as ref
from jobs.generate.accounts import Books
from jobs.generate.common import Window, lognormal_noise, poisson_days, to_cents
from jobs.generate.holdings import Holdings
from jobs.generate.openings import Openings
from jobs.generate.people import Population

TXN_TYPES = ("PAYROLL", "TRANSFER_IN", "TRANSFER_OUT_EXTERNAL", "TRANSFER_OUT_INTERNAL", "RENT",
             "MORTGAGE_PAYMENT", "ATM", "BILL_PAYMENT", "CARD_SETTLEMENT")
CREDIT_TYPES = ("PAYROLL", "TRANSFER_IN")
PENSION = "SSA TREAS 310"
CARD_SHARE = 0.6  # part of a card holder's spend that goes on the credit card

# Every counterparty text, so a transaction stores a small code instead of a string.
COUNTERPARTIES = list(dict.fromkeys(
    ref.EMPLOYERS + [PENSION] + ref.EXTERNAL_IN + ref.EXTERNAL_OUT + ref.LANDLORDS + ref.EXTERNAL_MORTGAGE
    + ref.BILLERS + ref.ATM + [ref.OWN_MORTGAGE, ref.OWN_LENDING, ref.OWN_CARDS, ref.OWN_SAVINGS,
                               ref.OWN_CHECKING, ref.OWN_CUSTOMER]
    + [m for c in ref.CATEGORIES for m in ref.MERCHANTS[c]]
))
_CP = {name: i for i, name in enumerate(COUNTERPARTIES)}
_TYPE = {name: i for i, name in enumerate(TXN_TYPES)}


def _codes(names: list[str]) -> np.ndarray:
    return np.array([_CP[x] for x in names], dtype=np.int16)


def _pick(rng: np.random.Generator, names: list[str], size: int) -> np.ndarray:
    return _codes(names)[rng.integers(0, len(names), size)]


@dataclass
class Activity:
    deposit_txns: dict[str, np.ndarray]   # account (row in books.deposits), day, cents, txn_type, counterparty
    card_txns: dict[str, np.ndarray]      # account (row in books.cards), day, cents, category, mcc
    repayments: dict[str, np.ndarray]     # loan (row in books.loans), day, cents


class _Ledger:
    """Collects deposit movements stream by stream; one concatenation at the end."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, account, day, cents, txn_type: str, counterparty) -> None:
        n = len(account)
        self.parts.append((np.asarray(account, np.int64), np.asarray(day, np.int64), np.asarray(cents, np.int64),
                           np.full(n, _TYPE[txn_type], np.int8),
                           np.broadcast_to(np.asarray(counterparty, np.int16), (n,)).copy()))

    def table(self) -> dict[str, np.ndarray]:
        cols = [np.concatenate([p[i] for p in self.parts]) for i in range(5)]
        return dict(zip(("account", "day", "cents", "txn_type", "counterparty"), cols, strict=False))


def _spend_weights(pop: Population, idx: np.ndarray, categories: list[str]) -> np.ndarray:
    """Per person (rows) share of spend per category (columns), tilted by lifestyle and big-ticket appetite."""
    life, big = pop.lifestyle[idx, None], pop.big_ticket[idx, None]
    tilt = {"dining": 0.6 * life, "travel": 0.7 * life, "entertainment": 0.6 * life,
            "electronics": 0.4 * life + 0.6 * big, "furniture": 0.8 * big}
    w = np.column_stack([ref.BASE_SHARE[c] * np.exp(tilt.get(c, 0.0 * life)[:, 0]) for c in categories])
    return w / w.sum(axis=1, keepdims=True)


def _purchases(rng: np.random.Generator, pop: Population, idx: np.ndarray, budget: np.ndarray,
               active_from: np.ndarray, days: int, categories: list[str], max_per_month: float):
    """Purchases of people `idx` with monthly budgets: (position in idx, day, cents, category index)."""
    weights = _spend_weights(pop, idx, categories)
    ticket = np.array([ref.TICKET[c] for c in categories])
    # A spending lifestyle means more, smaller purchases, not just bigger ones.
    rate = budget[:, None] * weights / ticket * np.exp(0.5 * pop.lifestyle[idx, None])
    rate *= np.minimum(1.0, max_per_month / np.maximum(rate.sum(axis=1, keepdims=True), 1e-9))
    mean_amount = budget[:, None] * weights / np.maximum(rate, 1e-9)
    flat_owner, day = poisson_days(rng, rate.ravel(), np.repeat(active_from, len(categories)), days)
    owner, cat = np.divmod(flat_owner, len(categories))
    cents = to_cents(mean_amount.ravel()[flat_owner] * lognormal_noise(rng, len(owner), 0.45))
    return owner, day, cents, cat


def _loan_trigger(rng: np.random.Generator, pop: Population, openings: Openings, net: np.ndarray,
                  days: int) -> dict[str, np.ndarray]:
    """The big furniture or electronics purchase that most personal loans follow by a few weeks."""
    person = np.flatnonzero(openings.opened("personal_loan") & (rng.random(pop.n) < 0.7))
    day = openings.day["personal_loan"][person] - rng.integers(3, 36, len(person))
    keep = day >= 0
    person, day = person[keep], day[keep]
    category = np.where(rng.random(len(person)) < 0.5, ref.CATEGORIES.index("furniture"),
                        ref.CATEGORIES.index("electronics"))
    cents = to_cents(net[person] * rng.uniform(0.6, 1.8, len(person)))
    return {"person": person, "day": day, "cents": cents, "category": category}


def loan_schedule(loans, window: Window):
    """Instalment, instalments paid by the as-of date and the outstanding principal of every loan,
    plus the repayments booked inside the window: (loan row, day, cents)."""
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
    loan_row, day = np.concatenate(owners), np.concatenate(days)
    return instalment, paid, outstanding, (loan_row, day, to_cents(instalment[loan_row]))


def simulate(rng: np.random.Generator, pop: Population, h: Holdings, books: Books, openings: Openings,
             window: Window, age: np.ndarray) -> Activity:
    n, days = pop.n, window.days
    ledger = _Ledger()
    ck = books.checking
    has_ck = ck >= 0
    net = pop.income * 0.72 / 12  # monthly take-home pay
    ws = pop.wallet_share

    # --- money in -------------------------------------------------------------------------------
    inflow = np.where(h.payroll_here, net, net * (0.25 + 0.6 * ws))
    paid_here = has_ck & h.payroll_here
    employer = np.where(h.retiree, _CP[PENSION], _codes(ref.EMPLOYERS)[h.employer])
    monthly_pay = paid_here & ~h.biweekly
    who = np.flatnonzero(monthly_pay)
    owner, day = window.monthly(np.where(h.retiree, 3, h.payday)[who], np.zeros(len(who), np.int64), who)
    ledger.add(ck[owner], day, to_cents(net[owner] * rng.normal(1, 0.01, len(owner))), "PAYROLL", employer[owner])
    who = np.flatnonzero(paid_here & h.biweekly)
    first = (h.pay_phase[who] - window.start.astype(np.int64)) % 14
    owner, day = window.periodic(first, 14, np.zeros(len(who), np.int64), who)
    ledger.add(ck[owner], day, to_cents(net[owner] * 12 / 26 * rng.normal(1, 0.01, len(owner))), "PAYROLL",
               employer[owner])
    # Paid elsewhere: the checking account is fed by transfers from other banks.
    who = np.flatnonzero(has_ck & ~h.payroll_here)
    owner, day = poisson_days(rng, np.full(len(who), 2.0), np.zeros(len(who), np.int64), days)
    owner = who[owner]
    ledger.add(ck[owner], day, to_cents(inflow[owner] / 2 * lognormal_noise(rng, len(owner), 0.3)), "TRANSFER_IN",
               _pick(rng, ref.EXTERNAL_IN, len(owner)))
    # Odd small credits (refunds, gifts) for everyone.
    who = np.flatnonzero(has_ck)
    owner, day = poisson_days(rng, np.full(len(who), 0.4), np.zeros(len(who), np.int64), days)
    owner = who[owner]
    ledger.add(ck[owner], day, to_cents(120 * lognormal_noise(rng, len(owner), 0.8)), "TRANSFER_IN",
               _pick(rng, ref.EXTERNAL_IN, len(owner)))

    # --- fixed outflows ---------------------------------------------------------------------------
    ratio = np.clip(0.96 - 0.12 * pop.thrift + 0.16 * pop.stress + 0.03 * pop.lifestyle
                    + rng.normal(0, 0.03, n), 0.6, 1.45)
    outflow = inflow * ratio

    # Loans at this bank: the lending silo books the repayment, checking shows the debit.
    loans = books.loans
    instalment, paid, outstanding, (loan_row, loan_day, loan_cents) = loan_schedule(loans, window)
    loans["instalment"], loans["outstanding"] = instalment, outstanding
    borrower = loans["person"][loan_row]
    mirror = has_ck[borrower]
    is_mortgage = loans["loan_type"][loan_row] == "mortgage"
    for mortgage, txn_type, cp in ((True, "MORTGAGE_PAYMENT", ref.OWN_MORTGAGE),
                                   (False, "TRANSFER_OUT_INTERNAL", ref.OWN_LENDING)):
        sel = mirror & (is_mortgage == mortgage)
        ledger.add(ck[borrower[sel]], loan_day[sel], loan_cents[sel], txn_type, _CP[cp])
    active = ~loans["opened_in_window"] & (paid < loans["term"])
    instalments = np.bincount(loans["person"][active], weights=instalment[active], minlength=n)

    # Rent or a mortgage held elsewhere, paid from here when the salary comes here (or by wallet share).
    housing_here = has_ck & (h.renter | h.mortgage_elsewhere) & (h.payroll_here | (rng.random(n) < ws))
    housing = np.where(housing_here, net * rng.uniform(0.22, 0.34, n), 0.0)
    for mask, txn_type, names, dom in ((housing_here & h.renter, "RENT", ref.LANDLORDS, np.ones(n, np.int64)),
                                       (housing_here & h.mortgage_elsewhere, "MORTGAGE_PAYMENT",
                                        ref.EXTERNAL_MORTGAGE, rng.integers(1, 6, n))):
        who = np.flatnonzero(mask)
        payee = _pick(rng, names, n)
        owner, day = window.monthly(dom[who], np.zeros(len(who), np.int64), who)
        ledger.add(ck[owner], day, to_cents(housing[owner]), txn_type, payee[owner])

    # Three monthly bills each.
    bills = np.zeros(n)
    who = np.flatnonzero(has_ck)
    for _ in range(3):
        amount = inflow * rng.uniform(0.012, 0.03, n)
        bills += np.where(has_ck, amount, 0.0)
        payee = _pick(rng, ref.BILLERS, n)
        owner, day = window.monthly(rng.integers(1, 29, n)[who], np.zeros(len(who), np.int64), who)
        ledger.add(ck[owner], day, to_cents(amount[owner] * lognormal_noise(rng, len(owner), 0.1)), "BILL_PAYMENT",
                   payee[owner])

    # Saving: a standing order from checking to savings (from the opening day for new accounts).
    sv = books.savings
    saves = has_ck & (sv >= 0)
    saving = np.where(saves, inflow * np.clip(0.04 + 0.04 * pop.thrift, 0.01, 0.15), 0.0)
    who = np.flatnonzero(saves)
    new_sv = openings.opened("savings")
    first = np.where(new_sv, books.savings_from + 30, rng.integers(0, 30, n))
    owner, day = window.periodic(first[who], 30, np.zeros(len(who), np.int64), who)
    cents = to_cents(saving[owner])
    ledger.add(ck[owner], day, cents, "TRANSFER_OUT_INTERNAL", _CP[ref.OWN_SAVINGS])
    ledger.add(sv[owner], day, cents, "TRANSFER_IN", _CP[ref.OWN_CHECKING])
    # Opening deposit into a new savings account: from checking, or from another bank for a newcomer.
    who = np.flatnonzero(new_sv)
    amount = to_cents(np.where(has_ck, inflow * rng.uniform(0.3, 1.5, n), net * rng.uniform(0.5, 3.0, n))[who])
    from_ck = has_ck[who]
    ledger.add(ck[who[from_ck]], books.savings_from[who[from_ck]], amount[from_ck], "TRANSFER_OUT_INTERNAL",
               _CP[ref.OWN_SAVINGS])
    ledger.add(sv[who], books.savings_from[who], amount,
               "TRANSFER_IN", np.where(from_ck, _CP[ref.OWN_CHECKING], _pick(rng, ref.EXTERNAL_IN, len(who))))
    # A new personal loan is paid out into checking.
    new_loans = np.flatnonzero(loans["opened_in_window"])
    person = loans["person"][new_loans]
    sel = has_ck[person]
    ledger.add(ck[person[sel]], window.day(loans["start"][new_loans[sel]]),
               to_cents(loans["principal"][new_loans[sel]]), "TRANSFER_IN", _CP[ref.OWN_LENDING])

    # --- variable outflows --------------------------------------------------------------------------
    fixed = housing + bills + instalments + saving
    rest = np.maximum(outflow - fixed, 0.12 * inflow)
    external = rest * (0.06 + 0.38 * (1 - ws))
    p2p = rest * 0.04
    atm = rest * np.where(age > 60, 0.10, 0.06)
    spend = rest - external - p2p - atm

    who = np.flatnonzero(has_ck)
    zero = np.zeros(len(who), np.int64)
    rate = 0.6 + 2.0 * (1 - ws[who])
    owner, day = poisson_days(rng, rate, zero, days)
    ledger.add(ck[who[owner]], day, to_cents(external[who][owner] / rate[owner]
                                             * lognormal_noise(rng, len(owner), 0.5)),
               "TRANSFER_OUT_EXTERNAL", _pick(rng, ref.EXTERNAL_OUT, len(owner)))
    owner, day = poisson_days(rng, np.full(len(who), 0.5), zero, days)
    ledger.add(ck[who[owner]], day, to_cents(p2p[who][owner] / 0.5 * lognormal_noise(rng, len(owner), 0.6)),
               "TRANSFER_OUT_INTERNAL", _CP[ref.OWN_CUSTOMER])
    rate = np.clip(atm[who] / 140, 0.4, 5.0)
    owner, day = poisson_days(rng, rate, zero, days)
    cash = np.maximum(np.round(atm[who][owner] / rate[owner] * lognormal_noise(rng, len(owner), 0.4) / 20) * 20, 20)
    ledger.add(ck[who[owner]], day, to_cents(cash), "ATM", _pick(rng, ref.ATM, len(owner)))

    # Debit-card purchases settle on checking; a card holder moves most spend to the card.
    holds_card = h.has_card
    new_card = openings.opened("credit_card")
    debit_categories = [c for c in ref.CATEGORIES if c != "utilities"]  # bills are paid as BILL_PAYMENT
    debit_budget = spend * np.where(holds_card, 1 - CARD_SHARE, 1.0)
    owner, day, cents, cat = _purchases(rng, pop, who, debit_budget[who], zero, days, debit_categories, 18.0)
    person = who[owner]
    moved = new_card[person] & (day >= books.card_from[person]) & (rng.random(len(owner)) < CARD_SHARE)
    owner, day, cents, cat, person = owner[~moved], day[~moved], cents[~moved], cat[~moved], person[~moved]
    first_merchant = np.cumsum([0] + [len(ref.MERCHANTS[c]) for c in debit_categories])[:-1]
    merchants = _codes([m for c in debit_categories for m in ref.MERCHANTS[c]])
    counts = np.array([len(ref.MERCHANTS[c]) for c in debit_categories])
    merchant = merchants[first_merchant[cat] + (rng.random(len(cat)) * counts[cat]).astype(np.int64)]
    ledger.add(ck[person], day, cents, "CARD_SETTLEMENT", merchant)
    trigger = _loan_trigger(rng, pop, openings, net, days)
    on_debit = has_ck[trigger["person"]]
    ledger.add(ck[trigger["person"][on_debit]], trigger["day"][on_debit], trigger["cents"][on_debit],
               "CARD_SETTLEMENT", _pick(rng, ref.MERCHANTS["furniture"] + ref.MERCHANTS["electronics"],
                                        int(on_debit.sum())))

    # --- the card processor ----------------------------------------------------------------------------
    cards = books.cards
    card_person = cards["person"]
    card_from = books.card_from[card_person]
    standalone = net * 0.22 * np.exp(0.25 * pop.lifestyle + 0.15 * pop.stress)  # card users banking elsewhere
    card_budget = np.where(has_ck, spend * CARD_SHARE, standalone)[card_person]
    c_owner, c_day, c_cents, c_cat = _purchases(rng, pop, card_person, card_budget, card_from, days,
                                                ref.CATEGORIES, 16.0)
    # The big purchase before a personal loan goes on the card when the person has no checking here.
    on_card = ~on_debit & (books.card[trigger["person"]] >= 0)
    on_card &= trigger["day"] >= books.card_from[trigger["person"]]
    c_owner = np.concatenate([c_owner, books.card[trigger["person"][on_card]]])
    c_day = np.concatenate([c_day, trigger["day"][on_card]])
    c_cents = np.concatenate([c_cents, trigger["cents"][on_card]])
    c_cat = np.concatenate([c_cat, trigger["category"][on_card]])
    mcc_lists = [ref.MCC[c] for c in ref.CATEGORIES]
    first_mcc = np.cumsum([0] + [len(m) for m in mcc_lists])[:-1]
    mccs = np.array([m for lst in mcc_lists for m in lst])
    mcc_counts = np.array([len(m) for m in mcc_lists])
    mcc = mccs[first_mcc[c_cat] + (rng.random(len(c_cat)) * mcc_counts[c_cat]).astype(np.int64)]

    # The card bill is paid from checking (when checking is here and used for it).
    payer = has_ck[card_person] & (new_card[card_person] | (rng.random(len(cards)) < 0.5 + 0.5 * ws[card_person]))
    rows = np.flatnonzero(payer)
    first = np.where(cards["opened_in_window"][rows], card_from[rows] + 25, rng.integers(0, 30, len(rows)))
    owner, day = window.periodic(first, 30, np.zeros(len(rows), np.int64), rows)
    ledger.add(ck[card_person[owner]], day, to_cents(card_budget[owner] * rng.uniform(0.6, 1.0, len(owner))),
               "TRANSFER_OUT_INTERNAL", _CP[ref.OWN_CARDS])

    # What is owed on the card: the last cycle's spend, plus a revolving balance under strain.
    recent = np.bincount(c_owner[c_day >= days - 30], weights=c_cents[c_day >= days - 30], minlength=len(cards))
    strain = np.clip(0.25 * (pop.stress[card_person] - 0.5), 0, 0.7)
    owed = recent / 100 * rng.uniform(0.4, 1.1, len(cards)) + cards["credit_limit"] * strain * rng.random(len(cards))
    cards["balance"] = np.round(np.minimum(owed, cards["credit_limit"] * 1.02) * 100).astype(np.int64)
    late = (pop.stress[card_person] > 1.3) & (rng.random(len(cards)) < 0.3) & ~cards["opened_in_window"]
    cards["days_past_due"] = np.where(late, rng.choice([5, 15, 30, 45, 60, 90], len(cards)), 0)

    deposit_txns = ledger.table()
    books.deposits["balance"] = _deposit_balances(rng, pop, h, books, deposit_txns)
    return Activity(
        deposit_txns=deposit_txns,
        card_txns={"account": c_owner, "day": c_day, "cents": c_cents, "category": c_cat, "mcc": mcc},
        repayments={"loan": loan_row, "day": loan_day, "cents": loan_cents},
    )


def _deposit_balances(rng: np.random.Generator, pop: Population, h: Holdings, books: Books,
                      txns: dict[str, np.ndarray]) -> np.ndarray:
    """Balance in cents on the as-of date: a starting balance plus the window's movements, where the
    starting balance is raised when needed so the running balance never dips below zero."""
    dep = books.deposits
    n_acc = len(dep)
    credit = np.isin(txns["txn_type"], [_TYPE[t] for t in CREDIT_TYPES])
    signed = np.where(credit, txns["cents"], -txns["cents"])
    # By account, then day, credits before debits within a day (one int64 sort key is much faster
    # than a lexsort on three keys).
    order = np.argsort((txns["account"] * (txns["day"].max(initial=0) + 1) + txns["day"]) * 2 + ~credit,
                       kind="stable")
    acc, amount = txns["account"][order], signed[order]
    running = np.cumsum(amount)
    starts = np.flatnonzero(np.r_[True, acc[1:] != acc[:-1]]) if len(acc) else np.empty(0, np.int64)
    offset = np.where(starts > 0, running[np.maximum(starts - 1, 0)], 0)
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(acc)]))
    within = running - offset[group]
    lowest = np.zeros(n_acc, dtype=np.int64)
    total = np.zeros(n_acc, dtype=np.int64)
    if len(starts):
        lowest[acc[starts]] = np.minimum(np.minimum.reduceat(within, starts), 0)
        total[acc[starts]] = np.add.reduceat(amount, starts)

    person = dep["person"]
    net = pop.income[person] * 0.72 / 12
    noise = rng.normal(0, 1, n_acc)
    product = dep["product"]
    base = np.select(
        [product == "checking", product == "savings", product == "term_deposit"],
        [net * np.exp(0.7 * pop.thrift[person] - 0.5 * pop.stress[person] + 0.5 * noise),
         net * np.exp(1.0 + 0.6 * pop.thrift[person] + 0.8 * noise),
         h.term_balance[person]],
    )
    base = np.where(dep["opened_in_window"], 0.0, base)
    cushion = np.where(dep["opened_in_window"], 0, rng.integers(2_000, 30_000, n_acc))
    start = np.maximum(np.round(base * 100).astype(np.int64), -lowest + cushion)
    return start + total
