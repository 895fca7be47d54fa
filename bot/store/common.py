"""What both store backends share: SQL they run alike and the reading of its rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.deliveries import Pending
from bot.domain.periods import Month, decode_years
from bot.domain.records import (
    SourceInfo,
)

# The years a source gives whole (as a yearly figure), read after each of its imports; written
# with PostgreSQL's placeholders, SQLite's store swaps in its own.
YEARLY_YEARS_SQL = (
    "SELECT DISTINCT substr(period, 1, 4) FROM records WHERE source_id = $1 AND length(period) = 4"
)

SOURCE_COLUMNS = "id, name, metric, priority, imports, latest_month, running, yearly"

# What the outbox still has to send, by platform (start-up log, /healthz, /metrics); no
# parameters, so both stores run it as written. Reads the queue through the status index.
PENDING_BY_PLATFORM_SQL = (
    "SELECT platform, COUNT(*), MIN(created_at) FROM deliveries "
    "WHERE status IN ('pending', 'inflight') GROUP BY platform ORDER BY platform"
)
DELIVERY_COUNTS_BY_PLATFORM_SQL = (
    "SELECT platform, status, COUNT(*) FROM deliveries GROUP BY platform, status"
)


def pending_by_platform(rows: Sequence[Sequence[Any]]) -> dict[str, Pending]:
    """`PENDING_BY_PLATFORM_SQL`'s rows, as both stores return them."""
    return {str(r[0]): Pending(int(r[1]), float(r[2])) for r in rows}


def source_info(row: Sequence[Any]) -> SourceInfo:
    """A `sources` row, read as `SOURCE_COLUMNS`, as both stores return it."""
    return SourceInfo(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        Month.parse(row[5]) if row[5] else None,
        bool(row[6]),
        decode_years(row[7]),
    )
