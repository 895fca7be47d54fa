"""Reading CSV files into sales records: the canonical format, configured mappings, and the IEA.

Parsing never touches the store. It reads the whole file, collects every problem as
`FILE:LINE: reason`, and the caller writes nothing when there is one (an import is all or nothing).
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import IO, Protocol

from bot.domain.names import Spellings, clean_label, name_key
from bot.domain.periods import PeriodError, normalize_period
from bot.domain.powertrains import powertrain_of, powertrain_table, refusal
from bot.domain.records import POWERTRAINS, ImportFailed, SalesRecord
from bot.domain.regions import COUNTRY_LEVEL, country_name
from bot.domain.settings import SourceConfig
from bot.domain.staging import MAX_PROBLEMS, Row

CANONICAL_REQUIRED = ("period", "region", "make", "model", "units")
CANONICAL_OPTIONAL = ("powertrain", "source", "cumulative")
IEA_COLUMNS = ("region", "category", "parameter", "mode", "powertrain", "year", "unit", "value")
MAX_FIELD = 10_000  # a longer field is refused rather than stored
# A trillion vehicles in one row is no count of cars (the world buys under 100 million a year);
# far larger figures would overflow the store's 64-bit sums or the threshold ladders.
MAX_UNITS = 10**12
MAX_LINE = 1 << 20  # characters in one physical line
_READ = 1 << 16  # characters decoded at a time
_TELL = 1 << 20  # bytes read between two progress calls
_INT = re.compile(r"[0-9]+")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")
# C0 and C1 controls but tab and line ends, and the undecodable bytes (`_undecodable`)
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_ASCII_CONTROLS = bytes([*range(9), 11, 12, *range(14, 32), 127])  # _BAD's ASCII part
_ODD_ENDS = re.compile("[\x85\u2028\u2029]")  # line ends to `str.splitlines`, not to CSV
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n", ""}
_NULLS = {"", "null", "none", "n/a", "na"}
_CACHED = 65_536  # distinct texts the fast path remembers per column, at most

Progress = Callable[[int], None]  # called with the bytes read so far


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


def _undecodable(error: UnicodeError) -> tuple[str, int]:
    """Undecodable bytes become lone surrogates, which no decoder produces from good text: the
    line check finds them with the control characters, and says where they are."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(0xDC00 + b) for b in bad), error.end


codecs.register_error("evbot-undecodable", _undecodable)

Report = Callable[[int, str], None]  # a problem on a physical line


def _lines(
    raw: IO[bytes], encoding: str, report: Report, progress: Progress | None
) -> Iterator[str]:
    """Decoded physical lines, each with its line end (\r\n, \n or \r), read a bounded piece at
    a time: a line past `MAX_LINE` characters is reported and ends the reading, whatever the
    file holds (a binary file, /dev/zero). NUL and other control characters and undecodable
    bytes are found in the decoded text (a UTF-16 file's zero bytes are no NULs), reported, and
    taken out so that the rest of the line is still read. Both parse paths read through this."""
    text = io.TextIOWrapper(raw, encoding, errors="evbot-undecodable", newline="")
    return chain.from_iterable(_detached(text, _line_runs(raw, text, encoding, report, progress)))


def _detached(text: io.TextIOWrapper, runs: Iterator[list[str]]) -> Iterator[list[str]]:
    """`runs`, then `text` let go of the caller's file (which the caller closes): a reading cut
    short by an exception leaves the wrapper in its traceback, and a wrapper finalized there
    would warn of an unclosed file."""
    try:
        yield from runs
    finally:
        if not text.buffer.closed:
            text.detach()


def _line_runs(
    raw: IO[bytes],
    text: io.TextIOWrapper,
    encoding: str,
    report: Report,
    progress: Progress | None,
) -> Iterator[list[str]]:
    number = 0  # lines handed on
    carry = ""  # the start of a line whose end is not read yet
    told = 0
    while True:
        piece = text.read(_READ)
        held = carry + piece
        if not piece:
            if not held:
                break
            if not held.endswith(("\n", "\r")):
                held += "\n"  # the last line, without a line end of its own
        # a \r at the end of a piece may be the first half of a \r\n
        stop = len(held) - 1 if piece and held.endswith("\r") else len(held)
        end = max(held.rfind("\n", 0, stop), held.rfind("\r", 0, stop)) + 1
        complete, carry = held[:end], held[end:]
        lines = _split(complete, encoding, number, report)
        if (lines and len(lines[0]) > MAX_LINE) or len(carry) > MAX_LINE:
            report(number + 1, f"line too long (more than {MAX_LINE:,} characters)")
            return
        number += len(lines)
        if progress is not None and (not piece or raw.tell() - told >= _TELL):
            told = raw.tell()
            progress(told)
        if lines:
            yield lines
        if not piece:
            break
    if progress is not None:
        progress(raw.tell())


