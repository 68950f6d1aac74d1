"""Shared fixtures: one embedded Sail session for the whole run (one server per process), and a
fresh project home per test module so tables from one test never leak into another. (The generated bank the
integration tests share is in tests/integration/conftest.py.)"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RUST_LOG", "warn")


# `make test` runs the suite on three workers, each file whole on one (pytest-xdist --dist loadfile, in collection
# order): the longest files first, so that the three-engine parity run (about 27 minutes) starts at once and the
# rest runs beside it on the other workers.
LONGEST_FIRST = ("test_engines.py", "test_production_profile.py", "test_end_to_end.py", "test_stream.py",
                 "test_faults.py", "test_portability.py", "test_concurrent_writers.py", "test_engine.py", "test_cli.py",
                 "test_airflow_command.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)) if "integration" in item.path.parts
               else len(rank) + 1)   # a stable sort: each file's tests keep their order


@pytest.fixture(scope="session")
def session_home(tmp_path_factory):
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="session")
def spark(session_home):
    from jobs.engine import spark_session
    from jobs.settings import Settings

    return spark_session(Settings(home=session_home))


@pytest.fixture
def settings(tmp_path):
    from jobs.settings import Settings

    return Settings(home=tmp_path / "home", customers=200)


@pytest.fixture
def lh(spark, settings):
    from jobs.tables import Lakehouse

    return Lakehouse(spark, settings)


# The test process reads Delta tables with delta-rs, whose reader threads can abort the interpreter's final
# teardown ("terminate called without an active exception", exit 134) after every test passed
# (apache/arrow#34314, delta-io/delta-rs#2184). Leave with pytest's own exit status once it has reported.
_exit_status: list[int] = []


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if _exit_status and os.environ.get("MARKETOFONE_TEST_HARD_EXIT", "1") == "1":
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
