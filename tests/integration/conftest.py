"""The integration tests: everything that generates a bank, runs whole steps or DAGs, trains models, starts
processes or the JVM. Each test collected here is marked `integration` (so `-m "not integration"` leaves
them out wherever pytest is pointed); `make unit` runs tests/unit only, `make test` both folders."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)   # before `-m` deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def small_bank(spark, tmp_path_factory):
    """A generated 300-customer bank for 2026-06-30, ingested once: (lakehouse, {table: IngestReport})."""
    import datetime as dt

    from jobs.generate import generate_bank
    from jobs.ingest import load
    from jobs.settings import Settings
    from jobs.tables import Lakehouse

    day = dt.date(2026, 6, 30)
    settings = Settings(home=tmp_path_factory.mktemp("small_bank"), customers=300)
    generate_bank(settings, day)
    lh = Lakehouse(spark, settings)
    return lh, {r.table: r for r in load.run(lh, day)}
