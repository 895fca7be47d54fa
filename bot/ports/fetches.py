"""The store's side of URL sources: the state of each one's last fetch
(`bot.domain.fetching.FetchState`), shared by every replica."""

from __future__ import annotations

from typing import Protocol

from bot.domain.fetching import FetchState


class FetchStateRows(Protocol):
    """One row per URL source: its last fetch, validators, body hash and failures."""

    async def fetch_states(self) -> dict[str, FetchState]:
        """Every source's state, by source name."""
        ...

    async def save_fetch_state(self, state: FetchState) -> None:
        """Write a source's state, replacing what was kept of it."""
        ...
