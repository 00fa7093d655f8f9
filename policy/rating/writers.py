"""Writers for rated calls: the usage report as CSV or Excel, or decisions as JSON Lines.

Every writer writes to a temporary file beside the output and renames it into place
only in :meth:`Writer.finish`; :meth:`Writer.abort` (an error, Ctrl-C) removes it, so an
output file is either complete or absent.

Each :meth:`Writer.write` returns a *locator* of the row it wrote (offset and length in
a file the writer can read back), so that a repeated call id can re-emit the first
decision's row exactly (:meth:`Writer.repeat`) without keeping rows in memory.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from policy.data.call import Call
from policy.engine.decision import Decision
from policy.engine.evaluate import Observation
from policy.rating.usage_report import (
    BOOL_COLUMNS,
    DATETIME_COLUMNS,
    HEADER,
    MONEY_COLUMNS,
    RowBuilder,
)
from policy.support.errors import InputError, Location, UsageError

__all__ = ["FORMATS", "Writer", "open_writer"]

FORMATS = (".csv", ".jsonl", ".xlsx")
_LENGTH_BITS = 24
_BATCH = 512  # CSV rows formatted before one encode and write
_XLSX_MAX_ROWS = 1_048_576


def _temp_beside(path: Path) -> tuple[IO[bytes], str]:
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", location=Location(str(path))) from None
    return os.fdopen(fd, "w+b"), name


class Writer:
    """Base class: a temporary file beside ``path``, renamed into place by :meth:`finish`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle, self.temp = _temp_beside(path)
        self.rows = 0

    def write(self, call: Call, decision: Decision, seen: Observation | None = None) -> int:
        """Write one row; ``seen`` is what the engine observed of the call, if known."""
        raise NotImplementedError

    def repeat(self, locator: int, call_id: str) -> bool:
        """Write again the row at ``locator`` if it is ``call_id``'s (else False)."""
        raise NotImplementedError

    def _close(self, summary: Sequence[tuple[str, Any]]) -> None:
        self.handle.close()

    def finish(self, summary: Sequence[tuple[str, Any]] = ()) -> None:
        self._close(summary)
        os.replace(self.temp, self.path)

    def abort(self) -> None:
        try:
            self.handle.close()
        finally:
            if os.path.exists(self.temp):
                os.unlink(self.temp)

    def _read_back(self, locator: int) -> bytes:
        self.handle.flush()
        offset, length = locator >> _LENGTH_BITS, locator & ((1 << _LENGTH_BITS) - 1)
        return os.pread(self.handle.fileno(), length, offset)


def _locator(offset: int, length: int) -> int:
    if length >= 1 << _LENGTH_BITS:  # pragma: no cover - a 16 MB row
        raise InputError("a single output row exceeds 16 MB")
    return offset << _LENGTH_BITS | length


class CsvWriter(Writer):
    """The PSTN usage report as CSV (RFC 4180, UTF-8, CRLF): :data:`HEADER` columns.

    Rows come as CSV lines from :meth:`RowBuilder.csv_line` (the csv module's exact
    output, built from cached fragments) and are encoded and written in batches of
    :data:`_BATCH`; ``pos`` counts the bytes written so far (the offset of the next
    row) for the locators."""

    def __init__(self, path: Path, rows: RowBuilder) -> None:
        super().__init__(path)
        self.builder = rows
        self.lines: list[str] = []
        header = io.StringIO()
        csv.writer(header).writerow(HEADER)
        self.lines.append(header.getvalue())
        self.pos = len(self.lines[0].encode("utf-8"))

    def _flush(self) -> None:
        lines = self.lines
        if lines:
            self.handle.write("".join(lines).encode("utf-8"))
            lines.clear()

    def write(self, call: Call, decision: Decision, seen: Observation | None = None) -> int:
        lines = self.lines
        line = self.builder.csv_line(call, decision, seen)
        lines.append(line)
        size = len(line) if line.isascii() else len(line.encode("utf-8"))
        start = self.pos
        self.pos = start + size
        self.rows += 1
        if len(lines) >= _BATCH:
            self._flush()
        if size >> _LENGTH_BITS:  # pragma: no cover - a 16 MB row
            raise InputError("a single output row exceeds 16 MB")
        return start << _LENGTH_BITS | size

    def _read_back(self, locator: int) -> bytes:
        self._flush()
        return super()._read_back(locator)

    def repeat(self, locator: int, call_id: str) -> bool:
        data = self._read_back(locator)
        text = data.decode("utf-8")
        cells = next(csv.reader(io.StringIO(text)))
        if cells[1] != call_id:
            return False
        self.lines.append(text)
        self.pos += len(data)
        self.rows += 1
        return True

    def _close(self, summary: Sequence[tuple[str, Any]]) -> None:
        self._flush()
        super()._close(summary)


