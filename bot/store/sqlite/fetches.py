"""URL sources' fetch state on SQLite (`bot.ports.fetches`)."""

from __future__ import annotations

from bot.domain.fetching import FetchState
from bot.store.fetch_rows import FETCH_COLUMNS, FETCH_UPDATES, fetch_state_row, fetch_state_values
from bot.store.sqlite.base import SqliteBase


class SqliteFetches(SqliteBase):
    """One row per URL source."""

    async def fetch_states(self) -> dict[str, FetchState]:
        """Every source's state, by source name."""
        rows = await self._rows(f"SELECT {FETCH_COLUMNS} FROM source_fetches ORDER BY source")
        return {row[0]: fetch_state_row(row) for row in rows}

    async def save_fetch_state(self, state: FetchState) -> None:
        """Write a source's state, replacing what was kept of it."""
        values = list(fetch_state_values(state))
        values[-1] = int(state.alerted)
        async with self.transaction():
            await self._run(
                f"INSERT INTO source_fetches ({FETCH_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT (source) DO UPDATE SET {FETCH_UPDATES}",
                values,
            )
