"""The people behind the silos: demographics, identity and the latent traits that drive behaviour.

Drawn from identity streams only (see common.py), so the same settings give the same people for every
export date. Latent traits are standardized (mean 0, sd 1) except wallet_share (0..1):
- lifestyle   how much goes on dining, travel, entertainment and gadgets, in many small purchases
- thrift      how much of what comes in stays (high: balances grow)
- stress      financial strain (high: outflows above inflows, falling balances, late payments)
- big_ticket  appetite for furniture and electronics purchases
- wallet_share  the part of the person's financial life kept at this bank (low: money leaves for
                other institutions)
- risk_appetite   willingness to take investment risk (higher with income and youth)
- digital         how much the person banks online (app and web sessions); falls with age
- channel         the channel the person prefers to hear from the bank on (CHANNELS); offers there
                  are more often read and taken up

Identity is realistically imperfect (drawn from the separate "identity" stream, so behaviour is not
touched): people live in households with a partner (shared postcode and often a shared landline or
family email; many partners took the other's surname and some records still carry the maiden name),
a few are twins (same surname, birth date, address and landline, different first names and national
ids), people go by nicknames, have a work and an old email besides their personal one, and changed
their mobile number (an old number may since belong to somebody else). Which of these a silo record
shows is decided per silo in silos.py.

Every household has one street address (house number, maybe a direction, a street name and suffix, maybe an
apartment) in the locality and state of its postcode, drawn from a stream of its own ("address"), so adding
it changed none of the draws above.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jobs.generate import reference as ref
from jobs.generate.common import REFERENCE_DATE, stream, unique_ints

# Channels the bank reaches people on (offers, consent per channel): jobs.domain.CHANNELS in the order the
# world draws them (consent topics, legacy campaigns); the order is a world parameter, so changing it changes
# every generated bank. tests/unit/test_layout.py keeps the set equal to the domain's.
CHANNELS = ("mobile", "email", "branch", "atm")


@dataclass
class Population:
    n: int
    person_id: np.ndarray       # int64, 1..n
    gender: np.ndarray          # "F" | "M"
    first: np.ndarray           # title case
    last: np.ndarray
    birth: np.ndarray           # datetime64[D]
    national_id: np.ndarray     # int64, a valid 9-digit SSN, unique: SSN / tax id / national id alike
    email: np.ndarray           # personal address, lower case, unique
    phone: np.ndarray           # int64, 10 digits, the current mobile, unique (555 + 7 digits)
    postcode: np.ndarray        # 5-digit text, shared within a household
    nickname: np.ndarray        # what the person is also called ("" when nothing)
    maiden_last: np.ndarray     # surname before taking the partner's ("" when unchanged)
    old_email: np.ndarray       # an address used before ("" when none)
    family_email: np.ndarray    # an address the household shares ("" when none)
    work_email_local: np.ndarray  # "first.last" for people with a work address ("" when none)
    landline: np.ndarray        # int64, the household's landline (0 when none)
    old_phone: np.ndarray       # int64, the mobile before the current one (0 when none); may be recycled
    household: np.ndarray       # int64, index of the household's first person (alone: their own index)
    twin: np.ndarray            # bool, one of a pair of twins (the pair shares a household)
    income: np.ndarray          # annual gross USD
    lifestyle: np.ndarray
    thrift: np.ndarray
    stress: np.ndarray
    big_ticket: np.ndarray
    wallet_share: np.ndarray
    risk_appetite: np.ndarray
    digital: np.ndarray         # 0 (never online) .. ~3 (several sessions a week)
    channel: np.ndarray         # int index into CHANNELS: the preferred channel
    # The household's address (all shared within a household; "" where a part is absent).
    house_no: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    direction: np.ndarray = field(default_factory=lambda: np.zeros(0, str))  # "North" .. "West" or ""
    street_name: np.ndarray = field(default_factory=lambda: np.zeros(0, str))  # "Oak", "5th"
    street_suffix: np.ndarray = field(default_factory=lambda: np.zeros(0, str))  # full word: "Street", "Avenue"
    unit: np.ndarray = field(default_factory=lambda: np.zeros(0, str))  # apartment number ("12", "4B") or ""
    locality: np.ndarray = field(default_factory=lambda: np.zeros(0, str))  # of the postcode
    state: np.ndarray = field(default_factory=lambda: np.zeros(0, str))  # USPS code

    def age_at(self, date: np.datetime64) -> np.ndarray:
        """Whole years of age on `date`."""
        date = np.datetime64(date, "D")
        years = date.astype("datetime64[Y]").astype(int) - self.birth.astype("datetime64[Y]").astype(int)
        return years - (_month_day(date) < _month_day(self.birth)).astype(int)


def _month_day(d: np.ndarray) -> np.ndarray:
    """month * 100 + day, to compare dates within a year."""
    month_start = d.astype("datetime64[M]")
    return (month_start.astype(int) % 12 + 1) * 100 + (d - month_start.astype("datetime64[D]")).astype(int) + 1


def build_population(seed: int, customers: int) -> Population:
    rng = stream(seed, customers, "people")
    n = customers
    person_id = np.arange(1, n + 1, dtype=np.int64)

    # Adults 18..85, more of them in mid-life than at the ends.
    age = 18 + np.floor(67.99 * rng.beta(2.0, 2.3, n)).astype(np.int64)
    birth = REFERENCE_DATE - (np.floor(age * 365.25).astype(np.int64)
                              + rng.integers(0, 365, n)).astype("timedelta64[D]")
    gender = np.where(rng.random(n) < 0.5, "F", "M")
    female = gender == "F"
    first = np.where(female, np.array(ref.FEMALE_FIRST)[rng.integers(0, len(ref.FEMALE_FIRST), n)],
                     np.array(ref.MALE_FIRST)[rng.integers(0, len(ref.MALE_FIRST), n)])
    last = np.array(ref.LAST)[rng.integers(0, len(ref.LAST), n)]

    # Income rises to a mid-career peak and drops at retirement; log-normal spread around it.
    z_age = (age - 45) / 16.0
    career = 0.35 * (1 - ((age - 48) / 30.0) ** 2) - 0.3 * (age >= 67)
    income = np.exp(np.log(42000) + career + 0.45 * rng.standard_normal(n))
    income = np.round(np.clip(income, 14000, 450000), -2)

    thrift = rng.standard_normal(n)
    stress = -0.35 * thrift + np.sqrt(1 - 0.35**2) * rng.standard_normal(n)
    lifestyle = (rng.standard_normal(n) - 0.3 * z_age) / np.sqrt(1 + 0.09)
    big_ticket = rng.standard_normal(n)
    wallet_share = rng.beta(2.2, 1.8, n)

    phone = 5_550_000_000 + unique_ints(rng, n, 0, 10_000_000)
    mail_no = unique_ints(rng, n, 1, max(1000, 20 * n))
    sep = np.array([".", "_", ""])[rng.integers(0, 3, n)]
    domain = np.array(ref.EMAIL_DOMAINS)[rng.integers(0, len(ref.EMAIL_DOMAINS), n)]
    local = np.strings.add(np.strings.add(np.strings.lower(first), sep), np.strings.lower(last))
    email = np.strings.add(np.strings.add(np.strings.add(local, mail_no.astype(str)), "@"), domain)
    postcode = np.array(ref.POSTCODES)[rng.integers(0, len(ref.POSTCODES), n)]

    pop = Population(n=n, person_id=person_id, gender=gender, first=first, last=last, birth=birth,
                     national_id=np.zeros(n, np.int64), email=email, phone=phone, postcode=postcode,
                     nickname=np.full(n, ""), maiden_last=np.full(n, "", dtype=last.dtype),
                     old_email=np.full(n, ""), family_email=np.full(n, "", dtype="<U80"),
                     work_email_local=np.full(n, ""),
                     landline=np.zeros(n, np.int64), old_phone=np.zeros(n, np.int64),
                     household=np.arange(n, dtype=np.int64), twin=np.zeros(n, dtype=bool), income=income,
                     lifestyle=lifestyle, thrift=thrift, stress=stress, big_ticket=big_ticket,
                     wallet_share=wallet_share, risk_appetite=np.zeros(n), digital=np.zeros(n),
                     channel=np.zeros(n, np.int64))
    _imperfect_identity(stream(seed, customers, "identity"), pop, age)
    _channels(stream(seed, customers, "traits"), pop, age, z_age)
    _addresses(stream(seed, customers, "address"), pop)
    return pop


def _channels(rng: np.random.Generator, pop: Population, age: np.ndarray, z_age: np.ndarray) -> None:
    """Risk appetite, online banking and the preferred channel (a separate stream: the draws above
    keep their values)."""
    n = pop.n
    z_inc = (np.log(pop.income) - np.log(42000)) / 0.5
    pop.risk_appetite = (0.4 * z_inc - 0.5 * z_age + rng.standard_normal(n)) / np.sqrt(1.41)
    offline = rng.random(n) < 0.08 + 0.3 * (age >= 70)
    pop.digital = np.where(offline, 0.0, np.exp(0.3 - 0.45 * z_age + 0.5 * rng.standard_normal(n)))
    # Online people mostly prefer the app or email, the rest the branch; a few answer at the ATM.
    weights = np.column_stack([1.5 * pop.digital, 0.8 + 0.3 * z_age, 0.3 + 0.9 * offline + 0.4 * (z_age > 1),
                               np.full(n, 0.15)])
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    pop.channel = (rng.random(n)[:, None] > cum[:, :-1]).sum(axis=1).astype(np.int64)


DIRECTION_SHARE = 0.1      # of streets, those with a direction before the name ("North Oak Street")
APARTMENT_SHARE = 0.25     # of households, those in an apartment


def draw_street(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n street lines as (house number, direction or "", street name, suffix): most house numbers small."""
    house_no = np.minimum(1 + np.floor(np.exp(rng.normal(5.0, 1.4, n))), 9999).astype(np.int64)
    directions = np.array(["North", "South", "East", "West"])
    direction = np.where(rng.random(n) < DIRECTION_SHARE, directions[rng.integers(0, 4, n)], "")
    name = np.array(ref.STREET_NAMES)[rng.integers(0, len(ref.STREET_NAMES), n)]
    suffix = rng.choice(np.array(list(ref.SUFFIX_SHARE)), n, p=list(ref.SUFFIX_SHARE.values()))
    return house_no, direction, name, suffix


