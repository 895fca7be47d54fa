"""PostgreSQL schema migrations, applied in order on open; `evbot_schema.version` is the version.

The tables mirror the SQLite schema (`bot/store/sqlite/migrations.py`) so that `evbot
migrate-store` copies
row for row; the differences are PostgreSQL's types (BIGSERIAL ids, booleans for flags, a row
number where SQLite relied on rowid) and `deliveries.claimed_by`, the replica holding an
in-flight delivery. Never edit a released migration: append a new one.
"""

from __future__ import annotations

from bot.store.key_merge import merge_spellings
from bot.store.migration_steps import Migration
from bot.store.postgres.migrations_late import (
    V_CLAIMED_AT,
    V_DELIVERY_STEPS,
    V_MARKET_SHARES,
    V_MUTES,
    V_NAMES_VERSION,
    V_SOURCE_FETCHES,
    V_STATE_BASIS,
    V_SUBSCRIPTION_METRIC,
    V_TEMPLATES,
)
from bot.store.powertrain_cells import split_powertrains

_NOW = "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

V1_SALES = """
CREATE TABLE sources (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    metric TEXT NOT NULL CHECK (metric IN ('sales', 'stock')),
    priority INTEGER NOT NULL DEFAULT 100,
    imports INTEGER NOT NULL DEFAULT 0,
    latest_month TEXT,
    running BOOLEAN NOT NULL DEFAULT false
);
CREATE TABLE makes (
    make_key TEXT PRIMARY KEY,
    display TEXT NOT NULL
);
CREATE TABLE models (
    make_key TEXT NOT NULL,
    model_key TEXT NOT NULL,
    display TEXT NOT NULL,
    PRIMARY KEY (make_key, model_key)
);
CREATE TABLE records (
    source_id BIGINT NOT NULL REFERENCES sources (id),
    make_key TEXT NOT NULL,
    model_key TEXT NOT NULL,
    region TEXT NOT NULL,
    month TEXT NOT NULL,
    period TEXT NOT NULL,
    powertrain TEXT NOT NULL,
    cumulative BOOLEAN NOT NULL,
    units BIGINT NOT NULL CHECK (units >= 0),
    PRIMARY KEY (source_id, make_key, model_key, region, month, period, powertrain)
);
CREATE TABLE cells (
    source_id BIGINT NOT NULL REFERENCES sources (id),
    make_key TEXT NOT NULL,
    model_key TEXT NOT NULL,
    region TEXT NOT NULL,
    month TEXT NOT NULL,
    period_units BIGINT NOT NULL,
    running_units BIGINT,
    inc BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (source_id, make_key, model_key, region, month)
);
CREATE INDEX cells_by_model ON cells (make_key, model_key, month);
CREATE TABLE make_cells (
    source_id BIGINT NOT NULL REFERENCES sources (id),
    make_key TEXT NOT NULL,
    region TEXT NOT NULL,
    month TEXT NOT NULL,
    inc BIGINT NOT NULL,
    PRIMARY KEY (make_key, source_id, region, month)
);
CREATE TABLE all_cells (
    source_id BIGINT NOT NULL REFERENCES sources (id),
    region TEXT NOT NULL,
    month TEXT NOT NULL,
    inc BIGINT NOT NULL,
    PRIMARY KEY (source_id, region, month)
);
CREATE TABLE imports (
    id BIGSERIAL PRIMARY KEY,
    source_id BIGINT NOT NULL REFERENCES sources (id),
    file TEXT NOT NULL,
    imported_at TEXT NOT NULL DEFAULT @NOW@,
    rows_read INTEGER NOT NULL,
    new INTEGER NOT NULL,
    revised INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    first_import BOOLEAN NOT NULL
);
CREATE TABLE journal (
    seq BIGSERIAL PRIMARY KEY,
    import_id BIGINT NOT NULL REFERENCES imports (id),
    source_id BIGINT NOT NULL REFERENCES sources (id),
    make_key TEXT NOT NULL,
    model_key TEXT NOT NULL,
    region TEXT NOT NULL,
    month TEXT NOT NULL,
    history BOOLEAN NOT NULL
);
CREATE TABLE groups (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
CREATE TABLE group_members (
    id BIGSERIAL PRIMARY KEY,
    group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    make_key TEXT NOT NULL,
    make TEXT NOT NULL,
    valid_from TEXT,
    valid_to TEXT
);
CREATE TABLE group_aliases (
    id BIGSERIAL PRIMARY KEY,
    group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    alias TEXT NOT NULL
);
CREATE TABLE watermarks (
    name TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
CREATE TABLE milestones (
    subject_key TEXT NOT NULL,
    region TEXT NOT NULL,
    metric TEXT NOT NULL,
    threshold BIGINT NOT NULL,
    subject_name TEXT NOT NULL,
    period TEXT NOT NULL,
    value BIGINT NOT NULL,
    below BOOLEAN NOT NULL DEFAULT false,
    history BOOLEAN NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT @NOW@,
    PRIMARY KEY (subject_key, region, metric, threshold)
);
CREATE TABLE corrections (
    id BIGSERIAL PRIMARY KEY,
    subject_key TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    region TEXT NOT NULL,
    metric TEXT NOT NULL,
    threshold BIGINT NOT NULL,
    reason TEXT NOT NULL,
    old_period TEXT NOT NULL,
    new_period TEXT,
    old_value BIGINT NOT NULL,
    new_value BIGINT,
    recorded_at TEXT NOT NULL DEFAULT @NOW@
);
CREATE TABLE share_levels (
    model_key TEXT NOT NULL,
    parent_key TEXT NOT NULL,
    region TEXT NOT NULL,
    metric TEXT NOT NULL,
    level DOUBLE PRECISION,
    PRIMARY KEY (model_key, parent_key, region, metric)
);
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    region TEXT NOT NULL,
    period TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT @NOW@
);
CREATE INDEX events_by_subject ON events (subject_key, region, id);
CREATE TABLE subscriptions (
    id BIGSERIAL PRIMARY KEY,
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    channel TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    region TEXT NOT NULL,
    kinds TEXT NOT NULL,
    instant_kinds TEXT NOT NULL,
    ladder TEXT NOT NULL,
    locale TEXT NOT NULL,
    mode TEXT NOT NULL,
    digest_at TEXT NOT NULL,
    timezone TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT @NOW@,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    paused_reason TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    charts INTEGER NOT NULL DEFAULT 1 CHECK (charts IN (0, 1)),
    UNIQUE (platform, workspace, channel, subject_key, region)
);
CREATE INDEX subscriptions_by_subject ON subscriptions (subject_key, region);
CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    event_ids TEXT NOT NULL,
    subscription_ids TEXT NOT NULL,
    locale TEXT NOT NULL,
    payload TEXT,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'inflight', 'posted', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    last_error TEXT,
    reason TEXT,
    message_id TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    posted_at DOUBLE PRECISION,
    claimed_by BIGINT
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_by_channel ON deliveries (platform, workspace, channel, status);
CREATE INDEX deliveries_next_by_channel ON deliveries
    (platform, workspace, channel, next_attempt_at, id) WHERE status = 'pending';
CREATE TABLE series_state (
    subject_key TEXT NOT NULL,
    region TEXT NOT NULL,
    metric TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_month INTEGER NOT NULL,
    first_nonzero INTEGER,
    last_month INTEGER NOT NULL,
    total BIGINT NOT NULL,
    peak BIGINT NOT NULL,
    best BIGINT,
    best_month INTEGER,
    recent_from INTEGER NOT NULL,
    recent TEXT NOT NULL,
    year_sources TEXT NOT NULL,
    flagged BIGINT NOT NULL,
    PRIMARY KEY (subject_key, region, metric)
);
CREATE TABLE slack_installations (
    enterprise_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    data TEXT NOT NULL,
    installed_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (enterprise_id, team_id, user_id)
);
CREATE TABLE slack_bots (
    enterprise_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    data TEXT NOT NULL,
    installed_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (enterprise_id, team_id)
);
CREATE TABLE slack_oauth_states (
    state TEXT PRIMARY KEY,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE digest_items (
    subscription_id BIGINT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL REFERENCES events (id),
    PRIMARY KEY (subscription_id, event_id)
)
""".replace("@NOW@", _NOW)

