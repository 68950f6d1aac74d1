"""The online store in Redis (jobs/serve/redis_store.py) on a real redis-server (conftest.py): it reads what the
embedded store reads for the same rows and the API answers the same from it, a publish switches its readers
between two requests and prunes the versions before the previous one, and the setting that chooses it
(MARKETOFONE_ONLINE_STORE) is validated."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import redis
from fastapi.testclient import TestClient

from jobs.connect_server import free_port
from jobs.decide.arbitrate import arbitrate, decision_id
from jobs.decide.catalog import load_catalog, load_policy
from jobs.decide.pricing import add_price_and_value
from jobs.decide.rules import apply_rules
from jobs.domain import CHANNELS
from jobs.serve import redis_store, store
from jobs.serve.answer import CONTEXT_PAGES, Context, Decider
from jobs.serve.app import create_app
from jobs.serve.backend import open_store, store_location, write_store
from jobs.serve.decision_wal import DecisionWal
from jobs.serve.redis_store import RedisStore, StoreUnavailableError
from jobs.serve.store import OnlineStore, StoreMissingError
from jobs.settings import Settings
from jobs.stream.rules import load
from tests.decide_fixtures import DAY, frame
from tests.unit.serve.test_answer import CU, _candidates

CATALOG, POLICY = load_catalog(), load_policy()
TODAY = DAY + dt.timedelta(days=1)
FEATURES = "customer_id string, income_monthly double, rent_30d double, rent_90d double, max_days_past_due double"
KEYS = [("account:deposits", "DA2", CU), ("account:lending", "L2", CU), ("customer:deposits", "D2", CU),
        ("customer:deposits", "D1", "CU1")]


@pytest.fixture
def published(spark, tmp_path, redis_url):
    """The same rows, keys and meta materialized in both stores; (the embedded store, the Redis store)."""
    batch = arbitrate(add_price_and_value(apply_rules(frame(spark, *_candidates(CU), *_candidates("CU1")), POLICY)),
                      POLICY).withColumn("decision_id", decision_id())
    customers = spark.createDataFrame([(CU, 3000.0, 0.0, 1500.0, 45.0), ("CU1", 2000.0, 900.0, 2700.0, None)],
                                      FEATURES)
    rows = store.customer_rows(customers, batch, load().features)
    keys = spark.createDataFrame(KEYS, "kind string, id string, customer_id string")
    meta = store.store_meta(DAY, CATALOG, POLICY)
    store.materialize(tmp_path, rows, meta, keys)
    name = redis_store.materialize(redis_url, rows, meta, keys)
    assert name.startswith(f"{redis_url}/{DAY}-")
    return OnlineStore(tmp_path), RedisStore(redis_url)


def test_redis_reads_what_the_embedded_store_reads(published, redis_url):
    sqlite, red = published
    assert red.meta == {} and red.name is None
    assert red.refresh() is True and red.refresh() is False
    sqlite.refresh()
    assert red.name.startswith(f"{redis_url}/{DAY}-")
    for customer in (CU, "CU1", "CU-NOPE"):
        assert red.customer(customer) == sqlite.customer(customer)
        assert red.features(customer) == sqlite.features(customer)
    holdout, candidates = red.customer(CU)
    assert holdout is False
    assert sorted((c["offer_id"], c["channel"]) for c in candidates) == [
        ("AUTO-DRIVE", "email"), ("MTG-HOME", "mobile"), ("PL-FLEX", "email"), ("PL-FLEX", "mobile")]
    assert {c["decision_id"] for c in candidates} and all(c["model"] for c in candidates)
    assert red.customer("CU1")[0] is True and red.customer("CU-NOPE") is None
    assert red.features(CU)["income_monthly"] == 3000.0 and red.features(CU)["rent_90d"] == 1500.0
    assert red.features("CU-NOPE") == {}
    for kind, id_, customer in KEYS:
        assert red.resolve(kind, id_) == sqlite.resolve(kind, id_) == customer
    assert red.resolve("account:deposits", "NOPE") is None and red.resolve("account:deposits", None) is None
    assert red.resolve("account:cards", "DA2") is None
    assert sorted(red.some_customers(10)) == sorted(sqlite.some_customers(10)) == ["CU1", CU]
    assert len(red.some_customers(1)) == 1
    assert sorted(red.some_ids("customer:deposits", 10)) == ["D1", "D2"] and red.some_ids("account:nope", 5) == []
    changing = ("materialized_at",)
    assert {k: v for k, v in red.meta.items() if k not in changing} \
        == {k: v for k, v in sqlite.meta.items() if k not in changing}
    assert red.meta["customers"] == 2 and red.meta["keys"] == 4 and red.meta["as_of_date"] == DAY.isoformat()
    assert red.meta["offers"]["PL-FLEX"]["validity_days"] == CATALOG.offer("PL-FLEX").validity_days


def test_the_api_answers_the_same_from_both_stores(published, tmp_path):
    sqlite, red = published
    deciders = [Decider(s, DecisionWal(tmp_path / name), today=lambda: TODAY) for name, s in
                (("sqlite", sqlite), ("redis", red))]
    compared = 0
    for customer in (CU, "CU1"):
        for channel in CHANNELS:
            for context in (None, *(Context(page=page) for page in CONTEXT_PAGES)):
                a, b = (d.answer(customer, channel, context) for d in deciders)
                for answer in (a, b):
                    del answer["request_id"], answer["decided_at"]
                assert a == b
                compared += bool(a["offers"])
    assert compared > 5   # offers were compared, not only empty answers
    for d in deciders:
        d.wal.close()


def _row(customer: str, x: float) -> dict:
    return {"customer_id": customer, "holdout": 0, "candidates": '{"scores":[],"offers":[]}',
            "features": f'{{"x": {x}}}'}


def _publish(url: str, day: dt.date, x: float) -> str:
    name = redis_store.publish(url, [_row("C1", x)], {"as_of_date": day.isoformat()},
                               [{"kind": "account:deposits", "id": "A1", "customer_id": "C1"}])
    return name.rpartition("/")[2]


def test_a_publish_switches_readers_between_requests_and_prunes_the_version_before_the_previous(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    reader = RedisStore(redis_url)
    first = _publish(redis_url, DAY, 1.0)
    assert reader.features("C1") == {"x": 1.0} and reader.meta["as_of_date"] == DAY.isoformat()
    second = _publish(redis_url, TODAY, 2.0)
    # A request that started on the first version finishes on it (it is kept) ...
    assert reader.features("C1") == {"x": 1.0} and reader.resolve("account:deposits", "A1") == "C1"
    # ... and the next one, after its refresh, reads the second.
    assert reader.refresh() is True and reader.features("C1") == {"x": 2.0}
    assert reader.meta["as_of_date"] == TODAY.isoformat() and reader.name.endswith(f"/{second}")
    third = _publish(redis_url, TODAY, 3.0)
    assert client.get(redis_store.POINTER) == third
    assert client.smembers(redis_store.VERSIONS) == {second, third}
    assert client.keys(f"mo1:store:{first}:*") == []
    assert len(client.keys(f"mo1:store:{second}:*")) == 3 and len(client.keys(f"mo1:store:{third}:*")) == 3
    assert reader.features("C1") == {"x": 2.0}   # still the version of its last refresh, kept
    assert reader.refresh() is True and reader.features("C1") == {"x": 3.0}


def test_a_half_written_version_is_deleted_by_the_next_publish_and_one_being_written_is_left(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    before = _publish(redis_url, DAY, 1.0)
    died = f"{DAY}-{time.time_ns()}"                      # started after `before`, never finished (no meta)
    writing = f"{TODAY}-{time.time_ns() + 10**15}"        # started after the next publish: another writer's
    for version in (died, writing):
        client.sadd(redis_store.VERSIONS, version)
        client.hset(f"mo1:store:{version}:customer:C9", "holdout", 0)
    current = _publish(redis_url, TODAY, 2.0)
    assert client.smembers(redis_store.VERSIONS) == {before, current, writing}   # `before`: the whole previous one
    assert client.keys(f"mo1:store:{died}:*") == []
    assert client.keys(f"mo1:store:{writing}:*") == [f"mo1:store:{writing}:customer:C9"]


def test_nothing_materialized_or_no_server_is_a_missing_store(redis_url, tmp_path):
    chosen = open_store(Settings(home=tmp_path, online_store=redis_url))
    assert isinstance(chosen, RedisStore)
    with pytest.raises(StoreMissingError, match=r"no online store in redis://127\.0\.0\.1:\d+/0: run the offers"):
        chosen.refresh()
    with pytest.raises(StoreMissingError):
        chosen.customer("C1")
    gone = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(StoreUnavailableError, match="cannot be reached"):
        gone.refresh()
    assert isinstance(open_store(Settings(home=tmp_path)), OnlineStore)


def test_health_names_the_store_of_either_backend(backend, spark):
    with TestClient(create_app(backend, as_of=TODAY)) as api:
        assert api.get("/health").status_code == 503
        rows = spark.createDataFrame([tuple(_row(CU, 1.0).values())],
                                     "customer_id string, holdout int, candidates string, features string")
        written = write_store(backend, rows, store.store_meta(DAY, CATALOG, POLICY))
        health = api.get("/health").json()
        assert health["store_date"] == DAY.isoformat() and health["customers"] == 1
        assert health["policy_version"] == POLICY.version
        assert written.endswith(health["store_file"])
        if backend.online_store:
            assert health["store_file"] == f"{backend.online_store}/{written.rpartition('/')[2]}"
        else:
            assert health["store_file"].startswith(f"store-{DAY}-") and health["store_file"].endswith(".sqlite")
        offers = api.get(f"/customers/{CU}/next-best-offers", params={"channel": "mobile"})
        assert offers.status_code == 200 and offers.json()["offers"] == []
        assert api.get("/customers/NOPE/next-best-offers", params={"channel": "mobile"}).status_code == 404


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "redis://:pw@cache.internal:6380/3",
                                 "rediss://cache.internal/1", "redis://localhost"])
def test_the_online_store_setting_takes_a_redis_url(url, tmp_path, monkeypatch):
    assert Settings(home=tmp_path, online_store=url).online_store == url
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    monkeypatch.setenv("MARKETOFONE_ONLINE_STORE", f" {url} ")
    assert Settings.from_env().online_store == url
    monkeypatch.setenv("MARKETOFONE_ONLINE_STORE", "")
    assert Settings.from_env().online_store == ""


@pytest.mark.parametrize("url, why", [("http://cache:6379/0", "the scheme is not redis://"),
                                      ("/srv/online", "the scheme is not redis://"),
                                      ("redis://", "it names no host"),
                                      ("redis://cache:port/0", "Port could not be cast"),
                                      ("redis://cache:6379/zero", "the database .* is not a number"),
                                      ("redis://cache:6379/0?timeout=1", "it has a query")])
def test_anything_else_is_an_error_naming_the_setting(url, why, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=f"MARKETOFONE_ONLINE_STORE must be empty .* or a Redis URL, "
                                         f"redis://host:port/db, and {why}"):
        Settings(home=tmp_path, online_store=url)
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    monkeypatch.setenv("MARKETOFONE_ONLINE_STORE", url)
    with pytest.raises(ValueError, match="bad MARKETOFONE_\\* setting: MARKETOFONE_ONLINE_STORE"):
        Settings.from_env()


def test_a_password_in_the_url_is_never_shown(tmp_path):
    url = "redis://:s3cret@cache.internal:6380/2"
    assert "s3cret" not in repr(Settings(home=tmp_path, online_store=url))
    assert redis_store.display_url(url) == "redis://cache.internal:6380/2"
    assert store_location(Settings(home=tmp_path, online_store=url)) == "redis://cache.internal:6380/2"
    assert store_location(Settings(home=tmp_path)) == str(tmp_path / "online")
