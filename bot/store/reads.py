"""The reads both backends run alike, one plain statement each: written once here, over each
backend's `_fetch_q` (PostgreSQL's `$N` placeholders; SQLite's store swaps in its own, and
reads the way its other reads do)."""

from __future__ import annotations

from typing import Any

from bot.domain import holds as hold_rows
from bot.domain.channels import Channel
from bot.domain.deliveries import DeliveryRow, Pending
from bot.domain.milestones import Recorded
from bot.domain.plausibility import Hold
from bot.domain.records import IncRow, JournalEntry, ModelName, StoredEvent
from bot.domain.subscriptions import Subscription
from bot.store.common import (
    DELIVERY_COUNTS_BY_PLATFORM_SQL,
    PENDING_BY_PLATFORM_SQL,
    pending_by_platform,
)
from bot.store.detection_rows import CORRECTION_LOG_KEYS, log_rows, recorded, stored_event
from bot.store.outbox_logic import platform_counts, status_counts
from bot.store.rows import (
    DELIVERY_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    delivery_row,
    inc_rows,
    subscription_row,
)
from bot.store.sales_rows import journal_entries


class Fetching:
    """What the shared reads need of a backend: one statement's rows."""

    async def _fetch_q(self, sql: str, *args: Any, table: str = "") -> list[Any]:
        """The rows of `sql` (`$N` placeholders, in order) with `args`; `table`, when given,
        counts them as read from it."""
        raise NotImplementedError


