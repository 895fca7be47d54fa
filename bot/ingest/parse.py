"""Reading CSV files into sales records: the canonical format, configured mappings, and the IEA.

Parsing never touches the store. It reads the whole file, collects every problem as
`FILE:LINE: reason`, and the caller writes nothing when there is one (an import is all or nothing).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.domain.records import ImportFailed
from bot.domain.settings import SourceConfig
from bot.ingest.canonical import parse_canonical
from bot.ingest.iea import parse_iea
from bot.ingest.lines import Progress
from bot.ingest.mapped import parse_mapped
from bot.ingest.table import Parsed, Sink


def parse_file(
    kind: str,
    path: str | Path,
    name: str,
    configured: SourceConfig | None,
    progress: Progress | None = None,
    sink: Sink | None = None,
    thousands: str | None = None,
) -> Parsed:
    """Parse a file of the given kind (canonical, iea, or mapped by `configured`); `thousands`,
    when given, is the separator grouping the digits of units, over the source's own."""
    if thousands is not None and configured is not None:
        configured = replace(configured, thousands=thousands)
    if kind == "iea":
        parameter = configured.parameter if configured and configured.parameter else "EV sales"
        return parse_iea(path, name, progress, sink, parameter)
    if kind == "mapped":
        if configured is None:
            raise ImportFailed([f"{path}: a mapped file needs its configured source"])
        return parse_mapped(path, configured, progress, sink)
    own = configured.powertrains if configured is not None else None
    if thousands is None:
        thousands = configured.thousands if configured is not None else ""
    return parse_canonical(path, name, progress, sink, own, thousands)
