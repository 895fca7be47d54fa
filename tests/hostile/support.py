"""What the hostile tests share: hypothesis profiles, store counts, secrets and attack strings.

A module of its own rather than conftest.py, which pytest imports under another name: importing
it from tests would load it twice.

`EVBOT_LONG_FUZZ=1` runs every property with many more examples (minutes to hours); CI runs the
short profile, which still covers each strategy.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, settings

LONG = os.environ.get("EVBOT_LONG_FUZZ") == "1"

settings.register_profile(
    "hostile-ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "hostile-long",
    max_examples=5_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FUZZ = settings.get_profile("hostile-long" if LONG else "hostile-ci")

# The tables an import writes; a failed import must leave every count as it was.
IMPORT_TABLES = ("sources", "makes", "models", "records", "cells", "imports", "journal")


def table_counts(db: str | Path, tables: tuple[str, ...] = IMPORT_TABLES) -> dict[str, int]:
    """Row counts read through a second, independent connection (what another process sees)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


# -- secrets: set by the tests that need them, and never to be seen in any log ----------------

DB_PASSWORD = "pw-Xq7!tLk9@zz"
SECRETS = {
    "DISCORD_TOKEN": "MTAxNDk.discord-token-Zk3Jq8.VvT0p",
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-slackbottokenQ9",
    "SLACK_APP_TOKEN": "xapp-1-A111-2222-slackapptokenW4",
    "SLACK_SIGNING_SECRET": "8f2c1d-slack-signing-secret-77ab",
    "SLACK_CLIENT_SECRET": "c1i3nt-slack-client-secret-5512",
    "EVBOT_WEBHOOK_SECRET": "whsec-evbot-webhook-secret-31f0",
    "PGPASSWORD": DB_PASSWORD,
}
SECRET_VALUES = tuple(SECRETS.values())

# -- what users and data send to ping a channel or inject markup ----------------------------

ATTACKS = [
    "@everyone",
    "@here",
    "@EveryOne",
    "@channel",
    "<@123456789012345678>",
    "<@!123>",
    "<@&987>",
    "<#555>",
    "</ev-total:1>",
    "<t:1700000000:R>",
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S0123|@team>",
    "<@U0123>",
    "<https://evil.example|innocent>",
    "[innocent](https://evil.example)",
    "**bold** *it* __under__ ~~strike~~ ~s~ `code` ```block``` ||spoiler||",
    "> quote\n>>> block quote",
    "# H1\n## H2\n-# small",
    "- item\n+ item\n* item\n1. item",
    "&lt;!channel&gt;",
    "&amp;lt;",
    "@\u200beveryone",
    "\\@everyone",
    "\\<@123>",
    "@@everyone",
    "<<@123>>",
    "@\u202eenoyreve",
    "\x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
    "\x1b[2J\x1b[H",
    "\u0000\u0007\u009b31m",
]
