"""SQLite schema migrations, applied in order on open; `PRAGMA user_version` is the version.

Never edit a released migration: append a new one.
"""

from __future__ import annotations

from bot.store.key_merge import merge_spellings
from bot.store.migration_steps import Migration
from bot.store.sqlite.migrations_late import AFTER_THE_MERGE

V1_SALES = """
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    metric TEXT NOT NULL CHECK (metric IN ('sales', 'stock')),
    priority INTEGER NOT NULL DEFAULT 100,
    imports INTEGER NOT NULL DEFAULT 0,
    latest_month TEXT
);
CREATE TABLE makes (
    make_key TEXT PRIMARY KEY,
    display TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE models (
    make_key TEXT NOT NULL,
    model_key TEXT NOT NULL,
    display TEXT NOT NULL,
    PRIMARY KEY (make_key, model_key)
) WITHOUT ROWID;
CREATE TABLE records (
    source_id INTEGER NOT NULL REFERENCES sources (id),
    make_key TEXT NOT NULL,
    model_key TEXT NOT NULL,
    region TEXT NOT NULL,
    month TEXT NOT NULL,
    period TEXT NOT NULL,
    powertrain TEXT NOT NULL,
    cumulative INTEGER NOT NULL CHECK (cumulative IN (0, 1)),
    units INTEGER NOT NULL CHECK (units >= 0),
    PRIMARY KEY (source_id, make_key, model_key, region, month, period, powertrain)
) WITHOUT ROWID;
CREATE TABLE cells (
    source_id INTEGER NOT NULL REFERENCES sources (id),
    make_key TEXT NOT NULL,
    model_key TEXT NOT NULL,
    region TEXT NOT NULL,
    month TEXT NOT NULL,
    period_units INTEGER NOT NULL,
    running_units INTEGER,
    inc INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source_id, make_key, model_key, region, month)
) WITHOUT ROWID;
CREATE INDEX cells_by_model ON cells (make_key, model_key, month);
CREATE TABLE make_cells (
    source_id INTEGER NOT NULL REFERENCES sources (id),
    make_key TEXT NOT NULL,
    region TEXT NOT NULL,
    month TEXT NOT NULL,
    inc INTEGER NOT NULL,
    PRIMARY KEY (make_key, source_id, region, month)
) WITHOUT ROWID;
CREATE TABLE all_cells (
    source_id INTEGER NOT NULL REFERENCES sources (id),
    region TEXT NOT NULL,
    month TEXT NOT NULL,
    inc INTEGER NOT NULL,
    PRIMARY KEY (source_id, region, month)
) WITHOUT ROWID;
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources (id),
    file TEXT NOT NULL,
    imported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    rows_read INTEGER NOT NULL,
    new INTEGER NOT NULL,
    revised INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    first_import INTEGER NOT NULL
);
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    import_id INTEGER NOT NULL REFERENCES imports (id),
    source_id INTEGER NOT NULL REFERENCES sources (id),
    make_key TEXT NOT NULL,
    model_key TEXT NOT NULL,
    region TEXT NOT NULL,
    month TEXT NOT NULL,
    history INTEGER NOT NULL
);
CREATE TABLE groups (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
CREATE TABLE group_members (
    group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    make_key TEXT NOT NULL,
    make TEXT NOT NULL,
    valid_from TEXT,
    valid_to TEXT
);
CREATE TABLE group_aliases (
    group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    alias TEXT NOT NULL
)
"""

