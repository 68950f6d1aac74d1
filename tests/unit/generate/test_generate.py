"""The generator without generating a bank: the landing contracts are well formed, the population's
households and twins, and the settings and dates it refuses. (The banks it generates:
tests/integration/test_generate.py.)"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from jobs.generate import FILES, generate_bank
from jobs.generate.people import build_population
from jobs.settings import Settings
from tests.generate_fixtures import AS_OF, PY_DATE, contract


def test_contracts_are_well_formed():
    for file in FILES:
        spec = contract(file)
        silo, entity = file.split("/")
        assert (spec["silo"], spec["entity"]) == (silo, entity)
        assert spec["description"] and spec["key"]
        names = [c["name"] for c in spec["columns"]]
        assert set(spec["key"]) <= set(names)
        for col in spec["columns"]:
            assert col["type"] in ("string", "date", "timestamp", "integer", "decimal"), (file, col)
            assert isinstance(col["required"], bool)
            if col["type"] in ("date", "timestamp"):
                assert col["format"] in PY_DATE, (file, col)
            if "pattern" in col:
                re.compile(col["pattern"])
    pii = {c["name"] for f in FILES for c in contract(f)["columns"] if c.get("pii")}
    assert {"full_name", "birth_date", "email", "phone", "national_id", "ssn", "tax_id", "name", "dob",
            "first_name", "last_name"} <= pii


def test_households_and_twins_share_identifiers_but_not_national_ids():
    pop = build_population(42, 5000)
    assert len(np.unique(pop.national_id)) == pop.n
    area, group, serial = pop.national_id // 10**6, pop.national_id // 10**4 % 100, pop.national_id % 10**4
    assert ((area > 0) & (area != 666) & (area < 900) & (group > 0) & (serial > 0)).all()
    shared = pop.household != np.arange(pop.n)
    twin, head = shared & pop.twin, pop.household
    assert twin.sum() >= 5
    assert (pop.birth[twin] == pop.birth[head[twin]]).all() and (pop.last[twin] == pop.last[head[twin]]).all()
    assert (pop.landline[twin] == pop.landline[head[twin]]).all() and (pop.landline[twin] > 0).all()
    assert (pop.first[twin] != pop.first[head[twin]]).all()
    partner = shared & ~pop.twin
    assert 0.1 < partner.mean() < 0.25
    assert (pop.postcode[partner] == pop.postcode[head[partner]]).all()
    assert (pop.birth[partner] != pop.birth[head[partner]]).mean() > 0.99
    took_name = pop.maiden_last != ""
    assert 0.05 < took_name.mean() < 0.2 and (pop.maiden_last[took_name] != pop.last[took_name]).all()
    assert 0.05 < (pop.nickname != "").mean() < 0.4
    recycled = (pop.old_phone > 0) & np.isin(pop.old_phone, pop.phone)
    assert 0.02 < recycled.mean() < 0.1


def test_households_share_a_street_address_in_their_postcodes_locality():
    from jobs.generate.reference import locality_of
    from jobs.postal import US_STATES

    pop = build_population(42, 5000)
    head = pop.household
    shared = head != np.arange(pop.n)
    for part in (pop.house_no, pop.direction, pop.street_name, pop.street_suffix, pop.unit, pop.locality, pop.state):
        assert (part[shared] == part[head[shared]]).all()
    cities, states = locality_of(pop.postcode)
    assert (pop.locality == cities).all() and (pop.state == states).all()
    assert set(pop.state) <= set(US_STATES) and ((pop.house_no >= 1) & (pop.house_no <= 9999)).all()
    assert 0.15 < (pop.unit != "").mean() < 0.35 and 0.05 < (pop.direction != "").mean() < 0.15
    # different households almost never share an address
    households = np.flatnonzero(head == np.arange(pop.n))
    lines = set(zip(pop.house_no[households], pop.direction[households], pop.street_name[households],
                    pop.street_suffix[households], pop.unit[households], pop.postcode[households], strict=True))
    assert len(lines) > 0.995 * len(households)


def test_each_silo_writes_a_street_its_own_way():
    from jobs.generate.silos import Address, street_line

    def address(abbreviated, missing=False, unit="4B", direction="North"):
        one = lambda v: np.array([v])  # noqa: E731
        return Address(one(12), one(direction), one("Oak"), one("Street"), one(unit), one("Springfield"), one("IL"),
                       one(abbreviated), one(missing))

    assert street_line(address(False), "", "Apartment", "Apt")[0] == "12 North Oak Street, Apartment 4B"
    assert street_line(address(True), "", "Apartment", "Apt")[0] == "12 N Oak St, Apt 4B"
    assert street_line(address(True, unit=""), ".", "Apartment", "Apt.")[0] == "12 N. Oak St."
    assert street_line(address(False, unit="", direction=""), ".", "Apartment", "Apt.")[0] == "12 Oak Street"
    assert street_line(address(True, missing=True), "", "Apartment", "Apt")[0] == ""


def test_rejects_a_bad_scale(tmp_path):
    with pytest.raises(ValueError, match="history_days"):
        generate_bank(Settings(home=tmp_path, customers=10, history_days=10, label_horizon_days=30), AS_OF)
    with pytest.raises(ValueError, match="customers"):
        generate_bank(Settings(home=tmp_path, customers=1_000_000), AS_OF)


def test_a_date_before_the_world_starts_is_refused(tmp_path):
    with pytest.raises(ValueError, match="world starts"):
        generate_bank(Settings(home=tmp_path, customers=10), dt.date(2025, 1, 1))

