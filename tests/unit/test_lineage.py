"""The declared flow (jobs/lineage.py) matches the code: what each package reads by name, and who writes what."""

import re

import pytest

from jobs import lineage
from jobs.tables import REGISTRY
from tests.paths import ROOT

READ_CALL = re.compile(r"""\.read(?:_known)?\(\s*["']((?:bronze|silver|gold|audit)\.[a-z0-9_]+)["']""")


def _package_reads(package: str) -> set[str]:
    found = set()
    for path in (ROOT / "jobs" / package).rglob("*.py"):
        found |= set(READ_CALL.findall(path.read_text()))
    return found


@pytest.mark.parametrize("package", sorted({io.package for io in lineage.STEPS.values()}))
def test_every_table_a_package_reads_is_declared_as_read_by_one_of_its_steps(package):
    declared = [p for io in lineage.STEPS.values() if io.package == package for p in io.reads]
    undeclared = {name for name in _package_reads(package) if not lineage._matches(name, tuple(declared))}
    assert not undeclared, f"jobs/{package} reads {sorted(undeclared)}, not declared in jobs/lineage.py"


def test_every_declared_read_and_write_names_registered_tables():
    for step, io in lineage.STEPS.items():
        for pattern in io.reads + io.writes:
            assert any(lineage._matches(name, (pattern,)) for name in REGISTRY), f"{step}: {pattern} matches no table"


def test_every_registered_table_has_exactly_one_writer():
    for name in REGISTRY:
        assert len(lineage.writers(name)) == 1, (name, lineage.writers(name))
    assert lineage.writers("quarantine.silver_customer") == ["silver"]
    assert lineage.writers("quarantine.deposits_customers") == ["ingest"]
    assert lineage.writers("gold.kpi_daily") == ["kpis"]


def test_describe_gives_declaration_suite_writer_and_readers_in_one_look():
    text = lineage.describe("gold.customer_360")
    assert "keys         as_of_date, customer_id" in text
    assert re.search(r"suite\s+\S+expectations/gold\.customer_360\.json", text)
    assert re.search(r"written by\s+customer_360$", text, re.M)
    assert re.search(r"read by\s+score, offers, kpis$", text, re.M)
