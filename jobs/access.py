"""Who may see what: the roles the product runs as, and the tables that hold raw PII.

Bronze holds the silos' exports as they came (names, national ids, emails, streets), and so do the quarantine
tables of bronze and of the event stream (a row refused at ingest is kept as it came). Past bronze, direct
identifiers are tokens (jobs/unify/tokenize.py). So only the role that loads and tokenizes may touch those raw
tables:

| role | runs | raw tables | the rest |
| --- | --- | --- | --- |
| `ingestion` | ingest, the silver step (it tokenizes), the stream's loads, `rotate-key` | read, write | read, write |
| `pipeline` | gold, training, scoring, decisions, KPIs, channel publishing | refused | read, write |
| `analyst` | `marketofone sql`, notebooks | refused | read |
| `channel` | the channels' pulls (`marketofone offers`), the decision API | refused | read |
| `all` | the embedded profile: every step in one process (the default) | read, write | read, write |

(raw tables: bronze.* and their quarantines, jobs/tables.py's RAW_PII.)

The Lakehouse (jobs/tables.py) refuses a raw table to a role without the right, with an AccessDenied naming the
role, before the engine is asked anything. That check guards against a job reaching for bronze by mistake; the
boundary itself is the storage: each layer has its own location (MARKETOFONE_STORAGE_URI_<LAYER>,
jobs/settings.py), and in the production stack (docker-compose.yml) only the ingestion role's credentials open
the raw layers' buckets.
"""

from __future__ import annotations

ROLES = ("all", "ingestion", "pipeline", "analyst", "channel")
RAW_READERS = frozenset({"all", "ingestion"})   # the roles that may read and write raw PII
RAW_LAYERS = ("bronze", "quarantine")           # the layers whose own storage holds raw PII


class AccessDenied(PermissionError):
    """A role asked for a table it may not read or write."""


def may_touch_raw(role: str) -> bool:
    return role in RAW_READERS


def check(role: str, full_name: str, raw: bool) -> None:
    """Refuse `full_name` to `role` when the table holds raw PII (`raw`) and the role may not touch it."""
    if raw and not may_touch_raw(role):
        raise AccessDenied(f"{full_name} holds raw PII, which only the ingestion role reads or writes; this process "
                           f"runs as MARKETOFONE_ROLE={role} (jobs/access.py)")
