"""What the README and the notebook show analysts works as shown (issue 13): the notebook's spend chart, and the
notebook front end the README's command opens. (The README's deltalake snippet, run as a script:
tests/integration/test_analyst.py.)"""

from __future__ import annotations

import configparser
import json
import re

from tests.paths import ROOT


def _notebook_cell(marker: str) -> str:
    cells = json.loads((ROOT / "notebooks" / "customer_360.ipynb").read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return next(s for s in sources if marker in s)


def test_the_notebook_spend_chart_shows_the_last_30_days_only():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    code = _notebook_cell("card spend by category, last 30 days")
    profile = pd.DataFrame([{"customer_id": "CU1", "spend_groceries_30d": 120.0, "spend_travel_30d": 40.0,
                             "spend_groceries_90d": 400.0, "spend_travel_90d": 900.0, "card_spend_30d": 160.0}])
    scope = {"profile": profile, "CUSTOMER_ID": "CU1", "plt": plt}
    exec(compile(code, "customer_360.ipynb", "exec"), scope)  # noqa: S102 - the notebook's own cell
    spend = scope["spend"]
    assert sorted(spend.index) == ["groceries", "travel"]
    assert spend.to_dict() == {"groceries": 120.0, "travel": 40.0}
    plt.close("all")


def test_the_notebooks_extra_brings_a_front_end_the_readme_opens():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    extra = [line.strip() for line in config["options.extras_require"]["notebooks"].splitlines() if line.strip()]
    assert any(line.startswith("jupyterlab") for line in extra), extra
    assert re.search(r"^jupyterlab==", (ROOT / "requirements.lock").read_text(), re.M)
    readme = (ROOT / "README.md").read_text()
    assert "`.venv/bin/jupyter lab notebooks/customer_360.ipynb`" in readme
