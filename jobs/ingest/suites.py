"""Bronze expectation suites, generated from the landing contracts so the two cannot drift.

    suite_from_contract(contract) -> dict     the GX 1.x suite JSON for bronze.<silo>_<entity>
    python -m jobs.ingest.suites --write      regenerate expectations/bronze.*.json from schemas/landing/
    python -m jobs.ingest.suites --check      exit 1 if a file on disk differs from what the contract gives

What the suite holds (all of it is also in the contract checks, jobs/ingest/contract_checks.py):
the table has at least one row and the contract's columns; every required column is not null (every
`expected` one too, as a warning: counted in the results, the row kept); every
`pattern` as a regex; every `allowed` list as a value set; the key unique (the first row in file order,
`_row_id`, is kept). What only the contract checks do, because GX cannot say it portably over text
columns: the value parses as the column's type in the silo's format (a date as `MM/dd/yyyy`, a
number), and `min` / `max` on the parsed value. expectations/README.md states the same split.

GX runs on the raw text exactly as read (`""` reads as NULL), while the contract checks trim first;
a value with stray spaces around it therefore passes the contract's pattern and fails GX's regex. Both
verdicts go to the one quarantine (jobs/ingest/load.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from jobs.contracts import SCHEMAS_DIR, Contract, load_contract
from jobs.quality import EXPECTATIONS_DIR
from jobs.tables import SOURCES

GENERATOR = "python -m jobs.ingest.suites --write"


def suite_name(contract: Contract) -> str:
    return f"bronze.{contract.name}"


def suite_from_contract(contract: Contract) -> dict:
    """The bronze suite for one landing contract, as the JSON `quality.load_suite` reads."""
    def expectation(type_: str, kwargs: dict, rule: str | None = None, **meta) -> dict:
        if rule:
            meta = {"contract_rule": rule, **meta}
        return {"type": type_, "kwargs": kwargs, "meta": meta}

    expectations = [
        expectation("expect_table_row_count_to_be_between", {"min_value": contract.min_rows},
                    notes="an export without rows is a failed export: the task fails" if contract.min_rows else
                    "an activity file may be empty (a quiet day); the check still runs"),
        expectation("expect_table_columns_to_match_set",
                    {"column_set": contract.column_names, "exact_match": False},
                    notes="the contract's columns; load metadata (_row_id, _source_file, ...) is there too"),
    ]
    for column in contract.columns:
        if column.required:
            expectations.append(expectation("expect_column_values_to_not_be_null", {"column": column.name},
                                            f"required:{column.name}"))
        elif column.expected:
            expectations.append(expectation("expect_column_values_to_not_be_null", {"column": column.name},
                                            f"expected:{column.name}", severity="warning",
                                            notes="a warning: an empty value is counted, the row is kept"))
        if column.pattern:
            expectations.append(expectation("expect_column_values_to_match_regex",
                                             {"column": column.name, "regex": column.pattern},
                                             f"pattern:{column.name}"))
        if column.allowed is not None:
            expectations.append(expectation("expect_column_values_to_be_in_set",
                                            {"column": column.name, "value_set": list(column.allowed)},
                                            f"allowed:{column.name}"))
    if contract.key:
        rule = "unique:" + "+".join(contract.key)
        keep_first = "of rows with the same key the first in the file is kept"
        if len(contract.key) == 1:
            expectations.append(expectation("expect_column_values_to_be_unique", {"column": contract.key[0]},
                                            rule, keep_first_by=["_row_id"], notes=keep_first))
        else:
            kwargs = {"column_list": list(contract.key), "ignore_row_if": "any_value_is_missing"}
            expectations.append(expectation("expect_compound_columns_to_be_unique", kwargs, rule,
                                            keep_first_by=["_row_id"], notes=keep_first))
    source = (SCHEMAS_DIR / "landing" / contract.silo / f"{contract.entity}.json").relative_to(SCHEMAS_DIR.parent)
    return {
        "name": suite_name(contract),
        "expectations": expectations,
        "meta": {
            "description": f"bronze.{contract.name}: {contract.description}".strip(),
            "generated_from": source.as_posix(),
            "generated_by": f"{GENERATOR} (do not edit by hand: change the contract and regenerate)",
            "pii_columns": contract.pii_columns,
        },
        "notes": None,
    }


def render(suite: dict) -> str:
    """Stable text: one expectation per line, so a contract change shows as a small diff."""
    lines = ["{", f'  "name": {json.dumps(suite["name"])},', '  "expectations": [']
    items = [f"    {json.dumps(e, ensure_ascii=False)}" for e in suite["expectations"]]
    lines.append(",\n".join(items))
    lines += ["  ],", f'  "meta": {json.dumps(suite["meta"], ensure_ascii=False)},',
              f'  "notes": {json.dumps(suite["notes"])}', "}"]
    return "\n".join(lines) + "\n"


def contracts() -> list[Contract]:
    return [load_contract(silo, entity) for silo, entities in SOURCES.items() for entity in entities]


def suite_file(contract: Contract, directory: Path | None = None) -> Path:
    return Path(directory or EXPECTATIONS_DIR) / f"{suite_name(contract)}.json"


def stale(directory: Path | None = None) -> list[Path]:
    """Suite files that are missing or differ from what their contract generates."""
    out = []
    for contract in contracts():
        path = suite_file(contract, directory)
        if not path.is_file() or json.loads(path.read_text()) != suite_from_contract(contract):
            out.append(path)
    return out


def write(directory: Path | None = None) -> list[Path]:
    written = []
    for contract in contracts():
        path = suite_file(contract, directory)
        text = render(suite_from_contract(contract))
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.ingest.suites", description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="regenerate expectations/bronze.*.json")
    action.add_argument("--check", action="store_true", help="exit 1 if a suite differs from its contract")
    args = parser.parse_args(argv)
    if args.write:
        written = write()
        print("\n".join(f"wrote {p}" for p in written) or "every bronze suite is up to date")
        return 0
    out_of_date = stale()
    for path in out_of_date:
        print(f"out of date: {path} (run {GENERATOR})")
    if not out_of_date:
        print("every bronze suite matches its contract")
    return 1 if out_of_date and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
