"""jobs/quick_exit.py: the exit handlers run and the output is flushed, the interpreter's teardown is skipped."""

from __future__ import annotations

import subprocess
import sys

from tests.paths import ROOT

SCRIPT = """
import atexit, logging, sys
from pathlib import Path
from jobs.quick_exit import quick_exit

marks = Path(sys.argv[1])

class Finalized:
    def __del__(self):   # runs in the interpreter's teardown only
        with marks.open("a") as f:
            f.write("teardown\\n")

kept = Finalized()
atexit.register(lambda: marks.open("a").write("exit handler\\n"))
logging.basicConfig(stream=sys.stderr, level=logging.INFO)
logging.getLogger("step").info("logged")
print("printed", end="")   # no line break: still in the buffer
quick_exit(3)
"""


def test_quick_exit_runs_the_exit_handlers_flushes_and_skips_the_teardown(tmp_path):
    marks = tmp_path / "marks.txt"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(marks)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 3
    assert done.stdout == "printed" and "INFO:step:logged" in done.stderr
    assert marks.read_text() == "exit handler\n"   # and no "teardown"


def test_the_same_script_without_it_pays_the_teardown(tmp_path):
    """The check above can tell: a plain exit finalizes the object."""
    marks = tmp_path / "marks.txt"
    plain = SCRIPT.replace("quick_exit(3)", "sys.exit(3)")
    done = subprocess.run([sys.executable, "-c", plain, str(marks)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 3 and marks.read_text().splitlines() == ["exit handler", "teardown"]
