"""PostgreSQL migrations appended after the key merge (`merge_spellings`), as SQLite's
`bot/store/sqlite/migrations_late.py`: each re-runnable (`IF NOT EXISTS`)."""

from __future__ import annotations

# The steps done of each delivery (SQLite's V_DELIVERY_STEPS): a JSON list, as text.
V_DELIVERY_STEPS = """
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS steps TEXT NOT NULL DEFAULT '[]'
"""

# When a delivery first went in flight; see `bot/store/sqlite/migrations.py` V_CLAIMED_AT
# (re-runnable, as
# every step after the key merge).
V_CLAIMED_AT = """
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS claimed_at DOUBLE PRECISION
"""

# Mutes; see `bot/store/sqlite/migrations.py` V_MUTES (re-runnable).
V_MUTES = """
CREATE TABLE IF NOT EXISTS mutes (
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    channel TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    until DOUBLE PRECISION NOT NULL,
    then_do TEXT NOT NULL DEFAULT 'digest' CHECK (then_do IN ('digest', 'drop')),
    created_by TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (platform, workspace, channel, subject_key)
);
CREATE INDEX IF NOT EXISTS mutes_by_until ON mutes (until)
"""

# URL sources' fetch state; see `bot/store/sqlite/migrations_late.py` V_SOURCE_FETCHES
# (re-runnable).
V_SOURCE_FETCHES = """
CREATE TABLE IF NOT EXISTS source_fetches (
    source TEXT PRIMARY KEY,
    last_fetch_at DOUBLE PRECISION,
    last_success_at DOUBLE PRECISION,
    status TEXT NOT NULL DEFAULT 'never',
    etag TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '',
    body_hash TEXT NOT NULL DEFAULT '',
    row_count BIGINT NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0,
    alerted BOOLEAN NOT NULL DEFAULT FALSE
)
"""

# A subscription's metric, part of what makes it unique (SQLite's `subscription_metric`): the
# old UNIQUE constraint goes (found by its columns, whatever its name) and a unique index with
# the metric replaces it. Re-runnable.
V_SUBSCRIPTION_METRIC = """
ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS metric TEXT NOT NULL DEFAULT 'sales'
    CHECK (metric IN ('sales', 'stock'));
DO $$
DECLARE c text;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
        WHERE conrelid = 'subscriptions'::regclass AND contype = 'u'
    LOOP
        EXECUTE format('ALTER TABLE subscriptions DROP CONSTRAINT %I', c);
    END LOOP;
END $$;
CREATE UNIQUE INDEX IF NOT EXISTS subscriptions_unique
    ON subscriptions (platform, workspace, channel, subject_key, region, metric)
"""

# Market shares; see `bot/store/sqlite/migrations_late.py` V_MARKET_SHARES (re-runnable).
V_MARKET_SHARES = """
CREATE TABLE IF NOT EXISTS market_shares (
    source_id BIGINT NOT NULL REFERENCES sources (id),
    metric TEXT NOT NULL CHECK (metric IN ('sales_share', 'stock_share')),
    region TEXT NOT NULL,
    year INTEGER NOT NULL,
    percent DOUBLE PRECISION NOT NULL CHECK (percent >= 0 AND percent <= 100),
    PRIMARY KEY (source_id, metric, region, year)
)
"""

# Message templates; see `bot/store/sqlite/migrations_late.py` V_TEMPLATES (re-runnable).
V_TEMPLATES = """
CREATE TABLE IF NOT EXISTS templates (
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (platform, workspace, name, kind)
);
CREATE TABLE IF NOT EXISTS subscription_templates (
    subscription_id BIGINT PRIMARY KEY,
    name TEXT NOT NULL
)
"""

# A series' kept basis; see `bot/store/sqlite/migrations_late.py` V_STATE_BASIS (re-runnable).
V_STATE_BASIS = """
ALTER TABLE series_state ADD COLUMN IF NOT EXISTS basis TEXT
"""

# The names' version; see `bot/store/sqlite/migrations_late.py` `names_version`. A trigger per
# statement: one bump for a statement of many rows (a copy), and TRUNCATE counts too. The
# function keeps the schema it was made in, so it bumps that schema's version whatever the
# writing session's search_path. Re-runnable.
V_NAMES_VERSION = """
CREATE TABLE IF NOT EXISTS names_version (version BIGINT NOT NULL);
INSERT INTO names_version (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM names_version);
CREATE OR REPLACE FUNCTION bump_names_version() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE names_version SET version = version + 1;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS makes_names ON makes;
CREATE TRIGGER makes_names AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON makes
    FOR EACH STATEMENT EXECUTE FUNCTION bump_names_version();
DROP TRIGGER IF EXISTS models_names ON models;
CREATE TRIGGER models_names AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON models
    FOR EACH STATEMENT EXECUTE FUNCTION bump_names_version()
"""
