"""jobs/airflow_api.py's own logic: what a run's task instances say, the password the CLI finds, the errors it
gives. The requests themselves go to a real api-server in tests/integration/test_production_profile.py."""

from __future__ import annotations

import datetime as dt
import json
import socket

import pytest

from jobs import airflow_api
from jobs.settings import Settings


def _ti(task_id: str, state: str, start: str | None = None, end: str | None = None, map_index: int = -1) -> dict:
    return {"task_id": task_id, "state": state, "map_index": map_index,
            "start_date": f"2026-06-30T10:{start}+00:00" if start else None,
            "end_date": f"2026-06-30T10:{end}+00:00" if end else None}


def test_a_mapped_task_shows_its_worst_instance():
    states = airflow_api.task_states([_ti("training_set", "success"), _ti("train", "success", map_index=0),
                                      _ti("train", "failed", map_index=1), _ti("train", None, map_index=2)])
    assert states == {"training_set": "success", "train": "failed"}


def test_ran_at_once_counts_overlapping_instances_only():
    overlapping = [_ti("ingest_a", "success", "00:00", "00:30"), _ti("ingest_b", "success", "00:10", "00:40"),
                   _ti("ingest_c", "success", "00:20", "00:25"), _ti("silver", "success", "00:00", "01:00")]
    assert airflow_api.ran_at_once(overlapping, "ingest_") == 3
    one_after_the_other = [_ti("ingest_a", "success", "00:00", "00:10"), _ti("ingest_b", "success", "00:11", "00:20")]
    assert airflow_api.ran_at_once(one_after_the_other, "ingest_") == 1
    assert airflow_api.ran_at_once([_ti("ingest_a", "queued")], "ingest_") == 0


def test_the_password_comes_from_the_setting_else_from_the_shared_passwords_file(tmp_path, monkeypatch):
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"etl": "from-the-file"}))
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
    settings = Settings(home=tmp_path, airflow_user="etl")
    assert airflow_api.AirflowApi.from_settings(settings).password == "from-the-file"
    assert airflow_api.AirflowApi.from_settings(settings.with_(airflow_password="set")).password == "set"
    assert airflow_api.AirflowApi.from_settings(settings.with_(airflow_user="other")).password == ""


def test_an_api_server_nobody_listens_on_is_named_with_its_setting_and_how_to_start_it():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    api = airflow_api.AirflowApi(f"http://127.0.0.1:{closed}", "admin", "pw")
    with pytest.raises(airflow_api.AirflowApiError, match=r"127\.0\.0\.1:\d+ \(MARKETOFONE_AIRFLOW_URL\) cannot be "
                                                          r"reached.*airflow api-server"):
        api.unpause("personalization_daily")


def test_the_password_is_not_printed_with_the_settings_or_the_client(tmp_path):
    shown = repr(Settings(home=tmp_path, airflow_password="s3cret", tokenization_key="k" * 40))
    assert "s3cret" not in shown and "k" * 40 not in shown
    client = airflow_api.AirflowApi("http://127.0.0.1:8080", "admin", "s3cret", _token="t0ken")
    assert "s3cret" not in repr(client) and "t0ken" not in repr(client)


def test_a_run_is_asked_for_the_business_date_at_midnight_utc():
    assert airflow_api._midnight(dt.date(2026, 6, 30)).isoformat() == "2026-06-30T00:00:00+00:00"
