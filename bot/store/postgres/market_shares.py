"""Market shares on PostgreSQL: percentages per source, metric, region and year."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.market_shares import MarketShare, ShareMetric
from bot.ports.store import StoreError
from bot.store.migration_steps import numbered
from bot.store.postgres.base import PgBase
from bot.store.share_rows import INSERT_SHARE, SELECT_SHARES, no_source, share_row, share_values


class PgMarketShares(PgBase):
    """Share figures, kept apart from the units (never summed)."""

    async def replace_market_shares(
        self, source: str, metric: ShareMetric, shares: Sequence[MarketShare]
    ) -> int:
        """Replace a source's figures of one share metric, in one transaction."""
        async with self.pool.acquire() as con, con.transaction():
            source_id = await self._val(con, "SELECT id FROM sources WHERE name = $1", source)
            if source_id is None:
                raise StoreError(no_source(source))
            await self._run(
                con,
                "DELETE FROM market_shares WHERE source_id = $1 AND metric = $2",
                source_id,
                metric,
            )
            values = share_values(int(source_id), metric, shares)
            await self._many(con, numbered(INSERT_SHARE), values)
        return len(values)

    async def market_shares(self, metric: ShareMetric | None = None) -> list[MarketShare]:
        """Every share figure (of one metric, or all), the preferred source's first."""
        if metric is None:
            rows = await self._fetch(self.pool, SELECT_SHARES.format(where=""))
        else:
            sql = numbered(SELECT_SHARES.format(where=" WHERE m.metric = ?"))
            rows = await self._fetch(self.pool, sql, metric)
        return [share_row(r) for r in rows]
