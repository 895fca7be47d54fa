"""One import, end to end: parse a file in a thread (or, when large, in a process), streaming its
rows to the store, which writes them in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from operator import itemgetter
from pathlib import Path
from typing import Any

from bot.domain.bulk import without_gc
from bot.domain.plausibility import rule_of
from bot.domain.records import ImportFailed, ImportSummary, SourceSpec
from bot.domain.regions import COUNTRY_LEVEL, region_warnings
from bot.domain.settings import Config, SourceConfig
from bot.domain.staging import ChunkSink, StagedChunk
from bot.ingest.iea import IEA_COLUMNS
from bot.ingest.lines import Progress
from bot.ingest.parse import parse_file
from bot.ingest.sniff import header_of
from bot.ingest.table import Parsed, folded
from bot.ingest.worker import Job, ProcessFeed
from bot.ports.store import SalesStore
from bot.reading.queries import region_tree

DEMO_SOURCE = "alliance-demo"
FORMATS = ("canonical", "iea")
CHUNK_ROWS = 20_000  # rows per chunk handed from the parser to the store
# Files this big are parsed in a process of their own (bot/ingest/worker.py): starting one costs
# about 0.2 s, which a file of this size repays.
PROCESS_BYTES = 8_000_000


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
    processes: bool | None = None,
    accept_jumps: bool = False,
    thousands: str | None = None,
    label: str | None = None,
    snapshot: str = "",
) -> ImportReport:
    """Import a file (or a configured source's file) and return what happened. It is parsed in
    a process of its own when `processes` says so, or (None) when it is large.

    A figure the hold rule finds implausible (`[milestones] hold_*`) is imported and its
    announcements held, with a notice; `accept_jumps` holds nothing. `thousands` is the
    separator grouping the digits of units ("." in 1.234), over the source's own.

    `snapshot` ("refuse" or "remove", `SalesStore.import_stream`): the file is its sources'
    whole figure set. `label` names the figures' origin in the store and the report instead of
    `path` (a URL source's body is read from a temporary file).

    Raises `ImportFailed` with every `FILE:LINE: reason` when any row is bad; nothing is written.
    """
    if thousands is not None and (len(thousands) > 3 or any(c.isdigit() for c in thousands)):
        raise ImportFailed(
            [f"thousands separator {thousands!r}: at most 3 characters, and no digits"]
        )
    configured: SourceConfig | None = config.sources.get(source) if source else None
    if path is None:
        if configured is None:
            known = ", ".join(sorted(config.sources)) or "none configured"
            raise ImportFailed([f"no file given and no configured source {source!r} ({known})"])
        if not configured.file:
            fetched = " (it is fetched from its url: evbot fetch)" if configured.fetch else ""
            raise ImportFailed([f"source {source!r} has no file in the configuration{fetched}"])
        path = configured.file
    path = Path(path)
    name = source or path.stem
    kind = fmt or (configured.format if configured else "canonical")
    recognised: list[str] = []
    if fmt is None and configured is None and _looks_like_iea(path):
        kind = "iea"
        recognised.append(
            f"{path}: read as the IEA Global EV Data Explorer export, known by its header "
            "(--format iea)"
        )
    if kind not in FORMATS and kind != "mapped":
        raise ImportFailed([f"unknown format {kind!r} (expected one of: {', '.join(FORMATS)})"])
    if kind == "iea":
        name = source or "iea"
    in_process = processes if processes is not None else _size(path) >= PROCESS_BYTES
    feed: _ThreadFeed | ProcessFeed
    if in_process:
        job = Job(kind, str(path), name, configured, CHUNK_ROWS, thousands)
        feed = ProcessFeed(job, progress)
    else:
        feed = _ThreadFeed(kind, path, name, configured, progress, thousands)

    regions: dict[str, set[str]] = {}  # each source's regions, for `region_warnings`

    async def chunks() -> AsyncIterator[StagedChunk | None]:
        async for chunk in feed.chunks():
            for src, rows in chunk.rows.items() if chunk is not None else ():
                regions.setdefault(src, set()).update(map(itemgetter(2), rows))
            yield chunk
        parsed = feed.parsed
        assert parsed is not None
        if parsed.problems:
            raise ImportFailed(parsed.problems)
        if not feed.sent:
            raise ImportFailed(
                [
                    f"{path}: no figures to import ({parsed.rows_read} rows read, "
                    f"{parsed.skipped} left out by filters)"
                ]
            )

    try:
        summaries = await store.import_stream(
            chunks(),
            lambda src: _source_spec(src, config),
            file=label or str(path),
            dry_run=dry_run,
            aggregate=bool(configured and kind == "mapped" and configured.aggregate),
            hold=None if accept_jumps else rule_of(config),
            snapshot=snapshot,
        )
    finally:
        await feed.close()
    parsed = feed.parsed
    assert parsed is not None  # the store read the stream to its end
    shares = await _keep_shares(store, name, parsed, dry_run)
    duplicates = sum(s.duplicates for s in summaries)
    for summary in summaries:
        summary.rows_read = parsed.rows_read
        summary.skipped = parsed.skipped
    return ImportReport(
        file=label or str(path),
        summaries=summaries,
        rows_read=parsed.rows_read,
        duplicates=duplicates,
        skipped=parsed.skipped,
        notices=[
            *recognised,
            *shares,
            *parsed.notices,
            *(n for s in summaries for n in s.notices),
            *region_warnings(regions, region_tree(config), _country_level(config)),
        ],
    )


async def _keep_shares(store: SalesStore, source: str, parsed: Parsed, dry_run: bool) -> list[str]:
    """Keep the file's market shares (the IEA's EV sales or stock share), after its units: a
    metric of its own, replaced whole per source and metric, never summed. Returns the notice."""
    if not parsed.shares:
        return []
    metric = parsed.shares[0].metric
    regions = len({s.region for s in parsed.shares})
    years = sorted({s.year for s in parsed.shares})
    what = (
        "EV sales share of new cars" if metric == "sales_share" else "EV share of cars on the road"
    )
    verb = "would keep" if dry_run else "kept"
    if not dry_run:
        await store.replace_market_shares(source, metric, parsed.shares)
    return [
        f"{source}: {verb} {len(parsed.shares)} market-share figures ({what}, percent) for "
        f"{regions} regions, {years[0]} to {years[-1]}: a metric of their own, never added to "
        "the units (/ev-share REGION)"
    ]


def _looks_like_iea(path: Path) -> bool:
    """Whether the header is the IEA export's: six of its eight columns at least, so that one
    misspelt column is reported by the IEA parse rather than as a canonical file's."""
    header = {folded(c) for c in header_of(path)}
    return sum(c in header for c in IEA_COLUMNS) >= len(IEA_COLUMNS) - 2


def _country_level(config: Config) -> set[str]:
    return {n for n, s in config.sources.items() if s.regions == COUNTRY_LEVEL}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # the parser says what is wrong with it


_END = object()


class _ThreadFeed:
    """A parse in a thread of this process, its chunks handed over through a short queue, so
    parsing and writing overlap and at most a few chunks are ever held in memory."""

    def __init__(
        self,
        kind: str,
        path: Path,
        name: str,
        configured: SourceConfig | None,
        progress: Progress | None,
        thousands: str | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=2)
        self.sink = ChunkSink(self._put, CHUNK_ROWS)
        self.cancelled = False
        self.parsed: Parsed | None = None

        def parse() -> Parsed:
            try:
                parsed = parse_file(kind, path, name, configured, progress, self.sink, thousands)
                if not self.cancelled:
                    self.sink.flush()
                return parsed
            finally:
                self._put(_END)

        self.parsing = asyncio.ensure_future(asyncio.to_thread(without_gc, parse))

    @property
    def sent(self) -> int:
        return self.sink.sent

    async def chunks(self) -> AsyncIterator[StagedChunk | None]:
        while (chunk := await self.queue.get()) is not _END:
            yield chunk
        self.parsed = await self.parsing

    def _put(self, item: Any) -> None:
        if self.cancelled:
            if item is _END:
                return
            raise _Cancelled
        asyncio.run_coroutine_threadsafe(self.queue.put(item), self.loop).result()

    async def close(self) -> None:
        """After the store is done (or failed): let a parser still running end, unblocked."""
        self.cancelled = True
        while not self.parsing.done():
            try:
                self.queue.get_nowait()
            except asyncio.QueueEmpty:
                await asyncio.sleep(0.01)
        self.parsing.exception()  # retrieved: when it matters, the store has already raised it


class _Cancelled(Exception):
    """The store stopped reading: the parser stops too."""


async def import_demo(store: SalesStore, config: Config, dry_run: bool = False) -> ImportReport:
    """Load the shipped Alliance demo data."""
    return await import_file(
        store, config, demo_data_path(), source=DEMO_SOURCE, fmt="canonical", dry_run=dry_run
    )
