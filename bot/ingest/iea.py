"""Reading the IEA Global EV Data Explorer export, a long-format table of yearly figures."""

from __future__ import annotations

import math
from pathlib import Path

from bot.domain.names import clean_label
from bot.domain.periods import normalize_period
from bot.domain.records import POWERTRAINS, SalesRecord
from bot.ingest.fields import MAX_UNITS
from bot.ingest.lines import Progress
from bot.ingest.table import Collector, Parsed, Sink, table_rows

IEA_COLUMNS = ("region", "category", "parameter", "mode", "powertrain", "year", "unit", "value")


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
    collector = Collector(parsed, file, aggregate=False, sink=sink)
    empty = "empty file: expected the IEA header " + ",".join(IEA_COLUMNS)
    for line, row, index in table_rows(path, "utf-8-sig", parsed, progress, IEA_COLUMNS, empty):

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
