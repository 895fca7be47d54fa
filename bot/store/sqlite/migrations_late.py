"""SQLite migrations appended after the key merge (`merge_spellings`): each re-runnable, since
the merge's tests replay it by setting the schema version back to before it."""

from __future__ import annotations

from bot.store.migration_steps import Migration, MigrationSql, added_column
from bot.store.powertrain_cells import split_powertrains

# A delivery is its whole message (issue 16): the parts done of it (a correction's edits, the
# post, its chart in the thread), a JSON list, each recorded as soon as it is done, so that a
# retried or reconciled delivery does what is missing and nothing twice
# (`bot.domain.delivery_steps`).
# Re-runnable, as every step after the key merge: the merge's tests replay it by setting the
# version back.
V_DELIVERY_STEPS = added_column("deliveries", "steps", "TEXT NOT NULL DEFAULT '[]'")

# When a delivery first went in flight (issue 16): reconciliation after a crash looks on the
# platform only at messages created since then (Discord's history shows no nonce, so the bot's
# own messages of that time are compared instead). Re-runnable, as every step after the key
# merge: the merge's tests replay it by setting the version back.
V_CLAIMED_AT = added_column("deliveries", "claimed_at", "REAL")

# Mutes (issue 18): a channel silences a subject (or `all`) until a time; what would have been
# posted then goes to the digest or is dropped (`bot.domain.mutes`). Re-runnable, as every step
# after the key merge.
V_MUTES = """
CREATE TABLE IF NOT EXISTS mutes (
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    channel TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    until REAL NOT NULL,
    then_do TEXT NOT NULL DEFAULT 'digest' CHECK (then_do IN ('digest', 'drop')),
    created_by TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    PRIMARY KEY (platform, workspace, channel, subject_key)
);
CREATE INDEX IF NOT EXISTS mutes_by_until ON mutes (until)
"""

# URL sources (issue 20): the state of each one's last fetch (validators for a conditional GET,
# the body's hash, rows, error, consecutive failures), kept in the store so that whichever
# replica leads next goes on from it. Re-runnable, as every step after the key merge.
V_SOURCE_FETCHES = """
CREATE TABLE IF NOT EXISTS source_fetches (
    source TEXT PRIMARY KEY,
    last_fetch_at REAL,
    last_success_at REAL,
    status TEXT NOT NULL DEFAULT 'never',
    etag TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '',
    body_hash TEXT NOT NULL DEFAULT '',
    row_count INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0,
    alerted INTEGER NOT NULL DEFAULT 0
)
"""


async def subscription_metric(db: MigrationSql) -> None:
    """A subscription's metric (issue 18): `sales` or `stock`, part of what makes it unique, so a
    channel may follow WA's sales and its registered stock apart. SQLite cannot change a table's
    UNIQUE constraint, so the table is rebuilt (its ids kept); `digest_items`, which cascades on
    the table's rows, is kept aside meanwhile. Re-runnable: a no-op once the column is there."""
    columns = {str(row[1]) for row in await db.rows("PRAGMA table_info(subscriptions)")}
    if "metric" in columns:
        return
    await db.run(
        "ALTER TABLE subscriptions ADD COLUMN metric TEXT NOT NULL DEFAULT 'sales' "
        "CHECK (metric IN ('sales', 'stock'))"
    )
    master = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?"
    ((table_sql,),) = await db.rows(master, ["subscriptions"])
    old_unique = "UNIQUE (platform, workspace, channel, subject_key, region)"
    if old_unique not in str(table_sql):
        raise RuntimeError("subscriptions: its UNIQUE constraint is not the one expected")
    new_sql = (
        str(table_sql)
        .replace("CREATE TABLE subscriptions", "CREATE TABLE subscriptions_metric", 1)
        .replace(old_unique, "UNIQUE (platform, workspace, channel, subject_key, region, metric)")
    )
    indexes = await db.rows(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        ["subscriptions"],
    )
    items = await db.rows("SELECT subscription_id, event_id FROM digest_items")
    # deleting the digest items first: dropping the table would cascade to them anyway
    await db.run("DELETE FROM digest_items")
    await db.run(new_sql)
    await db.run("INSERT INTO subscriptions_metric SELECT * FROM subscriptions")
    await db.run("DROP TABLE subscriptions")
    await db.run("ALTER TABLE subscriptions_metric RENAME TO subscriptions")
    for (index_sql,) in indexes:
        await db.run(str(index_sql))
    await db.many("INSERT INTO digest_items (subscription_id, event_id) VALUES (?, ?)", items)


# Market shares (issue 18): a source's percentage of a region's cars that are electric, by year
# (the IEA's "EV sales share" and "EV stock share"), a metric of its own kept apart from the
# units: never summed, never laddered (`bot.domain.market_shares`). Re-runnable.
V_MARKET_SHARES = """
CREATE TABLE IF NOT EXISTS market_shares (
    source_id INTEGER NOT NULL REFERENCES sources (id),
    metric TEXT NOT NULL CHECK (metric IN ('sales_share', 'stock_share')),
    region TEXT NOT NULL,
    year INTEGER NOT NULL,
    percent REAL NOT NULL CHECK (percent >= 0 AND percent <= 100),
    PRIMARY KEY (source_id, metric, region, year)
)
"""

# Message templates (issue 23): a workspace's (or guild's) text for one kind of event, under a
# name its subscriptions refer to (`bot.domain.templates`), and the template each subscription
# uses (a subscription's own table, so that its other settings stay as they are). Re-runnable, as
# every step after the key merge.
V_TEMPLATES = """
CREATE TABLE IF NOT EXISTS templates (
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    PRIMARY KEY (platform, workspace, name, kind)
);
CREATE TABLE IF NOT EXISTS subscription_templates (
    subscription_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
)
"""

# A series' kept basis (issue 19): each year's (region, source) pairs, as JSON [[first year,
# last year, [[region, source id], ...]], ...] (`bot.domain.kept_basis`), so that a continued
# series' events are told without reading its history; NULL in a state kept before (such a
# state is not continued: its series is read whole once).
V_STATE_BASIS = added_column("series_state", "basis", "TEXT")


async def names_version(db: MigrationSql) -> None:
    """A number that every change to the makes' or models' rows moves (issue 19): a poll reads
    it instead of all 11,000 names, and the names only when it moved. Triggers move it, so a
    rename by any process or connection is counted, inside the transaction that makes it.
    Python, since SQLite's trigger bodies hold the `;` that splits a script. Re-runnable."""
    await db.run("CREATE TABLE IF NOT EXISTS names_version (version INTEGER NOT NULL)")
    await db.run(
        "INSERT INTO names_version (version) "
        "SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM names_version)"
    )
    for table in ("makes", "models"):
        for change in ("insert", "update", "delete"):
            await db.run(
                f"CREATE TRIGGER IF NOT EXISTS {table}_{change}_names AFTER {change.upper()} "
                f"ON {table} BEGIN UPDATE names_version SET version = version + 1; END"
            )


# the steps after the key merge, in order (`MIGRATIONS` ends with them)
AFTER_THE_MERGE: list[Migration] = [
    V_DELIVERY_STEPS,
    V_CLAIMED_AT,
    V_MUTES,
    V_SOURCE_FETCHES,
    subscription_metric,  # a Python step: SQLite rebuilds the table for its UNIQUE constraint
    V_MARKET_SHARES,
    split_powertrains,  # electric cars are BEV + PHEV: bot/store/powertrain_cells.py
    V_TEMPLATES,
    V_STATE_BASIS,
    names_version,  # a Python step: SQLite's triggers hold `;`
]
