"""Build hook only; the project's metadata is in setup.cfg.

The contracts (schemas/) and the Great Expectations suites (expectations/) stay at the repository's top
level, the one copy anyone edits. A wheel installed on a cluster has no source tree, so building one copies
both folders into the package as jobs/_data/schemas/ and jobs/_data/expectations/, where
jobs/resources.py finds them. The copy is made in the build directory only, never in the checkout; the
editable install (make venv) skips it and keeps reading the top-level folders.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PACKAGED = ("schemas", "expectations")  # top-level folder -> jobs/_data/<folder> in the wheel


class build_py_with_data(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for folder in PACKAGED:
            source = ROOT / folder
            if not source.is_dir():
                raise FileNotFoundError(f"{source} is missing: the wheel must carry it (see setup.py)")
            target = Path(self.build_lib, "jobs", "_data", folder)
            shutil.rmtree(target, ignore_errors=True)  # a reused build/ must not keep a deleted file
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]", ".*"))


setup(cmdclass={"build_py": build_py_with_data})
