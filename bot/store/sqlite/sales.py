"""The sales store on SQLite (aiosqlite): WAL, foreign keys, migrations on open.

Aggregates are kept up to date on write, in the import's transaction: `cells` holds each
source's period figures and running total per model, region and month, with the increment of
the model's cumulative series; `make_cells` and `all_cells` hold the same increments summed per
make and over everything. Totals therefore read a few hundred cells, never the sales rows.

The store is assembled from its parts by role, each a class over the one before.
"""

from __future__ import annotations

from bot.store.sqlite.detection import SqliteDetection
from bot.store.sqlite.fetches import SqliteFetches
from bot.store.sqlite.installations import SqliteInstallations
from bot.store.sqlite.market_shares import SqliteMarketShares


class SqliteStore(SqliteDetection, SqliteInstallations, SqliteFetches, SqliteMarketShares):
    """`SalesStore` on one SQLite file."""
