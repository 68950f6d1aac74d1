"""`marketofone airflow ...` from a fresh clone without the venv activated: the UI serves on the loopback
interface, says how to log in, and stopping the command stops every Airflow process it started."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from jobs.airflow_command import _group_alive, stop_group
from tests.paths import ROOT

VENV_BIN = str(Path(sys.executable).parent)


@pytest.mark.integration
def test_stopping_the_group_stops_the_children_too():
    parent = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300 & wait"], start_new_session=True)
    time.sleep(0.3)
    assert _group_alive(parent.pid)
    stop_group(parent.pid, grace=5)
    parent.wait(timeout=5)
    assert not _group_alive(parent.pid)


@pytest.mark.integration
def test_a_leader_that_is_our_child_is_reaped_so_its_sigterm_is_enough():
    """Unreaped, a child that obeyed SIGTERM stays a zombie in its group, which then looks alive until the grace
    runs out and SIGKILL follows: every service of jobs/local_stack.py took the whole grace to stop."""
    leader = subprocess.Popen(["sleep", "300"], start_new_session=True)
    time.sleep(0.2)
    stop_group(leader.pid, grace=30, leader=leader)
    assert leader.returncode == -signal.SIGTERM   # reaped by stop_group, and ended by SIGTERM, not SIGKILL
    assert not _group_alive(leader.pid)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    return {c.laddr.ip for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


@pytest.mark.e2e
def test_standalone_serves_without_the_venv_on_path_and_stops_whole(tmp_path):
    port = _free_port()
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "MARKETOFONE_HOME": str(tmp_path / "home"),
           "AIRFLOW__API__PORT": str(port)}
    cli = subprocess.Popen([str(Path(VENV_BIN) / "marketofone"), "airflow", "standalone"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        health, deadline = None, time.monotonic() + 420
        while time.monotonic() < deadline and cli.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as r:
                    health = json.load(r)
                if all(health[c]["status"] == "healthy" for c in ("scheduler", "triggerer", "dag_processor")):
                    break
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(3)
        assert cli.poll() is None, "marketofone airflow standalone exited"
        assert health and health["metadatabase"]["status"] == "healthy", health
        assert all(health[c]["status"] == "healthy" for c in ("scheduler", "triggerer", "dag_processor")), health
        assert _listening_addresses(port) == {"127.0.0.1"}
        started = psutil.Process(cli.pid).children(recursive=True)   # scheduler, api-server, workers, ...
        assert len(started) > 4
        cli.send_signal(signal.SIGTERM)   # what `kill <pid>` does
        cli.wait(timeout=60)
        out = cli.stdout.read()
        assert "No such file or directory: 'airflow'" not in out
        assert f"Airflow UI at http://127.0.0.1:{port}  login: admin / " in out
        gone, alive = psutil.wait_procs(started, timeout=30)
        assert [p.cmdline() for p in alive] == []
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
        stop_group(cli.pid, grace=5)

