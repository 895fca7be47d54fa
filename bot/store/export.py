"""What `evbot export` writes: the store's figures, sources, milestones, events, subscriptions
and outbox history as tables of plain values, read alike from both backends.

The figures come out in the canonical import format (`period,region,make,model,units,
powertrain,source,cumulative`), so that `evbot import` of the export into an empty store with
the same configuration gives back the same totals. A webhook's URL often carries its credential:
only its scheme and host are exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.store.reads import Fetching

FIGURE_COLUMNS = (
    "period",
    "region",
    "make",
    "model",
    "units",
    "powertrain",
    "source",
    "cumulative",
)

FIGURES_SQL = (
    "SELECT r.period, r.region, k.display, m.display, r.units, r.powertrain, s.name, "
    "r.cumulative FROM records r JOIN sources s ON s.id = r.source_id "
    "JOIN makes k ON k.make_key = r.make_key "
    "JOIN models m ON m.make_key = r.make_key AND m.model_key = r.model_key "
    "ORDER BY s.name, r.make_key, r.model_key, r.region, r.month, r.period, r.powertrain"
)

# table name -> (columns, ORDER BY): plain columns, the same on both backends
TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "sources": (("name", "metric", "priority", "imports", "latest_month"), "name"),
    "milestones": (
        (
            "subject_key",
            "region",
            "metric",
            "lowest",
            "highest",
            "count",
            "ladder",
            "subject_name",
            "period",
            "value",
            "below",
            "history",
            "recorded_at",
        ),
        "subject_key, region, metric, lowest",
    ),
    "events": (
        ("id", "dedupe_key", "kind", "subject_key", "region", "period", "payload", "created_at"),
        "id",
    ),
    "subscriptions": (
        (
            "id",
            "platform",
            "workspace",
            "channel",
            "subject_key",
            "subject_kind",
            "subject_name",
            "region",
            "kinds",
            "instant_kinds",
            "ladder",
            "locale",
            "mode",
            "digest_at",
            "timezone",
            "created_by",
            "created_at",
            "status",
            "paused_reason",
            "last_error",
            "failures",
            "charts",
            "corrections",
        ),
        "id",
    ),
    "deliveries": (
        (
            "id",
            "platform",
            "workspace",
            "channel",
            "kind",
            "event_ids",
            "subscription_ids",
            "locale",
            "status",
            "attempts",
            "last_error",
            "reason",
            "message_id",
            "created_at",
            "posted_at",
            "steps",
        ),
        "id",
    ),
}


@dataclass(frozen=True)
class Table:
    """One exported table: its column names and rows of plain values."""

    name: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def redact_url(url: str) -> str:
    """A webhook URL as its scheme and host only: its path or query may be its credential."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "(redacted)"
    if not host:
        return "(redacted)"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}/(redacted)"


async def export_tables(store: Fetching) -> list[Table]:
    """Every exported table of an open store, figures first."""
    figures = [
        (*row[:7], "true" if row[7] else "false")
        for row in await store._fetch_q(FIGURES_SQL, table="records")
    ]
    tables = [Table("figures", FIGURE_COLUMNS, figures)]
    for name, (columns, order) in TABLES.items():
        sql = f"SELECT {', '.join(columns)} FROM {name} ORDER BY {order}"
        rows = [tuple(row) for row in await store._fetch_q(sql, table=name)]
        if "channel" in columns:
            at, platform = columns.index("channel"), columns.index("platform")
            rows = [
                (*r[:at], redact_url(str(r[at])), *r[at + 1 :]) if r[platform] == "webhook" else r
                for r in rows
            ]
        tables.append(Table(name, columns, rows))
    return tables
