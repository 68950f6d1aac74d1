"""What `make demo` says about scoring is what the runs did."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from deltalake import write_deltalake

from jobs.demo import scores_of, scoring_note
from jobs.settings import Settings
from jobs.tables import Lakehouse


def test_the_first_run_promises_no_scores_only_without_champions():
    assert scoring_note([]) == "no model yet, so nothing is scored"
    champions = [{"model": "propensity_savings"}, {"model": "propensity_mortgage"}]
    assert scoring_note(champions) == "scored with the 2 champion(s) already in the MLflow store"


def test_scores_are_counted_for_the_date_only(tmp_path):
    settings = Settings(home=tmp_path)
    day = dt.date(2026, 6, 30)
    assert scores_of(settings, day) == 0   # no table yet
    frame = pd.DataFrame({"customer_id": ["a", "b", "c"],
                          "as_of_date": [day, day, day + dt.timedelta(days=1)]})
    write_deltalake(str(Lakehouse(None, settings).path("gold.propensity_scores")), frame)
    assert scores_of(settings, day) == 2
    assert scores_of(settings, day + dt.timedelta(days=1)) == 1
