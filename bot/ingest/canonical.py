"""Reading the canonical CSV (`period,region,make,model,units[,powertrain,source,cumulative]`):
a fast path for clean files and a careful one that reports every problem."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from bot.domain.powertrains import powertrain_of, powertrain_table, refusal
from bot.domain.records import SalesRecord
from bot.ingest.fields import (
    MAX_FIELD,
    RowProblem,
    cumulative_of,
    field_text,
    names_of,
    period_of,
    region_of,
    units_of,
)
from bot.ingest.lines import Progress, read_lines
from bot.ingest.sniff import delimited, encoding_of
from bot.ingest.table import Collector, Parsed, Sink, closest, header_keys, table_rows

CANONICAL_REQUIRED = ("period", "region", "make", "model", "units")
CANONICAL_OPTIONAL = ("powertrain", "source", "cumulative")
_CACHED = 65_536  # distinct texts the fast path remembers per column, at most


def parse_canonical(
    path: str | Path,
    default_source: str,
    progress: Progress | None = None,
    sink: Sink | None = None,
    powertrains: Mapping[str, str] | None = None,
    thousands: str = "",
) -> Parsed:
    """Read a canonical CSV (`period,region,make,model,units[,powertrain,source,cumulative]`);
    with a `sink`, the records stream to it instead of being collected. `powertrains` maps a
    source's own powertrain spellings to BEV, PHEV or FCEV; `thousands` is the separator that
    groups the digits of units, if the source or the import says one does."""
    path = Path(path)
    table = powertrain_table(powertrains)
    fast = _fast_canonical(path, default_source, progress, sink, table, powertrains, thousands)
    if fast is not None:
        return fast
    if sink is not None:
        sink.restart()
    return _careful_canonical(path, default_source, progress, sink, table, powertrains, thousands)


def _careful_canonical(
    path: Path,
    default_source: str,
    progress: Progress | None,
    sink: Sink | None = None,
    table: Mapping[str, str] | None = None,
    own: Mapping[str, str] | None = None,
    thousands: str = "",
) -> Parsed:
    """Line by line, every problem reported with its line."""
    file = str(path)
    parsed = Parsed()
    collector = Collector(parsed, file, aggregate=False, sink=sink)
    known = CANONICAL_REQUIRED + CANONICAL_OPTIONAL
    checks = CanonicalChecks(
        default_source, powertrain_table(own) if table is None else table, own, thousands
    )

    def only_known(index: dict[str, int], line: int) -> bool:
        unknown = [c for c in index if c not in known]
        if unknown:
            near = closest(unknown[0], [c for c in known if c not in index])
            hint = f"did you mean {near!r}? " if near else ""
            parsed.problem(
                file,
                line,
                f"unknown column {unknown[0]!r} ({hint}the canonical columns are "
                f"{', '.join(known)})",
            )
        return not unknown

    empty = "empty file: expected a header line " + ",".join(CANONICAL_REQUIRED)
    rows = table_rows(
        path, "utf-8-sig", parsed, progress, CANONICAL_REQUIRED, empty, only_known, known
    )
    for line, row, index in rows:
        checks.comma_file = parsed.delimiter == ","
        try:
            source, record = checks.record(row, index, line)
        except RowProblem as exc:
            parsed.problem(file, line, str(exc))
            continue
        collector.add(source, record)
    collector.done()
    return parsed.finish()


class CanonicalChecks:
    """The checks of a canonical row's fields, one function per column, shared by the careful
    path (which reports a `RowProblem`) and the fast one (which gives up on it)."""

    def __init__(
        self,
        default_source: str,
        table: Mapping[str, str],
        own: Mapping[str, str] | None,
        thousands: str = "",
    ) -> None:
        self.default_source = default_source
        self.thousands = thousands
        self.comma_file = True  # the file's delimiter is a comma: a comma in units groups digits
        self.table = table
        self.own = own

    def record(self, row: list[str], index: dict[str, int], line: int) -> tuple[str, SalesRecord]:
        """The row's source and record, or the first `RowProblem` in it."""
        for text in row:
            field_text(text)
        period = period_of(row[index["period"]])
        region = region_of(row[index["region"]])
        make, model = names_of(row[index["make"]], row[index["model"]])
        units = units_of(row[index["units"]], self.thousands, self.comma_file)
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


def _fast_canonical(
    path: Path,
    default_source: str,
    progress: Progress | None,
    sink: Sink | None = None,
    table: Mapping[str, str] | None = None,
    own: Mapping[str, str] | None = None,
    thousands: str = "",
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
    collector = Collector(parsed, file, aggregate=False, sink=sink)
    known = CANONICAL_REQUIRED + CANONICAL_OPTIONAL
    checks = CanonicalChecks(
        default_source, powertrain_table(own) if table is None else table, own, thousands
    )
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
            encoding = encoding_of(raw, "utf-8-sig")
            delimiter, lines = delimited(read_lines(raw, encoding, give_up, progress))
            parsed.delimiter = delimiter
            reader = csv.reader(lines, strict=True, delimiter=delimiter)
            header = header_keys(next(reader, []), known)
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
                    units = figures[text] = units_of(text, thousands, delimiter == ",")
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
