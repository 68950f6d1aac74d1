"""Task logs the Airflow UI can show for runs made in-process (`marketofone run`, `make demo`).

A real worker's supervisor writes each task's log to `<base_log_folder>/<log_filename_template>`, where the
UI reads it. `dag.test()` runs tasks inside the calling process and writes no such file, so the UI answered
"Log file not found on worker" for every task of the embedded runs. While a task runs in-process, this
writes the project's own log records (and the traceback of a failure) to the very file a worker would have
written, as JSON lines in the shape the UI reads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from pathlib import Path

PROJECT_LOGGER = "jobs"


class _JsonLines(logging.Formatter):
    """One JSON object per record: the fields of Airflow's structured task-log lines."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"timestamp": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(),
                "event": record.getMessage(), "level": record.levelname.lower(), "logger": record.name}
        if record.exc_info:
            line["error_detail"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def in_process() -> bool:
    """True when the current task runs inside `dag.test()` (no supervisor process writing its log)."""
    try:
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms
    except ImportError:
        return False
    return isinstance(getattr(task_runner, "SUPERVISOR_COMMS", None), InProcessSupervisorComms)


def log_path(ti) -> Path:
    """Where a worker writes this task instance's log: Airflow's base_log_folder + log_filename_template."""
    import jinja2
    from airflow.configuration import conf

    relative = jinja2.Template(conf.get("logging", "log_filename_template")).render(ti=ti, try_number=ti.try_number)
    return Path(conf.get("logging", "base_log_folder")).expanduser() / relative


@contextlib.contextmanager
def task_log_file():
    """Write the project's log records of the current in-process task to its Airflow log file."""
    if not in_process():
        yield None
        return
    from airflow.sdk import get_current_context

    path = log_path(get_current_context()["ti"])
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(_JsonLines())
    handler.setLevel(logging.INFO)
    logger = logging.getLogger(PROJECT_LOGGER)
    # The file gets INFO even when the terminal shows only warnings: pin the terminal's handlers to the
    # level they showed before, then open the project's logger up to INFO for the task's duration.
    root = logging.getLogger()
    pinned = [h for h in root.handlers if h.level == logging.NOTSET]
    for h in pinned:
        h.setLevel(root.level)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield path
    except BaseException:
        logger.exception("task failed")
        raise
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        for h in pinned:
            h.setLevel(logging.NOTSET)
        handler.close()
