"""Landing files as bytes, before Spark reads them: checksum, header, encoding, and the lines that break them.

Spark's CSV readers cannot be trusted with a structurally broken line. Sail stops on the whole file
("incorrect number of fields for line 658", naming no file); JVM Spark's PERMISSIVE mode pads or cuts such
a row without a word; both replace bytes that are not UTF-8 with U+FFFD without a word. So:

- `inspect` reads the file once as bytes (the checksum pass it needed anyway): checksum, header, whether
  it has data rows, and whether all of it is UTF-8 (decoding at C speed, no CSV parsing);
- `scan_lines` parses the file line by line in Python, and only for a file that is not all UTF-8, that ends
  in the middle of a line (cut off: see below) or that the engine refused (it is ~10x slower than the
  engine's reader, so clean files never pay for it). A record whose bytes are not UTF-8, that has another
  number of fields than the header, or that is not CSV at all becomes a `MalformedLine` (line number, reason,
  raw text); the well-formed records are copied to a clean file with their position in the original as a
  last column, so bronze keeps file order and every record, good or malformed, keeps one `_row_id`.

An export ends with a line break. A file whose last data line has none was cut off (a transfer or a disk that
stopped part way): its last record may have lost fields, or only the end of its last field (`123.45` read as
`123.4`, a well-formed row with a wrong value), so that record is quarantined as malformed, saying so, whatever
its number of fields; the rest of the file loads.

Pure Python, no Spark: the loader (jobs/ingest/load.py) decides what to read and what to quarantine.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

from jobs.ingest.errors import ContractError

ROW_ID = "_row_id"  # the column scan_lines appends to the clean copy
CUT_OFF = "the file ends in this line, without a line break: cut off"


@dataclass(frozen=True)
class FileFacts:
    checksum: str
    header: list[str] | None      # None when the first line is not UTF-8
    has_data_rows: bool
    utf8: bool                    # every byte of the file decodes as UTF-8
    complete: bool = True         # ends with a line break (or has no data line): not cut off part way


@dataclass(frozen=True)
class MalformedLine:
    row: int      # the record's position among the file's data records (0-based): its _row_id
    line: int     # the line it starts on in the file (1-based; the header is line 1)
    reason: str   # what is wrong with it, e.g. "7 fields where the header has 9"
    text: str     # the line as exported; bytes that are not UTF-8 shown as \xNN


@dataclass(frozen=True)
class LineScan:
    records: int                        # data records, well-formed and malformed
    data_lines: int                     # lines after the header, blank ones excepted
    malformed: tuple[MalformedLine, ...]
    malformed_lines: int                # lines the malformed records span
    clean: Path                         # the well-formed records, with ROW_ID as a last column

    @property
    def malformed_share(self) -> float:
        return self.malformed_lines / self.data_lines if self.data_lines else 0.0


def inspect(path: Path) -> FileFacts:
    """One pass over the bytes: checksum, header, data rows and UTF-8 validity."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    last = b""
    with path.open("rb") as fh:
        first = fh.readline()
        second = fh.readline()
        # Chained, not unpacked into a tuple: the file is read a megabyte at a time, never held whole.
        for chunk in itertools.chain((first, second), iter(lambda: fh.read(1 << 20), b"")):
            digest.update(chunk)
            last = chunk[-1:] or last
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
        if utf8:
            try:
                decoder.decode(b"", final=True)  # a multi-byte character cut off by the end of the file
            except UnicodeDecodeError:
                utf8 = False
    try:
        header = next(csv.reader([first.decode("utf-8")]), [])
    except UnicodeDecodeError:
        header = None
    has_data_rows = bool(second.strip())
    return FileFacts(digest.hexdigest(), header, has_data_rows, utf8, complete=not has_data_rows or last == b"\n")