# Which years each source gives whole (a yearly figure): a year is never told as its December.
V2_YEARLY_SOURCES = """
ALTER TABLE sources ADD COLUMN yearly TEXT NOT NULL DEFAULT '';
UPDATE sources SET yearly = COALESCE((
    SELECT string_agg(DISTINCT substr(period, 1, 4), ',' ORDER BY substr(period, 1, 4))
    FROM records r WHERE r.source_id = sources.id AND length(period) = 4
), '')
"""


# Corrections of announced milestones (issue 15); see `bot/store/sqlite/migrations.py`
# V_CORRECTIONS.
V_CORRECTIONS = """
ALTER TABLE subscriptions ADD COLUMN corrections INTEGER NOT NULL DEFAULT 1
    CHECK (corrections IN (0, 1));
ALTER TABLE deliveries ADD COLUMN rendered TEXT;
CREATE TABLE store_flags (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL DEFAULT ''
)
"""

# Milestones as ranges (SQLite's V_MILESTONE_RANGES): a stored threshold becomes a range of one.
V_MILESTONE_RANGES = """
ALTER TABLE milestones RENAME COLUMN threshold TO lowest;
ALTER TABLE milestones ADD COLUMN highest BIGINT;
UPDATE milestones SET highest = lowest;
ALTER TABLE milestones ALTER COLUMN highest SET NOT NULL;
ALTER TABLE milestones ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE milestones ADD COLUMN ladder TEXT NOT NULL DEFAULT '';
ALTER TABLE corrections RENAME COLUMN threshold TO lowest;
ALTER TABLE corrections ADD COLUMN highest BIGINT;
UPDATE corrections SET highest = lowest;
ALTER TABLE corrections ALTER COLUMN highest SET NOT NULL;
ALTER TABLE corrections ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE corrections ADD COLUMN ladder TEXT NOT NULL DEFAULT ''
"""

