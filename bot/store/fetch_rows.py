"""Rows of the `source_fetches` table as `bot.domain.fetching.FetchState`, for both backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.fetching import FetchState

FETCH_COLUMNS = (
    "source, last_fetch_at, last_success_at, status, etag, last_modified, body_hash, "
    "row_count, error, failures, alerted"
)
FETCH_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in FETCH_COLUMNS.split(", ") if c != "source")


def fetch_state_row(row: Sequence[Any]) -> FetchState:
    """A `source_fetches` row (`FETCH_COLUMNS`) as a FetchState."""
    return FetchState(
        source=row[0],
        last_fetch_at=None if row[1] is None else float(row[1]),
        last_success_at=None if row[2] is None else float(row[2]),
        status=row[3],
        etag=row[4],
        last_modified=row[5],
        body_hash=row[6],
        rows=int(row[7]),
        error=row[8],
        failures=int(row[9]),
        alerted=bool(row[10]),
    )


def fetch_state_values(state: FetchState) -> tuple[Any, ...]:
    """A FetchState as the values of `FETCH_COLUMNS`."""
    return (
        state.source,
        state.last_fetch_at,
        state.last_success_at,
        state.status,
        state.etag,
        state.last_modified,
        state.body_hash,
        state.rows,
        state.error,
        state.failures,
        state.alerted,
    )
