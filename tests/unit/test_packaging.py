"""The contracts (schemas/) and the GX suites (expectations/) ship inside the wheel as jobs/_data/ (setup.py),
and a wheel installed without the source tree reads them from there (jobs/resources.py). Here: which folder is
read, the checkout's or a packaged copy. (The wheel built and installed: tests/integration/test_packaging.py.)"""

from __future__ import annotations

import zipfile

import pytest

from jobs import resources
from tests.paths import ROOT

FOLDERS = ("schemas", "expectations")


# -- unit: which folder is read ------------------------------------------------------------------------
def test_the_checkout_reads_the_top_level_folders():
    from jobs.contracts import SCHEMAS_DIR
    from jobs.decide.catalog import DECISIONING
    from jobs.decide.channels import CONTRACT
    from jobs.quality import EXPECTATIONS_DIR

    # No packaged copy in the checkout: a stray jobs/_data/ would shadow the folders everyone edits.
    assert not (ROOT / "jobs" / "_data").exists()
    assert resources.resource_dir("schemas") == ROOT / "schemas"
    assert resources.resource_dir("expectations") == ROOT / "expectations"
    assert SCHEMAS_DIR == ROOT / "schemas"
    assert EXPECTATIONS_DIR == ROOT / "expectations"
    assert DECISIONING == ROOT / "schemas" / "decisioning"
    assert CONTRACT == ROOT / "schemas" / "channels" / "offers.json"


def test_a_packaged_copy_is_preferred_and_each_folder_falls_back_on_its_own(tmp_path, monkeypatch):
    (tmp_path / "_data" / "schemas").mkdir(parents=True)
    monkeypatch.setattr(resources, "files", lambda package: tmp_path)
    assert resources.resource_dir("schemas") == (tmp_path / "_data" / "schemas").resolve()
    assert resources.resource_dir("expectations") == ROOT / "expectations"


def test_a_zipped_package_falls_back_to_the_checkout(tmp_path, monkeypatch):
    archive = tmp_path / "jobs.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("jobs/_data/schemas/README.md", "")
    monkeypatch.setattr(resources, "files", lambda package: zipfile.Path(archive, "jobs/"))
    assert resources.packaged_dir("schemas") is None
    assert resources.resource_dir("schemas") == ROOT / "schemas"


def test_an_unknown_folder_is_refused():
    with pytest.raises(ValueError, match="unknown resource folder"):
        resources.resource_dir("landing")


# Runs with the unzipped wheel first on sys.path and the editable install's finder (which maps `jobs` to the
# checkout) removed, from a cwd outside the checkout: only the wheel's files can answer.


def test_the_lock_leaves_out_the_iri_grammar_that_every_airflow_import_would_build():
    """jsonschema builds rfc3987-syntax's grammar when it is installed: about a CPU-second in each process that
    imports Airflow, Great Expectations or MLflow. `make lock` leaves it out, so the venv built from the lock
    has none."""
    import importlib.util
    import re

    lock = (ROOT / "requirements.lock").read_text()
    assert "--no-emit-package rfc3987-syntax" in (ROOT / "Makefile").read_text()
    assert not re.search(r"^(rfc3987-syntax|lark)==", lock, re.M)
    assert importlib.util.find_spec("rfc3987_syntax") is None