V2_DETECTION = """
CREATE TABLE watermarks (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
CREATE TABLE milestones (
    subject_key TEXT NOT NULL,
    region TEXT NOT NULL,
    metric TEXT NOT NULL,
    threshold INTEGER NOT NULL,
    subject_name TEXT NOT NULL,
    period TEXT NOT NULL,
    value INTEGER NOT NULL,
    below INTEGER NOT NULL DEFAULT 0,
    history INTEGER NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (subject_key, region, metric, threshold)
) WITHOUT ROWID;
CREATE TABLE corrections (
    id INTEGER PRIMARY KEY,
    subject_key TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    region TEXT NOT NULL,
    metric TEXT NOT NULL,
    threshold INTEGER NOT NULL,
    reason TEXT NOT NULL,
    old_period TEXT NOT NULL,
    new_period TEXT,
    old_value INTEGER NOT NULL,
    new_value INTEGER,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE share_levels (
    model_key TEXT NOT NULL,
    parent_key TEXT NOT NULL,
    region TEXT NOT NULL,
    metric TEXT NOT NULL,
    level REAL,
    PRIMARY KEY (model_key, parent_key, region, metric)
) WITHOUT ROWID;
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    region TEXT NOT NULL,
    period TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
)
"""

V3_DELIVERY = """
CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
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
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    paused_reason TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    UNIQUE (platform, workspace, channel, subject_key, region)
);
CREATE INDEX subscriptions_by_subject ON subscriptions (subject_key, region);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
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
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    reason TEXT,
    message_id TEXT,
    created_at REAL NOT NULL,
    posted_at REAL
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_by_channel ON deliveries (platform, workspace, channel, status);
CREATE TABLE digest_items (
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    event_id INTEGER NOT NULL REFERENCES events (id),
    PRIMARY KEY (subscription_id, event_id)
) WITHOUT ROWID
"""

V4_RUNNING_SOURCES = """
ALTER TABLE sources ADD COLUMN running INTEGER NOT NULL DEFAULT 0
"""

V5_SLACK_INSTALLATIONS = """
CREATE TABLE slack_installations (
    enterprise_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    data TEXT NOT NULL,
    installed_at REAL NOT NULL,
    PRIMARY KEY (enterprise_id, team_id, user_id)
);
CREATE TABLE slack_bots (
    enterprise_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    data TEXT NOT NULL,
    installed_at REAL NOT NULL,
    PRIMARY KEY (enterprise_id, team_id)
);
CREATE TABLE slack_oauth_states (
    state TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
)
"""

# What detection keeps per series to continue it from its last detected month (see
# bot/domain/series_state.py); months are stored as indexes (year * 12 + month - 1), `recent` as
# "index:units,..." and `year_sources` as JSON [[region, source id], ...].
V6_SERIES_STATE = """
CREATE TABLE series_state (
    subject_key TEXT NOT NULL,
    region TEXT NOT NULL,
    metric TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_month INTEGER NOT NULL,
    first_nonzero INTEGER,
    last_month INTEGER NOT NULL,
    total INTEGER NOT NULL,
    peak INTEGER NOT NULL,
    best INTEGER,
    best_month INTEGER,
    recent_from INTEGER NOT NULL,
    recent TEXT NOT NULL,
    year_sources TEXT NOT NULL,
    flagged INTEGER NOT NULL,
    PRIMARY KEY (subject_key, region, metric)
) WITHOUT ROWID
"""

V7_PREVIEW_INDEX = """
CREATE INDEX events_by_subject ON events (subject_key, region, id)
"""

V8_SUBSCRIPTION_CHARTS = """
ALTER TABLE subscriptions ADD COLUMN charts INTEGER NOT NULL DEFAULT 1 CHECK (charts IN (0, 1))
"""

# Where in its file each figure was read: a first import writes straight into `records`, and a
# repeated key is told from its first by this line.
# Cells keyed model first, then month: a model's cells after a month are one range of the table
# (the detector reads them so for every model it polls), and a first import writes the table
# without the second index `cells_by_model`, which cost as much to write as the table itself.
V9_FIRST_IMPORTS = """
ALTER TABLE records ADD COLUMN line INTEGER NOT NULL DEFAULT 0;
CREATE TABLE cells_v9 (
    source_id INTEGER NOT NULL REFERENCES sources (id),
    make_key TEXT NOT NULL,
    model_key TEXT NOT NULL,
    region TEXT NOT NULL,
    month TEXT NOT NULL,
    period_units INTEGER NOT NULL,
    running_units INTEGER,
    inc INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (make_key, model_key, month, source_id, region)
) WITHOUT ROWID;
INSERT INTO cells_v9 (source_id, make_key, model_key, region, month, period_units, running_units,
    inc)
SELECT source_id, make_key, model_key, region, month, period_units, running_units, inc FROM cells;
DROP TABLE cells;
ALTER TABLE cells_v9 RENAME TO cells
"""

