"""SQLite migrations appended after the key merge (`merge_spellings`): each re-runnable, since
the merge's tests replay it by setting the schema version back to before it."""

from __future__ import annotations

from bot.store.migration_steps import added_column

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
