"""Reading the IEA Global EV Data Explorer export, a long-format table of yearly figures."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from bot.domain.market_shares import MarketShare, ShareMetric, checked_percent
from bot.domain.names import clean_label, name_key
from bot.domain.periods import normalize_period
from bot.domain.records import POWERTRAINS, SalesRecord
from bot.ingest.fields import MAX_UNITS
from bot.ingest.lines import Progress
from bot.ingest.table import Collector, Parsed, Sink, table_rows

IEA_COLUMNS = ("region", "category", "parameter", "mode", "powertrain", "year", "unit", "value")


def _share(
    parsed: Parsed,
    file: str,
    line: int,
    source: str,
    parameter: str,
    get: Callable[[str], str],
    seen: dict[tuple[str, int], tuple[int, float]],
) -> None:
    """One share row ("EV sales share" of cars, percent) into `parsed.shares`, or a problem (a
    second, different figure for one region and year names both lines)."""
    try:
        year = int(get("year"))
        percent = checked_percent(float(get("value")))
    except ValueError as exc:
        parsed.problem(file, line, f"bad share year or value: {exc}")
        return
    metric: ShareMetric = "stock_share" if parameter == "EV stock" else "sales_share"
    region = clean_label(get("region"))
    first = seen.setdefault((name_key(region), year), (line, percent))
    if first[0] != line:
        if first[1] != percent:
            parsed.problem(
                file,
                line,
                f"a second {parameter} share for {region} in {year} ({percent} against "
                f"{first[1]} on line {first[0]})",
            )
        return
    parsed.shares.append(MarketShare(source, metric, region, year, percent))


def parse_iea(
    path: str | Path,
    source_name: str,
    progress: Progress | None = None,
    sink: Sink | None = None,
    parameter: str = "EV sales",
) -> Parsed:
    """Read the IEA Global EV Data Explorer export: historical car figures by region, yearly.

    `parameter` is "EV sales" (cars sold in each year) or "EV stock" (cars on the road at the
    end of each year: a running total). Projections and other modes are never units. The
    parameter's share ("EV sales share", "EV stock share": percent of the region's cars) goes
    to `Parsed.shares`, a metric of its own, never to the units.
    """
    path = Path(path)
    file = str(path)
    parsed = Parsed()
    collector = Collector(parsed, file, aggregate=False, sink=sink)
    empty = "empty file: expected the IEA header " + ",".join(IEA_COLUMNS)
    seen: dict[tuple[str, int], tuple[int, float]] = {}
    for line, row, index in table_rows(path, "utf-8-sig", parsed, progress, IEA_COLUMNS, empty):

        def get(name: str, row: list[str] = row, index: dict[str, int] = index) -> str:
            return row[index[name]].strip()

        what = (get("category"), get("parameter"), get("mode"), get("unit"))
        if what == ("Historical", f"{parameter} share", "Cars", "percent"):
            _share(parsed, file, line, source_name, parameter, get, seen)
            continue
        units = ("Historical", parameter, "Cars", "Vehicles")
        if what != units or get("powertrain") not in POWERTRAINS:
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
