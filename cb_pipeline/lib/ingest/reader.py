"""Reading one delivery file: its header, then its rows in bounded-memory batches of text.

Belongs here: CSV mechanics (BOM, UTF-8, quoting, ragged rows, row numbering) and the reasons a
whole delivery cannot be read. Does not: decide what a value means (spec.py) or load anything.
Rows are numbered from 1 = the first data row after the header, counting every record, so a row
number found in the quarantine table is the record a supplier sees in the file.
"""

import csv
import hashlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

# Bytes per parse block, which bounds memory per batch; a field must fit in one block, so keep it
# generous. CB_INGEST_BLOCK_BYTES lowers it (tests use it to force many batches on small files).
BLOCK_SIZE = 16 << 20
_TEN_DIGITS = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")


class DeliveryRejected(Exception):
    """The whole delivery cannot be loaded; `reason` says why and what would fix it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_header(path: Path) -> list[str]:
    """The header row's column names as delivered (BOM removed)."""
    with path.open("rb") as f:
        head = f.read(1 << 20)
    if not head.strip():
        raise DeliveryRejected("the file is empty: expected a header row naming the columns; send the extract with its header row")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the 1 MB boundary is not an encoding error.
        if exc.start < len(head) - 4:
            raise DeliveryRejected(f"the file is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
        text = head[: exc.start].decode("utf-8-sig")
    try:
        header = next(csv.reader(io.StringIO(text)))
    except (csv.Error, StopIteration) as exc:
        raise DeliveryRejected(f"the header row cannot be read as CSV ({exc}): send a comma-separated header row") from None
    if "\x00" in "".join(header):
        raise DeliveryRejected("the header row contains NUL bytes: this is not a CSV text file; send the extract as UTF-8 CSV")
    lowered = [h.strip().lower() for h in header]
    dups = sorted({h for h in lowered if lowered.count(h) > 1 and h})
    if dups:
        raise DeliveryRejected(f"duplicate column names in the header (names match case-insensitively): {', '.join(dups)}; "
                               "send each column once")
    return header


def redact_line(text: str, limit: int = 4000) -> str:
    """A malformed row's text as kept in quarantine: any 10-digit number (maybe an NHS number) removed."""
    return _TEN_DIGITS.sub("[10-digit number removed]", text[:limit])


@dataclass
class MalformedRows:
    """Records that do not have the header's number of fields (ragged or truncated)."""

    numbers: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    actual: list[int] = field(default_factory=list)
    expected: int = 0


def read_batches(path: Path, header: list[str], wanted: dict[str, str], malformed: MalformedRows) -> Iterator[pd.DataFrame]:
    """Yield frames of text (columns named by the spec names in `wanted`: spec -> delivered name),
    with a `_row_number` column. Malformed records are collected in `malformed`, not yielded."""
    positions = {h: i for i, h in enumerate(header)}
    names = [f"c{i}" for i in range(len(header))]
    include = {f"c{positions[delivered]}": spec_name for spec_name, delivered in wanted.items()}
    malformed.expected = len(header)

    def on_invalid(row) -> str:
        # `number` counts records from 1 = the header; a data row's number is one less.
        malformed.numbers.append(int(row.number) - 1 if row.number is not None else -1)
        malformed.texts.append(redact_line(row.text or ""))
        malformed.actual.append(int(row.actual_columns))
        return "skip"

    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(use_threads=False, block_size=int(os.environ.get("CB_INGEST_BLOCK_BYTES", BLOCK_SIZE)), column_names=names, skip_rows=1,
                                          encoding="utf8"),
            parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pcsv.ConvertOptions(include_columns=list(include) or names[:1],
                                                column_types={n: pa.string() for n in names},
                                                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            return  # header only: a valid, empty delivery
        raise DeliveryRejected(f"the file cannot be read as CSV: {exc}; send it as comma-separated UTF-8 text") from None

    yielded = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            msg = str(exc)
            if "UTF8" in msg or "utf8" in msg.lower():
                raise DeliveryRejected("the file is not UTF-8 text: save it as UTF-8 (a BOM is allowed)") from None
            raise DeliveryRejected(f"the file cannot be read as CSV after row {yielded}: {msg}; check the quoting of that row and "
                                   "send the file again") from None
        n = batch.num_rows
        if n == 0:
            continue
        frame = batch.to_pandas(types_mapper=lambda t: pd.StringDtype() if t == pa.string() else None)
        frame = frame[[c for c in include if c in frame.columns]].rename(columns=include)
        frame["_row_number"] = _row_numbers(yielded, n, malformed.numbers)
        frame.index = pd.RangeIndex(len(frame))
        yielded += n
        yield frame


def _row_numbers(first_ordinal: int, n: int, skipped: list[int]) -> np.ndarray:
    """Row numbers of valid ordinals first..first+n-1, given the row numbers of skipped records."""
    j = np.arange(first_ordinal, first_ordinal + n, dtype=np.int64)
    if not skipped:
        return j + 1
    bad = np.sort(np.asarray([s for s in skipped if s > 0], dtype=np.int64))
    # Valid rows before the k-th skipped record: bad[k] - 1 - k. A valid ordinal j sits after
    # every skipped record that has at most j valid rows before it.
    before = bad - 1 - np.arange(len(bad))
    return j + 1 + np.searchsorted(before, j, side="right")