def _addresses(rng: np.random.Generator, pop: Population) -> None:
    """Each household's street address (the head's, shared by partners and twins) in its postcode's locality."""
    n = pop.n
    house_no, direction, name, suffix = draw_street(rng, n)
    flat = rng.random(n) < APARTMENT_SHARE
    unit = np.strings.add((1 + rng.integers(0, 40, n)).astype(str), np.array(["", "", "A", "B"])[rng.integers(0, 4, n)])
    head = pop.household
    pop.house_no, pop.direction, pop.street_name, pop.street_suffix = (
        house_no[head], direction[head], name[head], suffix[head])
    pop.unit = np.where(flat, unit, "")[head]
    pop.locality, pop.state = ref.locality_of(pop.postcode)


# Shares of the population (identity stream; see the module doc).
TWIN_SHARE = 0.004          # people who are one of a pair of twins
PARTNERED_SHARE = 0.36      # people living with a partner who is also somebody in the population
TOOK_PARTNER_NAME = 0.6     # of partnered people, those who took the partner's surname (one per couple)
HOUSEHOLD_LANDLINE = 0.4    # of households of two (twins always share one)
SINGLE_LANDLINE = 0.08
FAMILY_EMAIL = 0.25         # of households of two
NICKNAME = 0.5              # of people whose given name has a common nickname
WORK_EMAIL = 0.35           # of people under 67
OLD_EMAIL = 0.15
CHANGED_PHONE = 0.15
RECYCLED_PHONE = 0.4        # of changed phones, the old number now belongs to another person