def check_header(facts: FileFacts, expected: list[str], source: str, contract_name: str,
                 may_be_absent: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The header must be the contract's columns, in order: else nothing of the file can be trusted. Only
    the columns in `may_be_absent` (optional ones: a bank's older exports predate the address) may be
    missing; the rest must be there in the contract's order. Returns the columns the file lacks."""
    if facts.header is None:
        raise ContractError(f"{source}, line 1: the header is not UTF-8 text")
    header = facts.header
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    in_order = header == [c for c in expected if c in header]
    needed = [c for c in missing if c not in may_be_absent]
    if not extra and not needed and in_order:
        return missing
    raise ContractError(
        f"{source}, line 1: header does not match contract {contract_name}"
        + (f"; missing {missing}" if missing else "")
        + (f" (required: {needed})" if needed else "")
        + (f"; unexpected {extra}" if extra else "")
        + ("; columns out of order" if not needed and not extra else "")
    )


def ranges_in_file_order(path: Path, ranges: dict[int, tuple[list[str | None], int]]) -> list[int] | None:
    """The keys of `ranges` in the order their byte ranges lie in the file, or None when the file does not show
    it. A range is an engine's read partition: (its first record, its row count); a record is its fields as read,
    NULL written empty. One pass over the file, counting line breaks in C (mmap), whatever the number of ranges
    (a cluster splits a big file into a range per 128 MB): 0.34 s for a 455 MB file in 2 ranges, 0.8 s in 80.

    The walk starts at the line after the header and, at each step, takes the one range whose first record is
    that line (as csv writes it), then moves on by its row count, a line each. It gives up (None) at a line that
    is the first record of no remaining range or of two, and when rows of the file are left after the last range:
    a record written otherwise than csv writes it, a range starting with the same record as another, or lines the
    engine does not count as rows (blank lines) put the walk off the ranges' starts, so none is guessed."""
    import mmap

    wanted = {key: _csv_line(first) for key, (first, _) in ranges.items()}
    order: list[int] = []
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        at = _lines_after(data, 0, 1)   # the header
        while wanted:
            line = _line_at(data, at)
            found = [key for key, text in wanted.items() if text == line]
            if len(found) != 1:
                return None
            order.append(found[0])
            del wanted[found[0]]
            at = _lines_after(data, at, ranges[found[0]][1])
            if at < 0:
                return None
        return order if len(data) - at < 1 << 20 and not data[at:].strip() else None   # nothing but blanks after


def _csv_line(record: list[str | None]) -> bytes:
    import io

    text = io.StringIO()
    csv.writer(text, lineterminator="").writerow(["" if v is None else v for v in record])
    return text.getvalue().encode("utf-8")


def _line_at(data, at: int) -> bytes:
    """The line starting at byte `at`, without its line break (CRLF or LF)."""
    end = data.find(b"\n", at)
    line = data[at:] if end < 0 else data[at:end]
    return line[:-1] if line.endswith(b"\r") else line


def _lines_after(data, at: int, lines: int, chunk: int = 1 << 23, walk: int = 1 << 16) -> int:
    """The byte where the line `lines` lines after the one starting at `at` starts: the file's length when the
    last of them is its last line and has no line break, -1 when the file has fewer lines. Line breaks are
    counted in C (bytes.count on a chunk's copy: mmap has no count), a chunk at a time up to the one holding the
    break sought, then in halves of that chunk down to a span small enough to walk: each byte is counted about
    once however many ranges a file has."""
    size = len(data)
    while lines:
        end = min(at + chunk, size)
        breaks = data[at:end].count(b"\n")
        if breaks < lines and end == size:
            unterminated = size > at and data[-1:] != b"\n"
            return size if lines - breaks == 1 and unterminated else -1
        if breaks < lines:
            at, lines = end, lines - breaks
            continue
        while end - at > walk:   # the break sought is in [at, end)
            middle = (at + end) // 2
            before = data[at:middle].count(b"\n")
            if before < lines:
                at, lines = middle, lines - before
            else:
                end = middle
        for _ in range(lines):
            at = data.find(b"\n", at, end) + 1
        return at
    return at


class _Lines:
    """Feeds csv.reader decoded lines and remembers what it fed for the record being read, so that a
    record comes back with its line number and raw text; a line that is not UTF-8 is held back (csv never
    sees it) and noted as malformed in its place in the file."""

    def __init__(self, fh):
        self._fh = fh
        self.number = 0
        self.current: list[tuple[int, str]] = []    # (line number, text) of the record being read
        self.undecodable: list[tuple[int, str, str]] = []  # (line number, reason, text) since the last record

    def __iter__(self):
        return self

    def __next__(self) -> str:
        while True:
            raw = next(self._fh)  # StopIteration ends the reader
            self.number += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                reason = f"not UTF-8: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the line"
                self.undecodable.append((self.number, reason, _shown(raw)))
                continue
            self.current.append((self.number, text))
            return text


def _shown(raw: bytes) -> str:
    return raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")


def scan_lines(path: Path, n_fields: int, clean: Path) -> LineScan:
    """Every data record of the file, well-formed (copied to `clean`) or malformed (returned)."""
    malformed: list[MalformedLine] = []
    records = data_lines = malformed_lines = 0
    clean.parent.mkdir(parents=True, exist_ok=True)
    with path.open("rb") as fh, clean.open("w", encoding="utf-8", newline="") as out:
        lines = _Lines(fh)
        reader = csv.reader(lines)
        header = next(reader, None) or []  # checked against the contract before (check_header)
        out.write(",".join(header + [ROW_ID]) + "\n")
        while True:
            lines.current, lines.undecodable = [], []
            try:
                fields, error = next(reader), None
            except StopIteration:
                fields, error = None, None
            except csv.Error as exc:  # e.g. a NUL byte: the line is not CSV at all
                fields, error = [], f"not CSV: {exc}"
            # Lines held back for their bytes come before the record csv returned.
            for number, reason, text in lines.undecodable:
                malformed.append(MalformedLine(records, number, reason, text))
                records, data_lines, malformed_lines = records + 1, data_lines + 1, malformed_lines + 1
            if fields is None and error is None:
                break
            text = "".join(t for _, t in lines.current).rstrip("\r\n")
            if not text.strip() and error is None:
                continue  # a blank line is no record (Spark skips it too)
            first_line = lines.current[0][0] if lines.current else lines.number
            if error is None and lines.current and not lines.current[-1][1].endswith("\n"):
                error = CUT_OFF  # the file's last line, without its line break: it may have lost its end
            span = max(len(lines.current), 1)
            data_lines += span
            if len(fields) != n_fields and error in (None, CUT_OFF):
                counted = f"{len(fields)} field{'s' if len(fields) != 1 else ''} where the header has {n_fields}"
                error = counted if error is None else f"{counted}; {error}"
            if error is None:
                out.write(f"{text},{records}\n")
            else:
                malformed.append(MalformedLine(records, first_line, error, text))
                malformed_lines += span
            records += 1
    return LineScan(records, data_lines, tuple(malformed), malformed_lines, clean)


def check_malformed_share(scan: LineScan, source: str, max_share: float) -> None:
    """A few malformed lines are quarantined; more than `max_share` of the lines means the export itself is
    broken (a changed delimiter or encoding), not some of its rows: the load fails as a contract violation."""
    if scan.malformed and scan.malformed_share > max_share:
        first = scan.malformed[0]
        raise ContractError(
            f"{source}: {scan.malformed_lines} of {scan.data_lines} lines are malformed "
            f"({scan.malformed_share:.0%}, more than the {max_share:.0%} that MARKETOFONE_MAX_MALFORMED_SHARE "
            f"allows): the export is broken as a whole; the first, line {first.line}: {first.reason}")
