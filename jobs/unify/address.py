"""Addresses as identity resolution compares them: one spelling per street, locality and state.

Silos write the same address many ways ("12 Oak Street", "12 OAK ST", "12 Oak St., Apt 4"; "IL" or "Illinois").
Normalized here, before matching and before tokenizing:
    normalized_street    "12 N. Oak St., Apt 4"  -> "12 north oak street 4"  (also "12 NORTH OAK STREET #4")
    normalized_locality  "St. Louis"             -> "saint louis"
    normalized_state     "Illinois" / " il "     -> "IL"
Lower-case words (the state: its USPS code), punctuation gone, abbreviations written out and unit designators
("Apt", "Suite", "#") dropped, the unit's number kept (jobs/postal.py).
Typing slips stay: telling "Oak" from "Oka" is the matcher's business, not this one's. A value with nothing left
(only punctuation), or a state that is no US state, is NULL: unknown.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.lookups import looked_up
from jobs.postal import LOCALITY_WORDS, US_STATES, street_words


def _words(c: Column) -> Column:
    """Lower-case letters and digits in single-space-separated words ("#4" and "4" alike)."""
    return F.trim(F.regexp_replace(F.regexp_replace(F.lower(c), "[^a-z0-9]+", " "), " +", " "))


def _written_out(words: Column, table: dict[str, str]) -> Column:
    spelled = F.array_join(F.transform(F.split(words, " "), lambda w: looked_up(w, table, w)), " ")
    spelled = F.trim(F.regexp_replace(spelled, " +", " "))   # a dropped word leaves no gap
    return F.when(spelled != "", spelled)


def normalized_street(c: Column) -> Column:
    # "St" right after the house number and before the name is "Saint" ("12 St Charles Ave"); anywhere else
    # it is the suffix "Street".
    words = F.regexp_replace(_words(c), "^([0-9]+[a-z]?) st ([a-z])", "$1 saint $2")
    return _written_out(words, street_words())


def normalized_locality(c: Column) -> Column:
    return _written_out(_words(c), LOCALITY_WORDS)


def normalized_state(c: Column) -> Column:
    """The USPS code of a state given as its code or its name, any case; NULL for anything else."""
    by_name = {name.lower(): code for code, name in US_STATES.items()} | {code.lower(): code for code in US_STATES}
    return looked_up(_words(c), by_name)
