"""Bulk import of requests from CSV (letters, faxes, offline batches).

Each row becomes one request for intake. Its ``call_id`` comes from the ``call_id`` column,
or is derived from the row's content (and, for identical rows in one file, which of them
it is), so running the same file again skips the rows already imported instead of
duplicating them (intake is idempotent by call id), a corrected row is imported as new,
and another file that happens to have the same name is imported in full. The file may be
UTF-8 (with or without a BOM) or GB18030/GBK, as Excel in China saves it. Rows that fail
are written to ``<file>.errors.csv`` next to the file, with a BOM so Excel reads it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CUSTOMER = ("name", "phone", "address", "region_code", "vip")
PRODUCT = ("category", "brand", "model", "serial_number", "purchase_date",
           "installation_date", "invoice_number")
TOP = ("request_type", "description", "channel", "received_at", "call_id")
COLUMNS = (*CUSTOMER, *PRODUCT, *TOP)
REQUIRED = ("name", "phone", "address", "region_code", "category", "request_type",
            "description")
DEFAULT_CHANNEL = "letter"


class ImportFileError(Exception):
    """The file cannot be imported at all (missing, not CSV, required columns absent)."""


def derived_call_id(cells: dict[str, str], occurrence: int = 1) -> str:
    """Stable per row content: the same row in any run, any file name, gets the same id;
    ``occurrence`` tells identical rows of one file apart (the 2nd, the 3rd...)."""
    content = json.dumps({key: (cells.get(key) or "").strip() for key in COLUMNS},
                         ensure_ascii=False, sort_keys=True)
    digest = hashlib.sha256(f"{content}#{occurrence}".encode()).hexdigest()[:20]
    return f"imp-{digest}"


def row_to_request(row: dict[str, str], occurrence: int = 1) -> dict[str, Any]:
    """A CSV row as intake's request body; empty cells are left out (intake validates)."""
    cells = {key: (value or "").strip() for key, value in row.items() if key}
    request: dict[str, Any] = {"customer": {}, "product": {}}
    for key in CUSTOMER:
        if cells.get(key):
            request["customer"][key] = cells[key]
    if "vip" in request["customer"]:
        request["customer"]["vip"] = request["customer"]["vip"].lower() in ("1", "true", "yes",
                                                                            "y", "是")
    for key in PRODUCT:
        if cells.get(key):
            request["product"][key] = cells[key]
    for key in TOP:
        if cells.get(key):
            request[key] = cells[key]
    request.setdefault("channel", DEFAULT_CHANNEL)
    request.setdefault("call_id", derived_call_id(cells, occurrence))
    return request


ENCODINGS = ("utf-8-sig", "gb18030")  # UTF-8 with or without BOM; GB18030 covers GBK


def decode(raw: bytes, name: str) -> str:
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(f"{name}: neither UTF-8 nor GB18030/GBK text")


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(row number counting the header as row 1, cells) for each non-empty data row."""
    try:
        text = decode(path.read_bytes(), path.name)
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise ImportFileError(f"{path.name}: missing column(s) {', '.join(missing)}; "
                                  f"columns are {', '.join(COLUMNS)}")
        return [(index, row) for index, row in enumerate(reader, start=2)
                if any((value or "").strip() for value in row.values() if
                       isinstance(value, str))]
    except (OSError, csv.Error) as exc:
        raise ImportFileError(f"cannot read {path}: {exc}") from exc


def error_report_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.errors.csv")


@dataclass
class ImportSummary:
    created: int = 0
    existing: int = 0  # imported by an earlier run (same call id), or a reminder
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.existing + self.failed


class RowRejected(Exception):
    """Intake refused the row; ``fields`` says why."""

    def __init__(self, message: str, fields: dict | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


def import_rows(path: Path, send: Callable[[dict], dict],
                progress: Callable[[int, int], None]) -> ImportSummary:
    """Sends every row; ``send`` returns intake's order or raises RowRejected. Anything
    else (the services are down) propagates: the run stops, a re-run resumes it."""
    rows = read_rows(path)
    summary = ImportSummary()
    seen: Counter[str] = Counter()  # identical rows so far, by derived id
    for done, (number, row) in enumerate(rows, start=1):
        first = derived_call_id(row)
        seen[first] += 1
        request = row_to_request(row, seen[first])
        try:
            order = send(request)
        except RowRejected as exc:
            summary.failed += 1
            summary.errors.append({"row": number, "call_id": request["call_id"],
                                   "error": str(exc), "fields": exc.fields})
        else:
            if order.get("created"):
                summary.created += 1
            else:
                summary.existing += 1
        progress(done, len(rows))
    write_error_report(path, summary.errors)
    return summary


def write_error_report(path: Path, errors: list[dict[str, Any]]) -> Path | None:
    """The per-row report next to the file; an old report is removed on a clean run."""
    report = error_report_path(path)
    if not errors:
        report.unlink(missing_ok=True)
        return None
    with open(report, "w", encoding="utf-8-sig", newline="") as handle:  # BOM for Excel
        writer = csv.writer(handle)
        writer.writerow(["row", "call_id", "error", "fields"])
        for item in errors:
            writer.writerow([item["row"], item["call_id"], item["error"],
                             json.dumps(item["fields"], ensure_ascii=False)])
    return report


def progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // total if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def iter_errors(summary: ImportSummary) -> Iterator[str]:
    for item in summary.errors:
        fields = json.dumps(item["fields"], ensure_ascii=False)
        yield f"  row {item['row']}: {item['error']} {fields}"
