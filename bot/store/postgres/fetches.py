"""URL sources' fetch state on PostgreSQL (`bot.ports.fetches`), shared by the replicas."""

from __future__ import annotations

from bot.domain.fetching import FetchState
from bot.store.fetch_rows import FETCH_COLUMNS, FETCH_UPDATES, fetch_state_row, fetch_state_values
from bot.store.postgres.base import PgBase


class PgFetches(PgBase):
    """One row per URL source."""

    async def fetch_states(self) -> dict[str, FetchState]:
        """Every source's state, by source name."""
        rows = await self._fetch(
            self.pool, f"SELECT {FETCH_COLUMNS} FROM source_fetches ORDER BY source"
        )
        return {row[0]: fetch_state_row(row) for row in rows}

    async def save_fetch_state(self, state: FetchState) -> None:
        """Write a source's state, replacing what was kept of it."""
        await self._run(
            self.pool,
            f"INSERT INTO source_fetches ({FETCH_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
            f"ON CONFLICT (source) DO UPDATE SET {FETCH_UPDATES}",
            *fetch_state_values(state),
        )
