"""One fetch of a URL source, end to end: fetch (conditional), skip an unchanged body by its hash,
import the body through the same path as a file (all or nothing, `URL:LINE: reason`), and keep
the fetch's state in the store."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from bot.domain.fetching import (
    FetchError,
    FetchState,
    Sleep,
    UrlSettings,
    json_table,
    redact_urls,
)
from bot.domain.records import REFUSE_SHRINK, REMOVE_MISSING, ImportFailed
from bot.domain.settings import Config
from bot.ingest.importer import ImportReport, import_file
from bot.ports.fetches import FetchStateRows
from bot.ports.store import SalesStore

log = logging.getLogger("evbot.sources")

IMPORTED = "imported"
UNCHANGED = "unchanged"
FAILED = "failed"


class SourceStore(SalesStore, FetchStateRows, Protocol):
    """What a fetch needs of the store: the import path and the fetch state."""


@dataclass
class FetchOutcome:
    """What one fetch did: `status` (imported, unchanged, failed), why, the import's report
    and the state before and after (kept unless `dry_run`)."""

    source: str
    status: str
    detail: str
    before: FetchState
    after: FetchState
    report: ImportReport | None = None
    dry_run: bool = False


def url_sources(config: Config) -> dict[str, UrlSettings]:
    """The configured sources fetched from a URL, by name."""
    return {n: s.fetch for n, s in config.sources.items() if s.fetch is not None}


async def fetch_source(
    store: SourceStore,
    config: Config,
    name: str,
    *,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Sleep = asyncio.sleep,
) -> FetchOutcome:
    """Fetch a URL source now and import what changed; never raises for the source's own
    failures (they are its state's `error`)."""
    settings = url_sources(config).get(name)
    if settings is None:
        known = ", ".join(sorted(url_sources(config))) or "none configured"
        raise ImportFailed([f"{name!r} is not a source fetched from a URL ({known})"])
    # imported here: the bot's start and `evbot total` need no HTTP client (aiohttp takes
    # about a second to import on a busy machine)
    from bot.ingest.fetcher import fetch_url

    before = (await store.fetch_states()).get(name) or FetchState(name)
    now = clock()
    try:
        fetched = await fetch_url(
            settings,
            etag=before.etag,
            last_modified=before.last_modified,
            environ=environ,
            sleep=sleep,
        )
    except FetchError as exc:
        return await _failed(store, before, exc.reason, now, dry_run)
    if fetched.not_modified:
        after = replace(
            before,
            last_fetch_at=now,
            last_success_at=now,
            status=UNCHANGED,
            error="",
            failures=0,
            etag=fetched.etag or before.etag,
        )
        return await _done(store, before, after, "not modified (304)", None, dry_run)
    digest = hashlib.sha256(fetched.body).hexdigest()
    if digest == before.body_hash:
        after = replace(
            before,
            last_fetch_at=now,
            last_success_at=now,
            status=UNCHANGED,
            error="",
            failures=0,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
        )
        return await _done(store, before, after, "the same body as before", None, dry_run)
    try:
        body = fetched.body
        if settings.body == "json":
            body = json_table(body, settings.json_rows, settings.shown)
        report = await _import_body(store, config, name, settings, body, dry_run)
    except FetchError as exc:
        return await _failed(store, before, exc.reason, now, dry_run)
    except ImportFailed as exc:
        shown = exc.problems[:3] + (
            [f"… and {len(exc.problems) - 3} more"] if len(exc.problems) > 3 else []
        )
        return await _failed(store, before, "\n".join(shown), now, dry_run)
    rows = sum(s.records for s in report.summaries)
    after = replace(
        before,
        last_fetch_at=now,
        last_success_at=now,
        status=IMPORTED,
        body_hash=digest,
        rows=rows,
        error="",
        failures=0,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
    )
    new = sum(s.new for s in report.summaries)
    revised = sum(s.revised for s in report.summaries)
    removed = sum(s.removed for s in report.summaries)
    detail = f"{rows} rows: {new} new, {revised} revised" + (
        f", {removed} removed (allow_shrink)" if removed else ""
    )
    return await _done(store, before, after, detail, report, dry_run)


async def _import_body(
    store: SourceStore,
    config: Config,
    name: str,
    settings: UrlSettings,
    body: bytes,
    dry_run: bool,
) -> ImportReport:
    """The body through the file import, from a temporary file named in no message: problems
    and the store's record of the import name the URL (redacted)."""
    with tempfile.TemporaryDirectory(prefix="evbot-fetch-") as folder:
        path = Path(folder) / f"{name}.csv"
        await asyncio.to_thread(path.write_bytes, body)
        try:
            return await import_file(
                store,
                config,
                path,
                source=name,
                dry_run=dry_run,
                processes=False,
                label=settings.shown,
                snapshot=REMOVE_MISSING if settings.allow_shrink else REFUSE_SHRINK,
            )
        except ImportFailed as exc:
            raise ImportFailed(
                [
                    redact_urls(p.replace(str(path), settings.shown), settings.url)
                    for p in exc.problems
                ]
            ) from None


async def _failed(
    store: SourceStore, before: FetchState, reason: str, now: float, dry_run: bool
) -> FetchOutcome:
    after = replace(
        before,
        last_fetch_at=now,
        status=FAILED,
        error=reason,
        failures=before.failures + 1,
    )
    log.warning("source %s: fetch failed (%d in a row): %s", before.source, after.failures, reason)
    return await _done(store, before, after, reason, None, dry_run)


async def _done(
    store: SourceStore,
    before: FetchState,
    after: FetchState,
    detail: str,
    report: ImportReport | None,
    dry_run: bool,
) -> FetchOutcome:
    if not dry_run:
        await store.save_fetch_state(after)
    return FetchOutcome(before.source, after.status, detail, before, after, report, dry_run)