# Hold the implausible (issue 26): a figure far outside its series' history is kept, and the
# events that depend on it are held (`held_events`, with the subjects covering each, to fan
# out on release) until `evbot release`; a revision of the figure drops them.
V_HOLDS = """
CREATE TABLE holds (
    id BIGSERIAL PRIMARY KEY,
    source_id BIGINT NOT NULL REFERENCES sources (id),
    make_key TEXT NOT NULL,
    model_key TEXT NOT NULL,
    region TEXT NOT NULL,
    period TEXT NOT NULL,
    month TEXT NOT NULL,
    metric TEXT NOT NULL,
    units BIGINT NOT NULL,
    reason TEXT NOT NULL,
    place TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'held' CHECK (state IN ('held', 'released', 'revised'))
);
CREATE TABLE held_events (
    hold_id BIGINT NOT NULL REFERENCES holds (id),
    event_id BIGINT NOT NULL,
    covering TEXT NOT NULL,
    PRIMARY KEY (hold_id, event_id)
);
CREATE INDEX held_events_by_event ON held_events (event_id)
"""

PG_MIGRATIONS: list[Migration] = [
    V1_SALES,
    V2_YEARLY_SOURCES,
    V_CORRECTIONS,
    V_MILESTONE_RANGES,
    V_HOLDS,
    merge_spellings,  # one key, one spelling: a Python step (bot/store/key_merge.py)
    V_DELIVERY_STEPS,
    V_CLAIMED_AT,
    V_MUTES,
    V_SOURCE_FETCHES,
    V_SUBSCRIPTION_METRIC,
    V_MARKET_SHARES,
    split_powertrains,  # electric cars are BEV + PHEV: bot/store/powertrain_cells.py
    V_TEMPLATES,
    V_STATE_BASIS,
    V_NAMES_VERSION,
]
