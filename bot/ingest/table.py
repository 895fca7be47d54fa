"""A CSV file as a table: what a parse collects (`Parsed`) and where it streams (`Sink`), the
de-duplication of records, and the data rows under a checked header."""

from __future__ import annotations

import csv
import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from bot.domain.market_shares import MarketShare
from bot.domain.names import Spellings, name_key
from bot.domain.records import ImportFailed, SalesRecord
from bot.domain.staging import MAX_PROBLEMS, Row
from bot.ingest.fields import MAX_FIELD
from bot.ingest.lines import Progress, read_lines
from bot.ingest.sniff import delimited, encoding_of


@dataclass
class Parsed:
    """Records by source name, with what was counted on the way."""

    records: dict[str, list[SalesRecord]] = field(default_factory=dict)
    # percentages a source gives (the IEA's EV sales share): kept apart from units, never summed
    shares: list[MarketShare] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    rows_read: int = 0
    delimiter: str = ","  # the one the file's header line uses
    duplicates: int = 0
    skipped: int = 0
    problem_count: int = 0

    def problem(self, file: str, line: int, reason: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{file}:{line}: {reason}")

    def finish(self) -> Parsed:
        extra = self.problem_count - len(self.problems)
        if extra > 0:
            self.problems.append(f"... and {extra} more problems")
        return self


_SEPARATED = {
    ";": "the header separates its fields with semicolons",
    "\t": "the header separates its fields with tabs",
}
_Key = tuple[str, str, str, str, str, str]


class Sink(Protocol):
    """Where a streamed parse sends its records, in file order: the store de-duplicates them.

    A parser sends records with `add`, or, on the fast path, rows (`bot.domain.staging.Row`) with
    `append`, whose keys it had from `names` and months from `month`.
    """

    def add(self, source: str, record: SalesRecord) -> None: ...

    def names(self, make: str, model: str) -> tuple[str, str]: ...

    def month(self, period: str) -> str: ...

    def append(self, source: str, row: Row) -> None: ...

    def region(self, region: str) -> str:
        """The spelling that stands for a region's key in this parse (a fast-path row's)."""
        ...

    def restart(self) -> None:
        """Forget what was sent: the parse starts again from the first row."""
        ...


class Collector:
    """De-duplicates or sums records by natural key, and reports conflicting duplicates; with a
    sink, passes every record on instead and holds nothing (the store de-duplicates)."""

    def __init__(
        self, parsed: Parsed, file: str, aggregate: bool, sink: Sink | None = None
    ) -> None:
        self.parsed = parsed
        self.file = file
        self.aggregate = aggregate
        self.sink = sink
        self.seen: dict[_Key, tuple[int, SalesRecord]] = {}
        self.regions = Spellings()
        self.sources = Spellings()

    def add(self, source: str, record: SalesRecord) -> None:
        if self.sink is not None:
            self.sink.add(source, record)
            return
        source = self.sources(source)
        region = self.regions(record.region)
        if region != record.region:
            record = replace(record, region=region)
        key = (
            source,
            record.period,
            name_key(region),
            name_key(record.make),
            name_key(record.model),
            record.powertrain,
        )
        known = self.seen.get(key)
        if known is None:
            self.seen[key] = (record.line, record)
            return
        first_line, first = known
        if self.aggregate:
            summed = SalesRecord(
                first.period,
                first.region,
                first.make,
                first.model,
                first.units + record.units,
                first.powertrain,
                first.cumulative,
                first.line,
            )
            self.seen[key] = (first_line, summed)
        elif first.units == record.units and first.cumulative == record.cumulative:
            self.parsed.duplicates += 1
            self.parsed.notices.append(
                f"{self.file}:{record.line}: duplicate of line {first_line}, counted once"
            )
        else:
            self.parsed.problem(
                self.file,
                record.line,
                f"conflicting duplicate of line {first_line}: same period, region, make, model "
                f"and powertrain with {record.units} units instead of {first.units}",
            )

    def done(self) -> None:
        for (source, *_), (_, record) in self.seen.items():
            self.parsed.records.setdefault(source, []).append(record)


def _rows(
    path: Path, encoding: str, parsed: Parsed, progress: Progress | None
) -> Iterator[tuple[int, list[str]]]:
    """CSV rows with the line on which each starts; blank lines and leading `#` comments skipped.
    The delimiter is the header line's, and a UTF-16 byte-order mark is read
    (`bot.ingest.sniff`)."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ImportFailed([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    file = str(path)
    csv.field_size_limit(MAX_FIELD * 10)

    def report(line: int, reason: str) -> None:
        parsed.problem(file, line, reason)

    with handle:
        encoding = encoding_of(handle, encoding)
        delimiter, lines = delimited(read_lines(handle, encoding, report, progress))
        parsed.delimiter = delimiter
        reader = csv.reader(lines, strict=True, delimiter=delimiter)
        header_seen = False
        start = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. an unclosed quote: it starts where the row did
                parsed.problem(file, start, f"malformed CSV: {exc}")
                start = reader.line_num + 1
                continue
            line = start
            start = reader.line_num + 1
            if not row or (not row[0].strip() and not any(c.strip() for c in row)):
                continue
            if not header_seen and row[0].lstrip().startswith("#"):
                continue
            header_seen = True
            yield line, row


def folded(name: str) -> str:
    """A header name as it is matched: any case, spaces around and doubled inside ignored."""
    return " ".join(name.split()).casefold()


def header_keys(row: list[str], expected: tuple[str, ...]) -> list[str]:
    """Each header cell's key: the expected name it spells in any case and spacing, or itself."""
    spelled = {folded(e): e for e in expected}
    return [spelled.get(folded(c), c.strip()) for c in row]


def closest(name: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The choice `name` most looks like a misspelling of, if any is close."""
    by_fold = {folded(c): c for c in choices}
    found = difflib.get_close_matches(folded(name), list(by_fold), n=1, cutoff=0.6)
    return by_fold[found[0]] if found else None


def _header(
    row: list[str],
    file: str,
    parsed: Parsed,
    line: int,
    required: tuple[str, ...],
    known: tuple[str, ...],
) -> dict[str, int] | None:
    names = header_keys(row, (*required, *known))
    index: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in index:
            parsed.problem(file, line, f"column {n!r} appears twice in the header")
            return None
        index[n] = i
    missing = [c for c in required if c not in index]
    if missing:
        others = [n for n in names if n not in required and n not in known]
        hints = [
            f"{c!r} instead of {near!r}"
            for c in missing
            if (near := closest(c, others)) is not None
        ]
        hint = f"; did you mean {' and '.join(hints)}?" if hints else ""
        parsed.problem(
            file,
            line,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"(the header has {', '.join(map(repr, names[:20]))}{hint})",
        )
        return None
    return index


def table_rows(
    path: Path,
    encoding: str,
    parsed: Parsed,
    progress: Progress | None,
    required: tuple[str, ...],
    empty: str,
    check_header: Callable[[dict[str, int], int], bool] | None = None,
    known: tuple[str, ...] = (),
) -> Iterator[tuple[int, list[str], dict[str, int]]]:
    """Data rows with their line and the header's column index; a bad header or an empty file is
    a problem and ends the table, a row with the wrong number of fields is skipped. The index
    is keyed by the `required` and `known` names however the header spells them."""
    file = str(path)
    index: dict[str, int] | None = None
    for line, row in _rows(path, encoding, parsed, progress):
        if index is None:
            index = _header(row, file, parsed, line, required, known)
            if index is None or (check_header is not None and not check_header(index, line)):
                return
            continue
        parsed.rows_read += 1
        if len(row) != len(index):
            hint = "" if parsed.delimiter == "," else f" ({_SEPARATED[parsed.delimiter]})"
            parsed.problem(file, line, f"expected {len(index)} fields, found {len(row)}{hint}")
            continue
        yield line, row, index
    if index is None and not parsed.problem_count:  # not when the reading was cut short
        parsed.problem(file, 1, empty)
