"""Market shares on SQLite: percentages per source, metric, region and year."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.market_shares import MarketShare, ShareMetric
from bot.ports.store import StoreError
from bot.store.share_rows import INSERT_SHARE, SELECT_SHARES, no_source, share_row, share_values
from bot.store.sqlite.base import SqliteBase


class SqliteMarketShares(SqliteBase):
    """Share figures, kept apart from the units (never summed)."""

    async def replace_market_shares(
        self, source: str, metric: ShareMetric, shares: Sequence[MarketShare]
    ) -> int:
        """Replace a source's figures of one share metric, in one transaction."""
        values: list[tuple[object, ...]] = []
        async with self.transaction():
            found = await self._rows("SELECT id FROM sources WHERE name = ?", (source,))
            if not found:
                raise StoreError(no_source(source))
            source_id = int(found[0][0])
            await self._run(
                "DELETE FROM market_shares WHERE source_id = ? AND metric = ?", (source_id, metric)
            )
            values = share_values(source_id, metric, shares)
            await self._many(INSERT_SHARE, values)
        return len(values)

    async def market_shares(self, metric: ShareMetric | None = None) -> list[MarketShare]:
        """Every share figure (of one metric, or all), the preferred source's first."""
        if metric is None:
            rows = await self._rows(SELECT_SHARES.format(where=""))
        else:
            rows = await self._rows(SELECT_SHARES.format(where=" WHERE m.metric = ?"), (metric,))
        return [share_row(r) for r in rows]