# Which years each source gives whole (a yearly figure): a year is never told as its December.
V10_YEARLY_SOURCES = """
ALTER TABLE sources ADD COLUMN yearly TEXT NOT NULL DEFAULT '';
UPDATE sources SET yearly = COALESCE((
    SELECT group_concat(y, ',') FROM (
        SELECT DISTINCT substr(period, 1, 4) AS y FROM records r
        WHERE r.source_id = sources.id AND length(period) = 4 ORDER BY y
    )
), '')
"""

# Corrections of announced milestones (issue 15): a subscription may opt out of them; a
# delivery keeps the message it was first claimed with, which every retry sends and a correction
# edits; a migration that re-records figures sets a flag that silences the next detection's
# corrections.
V_CORRECTIONS = """
ALTER TABLE subscriptions ADD COLUMN corrections INTEGER NOT NULL DEFAULT 1
    CHECK (corrections IN (0, 1));
ALTER TABLE deliveries ADD COLUMN rendered TEXT;
CREATE TABLE store_flags (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL DEFAULT ''
)
"""

# Milestones as ranges: the thresholds a series first reached in one month are one row, from
# `lowest` to `highest` (`count` of them, rungs of `ladder`), however many there are. A stored
# row of one threshold becomes a range of one.
V_MILESTONE_RANGES = """
ALTER TABLE milestones RENAME COLUMN threshold TO lowest;
ALTER TABLE milestones ADD COLUMN highest INTEGER NOT NULL DEFAULT 0;
ALTER TABLE milestones ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE milestones ADD COLUMN ladder TEXT NOT NULL DEFAULT '';
UPDATE milestones SET highest = lowest;
ALTER TABLE corrections RENAME COLUMN threshold TO lowest;
ALTER TABLE corrections ADD COLUMN highest INTEGER NOT NULL DEFAULT 0;
ALTER TABLE corrections ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE corrections ADD COLUMN ladder TEXT NOT NULL DEFAULT '';
UPDATE corrections SET highest = lowest
"""

# Hold the implausible (issue 26): a figure far outside its series' history is kept, and the
# events that depend on it are held (`held_events`, with the subjects covering each, to fan
# out on release) until `evbot release`; a revision of the figure drops them.
V_HOLDS = """
CREATE TABLE holds (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources (id),
    make_key TEXT NOT NULL,
    model_key TEXT NOT NULL,
    region TEXT NOT NULL,
    period TEXT NOT NULL,
    month TEXT NOT NULL,
    metric TEXT NOT NULL,
    units INTEGER NOT NULL,
    reason TEXT NOT NULL,
    place TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'held' CHECK (state IN ('held', 'released', 'revised'))
);
CREATE TABLE held_events (
    hold_id INTEGER NOT NULL REFERENCES holds (id),
    event_id INTEGER NOT NULL,
    covering TEXT NOT NULL,
    PRIMARY KEY (hold_id, event_id)
);
CREATE INDEX held_events_by_event ON held_events (event_id)
"""

MIGRATIONS: list[Migration] = [
    V1_SALES,
    V2_DETECTION,
    V3_DELIVERY,
    V4_RUNNING_SOURCES,
    V5_SLACK_INSTALLATIONS,
    V6_SERIES_STATE,
    V7_PREVIEW_INDEX,
    V8_SUBSCRIPTION_CHARTS,
    V9_FIRST_IMPORTS,
    V10_YEARLY_SOURCES,
    V_CORRECTIONS,
    V_MILESTONE_RANGES,
    V_HOLDS,
    merge_spellings,  # one key, one spelling: a Python step (bot/store/key_merge.py)
    *AFTER_THE_MERGE,  # re-runnable, each: bot/store/sqlite/migrations_late.py
]
