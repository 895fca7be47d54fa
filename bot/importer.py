"""One import, end to end: parse a file off the event loop, then write it in one transaction."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from bot.bulk import without_gc
from bot.config import Config, SourceConfig
from bot.ingest import ImportFailed, Parsed, Progress, parse_canonical, parse_iea, parse_mapped
from bot.records import ImportSummary, SourceSpec
from bot.store import SalesStore

DEMO_SOURCE = "alliance-demo"
FORMATS = ("canonical", "iea")


@dataclass
class ImportReport:
    """What an import read and wrote, per source."""

    file: str
    summaries: list[ImportSummary] = field(default_factory=list)
    rows_read: int = 0
    duplicates: int = 0
    skipped: int = 0
    notices: list[str] = field(default_factory=list)


def demo_data_path() -> Path:
    """The Alliance demo CSV shipped inside the package."""
    return Path(str(resources.files("bot") / "data" / "alliance_demo.csv"))


def _source_spec(name: str, config: Config, metric: str = "sales") -> SourceSpec:
    configured = config.sources.get(name)
    if configured is not None:
        return SourceSpec(
            name, "stock" if configured.metric == "stock" else "sales", configured.priority
        )
    return SourceSpec(name, "stock" if metric == "stock" else "sales")


async def import_file(
    store: SalesStore,
    config: Config,
    path: str | Path | None = None,
    *,
    source: str | None = None,
    fmt: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a file (or a configured source's file) and return what happened.

    Raises `ImportFailed` with every `FILE:LINE: reason` when any row is bad; nothing is written.
    """
    configured: SourceConfig | None = config.sources.get(source) if source else None
    if path is None:
        if configured is None:
            known = ", ".join(sorted(config.sources)) or "none configured"
            raise ImportFailed([f"no file given and no configured source {source!r} ({known})"])
        if not configured.file:
            raise ImportFailed([f"source {source!r} has no file in the configuration"])
        path = configured.file
    path = Path(path)
    name = source or path.stem
    kind = fmt or (configured.format if configured else "canonical")
    parsed: Parsed
    if kind == "iea":
        parsed = await asyncio.to_thread(without_gc, parse_iea, path, source or "iea", progress)
        name = source or "iea"
    elif kind == "mapped":
        assert configured is not None  # config validation ties "mapped" to a configured source
        parsed = await asyncio.to_thread(without_gc, parse_mapped, path, configured, progress)
    elif kind == "canonical":
        parsed = await asyncio.to_thread(without_gc, parse_canonical, path, name, progress)
    else:
        raise ImportFailed([f"unknown format {kind!r} (expected one of: {', '.join(FORMATS)})"])
    if parsed.problems:
        raise ImportFailed(parsed.problems)
    if not parsed.records:
        raise ImportFailed(
            [
                f"{path}: no figures to import ({parsed.rows_read} rows read, "
                f"{parsed.skipped} left out by filters)"
            ]
        )
    batches = [(_source_spec(src, config), recs) for src, recs in parsed.records.items()]
    summaries = await store.import_records(batches, file=str(path), dry_run=dry_run)
    for summary in summaries:
        summary.rows_read = parsed.rows_read
        summary.duplicates = parsed.duplicates
        summary.skipped = parsed.skipped
    return ImportReport(
        file=str(path),
        summaries=summaries,
        rows_read=parsed.rows_read,
        duplicates=parsed.duplicates,
        skipped=parsed.skipped,
        notices=parsed.notices,
    )


async def import_demo(store: SalesStore, config: Config, dry_run: bool = False) -> ImportReport:
    """Load the shipped Alliance demo data."""
    return await import_file(
        store, config, demo_data_path(), source=DEMO_SOURCE, fmt="canonical", dry_run=dry_run
    )
