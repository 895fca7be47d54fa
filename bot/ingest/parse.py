"""Reading CSV files into sales records: the canonical format, configured mappings, and the IEA.

Parsing never touches the store. It reads the whole file, collects every problem as
`FILE:LINE: reason`, and the caller writes nothing when there is one (an import is all or nothing).
"""

from __future__ import annotations

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