def _split(text: str, encoding: str, number: int, report: Report) -> list[str]:
    """Whole lines (`text` ends with a line end), checked; `number` lines came before them.

    Scanning text with a regular expression costs ten times what the bytes of ASCII text cost,
    and `str.splitlines` also splits on characters that are no line end in CSV (U+2028, and
    controls), so each is used only where the text is plain.
    """
    if text.isascii():  # known without reading the text
        data = text.encode("ascii")
        plain = len(data.translate(None, _ASCII_CONTROLS)) == len(data)
    else:
        # in UTF-8, C0 bytes are only C0 characters, and C1 controls (C2 80-9F), surrogates
        # (ED A0-BF) and U+2028/9 (E2 80 A8-A9) need one of these lead bytes
        data = text.encode("utf-8", "surrogatepass")
        plain = len(data.translate(None, _ASCII_CONTROLS)) == len(data) and not (
            b"\xc2" in data or b"\xed" in data or b"\xe2\x80" in data
        )
        if not plain:
            plain = _BAD.search(text) is None and not _ODD_ENDS.search(text)
    if plain:
        return text.splitlines(keepends=True)
    lines = _LINE.findall(text)
    return [_checked(t, number + i, encoding, report) for i, t in enumerate(lines, 1)]


def _checked(line: str, number: int, encoding: str, report: Report) -> str:
    bad = _BAD.search(line)
    if bad is None:
        return line
    char = bad.group()
    if "\ud800" <= char <= "\udfff":
        report(number, f"undecodable bytes at column {bad.start() + 1} (not {encoding} text)")
    elif char == "\x00":
        report(number, "contains a NUL character: this is not a text CSV file")
    else:
        report(number, f"control character U+{ord(char):04X} at column {bad.start() + 1}")
    return _BAD.sub(_replacement, line)


def _replacement(match: re.Match[str]) -> str:
    """Undecodable bytes read as U+FFFD, as a decoder would; control characters are dropped."""
    return "\ufffd" if match.group() >= "\ud800" else ""


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

    def report(line: int, reason: str) -> None:
        parsed.problem(file, line, reason)

    with handle:
        lines = _lines(handle, encoding, report, progress)
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
    if value.startswith("-") and _INT.fullmatch(value[1:]):
        return f"negative units {text.strip()!r}: figures are never below 0"
    if not _INT.fullmatch(value):
        return f"units {text.strip()!r} is not a whole number"
    if len(value) > 13 or int(value) > MAX_UNITS:
        return f"units {_short(text.strip())} are more than {MAX_UNITS:,}: not a count of vehicles"
    return int(value)


def _short(text: str) -> str:
    return repr(text) if len(text) <= 20 else f"{text[:10]!r}... ({len(text)} digits)"


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
    if index is None and not parsed.problem_count:  # not when the reading was cut short
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
    own = configured.powertrains if configured is not None else None
    return parse_canonical(path, name, progress, sink, own)


def parse_canonical(
    path: str | Path,
    default_source: str,
    progress: Progress | None = None,
    sink: Sink | None = None,
    powertrains: Mapping[str, str] | None = None,
) -> Parsed:
    """Read a canonical CSV (`period,region,make,model,units[,powertrain,source,cumulative]`);
    with a `sink`, the records stream to it instead of being collected. `powertrains` maps a
    source's own powertrain spellings to BEV, PHEV or FCEV."""
    path = Path(path)
    table = powertrain_table(powertrains)
    fast = _fast_canonical(path, default_source, progress, sink, table, powertrains)
    if fast is not None:
        return fast
    if sink is not None:
        sink.restart()
    return _careful_canonical(path, default_source, progress, sink, table, powertrains)


