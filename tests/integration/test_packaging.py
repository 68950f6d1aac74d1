"""The contracts (schemas/) and the GX suites (expectations/) ship inside the wheel as jobs/_data/ (setup.py),
and a wheel installed without the source tree reads them from there (jobs/resources.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from jobs.tables import SOURCES
from tests.paths import ROOT

# The checkout's build outputs and local state: left out of the copy the wheel is built from.
NOT_BUILT_FROM = {".git", ".venv", ".marketofone", "build", "dist", ".pytest_cache", ".ruff_cache", "spark-warehouse",
                  "metastore_db", "derby.log"}


def _source_files(folder: str) -> dict[str, Path]:
    """Wheel entry name -> source file, for every file of a top-level folder."""
    return {f"jobs/_data/{p.relative_to(ROOT).as_posix()}": p
            for p in sorted((ROOT / folder).rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


# -- integration: build the wheel, run it without the source tree ------------------------------------
def _pip_wheel_args() -> list[str]:
    """Offline when the venv has the build backend pyproject.toml asks for; else pip fetches it (PyPI)."""
    import setuptools

    if int(setuptools.__version__.split(".")[0]) >= 69 and importlib.util.find_spec("wheel"):
        return ["--no-build-isolation"]
    return []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy of the checkout: setuptools writes build/ and *.egg-info next to the sources, and a
    # build/ left in the shared checkout (or one another run is writing) could leak stale files into the wheel.
    tmp = tmp_path_factory.mktemp("wheel")
    project = tmp / "project"
    shutil.copytree(ROOT, project, ignore=lambda d, names: {
        n for n in names if n == "__pycache__" or n.endswith(".egg-info") or (Path(d) == ROOT and n in NOT_BUILT_FROM)})
    out = tmp / "dist"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
                           *_pip_wheel_args(), "-w", str(out), str(project)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    [built] = out.glob("marketofone-*.whl")
    return built


@pytest.mark.integration
@pytest.mark.timeout(360)
def test_the_wheel_carries_every_contract_and_suite(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for name in ("jobs/_data/expectations/gold.customer_360.json", "jobs/_data/schemas/decisioning/policy.json",
                     "jobs/_data/schemas/decisioning/catalog.json", "jobs/_data/schemas/channels/offers.json",
                     "jobs/_data/schemas/reference/mcc_categories.json", "jobs/resources.py"):
            assert name in names, name
        for silo, entities in SOURCES.items():
            for entity in entities:
                assert f"jobs/_data/schemas/landing/{silo}/{entity}.json" in names, (silo, entity)
        # Exactly the two folders, byte for byte: nothing left out, nothing stale.
        expected = {**_source_files("schemas"), **_source_files("expectations")}
        assert {n for n in names if n.startswith("jobs/_data/") and not n.endswith("/")} == set(expected)
        for name, source in expected.items():
            assert z.read(name) == source.read_bytes(), name


_INSTALLED = r"""
import json, sys
from pathlib import Path

site = Path(sys.argv[1]).resolve()
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]

import jobs
from jobs.contracts import SCHEMAS_DIR, load_contract
from jobs.decide.catalog import DECISIONING, load_catalog, load_policy
from jobs.decide.channels import CONTRACT, contract_columns
from jobs.generate.reference import MCC
from jobs.quality import EXPECTATIONS_DIR, available_suites, suite_path
from jobs.resources import resource_dir
from jobs.tables import SOURCES

contracts = [load_contract(silo, entity).entity for silo, entities in SOURCES.items() for entity in entities]
print(json.dumps({
    "site": str(site), "jobs": jobs.__file__,
    "paths": {"schemas": str(resource_dir("schemas")), "expectations": str(resource_dir("expectations")),
              "SCHEMAS_DIR": str(SCHEMAS_DIR), "EXPECTATIONS_DIR": str(EXPECTATIONS_DIR),
              "DECISIONING": str(DECISIONING), "CONTRACT": str(CONTRACT)},
    "contracts": len(contracts), "offers": len(load_catalog().offers), "rules": len(load_policy().rules),
    "channel_columns": len(contract_columns()), "mcc_categories": len(MCC), "suites": available_suites(),
    "customer_360": json.loads(suite_path("gold.customer_360").read_text())["name"],
}))
"""


@pytest.mark.integration
@pytest.mark.timeout(360)
def test_an_installed_wheel_reads_its_packaged_copy(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", _INSTALLED, str(site)], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])

    site = Path(got["site"])
    assert Path(got["jobs"]).is_relative_to(site)
    data = site / "jobs" / "_data"
    assert got["paths"] == {
        "schemas": str(data / "schemas"), "expectations": str(data / "expectations"),
        "SCHEMAS_DIR": str(data / "schemas"), "EXPECTATIONS_DIR": str(data / "expectations"),
        "DECISIONING": str(data / "schemas" / "decisioning"),
        "CONTRACT": str(data / "schemas" / "channels" / "offers.json"),
    }
    assert got["contracts"] == sum(len(entities) for entities in SOURCES.values())
    assert got["offers"] > 0 and got["rules"] > 0 and got["channel_columns"] > 0 and got["mcc_categories"] > 0
    assert got["suites"] == sorted(p.stem for p in (ROOT / "expectations").glob("*.json"))
    assert got["customer_360"] == "gold.customer_360"

