"""`evbot import`, `held` and `release`: figures in, and the holds."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from bot.cli.common import EXIT_OK, CliError, load_settings, print_json, store_for
from bot.ingest.importer import ImportReport, import_demo, import_file

# -- import ---------------------------------------------------------------------------------


async def cmd_import(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    if not args.demo and args.file is None and args.source is None:
        raise CliError("import: give a FILE, --source NAME (a configured source) or --demo")
    async with store_for(args, config) as store:
        await store.sync_groups(config.groups)
        if args.demo:
            report = await import_demo(store, config, dry_run=args.dry_run)
        else:
            path = args.file
            size = await asyncio.to_thread(_file_size, path)
            with _progress(size) as progress:
                report = await import_file(
                    store,
                    config,
                    path,
                    source=args.source,
                    fmt=args.format,
                    dry_run=args.dry_run,
                    progress=progress,
                    accept_jumps=args.accept_jumps,
                    thousands=args.thousands,
                )
    _print_report(report, out)
    return EXIT_OK


def _file_size(path: str | None) -> int:
    return Path(path).stat().st_size if path and Path(path).is_file() else 0


class _progress:
    """A progress bar on a terminal for files over a few megabytes; nothing otherwise."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.bar: Any = None

    def __enter__(self) -> Callable[[int], None] | None:
        if self.size < 4_000_000 or not sys.stderr.isatty():
            return None
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        self.bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("reading", total=self.size)
        bar = self.bar

        def update(done: int) -> None:
            bar.update(task, completed=done)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_report(report: ImportReport, out: TextIO) -> None:
    for notice in report.notices[:20]:
        print(f"note: {notice}", file=sys.stderr)
    if len(report.notices) > 20:
        print(f"note: ... and {len(report.notices) - 20} more notes", file=sys.stderr)
    for s in report.summaries:
        verb = "would import" if s.dry_run else "imported"
        print(
            f"{verb} {report.file} as source {s.source!r}: {report.rows_read:,} rows read, "
            f"{s.records:,} figures: {s.new:,} new, {s.revised:,} revised, "
            f"{s.unchanged:,} unchanged"
            + (
                f"; {report.duplicates:,} exact duplicate rows counted once"
                if report.duplicates
                else ""
            )
            + (f"; {report.skipped:,} rows left out by filters" if report.skipped else "")
            + (" (first import of this source: recorded as history)" if s.first_import else ""),
            file=out,
        )


# -- held figures ----------------------------------------------------------------------------


async def cmd_held(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    async with store_for(args, config) as store:
        holds = await store.holds(everything=args.all)
    if args.json:
        print_json(
            {
                "holds": [
                    {
                        "id": h.id,
                        "source": h.source,
                        "make_key": h.make_key,
                        "model_key": h.model_key,
                        "region": h.region,
                        "period": h.period,
                        "metric": h.metric,
                        "units": h.units,
                        "reason": h.reason,
                        "where": h.place,
                        "events": h.events,
                        "released": h.released,
                    }
                    for h in holds
                ]
            },
            out,
        )
        return EXIT_OK
    for h in holds:
        state = " (released)" if h.released else ""
        print(
            f"{h.id}  {h.place}: {h.make_key}/{h.model_key} in {h.region}, {h.period} "
            f"({h.metric}): {h.reason}; {h.events} events held{state}",
            file=out,
        )
    if not holds:
        print("nothing held", file=out)
    return EXIT_OK


async def cmd_release(args: argparse.Namespace, out: TextIO) -> int:
    from bot.domain.subscriptions import ladder_objects, plan_fanout

    config = load_settings(args)
    subscription_ladders = ladder_objects(config.ladders)
    async with store_for(args, config) as store:
        try:
            released = await store.release_hold(
                args.id,
                lambda events, subs: plan_fanout(events, subs, subscription_ladders),
                time.time(),
            )
        except (LookupError, ValueError) as exc:
            raise CliError(f"release: {exc.args[0]}") from None
    print(f"hold {args.id} released: {len(released)} events go out", file=out)
    return EXIT_OK
