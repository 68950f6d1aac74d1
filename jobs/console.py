"""Plain-text output shared by the command (jobs/cli.py) and the demo (jobs/demo.py), so neither imports
the other."""

from __future__ import annotations


def print_table(rows: list[dict], columns: list[str] | None = None) -> None:
    """Rows as aligned columns (the first row's keys unless `columns` is given); "(no rows)" when empty."""
    if not rows:
        print("(no rows)")
        return
    columns = columns or list(rows[0])
    text = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for t in text:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=False)))