def _careful_canonical(
    path: Path,
    default_source: str,
    progress: Progress | None,
    sink: Sink | None = None,
    table: Mapping[str, str] | None = None,
    own: Mapping[str, str] | None = None,
) -> Parsed:
    """Line by line, every problem reported with its line."""
    file = str(path)
    parsed = Parsed()
    collector = _Collector(parsed, file, aggregate=False, sink=sink)
    known = CANONICAL_REQUIRED + CANONICAL_OPTIONAL
    checks = CanonicalChecks(default_source, powertrain_table(own) if table is None else table, own)

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
        try:
            source, record = checks.record(row, index, line)
        except RowProblem as exc:
            parsed.problem(file, line, str(exc))
            continue
        collector.add(source, record)
    collector.done()
    return parsed.finish()


class RowProblem(ValueError):
    """What is wrong with a row, in the words the user sees after `FILE:LINE: `."""


class CanonicalChecks:
    """The checks of a canonical row's fields, one function per column, shared by the careful
    path (which reports a `RowProblem`) and the fast one (which gives up on it)."""

    def __init__(
        self, default_source: str, table: Mapping[str, str], own: Mapping[str, str] | None
    ) -> None:
        self.default_source = default_source
        self.table = table
        self.own = own

    def record(self, row: list[str], index: dict[str, int], line: int) -> tuple[str, SalesRecord]:
        """The row's source and record, or the first `RowProblem` in it."""
        for text in row:
            field_text(text)
        period = period_of(row[index["period"]])
        region = region_of(row[index["region"]])
        make, model = names_of(row[index["make"]], row[index["model"]])
        units = units_of(row[index["units"]])
        powertrain = self.powertrain(row[index["powertrain"]]) if "powertrain" in index else ""
        cumulative = cumulative_of(row[index["cumulative"]]) if "cumulative" in index else False
        source = self.source(row[index["source"]]) if "source" in index else self.default_source
        record = SalesRecord(period, region, make, model, units, powertrain, cumulative, line)
        return source, record

    def powertrain(self, text: str) -> str:
        """BEV, PHEV, FCEV or "" (none given)."""
        field_text(text)
        powertrain = powertrain_of(text, self.table)
        if powertrain is None:
            raise RowProblem(refusal(text, self.own))
        return powertrain

    def source(self, text: str) -> str:
        """The row's source, or the file's when the cell is empty."""
        field_text(text)
        return text.strip() or self.default_source


def field_text(text: str) -> str:
    """A field's text, refused when it is longer than anything a name or figure needs."""
    if len(text) > MAX_FIELD:
        raise RowProblem(f"a field is longer than {MAX_FIELD} characters")
    return text


def period_of(text: str) -> str:
    """A period in canonical form."""
    try:
        return normalize_period(field_text(text))
    except PeriodError as exc:
        raise RowProblem(f"bad period: {exc}") from None


def region_of(text: str) -> str:
    """A region's label; never empty."""
    region = clean_label(field_text(text))
    if not region:
        raise RowProblem("region is empty")
    return region


def names_of(make: str, model: str) -> tuple[str, str]:
    """A make's and model's labels; either may be empty (a total), but a model needs its make."""
    make, model = clean_label(field_text(make)), clean_label(field_text(model))
    if model and not make:
        raise RowProblem(f"model {model!r} has no make")
    return make, model


def units_of(text: str, thousands: str = "") -> int:
    """A count of vehicles."""
    units = _units(field_text(text), thousands)
    if isinstance(units, str):
        raise RowProblem(units)
    return units


def cumulative_of(text: str) -> bool:
    """Whether the figure is a running total."""
    flag = field_text(text).strip().lower()
    if flag not in _TRUE | _FALSE:
        raise RowProblem(f"cumulative {flag!r} is not true or false")
    return flag in _TRUE


