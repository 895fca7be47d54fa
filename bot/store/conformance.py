"""Both backends provide the whole store port: mypy checks these assignments (nothing runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.ports.installations import SlackInstallationRows
    from bot.ports.store import BotStore
    from bot.store.postgres.sales import PgStore
    from bot.store.sqlite.sales import SqliteStore

    _pg: BotStore = PgStore("postgresql://")
    _sqlite: BotStore = SqliteStore(":memory:")
    _pg_slack: SlackInstallationRows = PgStore("postgresql://")
