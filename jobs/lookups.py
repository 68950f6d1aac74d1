"""Small literal tables (a code -> what it means) looked up in a column expression.

A lookup is a CASE of literal comparisons, not an indexed `create_map` of literals: the embedded engine
builds such a map again for every row it looks a value up in (about 4 µs a row for 26 entries: 10 s more
over a full export's 12M deposit transactions, and 3 s for a customer master's streets, where every word is
looked up). A CASE runs vectorized on every engine. The tables here have tens of entries.
"""

from __future__ import annotations

from typing import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F


def looked_up(value: Column, table: Mapping, default: Column | None = None) -> Column:
    """What `table` gives for `value`; `default` (NULL when not given) for a value it lacks or a NULL value."""
    found = None
    for key, meaning in sorted(table.items()):
        matches = value == F.lit(key)
        found = F.when(matches, F.lit(meaning)) if found is None else found.when(matches, F.lit(meaning))
    if found is None:
        return default if default is not None else F.lit(None)
    return found.otherwise(default) if default is not None else found