# SSN structure: area 001-899 without 666, group 01-99, serial 0001-9999.
_GROUPS, _SERIALS = 99, 9999


def valid_ssns(index: np.ndarray) -> np.ndarray:
    """Index 0.. -> the index-th structurally valid SSN (so a draw of distinct indices gives distinct ids)."""
    index = np.asarray(index, dtype=np.int64)
    area = 1 + index // (_GROUPS * _SERIALS)
    area = np.where(area >= 666, area + 1, area)
    group = 1 + index // _SERIALS % _GROUPS
    serial = 1 + index % _SERIALS
    return area * 1_000_000 + group * 10_000 + serial


def _imperfect_identity(rng: np.random.Generator, pop: Population, age: np.ndarray) -> None:
    """Households, twins, nicknames, maiden names, extra emails and phones (in place, vectorized)."""
    n = pop.n
    pop.national_id = valid_ssns(unique_ints(rng, n, 0, 898 * _GROUPS * _SERIALS))

    # Twins: two people born on the same day become siblings of one household.
    order = np.lexsort((rng.random(n), pop.birth.astype(np.int64)))
    same_day_next = np.zeros(n, dtype=bool)
    same_day_next[:-1] = pop.birth[order[:-1]] == pop.birth[order[1:]]
    run_start = np.concatenate([[True], ~same_day_next[:-1]])
    rank = np.arange(n) - np.maximum.accumulate(np.where(run_start, np.arange(n), 0))
    first_of_pair = np.flatnonzero(same_day_next & (rank % 2 == 0))
    wanted = TWIN_SHARE * n / 2
    take = rng.random(len(first_of_pair)) < min(1.0, wanted / max(len(first_of_pair), 1))
    twin_a, twin_b = order[first_of_pair[take]], order[first_of_pair[take] + 1]
    twin = pop.twin
    twin[twin_a] = twin[twin_b] = True

    # Couples: adults of similar age paired up.
    adult = ~twin & (age >= 20)
    partnered = np.flatnonzero(adult & (rng.random(n) < PARTNERED_SHARE))
    partnered = partnered[np.argsort(age[partnered] + rng.normal(0, 3, len(partnered)), kind="stable")]
    partnered = partnered[: len(partnered) // 2 * 2]
    head, partner = partnered[0::2], partnered[1::2]

    heads = np.concatenate([twin_a, head])
    others = np.concatenate([twin_b, partner])
    pop.household[others] = heads
    pop.postcode[others] = pop.postcode[heads]

    # Twins carry one surname and different given names.
    pop.last[twin_b] = pop.last[twin_a]
    clash = pop.first[twin_b] == pop.first[twin_a]
    female = pop.gender[twin_b] == "F"
    names = np.where(female, np.array(ref.FEMALE_FIRST)[rng.integers(0, len(ref.FEMALE_FIRST), len(twin_b))],
                     np.array(ref.MALE_FIRST)[rng.integers(0, len(ref.MALE_FIRST), len(twin_b))])
    names = np.where(names == pop.first[twin_a], np.where(female, "Zoe", "Ivan"), names)
    names = np.where(names == pop.first[twin_a], np.where(female, "Mei", "Wei"), names)
    pop.first[twin_b] = np.where(clash, names, pop.first[twin_b])

    # One partner may have taken the other's surname: the old one lives on in older records.
    renamed = rng.random(len(head)) < TOOK_PARTNER_NAME
    swap = rng.random(len(head)) < 0.5
    taker = np.where(swap, head, partner)[renamed]
    giver = np.where(swap, partner, head)[renamed]
    differs = pop.last[taker] != pop.last[giver]
    taker, giver = taker[differs], giver[differs]
    pop.maiden_last[taker] = pop.last[taker]
    pop.last[taker] = pop.last[giver]

    # Landlines and family emails of households; a few people alone have a landline too.
    numbers = 5_550_000_000 + unique_ints(rng, 4 * n + 16, 0, 10_000_000)
    fresh = numbers[~np.isin(numbers, pop.phone)]  # >= 3n + 16 numbers nobody has: enough for all below
    household_line = np.concatenate([np.ones(len(twin_a), dtype=bool),
                                     rng.random(len(head)) < HOUSEHOLD_LANDLINE])
    lines = fresh[: len(heads)]
    pop.landline[heads[household_line]] = lines[household_line]
    pop.landline[others[household_line]] = lines[household_line]
    alone = pop.household == np.arange(n)
    alone[heads] = False
    single_line = alone & (rng.random(n) < SINGLE_LANDLINE)
    pop.landline[single_line] = fresh[len(heads): len(heads) + n][single_line]

    mail_no = unique_ints(rng, 2 * n + 16, 1, max(1000, 40 * n))
    family = rng.random(len(heads)) < FAMILY_EMAIL
    family_domain = np.array(ref.EMAIL_DOMAINS)[rng.integers(0, len(ref.EMAIL_DOMAINS), len(heads))]
    family_local = np.where(rng.random(len(heads)) < 0.5,
                            np.strings.add(np.strings.lower(pop.last[heads]), ".family"),
                            np.strings.add(np.strings.add(np.strings.lower(pop.first[heads]), "and"),
                                           np.strings.lower(pop.first[others])))
    family_email = np.strings.add(np.strings.add(np.strings.add(family_local, mail_no[: len(heads)].astype(str)),
                                                 "@"), family_domain)
    pop.family_email[heads[family]] = family_email[family]
    pop.family_email[others[family]] = family_email[family]

    # Nicknames, work and old emails, changed mobiles.
    names, which = np.unique(pop.first, return_inverse=True)
    nicknames = [ref.NICKNAMES.get(str(name), []) for name in names]  # one entry per distinct name
    count = np.array([len(options) for options in nicknames])[which]
    width = max((len(options) for options in nicknames), default=0) or 1
    table = np.array([options + [""] * (width - len(options)) for options in nicknames]).reshape(len(names), width)
    choice = np.minimum((rng.random(n) * count).astype(np.int64), width - 1)
    goes_by = (count > 0) & (rng.random(n) < NICKNAME)
    pop.nickname = np.where(goes_by, table[which, choice], "")

    work = (age < 67) & (rng.random(n) < WORK_EMAIL)
    pop.work_email_local = np.where(
        work, np.strings.add(np.strings.add(np.strings.lower(pop.first), "."), np.strings.lower(pop.last)), "")
    old = rng.random(n) < OLD_EMAIL
    old_domain = np.array(ref.OLD_EMAIL_DOMAINS)[rng.integers(0, len(ref.OLD_EMAIL_DOMAINS), n)]
    old_local = np.strings.add(np.strings.lower(pop.first), np.strings.lower(np.where(
        pop.maiden_last != "", pop.maiden_last, pop.last)))
    old_email = np.strings.add(np.strings.add(np.strings.add(old_local, mail_no[n: 2 * n].astype(str)), "@"),
                               old_domain)
    pop.old_email = np.where(old, old_email, "")

    changed = rng.random(n) < CHANGED_PHONE
    recycled = changed & (rng.random(n) < RECYCLED_PHONE)
    other = (np.arange(n) + 1 + rng.integers(0, max(n - 1, 1), n)) % n  # never the person themself
    spare = fresh[len(heads) + n: len(heads) + 2 * n]
    pop.old_phone = np.where(recycled & (n > 1), pop.phone[other], np.where(changed, spare, 0))



