"""`evbot migrate-store`: a SQLite store copied into an empty PostgreSQL one, verified."""

from __future__ import annotations

import argparse
from typing import TextIO

from bot.cli.common import EXIT_OK

# -- migrate-store --------------------------------------------------------------------------


async def cmd_migrate_store(args: argparse.Namespace, out: TextIO) -> int:
    from bot.store.migrate import migrate_store

    report = await migrate_store(args.from_, args.to)
    for table, n in report.counts.items():
        print(f"{table:<14} {n:>10,}", file=out)
    print(
        f"copied {report.total:,} rows from {report.source} to {report.target}; "
        "every table's count verified",
        file=out,
    )
    return EXIT_OK
