"""Who may see what (jobs/access.py): the raw tables (bronze and its quarantines) are refused to every role but
ingestion (and `all`, the embedded profile), before the engine is asked; each layer may live in a storage of its
own; the listings skip what a role may not see."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.access import ROLES, AccessDenied
from jobs.settings import Settings
from jobs.tables import RAW_PII, REGISTRY, Lakehouse, storage_layer

RAW = ("bronze.deposits_customers", "quarantine.deposits_customers", "quarantine.stream_events")
REFINED = ("silver.customer", "gold.customer_360", "audit.decision_log", "quarantine.gold_customer_360",
           "quarantine.silver_customer")


def _lakehouse(role: str, **settings) -> Lakehouse:
    return Lakehouse(None, Settings(home=Path("/srv/home"), role=role, **settings))


def test_the_raw_tables_are_bronze_and_the_quarantines_of_bronze_and_the_stream():
    assert set(RAW) <= RAW_PII and not set(REFINED) & RAW_PII
    assert {n for n in REGISTRY if n.startswith("bronze.")} <= RAW_PII
    assert all(n.startswith(("bronze.", "quarantine.")) for n in RAW_PII)


@pytest.mark.parametrize("role", ["pipeline", "analyst", "channel"])
def test_a_role_without_the_right_is_refused_every_raw_table_with_a_clear_error(role):
    lh = _lakehouse(role)
    for name in RAW:
        with pytest.raises(AccessDenied, match=rf"{name} holds raw PII.*MARKETOFONE_ROLE={role}"):
            lh.path(name)
        with pytest.raises(AccessDenied):
            lh.exists(name)            # a read or write finds its table through path(): refused before the engine
        assert not lh.may_access(name)
    for name in REFINED:
        assert lh.path(name) and lh.may_access(name)


@pytest.mark.parametrize("role", ["ingestion", "all"])
def test_ingestion_and_the_embedded_profile_reach_every_table(role):
    lh = _lakehouse(role)
    assert all(lh.path(n) and lh.may_access(n) for n in REGISTRY)


def test_each_layer_may_live_in_its_own_storage_and_a_published_quarantine_lives_with_its_table():
    lh = _lakehouse("ingestion", storage="s3a://lakehouse/lh",
                    layer_storage=(("bronze", "s3a://raw-bronze/lh"), ("quarantine", "s3a://raw-quarantine/lh")))
    assert lh.path("bronze.deposits_customers") == "s3a://raw-bronze/lh/bronze/deposits_customers"
    assert lh.path("quarantine.deposits_customers") == "s3a://raw-quarantine/lh/quarantine/deposits_customers"
    assert lh.path("gold.customer_360") == "s3a://lakehouse/lh/gold/customer_360"
    # write-audit-publish's quarantine of a gold table holds no raw PII: with gold, not in the raw bucket
    assert storage_layer("quarantine.gold_customer_360") == "gold"
    assert lh.path("quarantine.gold_customer_360") == "s3a://lakehouse/lh/quarantine/gold_customer_360"
    # one storage (the embedded profile): every table where it always was
    one = _lakehouse("all")
    assert one.path("quarantine.gold_customer_360") == "/srv/home/lakehouse/quarantine/gold_customer_360"


def test_the_role_and_the_layers_storage_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    monkeypatch.setenv("MARKETOFONE_ROLE", "analyst")
    monkeypatch.setenv("MARKETOFONE_STORAGE_URI_BRONZE", "s3a://raw-bronze/lh/")
    settings = Settings.from_env()
    assert settings.role == "analyst" and settings.storage_for("bronze") == "s3a://raw-bronze/lh"
    assert settings.storage_for("silver") == settings.storage_uri
    monkeypatch.setenv("MARKETOFONE_ROLE", "admin")
    with pytest.raises(ValueError, match=f"MARKETOFONE_ROLE must be one of {', '.join(ROLES)}"):
        Settings.from_env()
    monkeypatch.delenv("MARKETOFONE_ROLE")
    assert Settings.from_env().role == "all"   # the embedded profile runs every step in one process
