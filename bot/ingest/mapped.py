"""Reading a CSV through a source's configured column mapping, constants, filters and period
format."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from bot.domain.periods import normalize_period
from bot.domain.powertrains import powertrain_of, powertrain_table, refusal
from bot.domain.records import SalesRecord
from bot.domain.regions import COUNTRY_LEVEL, country_name
from bot.domain.settings import SourceConfig
from bot.ingest.fields import NULLS, RowProblem, field_text, names_of, region_of, units_of
from bot.ingest.lines import Progress
from bot.ingest.table import Collector, Parsed, Sink, table_rows


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
    collector = Collector(parsed, file, aggregate=source.aggregate, sink=sink)
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
    rows = table_rows(
        path, source.encoding, parsed, progress, required, empty, filters_known, tuple(include)
    )
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
        return "" if text.lower() in NULLS else text

    try:
        return _mapped_fields(value, source, table, line, parsed.delimiter == ",")
    except RowProblem as exc:
        parsed.problem(file, line, str(exc))
        return None


def _mapped_fields(
    value: Callable[[str], str],
    source: SourceConfig,
    table: Mapping[str, str],
    line: int,
    comma_file: bool,
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
    units = units_of(value("units"), source.thousands, comma_file)
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
