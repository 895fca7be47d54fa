"""One import, end to end: parse a file in a thread, streaming its records to the store, which
writes them in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bot.bulk import without_gc
from bot.config import Config, SourceConfig
from bot.ingest import ImportFailed, Parsed, Progress, parse_canonical, parse_iea, parse_mapped
from bot.records import ImportSummary, SalesRecord, SourceSpec
from bot.store import SalesStore

DEMO_SOURCE = "alliance-demo"
FORMATS = ("canonical", "iea")
CHUNK_ROWS = 20_000  # rows per chunk handed from the parser thread to the store


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
    if kind not in FORMATS and kind != "mapped":
        raise ImportFailed([f"unknown format {kind!r} (expected one of: {', '.join(FORMATS)})"])
    if kind == "iea":
        name = source or "iea"
    stream = _Stream(asyncio.get_running_loop())

    def parse() -> Parsed:
        try:
            if kind == "iea":
                return parse_iea(path, name, progress, stream)
            if kind == "mapped":
                assert configured is not None  # config validation ties "mapped" to a source
                return parse_mapped(path, configured, progress, stream)
            return parse_canonical(path, name, progress, stream)
        finally:
            stream.close()

    parsing = asyncio.ensure_future(asyncio.to_thread(without_gc, parse))

    async def chunks() -> AsyncIterator[Sequence[tuple[str, SalesRecord]] | None]:
        while (chunk := await stream.queue.get()) is not _END:
            yield chunk
        parsed = await parsing
        if parsed.problems:
            raise ImportFailed(parsed.problems)
        if not stream.sent:
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
            file=str(path),
            dry_run=dry_run,
            aggregate=bool(configured and kind == "mapped" and configured.aggregate),
        )
    finally:
        await stream.cancel(parsing)
    parsed = parsing.result()  # done and clean: the store read the stream to its end
    duplicates = sum(s.duplicates for s in summaries)
    for summary in summaries:
        summary.rows_read = parsed.rows_read
        summary.skipped = parsed.skipped
    return ImportReport(
        file=str(path),
        summaries=summaries,
        rows_read=parsed.rows_read,
        duplicates=duplicates,
        skipped=parsed.skipped,
        notices=[*parsed.notices, *(n for s in summaries for n in s.notices)],
    )


_END = object()


class _Stream:
    """The parser thread's sink: records go to the store in chunks through a short queue, so
    parsing and writing overlap and at most a few chunks are ever held in memory."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int = CHUNK_ROWS) -> None:
        self.loop = loop
        self.size = size
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=2)
        self.chunk: list[tuple[str, SalesRecord]] = []
        self.sent = 0
        self.cancelled = False

    def add(self, source: str, record: SalesRecord) -> None:
        self.chunk.append((source, record))
        if len(self.chunk) >= self.size:
            self._put(self.chunk)
            self.chunk = []

    def restart(self) -> None:
        self.chunk = []
        self.sent = 0
        self._put(None)

    def close(self) -> None:
        if self.chunk and not self.cancelled:
            self._put(self.chunk)
        self.chunk = []
        self._put(_END)

    def _put(self, item: Any) -> None:
        if self.cancelled:
            if item is _END:
                return
            raise _Cancelled
        if isinstance(item, list):
            self.sent += len(item)
        asyncio.run_coroutine_threadsafe(self.queue.put(item), self.loop).result()

    async def cancel(self, parsing: asyncio.Future[Parsed]) -> None:
        """After the store is done (or failed): let a parser still running end, unblocked."""
        self.cancelled = True
        while not parsing.done():
            try:
                self.queue.get_nowait()
            except asyncio.QueueEmpty:
                await asyncio.sleep(0.01)
        parsing.exception()  # retrieved: when it matters, the store has already raised it


class _Cancelled(Exception):
    """The store stopped reading: the parser stops too."""


async def import_demo(store: SalesStore, config: Config, dry_run: bool = False) -> ImportReport:
    """Load the shipped Alliance demo data."""
    return await import_file(
        store, config, demo_data_path(), source=DEMO_SOURCE, fmt="canonical", dry_run=dry_run
    )
