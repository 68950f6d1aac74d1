"""Where the contracts (schemas/) and the Great Expectations suites (expectations/) are read from.

The two folders live at the repository's top level, next to jobs/, and stay the one source of truth.
A source checkout (and the editable install the Makefile makes, which imports jobs/ from the checkout)
reads them there. A wheel installed on a cluster has no source tree: the build (setup.py) copies both
folders into the package as jobs/_data/schemas/ and jobs/_data/expectations/, so the installed package
carries them. `resource_dir` prefers that packaged copy when it is there and falls back to the checkout's
folder otherwise. The build writes the copy only into its build directory: no copy is ever committed.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGE = "jobs"
DATA = "_data"  # the package-data folder the build fills: jobs/_data/<name>/
NAMES = ("schemas", "expectations")


def packaged_dir(name: str) -> Path | None:
    """The installed package's copy of `name` (jobs/_data/<name>), or None where there is none.

    Only a real folder counts: a package imported from a zip archive gives a Traversable that is not a
    Path, and callers glob and open plain paths."""
    packaged = files(PACKAGE) / DATA / name
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged.resolve()
    return None


def source_dir(name: str) -> Path:
    """The top-level folder `name` of the source checkout this package was imported from."""
    return Path(__file__).resolve().parent.parent / name


def resource_dir(name: str) -> Path:
    """The folder holding `name` ("schemas" or "expectations"): the packaged copy in an installed wheel,
    else the source checkout's top-level folder. The path is not checked to exist: a missing file fails
    where it is read, with the path in the error."""
    if name not in NAMES:
        raise ValueError(f"unknown resource folder {name!r}; known: {', '.join(NAMES)}")
    return packaged_dir(name) or source_dir(name)
