"""Leaving a process without the interpreter's final teardown, for the entry points that run whole steps.

A DAG run's process has imported Airflow, Great Expectations, MLflow, pandas, XGBoost and Splink by its end, and
Python's teardown of all that took about 3 seconds (and 3 CPU-seconds) after the run's result was written: once
per DAG run, dozens of times in the test suite. Worse, Arrow and delta-rs reader threads can still be alive then,
and about half of the processes that read a Delta table with delta-rs aborted at exit ("terminate called without
an active exception", exit 134) after a correct answer (apache/arrow#34314, delta-io/delta-rs#2184).

The exit handlers still run first (they stop the embedded engine, close Airflow's database connections, end a JVM
engine's gateway), and logs and output are flushed; only the freeing of memory the operating system frees anyway
is skipped.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys


def quick_exit(code: int) -> None:
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
