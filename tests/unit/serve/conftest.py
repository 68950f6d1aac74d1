"""A real redis-server for the online store's Redis backend (jobs/serve/redis_store.py): one per test process,
emptied before each test. Without the program the tests fail, naming what to install: a skipped backend would
pass CI unseen."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    from jobs.serve import redis_server

    try:
        redis_server.binary()
    except FileNotFoundError as exc:
        pytest.fail(f"the Redis store's tests need a real Redis: {exc}", pytrace=False)
    with redis_server.running(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server):
    """The server's URL, its database empty."""
    import redis

    with redis.Redis.from_url(redis_server) as client:
        client.flushdb()
    return redis_server


@pytest.fixture(params=["sqlite", "redis"])
def backend(request, tmp_path):
    """Settings of a home in tmp_path whose online store is the embedded one, or the Redis server's."""
    from jobs.settings import Settings

    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    return Settings(home=tmp_path, online_store=url)
