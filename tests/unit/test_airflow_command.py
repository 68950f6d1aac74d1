"""`marketofone airflow ...` from a fresh clone without the venv activated: the venv comes first on PATH, the UI
listens on the loopback interface, the login is read from Airflow's password file, and the task logs are lines
the Airflow UI reads. (The processes it starts and stops: tests/integration/test_airflow_command.py.)"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from jobs.airflow_command import command_env, login_line
from jobs.settings import Settings

VENV_BIN = str(Path(sys.executable).parent)


def test_the_venv_comes_first_on_path_and_the_ui_listens_on_loopback(tmp_path):
    env = command_env(Settings(home=tmp_path), {"PATH": "/usr/bin:/bin"})
    assert env["PATH"].split(os.pathsep) == [VENV_BIN, "/usr/bin", "/bin"]
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    kept = command_env(Settings(home=tmp_path), {"PATH": f"{VENV_BIN}:/bin", "AIRFLOW__API__HOST": "0.0.0.0"})
    assert kept["PATH"] == f"{VENV_BIN}:/bin" and kept["AIRFLOW__API__HOST"] == "0.0.0.0"


def test_the_login_is_read_from_the_generated_password_file(tmp_path):
    settings = Settings(home=tmp_path)
    assert login_line(settings) is None
    (tmp_path / "airflow").mkdir()
    path = tmp_path / "airflow" / "simple_auth_manager_passwords.json.generated"
    path.write_text(json.dumps({"admin": "s3cret"}))
    assert login_line(settings) == f"login: admin / s3cret  (kept in {path})"


def test_task_log_lines_are_what_the_airflow_ui_reads():
    import logging

    from airflow.utils.log.file_task_handler import StructuredLogMessage

    from jobs.task_logs import _JsonLines

    record = logging.LogRecord("jobs.unify.run", logging.INFO, __file__, 1, "silver wrote %d rows", (42,), None)
    line = StructuredLogMessage.model_validate_json(_JsonLines().format(record))
    assert line.event == "silver wrote 42 rows" and line.level == "info" and line.logger == "jobs.unify.run"