class SalesReads(Fetching):
    """Names, increments, the journal, detection's single-series reads, events, the correction
    log and holds."""

    async def model_names(self) -> list[ModelName]:
        rows = await self._fetch_q(
            "SELECT m.make_key, m.model_key, COALESCE(k.display, m.make_key), m.display "
            "FROM models m LEFT JOIN makes k USING (make_key) ORDER BY 1, 2",
            table="models",
        )
        return [ModelName(*r) for r in rows]

    async def make_names(self) -> dict[str, str]:
        rows = await self._fetch_q("SELECT make_key, display FROM makes", table="makes")
        return {r[0]: r[1] for r in rows}

    async def name_rows(self) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
        """The makes' (key, display) and models' (make key, model key, display) rows as stored,
        unordered and unjoined: cheap to compare with a copy kept from before."""
        makes = await self._fetch_q("SELECT make_key, display FROM makes", table="makes")
        models = await self._fetch_q(
            "SELECT make_key, model_key, display FROM models", table="models"
        )
        return [(r[0], r[1]) for r in makes], [(r[0], r[1], r[2]) for r in models]

    async def names_version(self) -> int | None:
        """A number every change to the makes' or models' rows moves (their triggers); None
        when the store keeps none, so the names must be compared."""
        rows = await self._fetch_q("SELECT MAX(version) FROM names_version")
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    async def regions(self) -> list[str]:
        rows = await self._fetch_q(
            "SELECT DISTINCT region FROM all_cells ORDER BY 1", table="all_cells"
        )
        return [r[0] for r in rows]

    async def model_increments(self, make_key: str, model_key: str) -> list[IncRow]:
        rows = await self._fetch_q(
            "SELECT source_id, region, make_key, model_key, month, inc FROM cells "
            "WHERE make_key = $1 AND model_key = $2 ORDER BY month",
            make_key,
            model_key,
            table="cells",
        )
        return inc_rows(rows)

    async def all_increments(self) -> list[IncRow]:
        rows = await self._fetch_q(
            "SELECT source_id, region, '', '', month, inc FROM all_cells ORDER BY month",
            table="all_cells",
        )
        return inc_rows(rows)

    async def every_model_increment(self) -> list[IncRow]:
        rows = await self._fetch_q(
            "SELECT source_id, region, make_key, model_key, month, inc FROM cells "
            "WHERE model_key != '' ORDER BY month",
            table="cells",
        )
        return inc_rows(rows)

    async def powertrain_increments(
        self, powertrain: str, make_key: str | None = None, model_key: str | None = None
    ) -> list[IncRow]:
        where, args = "powertrain = $1", [powertrain]
        for column, value in (("make_key", make_key), ("model_key", model_key)):
            if value is not None:
                args.append(value)
                where += f" AND {column} = ${len(args)}"
        rows = await self._fetch_q(
            "SELECT source_id, region, make_key, model_key, month, inc FROM powertrain_cells "
            f"WHERE {where} ORDER BY month",
            *args,
            table="powertrain_cells",
        )
        return inc_rows(rows)

    async def journal_since(self, seq: int, limit: int = 10_000) -> list[JournalEntry]:
        rows = await self._fetch_q(
            "SELECT seq, source_id, region, make_key, model_key, month, history FROM journal "
            "WHERE seq > $1 ORDER BY seq LIMIT $2",
            seq,
            limit,
            table="journal",
        )
        return journal_entries(rows)

    async def watermark(self, name: str) -> int:
        """How far in the journal a reader called `name` has got (0: nowhere yet)."""
        rows = await self._fetch_q("SELECT seq FROM watermarks WHERE name = $1", name)
        return int(rows[0][0]) if rows else 0

    async def recorded_milestones(
        self, subject_key: str, region: str, metric: str
    ) -> dict[int, Recorded]:
        """The milestone ranges recorded for one series, by lowest threshold."""
        rows = await self._fetch_q(
            "SELECT lowest, highest, count, period, value, below, history FROM milestones "
            "WHERE subject_key = $1 AND region = $2 AND metric = $3",
            subject_key,
            region,
            metric,
            table="milestones",
        )
        return recorded(rows)

    async def share_level(self, key: tuple[str, str, str, str]) -> float | None:
        """The last announced or baselined share band of (model, parent, region, metric)."""
        rows = await self._fetch_q(
            "SELECT level FROM share_levels WHERE model_key = $1 AND parent_key = $2 "
            "AND region = $3 AND metric = $4",
            *key,
        )
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    async def events(self, after_id: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Recorded events with an id above `after_id`, oldest first."""
        rows = await self._fetch_q(
            "SELECT id, payload FROM events WHERE id > $1 ORDER BY id LIMIT $2",
            after_id,
            limit,
            table="events",
        )
        return [stored_event(r) for r in rows]

    async def events_about(
        self, subject_key: str, region: str, limit: int = 5
    ) -> list[StoredEvent]:
        """The newest `limit` events about one subject in one region, oldest first.

        One indexed read (`events_by_subject`): its cost does not depend on other events.
        """
        rows = await self._fetch_q(
            "SELECT id, payload FROM events WHERE subject_key = $1 AND region = $2 "
            "ORDER BY id DESC LIMIT $3",
            subject_key,
            region,
            limit,
            table="events",
        )
        return [stored_event(r) for r in reversed(rows)]

    async def correction_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """Corrections to recorded milestones, newest first."""
        rows = await self._fetch_q(
            "SELECT subject_name, region, metric, lowest, highest, count, reason, old_period, "
            "new_period, old_value, new_value, recorded_at FROM corrections "
            "ORDER BY id DESC LIMIT $1",
            limit,
        )
        return log_rows(CORRECTION_LOG_KEYS, rows)

    async def count_records(self) -> int:
        """How many sales figures are stored (for tests and summaries)."""
        return int((await self._fetch_q("SELECT COUNT(*) FROM records"))[0][0])

    async def holds(self, everything: bool = False) -> list[Hold]:
        """The figures held (with `everything`, released and revised ones too)."""
        return await hold_rows.holds(self._fetch_q, everything)

    async def held_event_ids(self) -> set[int]:
        """The events held now."""
        return await hold_rows.held_event_ids(self._fetch_q)


class OutboxReads(Fetching):
    """Subscriptions, deliveries and digests, read."""

    async def subscription(self, sub_id: int) -> Subscription | None:
        rows = await self._fetch_q(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1", sub_id
        )
        return subscription_row(rows[0]) if rows else None

    async def subscriptions(self, channel: Channel | None = None) -> list[Subscription]:
        """Every subscription, or a channel's."""
        if channel is None:
            rows = await self._fetch_q(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions ORDER BY id"
            )
        else:
            rows = await self._fetch_q(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions "
                "WHERE platform = $1 AND workspace = $2 AND channel = $3 ORDER BY id",
                channel.platform,
                channel.workspace,
                channel.channel,
            )
        return [subscription_row(r) for r in rows]

    async def delivery(self, delivery_id: int) -> DeliveryRow | None:
        """One delivery by id."""
        rows = await self._fetch_q(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1", delivery_id
        )
        return delivery_row(rows[0]) if rows else None

    async def delivery_counts(self) -> dict[str, int]:
        """How many deliveries are in each status."""
        rows = await self._fetch_q("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
        return status_counts(rows)

    async def delivery_counts_by_platform(self) -> dict[tuple[str, str], int]:
        """How many deliveries each platform has in each status (for /metrics)."""
        return platform_counts(await self._fetch_q(DELIVERY_COUNTS_BY_PLATFORM_SQL))

    async def pending_by_platform(self) -> dict[str, Pending]:
        """Deliveries not out yet (pending or in flight), by platform."""
        return pending_by_platform(await self._fetch_q(PENDING_BY_PLATFORM_SQL))

    async def next_due(self) -> float | None:
        """When the earliest pending delivery is due (None: nothing pending)."""
        rows = await self._fetch_q(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'"
        )
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    async def digest_size(self, sub_id: int) -> int:
        rows = await self._fetch_q(
            "SELECT COUNT(*) FROM digest_items WHERE subscription_id = $1", sub_id
        )
        return int(rows[0][0])
