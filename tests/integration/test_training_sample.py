"""A model trained on sampled training rows (every positive, negatives weighted back by 1 / rate) keeps the
population's base rate and calibration. (The sample itself, drawn in Spark:
tests/unit/models/test_training_sample.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from jobs.models.sample import WEIGHT_COLUMN
from jobs.models.train import ModelSpec, train_model
from jobs.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")


def test_a_model_trained_on_weighted_negatives_stays_calibrated(tmp_path):
    """All positives and a fifth of the negatives, weighted 5: the predictions' weighted mean is the
    population's base rate (unweighted, it would be about four times too high)."""
    from tests.models_fixtures import make_frame

    settings = Settings(home=tmp_path)
    full = make_frame(n=1500, seed=11)
    keep = (full["label"] == 1) | (np.random.default_rng(0).random(len(full)) < 0.2)
    sampled = full[keep].reset_index(drop=True)
    sampled[WEIGHT_COLUMN] = np.where(sampled["label"] == 1, 1.0, 5.0)
    spec = ModelSpec(name="weighted_sample", label="label", experiment="marketofone-propensity",
                     time_column="as_of_date", features=("card_spend_30d", "payroll_30d", "age", "tenure_days"),
                     weight_column=WEIGHT_COLUMN)
    result = train_model(sampled, spec, settings, params={"sample_negative_rate": 0.2})
    test = result.test
    population = full[full["as_of_date"] == full["as_of_date"].max()]
    assert test.base_rate == pytest.approx(population["label"].mean(), rel=0.15)
    assert test.represented == pytest.approx(len(population), rel=0.1)
    mean_predicted = sum(r["mean_predicted"] * r["weight"] for r in test.reliability) / test.represented
    assert abs(mean_predicted - test.base_rate) < 0.3 * test.base_rate
    assert result.auc > 0.7
    from jobs.models import registry

    params = registry.client(settings).get_run(result.run_id).data.params
    assert params["weight_column"] == WEIGHT_COLUMN and float(params["sample_negative_rate"]) == 0.2