class JsonlWriter(Writer):
    """Decisions as JSON Lines, exactly as ``ccpolicy eval`` prints them."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.pos = 0

    def write(self, call: Call, decision: Decision, seen: Observation | None = None) -> int:
        data = (json.dumps(decision.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
        self.handle.write(data)
        start = self.pos
        self.pos += len(data)
        self.rows += 1
        return _locator(start, len(data))

    def repeat(self, locator: int, call_id: str) -> bool:
        data = self._read_back(locator)
        if json.loads(data)["call"] != call_id:
            return False
        self.handle.write(data)
        self.pos += len(data)
        self.rows += 1
        return True


class XlsxWriter(Writer):
    """The usage report as an Excel workbook (openpyxl, write-only: constant memory).

    Sheet ``Usage``: a bold header row, frozen below the header, an auto-filter, typed
    cells (times as UTC date-times, money as numbers in the currency's format, counts as
    integers, ``permitted`` as a boolean). Sheet ``Summary``: the run's counts and totals.
    Rows are also spooled (pickled) to an anonymous temporary file for repeats.
    """

    def __init__(self, path: Path, rows: RowBuilder) -> None:
        try:
            from openpyxl import Workbook  # type: ignore[import-untyped]
            from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
            from openpyxl.styles import Font  # type: ignore[import-untyped]
        except ImportError:  # pragma: no cover - an optional dependency
            raise UsageError("writing .xlsx needs openpyxl: pip install 'ccpolicy[xlsx]'") from None
        super().__init__(path)
        self.builder = rows
        self._cell = WriteOnlyCell
        decimals = rows.card.rounding.decimals
        places = "." + "0" * decimals if decimals else ""
        self.money_format = f'#,##0{places} "{rows.currency}";-#,##0{places} "{rows.currency}"'
        self.time_format = "yyyy-mm-dd hh:mm:ss"
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet("Usage")
        self.summary_sheet = self.book.create_sheet("Summary")
        self.sheet.freeze_panes = "A2"
        for index, name in enumerate(HEADER):
            letter = _column_letter(index + 1)
            self.sheet.column_dimensions[letter].width = max(12, min(len(name) + 4, 40))
        bold = Font(bold=True)
        header = []
        for name in HEADER:
            cell = WriteOnlyCell(self.sheet, value=name)
            cell.font = bold
            header.append(cell)
        self.sheet.append(header)
        self.spool: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _close/abort
        self.spool_pos = 0

    def _append(self, row: tuple[Any, ...]) -> None:
        if self.rows + 1 >= _XLSX_MAX_ROWS:
            raise InputError(
                f"more than {_XLSX_MAX_ROWS - 1:,} calls do not fit an Excel sheet",
                location=Location(str(self.path)),
                hint="write .csv or .jsonl instead",
            )
        cells: list[Any] = list(row)
        sheet, cell_type = self.sheet, self._cell
        for i in DATETIME_COLUMNS:
            value = cells[i]
            if value is not None:
                cell = cell_type(sheet, value=_naive_utc(value))
                cell.number_format = self.time_format
                cells[i] = cell
        for i in MONEY_COLUMNS:
            value = cells[i]
            if value is not None:
                cell = cell_type(sheet, value=value)
                cell.number_format = self.money_format
                cells[i] = cell
        cells[BOOL_COLUMNS[0]] = bool(cells[BOOL_COLUMNS[0]])
        sheet.append(cells)
        self.rows += 1

    def write(self, call: Call, decision: Decision, seen: Observation | None = None) -> int:
        row = self.builder.row(call, decision)
        self._append(row)
        data = pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL)
        self.spool.write(data)
        start = self.spool_pos
        self.spool_pos += len(data)
        return _locator(start, len(data))

    def repeat(self, locator: int, call_id: str) -> bool:
        self.spool.flush()
        offset, length = locator >> _LENGTH_BITS, locator & ((1 << _LENGTH_BITS) - 1)
        row = pickle.loads(os.pread(self.spool.fileno(), length, offset))  # our own bytes
        if row[1] != call_id:
            return False
        self._append(row)
        return True

    def _close(self, summary: Sequence[tuple[str, Any]]) -> None:
        from openpyxl.styles import Font

        self.sheet.auto_filter.ref = f"A1:{_column_letter(len(HEADER))}{self.rows + 1}"
        bold = Font(bold=True)
        head = []
        for text in ("Item", "Value"):
            cell = self._cell(self.summary_sheet, value=text)
            cell.font = bold
            head.append(cell)
        self.summary_sheet.column_dimensions["A"].width = 28
        self.summary_sheet.column_dimensions["B"].width = 24
        self.summary_sheet.append(head)
        for label, value in summary:
            if hasattr(value, "as_tuple"):  # Decimal money
                cell = self._cell(self.summary_sheet, value=value)
                cell.number_format = self.money_format
                self.summary_sheet.append([label, cell])
            else:
                self.summary_sheet.append([label, value])
        self.spool.close()
        self.handle.close()
        self.book.save(self.temp)

    def abort(self) -> None:
        self.spool.close()
        super().abort()


def _naive_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=None)  # rows hold UTC times already


def _column_letter(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def open_writer(path: str | os.PathLike[str], rows: RowBuilder) -> Writer:
    """A writer for ``path`` by its extension: ``.csv``, ``.jsonl`` or ``.xlsx``."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return CsvWriter(p, rows)
    if suffix == ".jsonl":
        return JsonlWriter(p)
    if suffix == ".xlsx":
        return XlsxWriter(p, rows)
    raise UsageError(
        f"cannot write '{suffix or p.name}': the output must end in .csv, .jsonl or .xlsx"
    )
