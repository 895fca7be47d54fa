"""Reading CSV files into sales records: the canonical format, configured mappings, and the IEA.

Parsing never touches the store. It reads the whole file, collects every problem as
`FILE:LINE: reason`, and the caller writes nothing when there is one (an import is all or nothing).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from bot.config import SourceConfig
from bot.names import clean_label, name_key
from bot.periods import PeriodError, normalize_period
from bot.records import POWERTRAINS, SalesRecord

if TYPE_CHECKING:
    from bot.staging import Row

CANONICAL_REQUIRED = ("period", "region", "make", "model", "units")
CANONICAL_OPTIONAL = ("powertrain", "source", "cumulative")
IEA_COLUMNS = ("region", "category", "parameter", "mode", "powertrain", "year", "unit", "value")
MAX_PROBLEMS = 200  # past this, a summary line: nobody reads ten thousand errors
MAX_FIELD = 10_000  # a longer field is refused rather than stored
# A trillion vehicles in one row is no count of cars (the world buys under 100 million a year);
# far larger figures would overflow the store's 64-bit sums or the threshold ladders.
MAX_UNITS = 10**12
_INT = re.compile(r"^\d+$")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n", ""}
_NULLS = {"", "null", "none", "n/a", "na"}
_CACHED = 65_536  # distinct texts the fast path remembers per column, at most

Progress = Callable[[int], None]  # called with the bytes read so far


class ImportFailed(ValueError):
    """The file has problems; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Parsed:
    """Records by source name, with what was counted on the way."""

    records: dict[str, list[SalesRecord]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    rows_read: int = 0
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


_Key = tuple[str, str, str, str, str, str]


class Sink(Protocol):
    """Where a streamed parse sends its records, in file order: the store de-duplicates them.

    A parser sends records with `add`, or, on the fast path, rows (`bot.staging.Row`) with
    `append`, whose keys it had from `names` and months from `month`.
    """

    def add(self, source: str, record: SalesRecord) -> None: ...

    def names(self, make: str, model: str) -> tuple[str, str]: ...

    def month(self, period: str) -> str: ...

    def append(self, source: str, row: Row) -> None: ...

    def restart(self) -> None:
        """Forget what was sent: the parse starts again from the first row."""
        ...


class _Collector:
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

    def add(self, source: str, record: SalesRecord) -> None:
        if self.sink is not None:
            self.sink.add(source, record)
            return
        key = (
            source,
            record.period,
            record.region,
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


def _lines(
    handle: IO[bytes], file: str, encoding: str, parsed: Parsed, progress: Progress | None
) -> Iterator[str]:
    """Decoded physical lines; undecodable bytes are reported with their line number."""
    done = 0
    for number, raw in enumerate(handle, start=1):
        done += len(raw)
        if progress is not None and number % 20_000 == 0:
            progress(done)
        if b"\x00" in raw:
            parsed.problem(file, number, "contains a NUL byte: this is not a text CSV file")
            raw = raw.replace(b"\x00", b"")
        enc = encoding if number == 1 else encoding.removesuffix("-sig")
        try:
            yield raw.decode(enc)
        except UnicodeDecodeError as exc:
            parsed.problem(
                file, number, f"undecodable bytes at column {exc.start + 1} (not {encoding} text)"
            )
            yield raw.decode(enc, errors="replace")
    if progress is not None:
        progress(done)


def _rows(
    path: Path, encoding: str, parsed: Parsed, progress: Progress | None
) -> Iterator[tuple[int, list[str]]]:
    """CSV rows with the line on which each starts; blank lines and leading `#` comments skipped."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ImportFailed([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    file = str(path)
    csv.field_size_limit(MAX_FIELD * 10)
    with handle:
        lines = _lines(handle, file, encoding, parsed, progress)
        reader = csv.reader(lines, strict=True)
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


def _header(
    row: list[str], file: str, parsed: Parsed, line: int, required: tuple[str, ...]
) -> dict[str, int] | None:
    names = [c.strip() for c in row]
    index: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in index:
            parsed.problem(file, line, f"column {n!r} appears twice in the header")
            return None
        index[n] = i
    missing = [c for c in required if c not in index]
    if missing:
        parsed.problem(
            file,
            line,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"(the header has {', '.join(map(repr, names[:20]))})",
        )
        return None
    return index


def _units(text: str, thousands: str) -> int | str:
    """An integer, or the reason it is not one."""
    value = text.strip()
    if value.isascii() and value.isdigit() and len(value) <= 12:  # the common case, quickly
        return int(value)
    if thousands:
        value = value.replace(thousands, "")
    if value.startswith("-") and _INT.match(value[1:]):
        return f"negative units {text.strip()!r}: figures are never below 0"
    if not _INT.match(value):
        return f"units {text.strip()!r} is not a whole number"
    if len(value) > 13 or int(value) > MAX_UNITS:
        return f"units {_short(text.strip())} are more than {MAX_UNITS:,}: not a count of vehicles"
    return int(value)


def _short(text: str) -> str:
    return repr(text) if len(text) <= 20 else f"{text[:10]!r}... ({len(text)} digits)"


@lru_cache(maxsize=4096)
def _powertrain(text: str) -> str | None:
    """BEV, PHEV, FCEV, "" when absent, or None when it is something else."""
    value = text.strip().upper()
    if value.lower() in _NULLS:
        return ""
    for p in ("PHEV", "FCEV", "BEV"):  # PHEV first: "PLUG-IN HYBRID ... (PHEV)" contains "EV"
        if p in value:
            return p
    return None


def _table(
    path: Path,
    encoding: str,
    parsed: Parsed,
    progress: Progress | None,
    required: tuple[str, ...],
    empty: str,
    check_header: Callable[[dict[str, int], int], bool] | None = None,
) -> Iterator[tuple[int, list[str], dict[str, int]]]:
    """Data rows with their line and the header's column index; a bad header or an empty file is
    a problem and ends the table, a row with the wrong number of fields is skipped."""
    file = str(path)
    index: dict[str, int] | None = None
    for line, row in _rows(path, encoding, parsed, progress):
        if index is None:
            index = _header(row, file, parsed, line, required)
            if index is None or (check_header is not None and not check_header(index, line)):
                return
            continue
        parsed.rows_read += 1
        if len(row) != len(index):
            parsed.problem(file, line, f"expected {len(index)} fields, found {len(row)}")
            continue
        yield line, row, index
    if index is None:
        parsed.problem(file, 1, empty)


def parse_file(
    kind: str,
    path: str | Path,
    name: str,
    configured: SourceConfig | None,
    progress: Progress | None = None,
    sink: Sink | None = None,
) -> Parsed:
    """Parse a file of the given kind (canonical, iea, or mapped by `configured`)."""
    if kind == "iea":
        parameter = configured.parameter if configured and configured.parameter else "EV sales"
        return parse_iea(path, name, progress, sink, parameter)
    if kind == "mapped":
        if configured is None:
            raise ImportFailed([f"{path}: a mapped file needs its configured source"])
        return parse_mapped(path, configured, progress, sink)
    return parse_canonical(path, name, progress, sink)


def parse_canonical(
    path: str | Path,
    default_source: str,
    progress: Progress | None = None,
    sink: Sink | None = None,
) -> Parsed:
    """Read a canonical CSV (`period,region,make,model,units[,powertrain,source,cumulative]`);
    with a `sink`, the records stream to it instead of being collected."""
    path = Path(path)
    fast = _fast_canonical(path, default_source, progress, sink)
    if fast is not None:
        return fast
    if sink is not None:
        sink.restart()
    return _careful_canonical(path, default_source, progress, sink)


def _careful_canonical(
    path: Path, default_source: str, progress: Progress | None, sink: Sink | None = None
) -> Parsed:
    """Line by line, every problem reported with its line."""
    file = str(path)
    parsed = Parsed()
    collector = _Collector(parsed, file, aggregate=False, sink=sink)
    known = CANONICAL_REQUIRED + CANONICAL_OPTIONAL

    def only_known(index: dict[str, int], line: int) -> bool:
        unknown = [c for c in index if c not in known]
        if unknown:
            parsed.problem(
                file,
                line,
                f"unknown column {unknown[0]!r} (the canonical columns are {', '.join(known)})",
            )
        return not unknown

    empty = "empty file: expected a header line " + ",".join(CANONICAL_REQUIRED)
    rows = _table(path, "utf-8-sig", parsed, progress, CANONICAL_REQUIRED, empty, only_known)
    for line, row, index in rows:
        record = _canonical_record(row, index, file, line, parsed)
        if record is not None:
            source = row[index["source"]].strip() if "source" in index else ""
            collector.add(source or default_source, record)
    collector.done()
    return parsed.finish()


class _NotClean(Exception):
    """The fast path met something it leaves to the careful path, which words the problem."""


def _fast_canonical(
    path: Path, default_source: str, progress: Progress | None, sink: Sink | None = None
) -> Parsed | None:
    """The common case at C speed: a clean UTF-8 canonical file read in one pass with the csv
    module over a decoded stream. It gives up (None) at the first thing that is not plainly
    valid; the line-by-line path then reads the file again and reports every problem.

    A file repeats a few thousand periods, regions and names a million times: each distinct
    text is checked and cleaned once, and looked up after that.
    """
    file = str(path)
    parsed = Parsed()
    collector = _Collector(parsed, file, aggregate=False, sink=sink)
    known = CANONICAL_REQUIRED + CANONICAL_OPTIONAL
    periods: dict[str, tuple[str, str]] = {}  # text -> (period, month)
    regions: dict[str, str] = {}
    names: dict[tuple[str, str], tuple[str, str, str, str]] = {}  # -> (make, model, keys)
    powertrains: dict[str, str] = {}
    sources: dict[str, str] = {}
    figures: dict[str, int] = {}  # units text -> units
    csv.field_size_limit(MAX_FIELD * 10)
    try:
        with path.open("rb") as raw, io.TextIOWrapper(raw, "utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header = [c.strip() for c in next(reader, [])]
            if (
                not header
                or len(set(header)) != len(header)
                or any(c not in known for c in header)
                or any(c not in header for c in CANONICAL_REQUIRED)
            ):
                return None
            at = {c: i for i, c in enumerate(header)}
            i_period, i_region, i_make, i_model, i_units = (at[c] for c in CANONICAL_REQUIRED)
            i_power, i_source, i_cumul = (at.get(c) for c in CANONICAL_OPTIONAL)
            width = len(header)
            end = reader.line_num
            read = 0
            append = sink.append if sink is not None else None
            for row in reader:
                line, end = end + 1, reader.line_num
                if len(row) != width:
                    if not any(c.strip() for c in row):
                        continue  # a blank line
                    raise _NotClean
                text = row[i_period]
                period = periods.get(text)
                if period is None:
                    if not any(c.strip() for c in row):
                        continue  # a line of empty fields is a blank line
                    if len(periods) >= _CACHED:
                        periods.clear()
                    period = periods[text] = _fast_period(text, sink)
                read += 1
                if progress is not None and read % 20_000 == 0:
                    progress(raw.tell())
                text = row[i_region]
                region = regions.get(text)
                if region is None:
                    if len(regions) >= _CACHED:
                        regions.clear()
                    region = regions[text] = _fast_label(text)
                pair = (row[i_make], row[i_model])
                name = names.get(pair)
                if name is None:
                    if len(names) >= _CACHED:
                        names.clear()  # a file of endless distinct names: stay bounded
                    name = names[pair] = _fast_names(*pair, sink)
                text = row[i_units]
                units = figures.get(text)
                if units is None:
                    value = _units(text, "")
                    if isinstance(value, str) or not text.isascii():
                        raise _NotClean
                    if len(figures) >= _CACHED:
                        figures.clear()
                    units = figures[text] = value
                powertrain = ""
                if i_power is not None:
                    text = row[i_power]
                    known_power = powertrains.get(text)
                    if known_power is None:
                        if len(powertrains) >= _CACHED:
                            powertrains.clear()
                        known_power = powertrains[text] = _fast_powertrain(text)
                    powertrain = known_power
                cumulative = 0
                if i_cumul is not None:
                    flag = row[i_cumul].strip().lower()
                    if flag in _TRUE:
                        cumulative = 1
                    elif flag not in _FALSE:
                        raise _NotClean
                source = default_source
                if i_source is not None:
                    text = row[i_source]
                    known_source = sources.get(text)
                    if known_source is None:
                        if len(text) > MAX_FIELD or len(sources) >= _CACHED:
                            raise _NotClean
                        known_source = sources[text] = text.strip() or default_source
                    source = known_source
                if append is not None:
                    append(
                        source,
                        (
                            name[2],
                            name[3],
                            region,
                            period[1],
                            period[0],
                            powertrain,
                            cumulative,
                            units,
                            line,
                        ),
                    )
                    continue
                record = SalesRecord(
                    period[0], region, name[0], name[1], units, powertrain, bool(cumulative), line
                )
                collector.add(source, record)
                if parsed.problem_count:
                    raise _NotClean  # a conflicting duplicate
            parsed.rows_read = read
            if progress is not None:
                progress(raw.tell())
    except (_NotClean, UnicodeDecodeError, csv.Error, PeriodError, OSError):
        return None
    if not parsed.rows_read and not header:
        return None
    collector.done()
    return parsed.finish()


def _fast_period(text: str, sink: Sink | None) -> tuple[str, str]:
    if len(text) > MAX_FIELD:
        raise _NotClean
    period = normalize_period(text)
    return period, sink.month(period) if sink is not None else ""


def _fast_label(text: str, empty_ok: bool = False) -> str:
    if len(text) > MAX_FIELD:
        raise _NotClean
    label = clean_label(text)
    if not (label or empty_ok):
        raise _NotClean
    return label


def _fast_names(make: str, model: str, sink: Sink | None) -> tuple[str, str, str, str]:
    make, model = _fast_label(make, True), _fast_label(model, True)
    if model and not make:
        raise _NotClean
    keys = sink.names(make, model) if sink is not None else ("", "")
    return make, model, *keys


def _fast_powertrain(text: str) -> str:
    powertrain = _powertrain(text) if len(text) <= MAX_FIELD else None
    if powertrain is None:
        raise _NotClean
    return powertrain


def _canonical_record(
    row: list[str], index: dict[str, int], file: str, line: int, parsed: Parsed
) -> SalesRecord | None:
    if max(map(len, row)) > MAX_FIELD:
        parsed.problem(file, line, f"a field is longer than {MAX_FIELD} characters")
        return None
    try:
        period = normalize_period(row[index["period"]])
    except PeriodError as exc:
        parsed.problem(file, line, f"bad period: {exc}")
        return None
    region = clean_label(row[index["region"]])
    make = clean_label(row[index["make"]])
    model = clean_label(row[index["model"]])
    if not region:
        parsed.problem(file, line, "region is empty")
        return None
    if model and not make:
        parsed.problem(file, line, f"model {model!r} has no make")
        return None
    units = _units(row[index["units"]], "")
    if isinstance(units, str):
        parsed.problem(file, line, units)
        return None
    powertrain = _powertrain(row[index["powertrain"]]) if "powertrain" in index else ""
    if powertrain is None:
        parsed.problem(
            file,
            line,
            f"powertrain {row[index['powertrain']].strip()!r} is not one of "
            f"{', '.join(POWERTRAINS)} (or empty)",
        )
        return None
    cumulative = False
    if "cumulative" in index:
        flag = row[index["cumulative"]].strip().lower()
        if flag not in _TRUE | _FALSE:
            parsed.problem(file, line, f"cumulative {flag!r} is not true or false")
            return None
        cumulative = flag in _TRUE
    return SalesRecord(period, region, make, model, units, powertrain, cumulative, line)


def parse_mapped(
    path: str | Path,
    source: SourceConfig,
    progress: Progress | None = None,
    sink: Sink | None = None,
) -> Parsed:
    """Read a CSV through a configured column mapping, constants, filters and period format."""
    path = Path(path)
    file = str(path)
    parsed = Parsed()
    collector = _Collector(parsed, file, aggregate=source.aggregate, sink=sink)
    columns = dict(source.columns)
    include: dict[str, set[str]] = {k: {v.lower() for v in vs} for k, vs in source.include.items()}

    def filters_known(index: dict[str, int], line: int) -> bool:
        for key in include:
            if key not in index and columns.get(key) not in index:
                parsed.problem(file, line, f"include filter {key!r} names no column of this file")
                return False
        return True

    empty = "empty file: expected a header line"
    required = tuple(columns.values())
    rows = _table(path, source.encoding, parsed, progress, required, empty, filters_known)
    for line, row, index in rows:
        if not _included(row, index, columns, include):
            parsed.skipped += 1
            continue
        record = _mapped_record(row, index, source, file, line, parsed)
        if record is not None:
            collector.add(source.name, record)
    collector.done()
    return parsed.finish()


def _included(
    row: list[str], index: dict[str, int], columns: dict[str, str], include: dict[str, set[str]]
) -> bool:
    for key, allowed in include.items():
        column = key if key in index else columns[key]
        if row[index[column]].strip().lower() not in allowed:
            return False
    return True


def _mapped_record(
    row: list[str],
    index: dict[str, int],
    source: SourceConfig,
    file: str,
    line: int,
    parsed: Parsed,
) -> SalesRecord | None:
    def value(name: str) -> str:
        column = source.columns.get(name)
        if column is None:
            return source.constants.get(name, "")
        text = row[index[column]].strip()
        return "" if text.lower() in _NULLS else text

    raw_period = value("period")
    try:
        if source.period_format:
            parsed_date = datetime.strptime(raw_period, source.period_format)
            period = parsed_date.strftime("%Y-%m-%d")
        else:
            period = normalize_period(raw_period)
        if source.granularity:
            period = period[: {"year": 4, "month": 7, "day": 10}[source.granularity]]
    except ValueError as exc:
        expected = source.period_format or "YYYY, YYYY-MM or YYYY-MM-DD"
        parsed.problem(file, line, f"bad period {raw_period!r} (expected {expected}): {exc}")
        return None
    region = clean_label(value("region"))
    if not region:
        parsed.problem(file, line, "region is empty")
        return None
    units = _units(value("units"), source.thousands)
    if isinstance(units, str):
        parsed.problem(file, line, units)
        return None
    powertrain = _powertrain(value("powertrain"))
    if powertrain is None:
        parsed.problem(
            file,
            line,
            f"powertrain {value('powertrain')!r} is not {', '.join(POWERTRAINS)}: "
            "filter it out with an include rule",
        )
        return None
    make, model = clean_label(value("make")), clean_label(value("model"))
    if model and not make:
        parsed.problem(file, line, f"model {model!r} has no make")
        return None
    return SalesRecord(
        period, region, make, model, units, powertrain, source.figures == "running", line
    )


def parse_iea(
    path: str | Path,
    source_name: str,
    progress: Progress | None = None,
    sink: Sink | None = None,
    parameter: str = "EV sales",
) -> Parsed:
    """Read the IEA Global EV Data Explorer export: historical car figures by region, yearly.

    `parameter` is "EV sales" (cars sold in each year) or "EV stock" (cars on the road at the
    end of each year: a running total). Projections, shares and other modes are never units.
    """
    path = Path(path)
    file = str(path)
    parsed = Parsed()
    collector = _Collector(parsed, file, aggregate=False, sink=sink)
    empty = "empty file: expected the IEA header " + ",".join(IEA_COLUMNS)
    for line, row, index in _table(path, "utf-8-sig", parsed, progress, IEA_COLUMNS, empty):

        def get(name: str, row: list[str] = row, index: dict[str, int] = index) -> str:
            return row[index[name]].strip()

        if (get("category"), get("parameter"), get("mode"), get("unit")) != (
            "Historical",
            parameter,
            "Cars",
            "Vehicles",
        ) or get("powertrain") not in POWERTRAINS:
            parsed.skipped += 1
            continue
        try:
            period = normalize_period(get("year"))
            number = float(get("value"))
        except ValueError as exc:
            parsed.problem(file, line, f"bad year or value: {exc}")
            continue
        if not math.isfinite(number) or number < 0 or number > MAX_UNITS:
            parsed.problem(file, line, f"value {get('value')!r} is not a count of vehicles")
            continue
        record = SalesRecord(
            period,
            clean_label(get("region")),
            "",
            "",
            round(number),
            get("powertrain"),
            parameter == "EV stock",
            line,
        )
        collector.add(source_name, record)
    collector.done()
    return parsed.finish()
