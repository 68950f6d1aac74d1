"""`marketofone airflow ...`: the airflow CLI on the project's Airflow home, DAGs and virtual environment.

Three things make it safe to start the UI (`airflow standalone`) from a fresh clone without activating the
venv: the venv's bin goes first on PATH (standalone starts its scheduler, api-server, triggerer and
dag-processor as `airflow ...` found on PATH); the api-server listens on 127.0.0.1 unless told otherwise
(the embedded profile is one person's laptop, not a server); and airflow runs in a process group of its
own that this command takes down whole, so stopping the command by its PID (SIGTERM) or Ctrl-C stops every
component and worker it started, not only the parent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from jobs.orchestrate import airflow_env, ensure_airflow_db
from jobs.settings import Settings

ADMIN = "admin"
LOCAL_HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 20   # standalone stops its components within a few seconds of SIGTERM


def command_env(settings: Settings, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The airflow command's environment: the project's Airflow settings, the venv first on PATH, the
    api-server on the loopback interface (both overridable from the environment)."""
    environ = dict(os.environ if environ is None else environ)
    env = {**environ, **airflow_env(settings)}
    venv_bin = str(Path(sys.executable).parent)
    path = environ.get("PATH", "")
    if venv_bin not in path.split(os.pathsep):
        env["PATH"] = os.pathsep.join(p for p in (venv_bin, path) if p)
    env.setdefault("AIRFLOW__API__HOST", LOCAL_HOST)
    return env


def password_file(settings: Settings) -> Path:
    """Where Airflow's simple auth manager keeps the generated admin password (Airflow's default place)."""
    return Path(os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
                or settings.airflow_home / "simple_auth_manager_passwords.json.generated")


def login_line(settings: Settings) -> str | None:
    """`login: admin / <password> (kept in <file>)` once the password exists, else None."""
    path = password_file(settings)
    try:
        passwords = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if ADMIN not in passwords:
        return None
    return f"login: {ADMIN} / {passwords[ADMIN]}  (kept in {path})"


def _announce_login(settings: Settings, env: dict[str, str], stop: threading.Event) -> None:
    """Print the UI's address and login once standalone has generated the password (it echoes it only on
    the very first start, and only in the middle of its own output)."""
    while not stop.wait(1.0):
        line = login_line(settings)
        if line:
            port = env.get("AIRFLOW__API__PORT", "8080")
            print(f"marketofone: Airflow UI at http://{env['AIRFLOW__API__HOST']}:{port}  {line}", flush=True)
            return


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # a process of the group belongs to someone else: treat it as alive
        return True
    return True


def stop_group(pgid: int, grace: float = STOP_GRACE_SECONDS, leader: subprocess.Popen | None = None) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever is left after `grace` seconds. `leader`, the group's
    first process when it is this process's child, is reaped as soon as it exits: unreaped, it would keep the group
    looking alive until the grace ran out."""
    def alive() -> bool:
        if leader is not None:
            leader.poll()
        return _group_alive(pgid)

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not alive():
            return
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and alive():
            time.sleep(0.2)


def run_airflow(settings: Settings, args: list[str]) -> int:
    """Run `airflow <args>` against the project's home and wait for it; its exit status is returned."""
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    env = command_env(settings)
    os.environ.update(airflow_env(settings))
    ensure_airflow_db(settings)
    airflow = str(Path(sys.executable).with_name("airflow"))
    child = subprocess.Popen([airflow, *args], env=env, start_new_session=True)
    pgid = child.pid   # start_new_session: the child leads a group of its own

    def forward(signum, _frame):
        # The terminal's Ctrl-C reaches only this process (the child has its own session): pass it on.
        try:
            os.killpg(pgid, signum)
        except ProcessLookupError:
            pass

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    stop = threading.Event()
    if args[:1] == ["standalone"]:
        threading.Thread(target=_announce_login, args=(settings, env, stop), daemon=True).start()
    try:
        return child.wait()
    finally:
        stop.set()
        stop_group(pgid)   # components standalone started and did not take down with it
        for sig, handler in previous.items():
            signal.signal(sig, handler)
