"""US postal vocabulary: states and the USPS abbreviations of street suffixes, directions and unit designators.

Plain Python (no Spark): the generator writes addresses with it (jobs/generate/) and silver's standardization
reads them back with it (jobs/unify/address.py), so an abbreviation one writes the other always knows.
"""

from __future__ import annotations

# USPS state codes (the 50 states and DC) and their names.
US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia",
    "WI": "Wisconsin", "WY": "Wyoming",
}

# Street suffix -> its USPS abbreviation (Publication 28), for the suffixes the generator uses and the
# common ones a bank's master holds.
STREET_SUFFIXES = {
    "Street": "St", "Avenue": "Ave", "Road": "Rd", "Drive": "Dr", "Lane": "Ln", "Boulevard": "Blvd",
    "Court": "Ct", "Place": "Pl", "Way": "Way", "Terrace": "Ter", "Circle": "Cir", "Parkway": "Pkwy",
    "Highway": "Hwy", "Square": "Sq", "Trail": "Trl",
}
DIRECTIONS = {"North": "N", "South": "S", "East": "E", "West": "W"}
UNITS = {"Apartment": "Apt", "Suite": "Ste", "Unit": "Unit"}

# Abbreviations people type besides the USPS ones ("Av", "Str", "Blv"): read the same way.
OTHER_ABBREVIATIONS = {"av": "avenue", "str": "street", "blv": "boulevard", "hiway": "highway", "pky": "parkway",
                       "crt": "court", "ap": "", "apartments": ""}


def street_words() -> dict[str, str]:
    """Lower-case word -> how a street line reads it: abbreviations written out ("st" -> "street", "ave" ->
    "avenue", "n" -> "north"); a unit designator ("apt", "apartment", "suite", "#") dropped (""), so that
    "Apt 4", "Unit 4" and "#4" all read "4"."""
    words = {}
    for table in (STREET_SUFFIXES, DIRECTIONS):
        words |= {short.lower(): full.lower() for full, short in table.items() if short != full}
    units = {word.lower(): "" for full, short in UNITS.items() for word in (full, short)}
    return words | OTHER_ABBREVIATIONS | units


# Leading words of a locality's name written short ("St. Louis", "Ft Worth", "Mt Vernon").
LOCALITY_WORDS = {"st": "saint", "ste": "sainte", "ft": "fort", "mt": "mount", "pt": "point"}
