"""Rows of the `market_shares` table, for both backends (`bot.domain.market_shares`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.market_shares import MarketShare, ShareMetric

# `?` placeholders (SQLite; PostgreSQL numbers them: `bot.store.migration_steps.numbered`)
SELECT_SHARES = (
    "SELECT s.name, m.metric, m.region, m.year, m.percent FROM market_shares m "
    "JOIN sources s ON s.id = m.source_id{where} ORDER BY s.priority, s.id, m.region, m.year"
)
INSERT_SHARE = (
    "INSERT INTO market_shares (source_id, metric, region, year, percent) VALUES (?, ?, ?, ?, ?)"
)


def share_row(row: Sequence[Any]) -> MarketShare:
    """A `SELECT_SHARES` row as a MarketShare."""
    metric: ShareMetric = "stock_share" if row[1] == "stock_share" else "sales_share"
    return MarketShare(str(row[0]), metric, str(row[2]), int(row[3]), float(row[4]))


def share_values(
    source_id: int, metric: ShareMetric, shares: Sequence[MarketShare]
) -> list[tuple[Any, ...]]:
    """The `INSERT_SHARE` values of the shares of one metric."""
    return [(source_id, metric, s.region, s.year, s.percent) for s in shares if s.metric == metric]


def no_source(source: str) -> str:
    """Why shares of an unknown source cannot be kept."""
    return f"source {source!r}: no such source in the store (its units are imported first)"
