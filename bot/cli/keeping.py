"""`evbot backup`, `evbot restore` and `evbot export`: copies of the store to keep, to move
house with, or to audit."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
from pathlib import Path
from typing import Any, TextIO

from bot.cli.common import (
    EXIT_OK,
    CliError,
    add_common,
    load_settings,
    resolve_database,
    store_for,
)
from bot.store.export import Table, export_tables
from bot.store.postgres.base import is_postgres
from bot.store.sqlite.backup import backup_store, restore_store

FORMATS = ("csv", "json")


def add_parsers(sub: Any) -> None:
    """The three commands' parsers, on `evbot`'s subparsers."""
    p = sub.add_parser(
        "backup",
        help="copy the SQLite store to a new file (mode 0600), safely while the bot runs",
    )
    p.add_argument("file", help="the new file to write (refused if it exists)")
    add_common(p)
    p.set_defaults(run=cmd_backup)

    p = sub.add_parser(
        "restore", help="put a backup in place of the SQLite store (the bot must be stopped)"
    )
    p.add_argument("file", help="the backup to restore (made by evbot backup)")
    add_common(p)
    p.set_defaults(run=cmd_restore)

    p = sub.add_parser(
        "export",
        help="write figures, sources, milestones, events, subscriptions and the outbox's "
        "history to a folder (figures.csv imports back with evbot import)",
    )
    p.add_argument("dir", help="the folder to write (made if missing; files are never replaced)")
    p.add_argument(
        "--format", choices=FORMATS, default="csv", help="CSV or JSON files (default: %(default)s)"
    )
    add_common(p)
    p.set_defaults(run=cmd_export)


def _sqlite_only(database: str, what: str, tool: str) -> None:
    if is_postgres(database):
        raise CliError(
            f"{what} copies a SQLite store; on PostgreSQL use {tool}: "
            + (
                f"pg_dump --format=custom --file evbot.dump '{database}'"
                if tool == "pg_dump"
                else f"pg_restore --clean --if-exists --dbname '{database}' evbot.dump"
            )
        )


async def cmd_backup(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    database = resolve_database(args.db, config)
    _sqlite_only(database, "backup", "pg_dump")
    copied = await backup_store(database, args.file)
    print(
        f"backed up {database} (schema version {copied.schema_version}, {copied.pages:,} pages) "
        f"to {args.file}, readable by its owner only",
        file=out,
    )
    return EXIT_OK


async def cmd_restore(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    database = resolve_database(args.db, config)
    _sqlite_only(database, "restore", "pg_restore")
    copied = await restore_store(args.file, database)
    print(
        f"restored {args.file} (schema version {copied.schema_version}) to {database}; the "
        "next evbot to open it upgrades it if it is older",
        file=out,
    )
    return EXIT_OK


async def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    folder = Path(args.dir)
    store = store_for(args, config, read=True)
    async with store:
        version = await store.schema_version()
        tables = await export_tables(store)
    files = {t.name: folder / f"{t.name}.{args.format}" for t in tables}
    await asyncio.to_thread(_write_all, folder, tables, files, version, args.format)
    for table in tables:
        print(f"{files[table.name]}: {len(table.rows):,} rows", file=out)
    return EXIT_OK


def _write_all(
    folder: Path, tables: list[Table], files: dict[str, Path], version: int, form: str
) -> None:
    existing = [str(path) for path in files.values() if path.exists()]
    if existing:
        raise CliError(f"{existing[0]}: already exists; export into a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    for table in tables:
        with open(files[table.name], "x", encoding="utf-8", newline="") as handle:
            if form == "json":
                rows = [dict(zip(table.columns, row, strict=True)) for row in table.rows]
                json.dump({"evbot_schema": version, "rows": rows}, handle, ensure_ascii=False)
                handle.write("\n")
                continue
            # the importer skips comment lines: the figures file imports as it is
            handle.write(f"# evbot schema {version}\n")
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(table.columns)
            writer.writerows(table.rows)
