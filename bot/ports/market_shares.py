"""The store's side of market shares (`bot.domain.market_shares`): percentages kept apart from
units, never summed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.domain.market_shares import MarketShare, ShareMetric


class MarketShareRows(Protocol):
    """Share figures kept per source, metric, region and year."""

    async def replace_market_shares(
        self, source: str, metric: ShareMetric, shares: Sequence[MarketShare]
    ) -> int:
        """Replace a source's figures of one share metric with `shares` (those of the metric),
        in one transaction; the source must exist (its units imported). Returns how many."""
        ...

    async def market_shares(self, metric: ShareMetric | None = None) -> list[MarketShare]:
        """Every share figure (of one metric, or all), the preferred source's first: by the
        source's priority, then its id; then by region and year."""
        ...
