"""The sales store port: what the core needs from any database (SQLite now, PostgreSQL later).

Every implementation passes the contract suite in `tests/store_contract.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.records import (
    GroupSpec,
    ImportSummary,
    IncRow,
    JournalEntry,
    ModelName,
    SalesRecord,
    SourceInfo,
    SourceSpec,
    StoreStats,
)


class StoreError(RuntimeError):
    """The store cannot do what was asked (bad file, newer schema, conflicting source)."""


class SalesStore(Protocol):
    """Sales figures with revision semantics, kept aggregates and a change journal."""

    stats: StoreStats

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None:
        """Close the connection; safe to call twice."""

    async def import_records(
        self,
        batches: Sequence[tuple[SourceSpec, Sequence[SalesRecord]]],
        *,
        file: str = "",
        dry_run: bool = False,
    ) -> list[ImportSummary]:
        """Write one import (records by source) as one transaction; a known key is a revision.

        A revision replaces the figure, never adds to it. With `dry_run` nothing is written, and
        the summaries say what would have changed.
        """

    async def sources(self) -> list[SourceInfo]:
        """Every known source, by id."""

    async def model_names(self) -> list[ModelName]:
        """Every make/model that has figures, with its display names."""

    async def make_names(self) -> dict[str, str]:
        """Make key -> display name, for every make that has figures."""

    async def regions(self) -> list[str]:
        """Every region that has figures."""

    async def model_increments(self, make_key: str, model_key: str) -> list[IncRow]:
        """Monthly increments of one model, every source and region, ordered by month."""

    async def make_increments(self, make_keys: Sequence[str]) -> list[IncRow]:
        """Monthly increments of whole makes (all their models), ordered by month."""

    async def all_increments(self) -> list[IncRow]:
        """Monthly increments of everything, per source and region, ordered by month."""

    async def every_model_increment(self) -> list[IncRow]:
        """Every model's increments at once, for building an in-memory read model."""

    async def journal_head(self) -> int:
        """The sequence of the newest journal entry (0 when empty)."""

    async def journal_since(self, seq: int, limit: int = 10_000) -> list[JournalEntry]:
        """Journal entries with a sequence above `seq`, oldest first."""

    async def sync_groups(self, groups: Sequence[GroupSpec]) -> None:
        """Replace the stored groups of makes and their aliases with the configured ones."""

    async def groups(self) -> list[GroupSpec]:
        """The stored groups of makes."""
