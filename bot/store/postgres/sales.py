"""The sales store on PostgreSQL (asyncpg): the same port and semantics as `SqliteStore`.

Aggregates are kept on write, in the import's transaction, as in `bot/store/sqlite/cells.py`:
`cells`
per model, region and month with the increment of the model's cumulative series, `make_cells`
and `all_cells` summed. Writers of the journal (imports) take one transaction advisory lock, so
journal sequences commit in order and a reader that has seen sequence n never later finds a
smaller one appear. Detection advances its watermark with a row lock and a compare, so two
replicas that detect at once record once.

The store is assembled from its parts by role, each a class over the one before.
"""

from __future__ import annotations

from bot.store.postgres.detection import PgDetection
from bot.store.postgres.fetches import PgFetches
from bot.store.postgres.installations import PgInstallations
from bot.store.postgres.market_shares import PgMarketShares


class PgStore(PgDetection, PgInstallations, PgFetches, PgMarketShares):
    """`SalesStore` on one PostgreSQL database, shared by any number of replicas."""
