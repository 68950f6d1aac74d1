"""A redis-server of its own for the tests and the decision API benchmark: loopback only, in a folder of its
own, nothing persisted (the online store is rebuilt by the next publish, so a restart may lose it)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

INSTALL = "install Redis's server (Debian: apt-get install redis-server)"


def binary() -> str:
    """The redis-server program on PATH (or Debian's), with how to install it when there is none."""
    found = shutil.which("redis-server") or (Path("/usr/bin/redis-server").exists() and "/usr/bin/redis-server")
    if not found:
        raise FileNotFoundError(f"no redis-server program on PATH: {INSTALL}")
    return found


@contextmanager
def running(folder: Path, port: int | None = None, timeout_s: float = 20.0) -> Iterator[str]:
    """Start redis-server on 127.0.0.1 (a free port unless given) in `folder`; its URL (redis://127.0.0.1:port/0)
    once it answers PING; stopped (and waited for) at the end."""
    from jobs.connect_server import free_port

    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "redis-server.log", "w")
    server = subprocess.Popen([binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(folder)],
                              cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait(server, url, folder, timeout_s)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _wait(server: subprocess.Popen, url: str, folder: Path, timeout_s: float) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"redis-server exited ({server.returncode}): "
                                   f"{(folder / 'redis-server.log').read_text()[-2000:]}")
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer on {url} within {timeout_s:.0f} s") from None
                time.sleep(0.05)
    finally:
        client.close()
