"""`evbot sources` (each URL source and its last fetch) and `evbot fetch [SOURCE]` (fetch now,
or with `--dry-run` say what would change)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    CliError,
    add_common,
    load_settings,
    print_json,
    store_for,
)
from bot.domain.fetching import FetchState
from bot.ingest.remote import FAILED, fetch_source, url_sources


def add_source_commands(sub: Any) -> None:
    """The two commands' parsers, on `evbot`'s subparsers."""
    p = sub.add_parser("sources", help="the sources fetched from URLs, and their last fetch")
    p.add_argument("--json", action="store_true", help="one JSON object")
    add_common(p)
    p.set_defaults(run=cmd_sources)

    p = sub.add_parser("fetch", help="fetch URL sources now (all, or one) and import changes")
    p.add_argument("source", nargs="?", help="a configured URL source (default: every one)")
    p.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    add_common(p)
    p.set_defaults(run=cmd_fetch)


def _when(at: float | None) -> str:
    if at is None:
        return "never"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


async def cmd_sources(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    sources = url_sources(config)
    async with store_for(args, config) as store:
        states = await store.fetch_states()
    listed = []
    for name, settings in sorted(sources.items()):
        state = states.get(name) or FetchState(name)
        listed.append(
            {
                "source": name,
                "url": settings.shown,
                "refresh": settings.refresh
                + (f" ({settings.timezone})" if settings.every_seconds is None else ""),
                "status": state.status,
                "last_fetch": _when(state.last_fetch_at),
                "last_success": _when(state.last_success_at),
                "etag": state.etag,
                "rows": state.rows,
                "failures": state.failures,
                "error": state.error,
            }
        )
    if args.json:
        print_json({"sources": listed}, out)
        return EXIT_OK
    if not listed:
        print("no source is fetched from a URL (add url = ... to a [sources.X])", file=out)
        return EXIT_OK
    for item in listed:
        print(f"{item['source']}: {item['url']} (refresh {item['refresh']})", file=out)
        print(
            f"  {item['status']}; last fetch {item['last_fetch']}, last success "
            f"{item['last_success']}; {item['rows']} rows; ETag {item['etag'] or '-'}",
            file=out,
        )
        if item["failures"]:
            print(f"  {item['failures']} failures in a row: {item['error']}", file=out)
    return EXIT_OK


async def cmd_fetch(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    sources = url_sources(config)
    if args.source is not None and args.source not in sources:
        known = ", ".join(sorted(sources)) or "none configured"
        raise CliError(f"{args.source!r} is not a source fetched from a URL ({known})")
    names = [args.source] if args.source else sorted(sources)
    if not names:
        raise CliError("no source is fetched from a URL (add url = ... to a [sources.X])")
    status = EXIT_OK
    async with store_for(args, config) as store:
        await store.sync_groups(config.groups)
        for name in names:
            outcome = await fetch_source(store, config, name, dry_run=args.dry_run)
            verb = outcome.status
            if args.dry_run and outcome.status != FAILED:
                verb = "would be imported" if outcome.status == "imported" else outcome.status
            print(f"{name}: {verb}: {outcome.detail}", file=out)
            report = outcome.report
            for notice in report.notices if report is not None else ():
                print(f"  {notice}", file=out)
            if outcome.status == FAILED:
                status = EXIT_FAIL
    if args.dry_run:
        print("dry run: nothing was written", file=out)
    return status
