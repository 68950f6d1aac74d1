"""The package's layout shows the flow: the rules below are read from the source (ast), so no Spark starts.

- nothing in jobs imports the command (jobs.cli): it is the top, the demo and the rest are below it;
- gold (features and training sets) never imports decide or measure, which are downstream of it;
- the modules import each other without a cycle, counting the imports inside functions too;
- the product vocabulary (jobs.domain) is plain Python: the DAG files and the generator import it without Spark.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

JOBS = ROOT / "jobs"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(JOBS.rglob("*.py"))}


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imported_nodes(tree: ast.AST):
    """Every import statement, at the top or inside a function, except under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if _type_checking_only(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(module: str) -> set[str]:
    """The jobs modules `module` imports (a package's __init__ for `from jobs.x import name`)."""
    found = set()
    for node in _imported_nodes(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif node.level:
            raise AssertionError(f"{module}: relative import; the package uses absolute ones")
        else:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]
        found |= {n for n in names if n in MODULES and n != module}
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def test_nothing_in_the_package_imports_the_command():
    assert "jobs.cli" in MODULES
    assert [m for m, deps in GRAPH.items() if "jobs.cli" in deps] == []


def test_the_demo_and_the_command_do_not_import_each_other_both_ways():
    assert "jobs.cli" not in GRAPH["jobs.demo"]
    assert not ("jobs.demo" in GRAPH["jobs.cli"] and "jobs.cli" in GRAPH["jobs.demo"])


@pytest.mark.parametrize("downstream", ["jobs.decide", "jobs.measure"])
def test_gold_never_imports_what_is_downstream_of_it(downstream):
    offending = {m: sorted(d for d in deps if d == downstream or d.startswith(downstream + "."))
                 for m, deps in GRAPH.items() if m == "jobs.gold" or m.startswith("jobs.gold.")}
    assert {m: d for m, d in offending.items() if d} == {}


def test_the_fairness_report_imports_nothing_from_decide():
    """The offers step imports it (the fairness gate), so it must not import decide back."""
    assert not any(d.startswith("jobs.decide") for d in GRAPH["jobs.measure.fairness"])


def test_no_import_cycle_between_modules():
    def cycle_from(start: str) -> list[str] | None:
        path, on_path, done = [], set(), set()

        def visit(m: str) -> list[str] | None:
            if m in on_path:
                return path[path.index(m):] + [m]
            if m in done:
                return None
            path.append(m)
            on_path.add(m)
            for d in sorted(GRAPH[m]):
                if d.startswith(m + ".") or m.startswith(d + "."):
                    continue  # a package and its own modules (the __init__ re-exports them)
                found = visit(d)
                if found:
                    return found
            path.pop()
            on_path.discard(m)
            done.add(m)
            return None

        return visit(start)

    cycles = [c for m in sorted(MODULES) if (c := cycle_from(m))]
    assert cycles == [], " -> ".join(cycles[0])


def test_the_domain_imports_without_spark():
    code = "import sys, jobs.domain; assert not any(m.startswith('pyspark') for m in sys.modules), 'pyspark'"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_generator_uses_the_domains_vocabulary():
    from jobs import domain
    from jobs.generate import events, openings, people

    assert openings.PRODUCTS is domain.PRODUCTS
    assert events.EVENTS is domain.LIFE_EVENTS
    assert set(people.CHANNELS) == set(domain.CHANNELS)  # the world draws them in its own order
