"""Which online store the settings name, the one place that chooses: MARKETOFONE_ONLINE_STORE "" = the embedded
SQLite files under <home>/online/ (jobs/serve/store.py), redis://host:port/db = Redis (jobs/serve/redis_store.py),
which every process of the production stack shares. Both have the same rows, guarantees and reading interface
(`Store`); the offers step writes with `write_store`, the API, the triggers and the benchmarks read `open_store`.
"""

from __future__ import annotations

from typing import Protocol

from pyspark.sql import DataFrame

from jobs.serve.store import OnlineStore, materialize, online_dir
from jobs.settings import Settings


class Store(Protocol):
    """What the API and the triggers read, from either backend (OnlineStore in store.py, RedisStore in
    redis_store.py)."""

    meta: dict

    @property
    def name(self) -> str | None: ...
    def refresh(self) -> bool: ...
    def customer(self, customer_id: str) -> tuple[bool, list[dict]] | None: ...
    def features(self, customer_id: str) -> dict: ...
    def resolve(self, kind: str, id_: str | None) -> str | None: ...
    def some_ids(self, kind: str, n: int) -> list[str]: ...
    def some_customers(self, n: int) -> list[str]: ...


def open_store(settings: Settings) -> Store:
    """The store the settings name (MARKETOFONE_ONLINE_STORE): Redis for a redis:// URL, else the home's files."""
    if settings.online_store:
        from jobs.serve.redis_store import RedisStore  # redis is the production extra: only imported for it

        return RedisStore(settings.online_store)
    return OnlineStore(settings.home)


def write_store(settings: Settings, rows: DataFrame, meta: dict, keys: DataFrame | None = None) -> str:
    """Publish a new store where the settings say (see `open_store`); its name (a file, or a Redis version)."""
    if settings.online_store:
        from jobs.serve import redis_store

        return redis_store.materialize(settings.online_store, rows, meta, keys)
    return str(materialize(settings.home, rows, meta, keys))


def store_location(settings: Settings) -> str:
    """Where the settings' store lives, to show (a Redis URL without its password, or the folder)."""
    if settings.online_store:
        from jobs.serve.redis_store import display_url

        return display_url(settings.online_store)
    return str(online_dir(settings.home))