def _fast_canonical(
    path: Path,
    default_source: str,
    progress: Progress | None,
    sink: Sink | None = None,
    table: Mapping[str, str] | None = None,
    own: Mapping[str, str] | None = None,
) -> Parsed | None:
    """The common case at C speed: a clean canonical file read in one pass with the csv module
    over the same decoded lines as the careful path, each field checked by the same functions
    (`CanonicalChecks`). It gives up (None) at the first problem; the careful path then reads
    the file again and reports every problem.

    A file repeats a few thousand periods, regions and names a million times: each distinct
    text is checked and cleaned once, and looked up after that.
    """
    file = str(path)
    parsed = Parsed()
    collector = _Collector(parsed, file, aggregate=False, sink=sink)
    known = CANONICAL_REQUIRED + CANONICAL_OPTIONAL
    checks = CanonicalChecks(default_source, powertrain_table(own) if table is None else table, own)
    periods: dict[str, tuple[str, str]] = {}  # text -> (period, month)
    regions: dict[str, str] = {}
    names: dict[tuple[str, str], tuple[str, str, str, str]] = {}  # -> (make, model, keys)
    powertrains: dict[str, str] = {}
    sources: dict[str, str] = {}
    figures: dict[str, int] = {}  # units text -> units
    flags: dict[str, bool] = {}
    csv.field_size_limit(MAX_FIELD * 10)

    def give_up(line: int, reason: str) -> None:
        raise RowProblem(reason)

    try:
        with path.open("rb") as raw:
            reader = csv.reader(_lines(raw, "utf-8-sig", give_up, progress), strict=True)
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
                    return None
                text = row[i_period]
                period = periods.get(text)
                if period is None:
                    if not any(c.strip() for c in row):
                        continue  # a line of empty fields is a blank line
                    if len(periods) >= _CACHED:
                        periods.clear()
                    canonical = period_of(text)
                    month = sink.month(canonical) if sink is not None else ""
                    period = periods[text] = (canonical, month)
                read += 1
                text = row[i_region]
                region = regions.get(text)
                if region is None:
                    if len(regions) >= _CACHED:
                        regions.clear()
                    region = region_of(text)
                    region = regions[text] = sink.region(region) if sink is not None else region
                pair = (row[i_make], row[i_model])
                name = names.get(pair)
                if name is None:
                    if len(names) >= _CACHED:
                        names.clear()  # a file of endless distinct names: stay bounded
                    make, model = names_of(*pair)
                    keys = sink.names(make, model) if sink is not None else ("", "")
                    name = names[pair] = (make, model, *keys)
                text = row[i_units]
                units = figures.get(text)
                if units is None:
                    if len(figures) >= _CACHED:
                        figures.clear()
                    units = figures[text] = units_of(text)
                powertrain = ""
                if i_power is not None:
                    text = row[i_power]
                    known_power = powertrains.get(text)
                    if known_power is None:
                        if len(powertrains) >= _CACHED:
                            powertrains.clear()
                        known_power = powertrains[text] = checks.powertrain(text)
                    powertrain = known_power
                cumulative = False
                if i_cumul is not None:
                    text = row[i_cumul]
                    flag = flags.get(text)
                    if flag is None:
                        if len(flags) >= _CACHED:
                            flags.clear()
                        flag = flags[text] = cumulative_of(text)
                    cumulative = flag
                source = default_source
                if i_source is not None:
                    text = row[i_source]
                    known_source = sources.get(text)
                    if known_source is None:
                        if len(sources) >= _CACHED:
                            sources.clear()
                        known_source = sources[text] = checks.source(text)
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
                            int(cumulative),
                            units,
                            line,
                        ),
                    )
                    continue
                record = SalesRecord(
                    period[0], region, name[0], name[1], units, powertrain, cumulative, line
                )
                collector.add(source, record)
                if parsed.problem_count:
                    return None  # a conflicting duplicate
            parsed.rows_read = read
    except (RowProblem, csv.Error, OSError):
        return None
    if not parsed.rows_read and not header:
        return None
    collector.done()
    return parsed.finish()


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
    table = powertrain_table(source.powertrains)

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
        record = _mapped_record(row, index, source, file, line, parsed, table)
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
    table: Mapping[str, str],
) -> SalesRecord | None:
    def value(name: str) -> str:
        column = source.columns.get(name)
        if column is None:
            return source.constants.get(name, "")
        text = field_text(row[index[column]]).strip()
        return "" if text.lower() in _NULLS else text

    try:
        return _mapped_fields(value, source, table, line)
    except RowProblem as exc:
        parsed.problem(file, line, str(exc))
        return None


def _mapped_fields(
    value: Callable[[str], str], source: SourceConfig, table: Mapping[str, str], line: int
) -> SalesRecord:
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
        raise RowProblem(f"bad period {raw_period!r} (expected {expected}): {exc}") from None
    region = region_of(value("region"))
    if source.regions == COUNTRY_LEVEL:
        region = country_name(region) or region  # FR is France only where the source says so
    units = units_of(value("units"), source.thousands)
    powertrain = powertrain_of(value("powertrain"), table)
    if powertrain is None:
        raise RowProblem(
            f"{refusal(value('powertrain'), source.powertrains)} (leave such rows out with "
            "an include rule, or map the value with the source's `powertrains`)"
        )
    make, model = names_of(value("make"), value("model"))
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
