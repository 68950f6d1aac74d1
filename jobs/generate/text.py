"""Vectorized text formatting: numbers, ids, dates and money become Arrow string arrays without a
Python-level loop per value.

Fixed-width fields (ids, dates, phone numbers) are built as a byte matrix, one row per value, with
numpy arithmetic, and handed to Arrow as one buffer. Variable-width fields (money) use the same matrix
with padding bytes that are squeezed out at the end.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_PAD = 0  # a byte that never appears in text; dropped by `squeeze`


# Every 4-digit group as its 4 ASCII bytes in one uint32: formatting costs one division and one lookup
# per 4 digits instead of a division per digit.
_GROUPS = np.array([[ord(c) for c in f"{i:04d}"] for i in range(10_000)], dtype=np.uint8).view(np.uint32).ravel()


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as a (n, width) byte matrix."""
    quotient = np.asarray(values, dtype=np.int64)
    groups = -(-width // 4)
    out = np.empty((len(quotient), groups), dtype=np.uint32)
    for g in range(groups - 1, -1, -1):
        if quotient.dtype == np.int64 and (len(quotient) == 0 or quotient.max() < 2**32):
            quotient = quotient.astype(np.uint32)  # 32-bit division is several times faster
        quotient, remainder = np.divmod(quotient, 10_000)
        out[:, g] = _GROUPS.take(remainder)
    return out.view(np.uint8).reshape(len(quotient), groups * 4)[:, groups * 4 - width:]


def literal(text: str, n: int) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(text.encode(), dtype=np.uint8), (n, len(text)))


def compose(*parts: str | np.ndarray, n: int | None = None) -> np.ndarray:
    """Concatenate byte matrices and literal strings side by side."""
    if n is None:
        n = next(len(p) for p in parts if not isinstance(p, str))
    return np.hstack([literal(p, n) if isinstance(p, str) else p for p in parts])


def to_arrow(matrix: np.ndarray) -> pa.Array:
    """A byte matrix (one value per row, padding bytes removed) as an Arrow string array."""
    matrix = np.ascontiguousarray(matrix, dtype=np.uint8)
    n, w = matrix.shape
    keep = matrix != _PAD
    if keep.all():
        data, offsets = matrix.ravel(), np.arange(0, (n + 1) * w, w, dtype=np.int64)
    else:
        data = matrix[keep]
        offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1), dtype=np.int64)])
    if len(data) < 2**31 - 1:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """"DA000123456"-style ids: a prefix and a zero-padded number."""
    return to_arrow(compose(prefix, digits(numbers, width), n=len(numbers)))


def integers(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


def money(cents: np.ndarray) -> pa.Array:
    """Cents as a decimal with two places ("1234.50", "-3.05"), no thousands separator."""
    cents = np.asarray(cents, dtype=np.int64)
    n = len(cents)
    magnitude = np.abs(cents)
    whole = magnitude // 100
    width = max(1, len(str(int(whole.max())))) if n else 1
    int_part = digits(whole, width)
    # Leading zeros of the whole part become padding, except the units digit ("0.50").
    n_digits = np.ones(n, dtype=np.int64)
    for power in range(1, width):
        n_digits += whole >= 10**power
    int_part[np.arange(width)[None, :] < (width - n_digits)[:, None]] = _PAD
    sign = np.where(cents < 0, ord("-"), _PAD).astype(np.uint8)[:, None]
    return to_arrow(compose(sign, int_part, ".", digits(magnitude % 100, 2), n=n))


def _ymd(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dates = np.asarray(dates, dtype="datetime64[D]")
    month_start = dates.astype("datetime64[M]")
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12 + 1
    day = (dates - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


# The Spark datetime patterns the silos use.
DATE_PATTERNS = ("yyyy-MM-dd", "MM/dd/yyyy", "dd.MM.yyyy")
TIMESTAMP_PATTERN = "yyyy-MM-dd HH:mm:ss"


def timestamps(dates_: np.ndarray, second: np.ndarray) -> pa.Array:
    """"2026-06-30 14:05:09" from dates and seconds of the day."""
    second = np.asarray(second, dtype=np.int64)
    hh, mm, ss = digits(second // 3600, 2), digits(second // 60 % 60, 2), digits(second % 60, 2)
    return to_arrow(compose(_date_matrix(dates_, "yyyy-MM-dd"), " ", hh, ":", mm, ":", ss, n=len(second)))


def dates(values: np.ndarray, pattern: str) -> pa.Array:
    return to_arrow(_date_matrix(values, pattern))


def day_dates(first: np.datetime64, day: np.ndarray, pattern: str) -> pa.Array:
    """Dates given as day offsets from `first` (transaction dates): format each distinct day once."""
    day = np.asarray(day, dtype=np.int64)
    if len(day) == 0:
        return pa.array([], pa.string())
    low = int(day.min())
    table = _date_matrix(first + np.arange(low, int(day.max()) + 1).astype("timedelta64[D]"), pattern)
    return to_arrow(table[day - low])


def _date_matrix(values: np.ndarray, pattern: str) -> np.ndarray:
    y, m, d = _ymd(values)
    yy, mm, dd = digits(y, 4), digits(m, 2), digits(d, 2)
    if pattern == "yyyy-MM-dd":
        return compose(yy, "-", mm, "-", dd, n=len(y))
    if pattern == "MM/dd/yyyy":
        return compose(mm, "/", dd, "/", yy, n=len(y))
    if pattern == "dd.MM.yyyy":
        return compose(dd, ".", mm, ".", yy, n=len(y))
    raise ValueError(f"unsupported date pattern {pattern!r}; use one of {DATE_PATTERNS}")


def lookup(names: list[str], codes: np.ndarray) -> pa.Array:
    """Small vocabulary + codes -> strings (categorical columns of big files)."""
    return pa.array(names, type=pa.string()).take(pa.array(np.asarray(codes, dtype=np.int64)))
