"""The sales store on PostgreSQL, read: sources, names, increments, the journal, groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.periods import Month
from bot.domain.records import (
    GroupSpec,
    IncRow,
    SourceInfo,
)
from bot.store.common import SOURCE_COLUMNS, source_info
from bot.store.postgres.fanout import PgFanOut
from bot.store.reads import SalesReads
from bot.store.rows import inc_rows
from bot.store.sales_rows import groups_from_rows, member_rows


def gone_in(first: int) -> str:
    """The condition of `models_gone` on cells `c`, its six parameters numbered from `first`:
    units in the month before from one (region, source) and none in the month from another."""
    n = [f"${first + i}" for i in range(6)]
    return (
        f"c.month = {n[0]} AND c.region = {n[1]} AND c.source_id = {n[2]} AND c.inc != 0 "
        "AND NOT EXISTS (SELECT 1 FROM cells d WHERE d.make_key = c.make_key "
        f"AND d.model_key = c.model_key AND d.month = {n[3]} AND d.region = {n[4]} "
        f"AND d.source_id = {n[5]} AND d.inc != 0)"
    )


class PgReading(PgFanOut, SalesReads):
    """What the store holds, read; the groups kept."""

    # -- reading ----------------------------------------------------------------------------

    async def sources(self) -> list[SourceInfo]:
        return await self._sources(self.pool)

    async def _sources(self, con: Any) -> list[SourceInfo]:
        rows = await self._fetch(
            con,
            f"SELECT {SOURCE_COLUMNS} FROM sources ORDER BY id",
            table="sources",
        )
        return [source_info(r) for r in rows]

    async def parts_between(
        self,
        make_keys: Sequence[str] | None,
        first: Month,
        last: Month,
        *,
        whole_makes: bool = False,
    ) -> list[IncRow]:
        if make_keys is not None and whole_makes:
            if not make_keys:
                return []
            rows = await self._fetch(
                self.pool,
                "SELECT source_id, region, make_key, '', month, inc FROM make_cells "
                "WHERE make_key = ANY($1::text[]) AND month BETWEEN $2 AND $3",
                list(make_keys),
                str(first),
                str(last),
                table="make_cells",
            )
            return inc_rows(rows)
        if make_keys is None:
            rows = await self._fetch(
                self.pool,
                "SELECT source_id, region, make_key, '', month, inc FROM make_cells "
                "WHERE month BETWEEN $1 AND $2",
                str(first),
                str(last),
                table="make_cells",
            )
            return inc_rows(rows)
        if not make_keys:
            return []
        rows = await self._fetch(
            self.pool,
            "SELECT source_id, region, make_key, model_key, month, inc FROM cells "
            "WHERE make_key = ANY($1::text[]) AND month BETWEEN $2 AND $3",
            list(make_keys),
            str(first),
            str(last),
            table="cells",
        )
        return inc_rows(rows)

    async def pairs_between(
        self, make_keys: Sequence[str] | None, first: Month, last: Month
    ) -> list[tuple[str, int, str, int]]:
        if make_keys is not None and not make_keys:
            return []
        where = ""
        args: list[Any] = [str(first), str(last)]
        if make_keys is not None:
            where = " AND make_key = ANY($3::text[])"
            args.append(list(make_keys))
        rows = await self._fetch(
            self.pool,
            "SELECT DISTINCT make_key, substr(month, 1, 4)::int, region, source_id "
            f"FROM make_cells WHERE month BETWEEN $1 AND $2{where}",
            *args,
            table="make_cells",
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def models_gone(
        self,
        make_keys: Sequence[str],
        before: Month,
        end: Month,
        before_pair: tuple[str, int],
        end_pair: tuple[str, int],
    ) -> list[tuple[str, str]]:
        if not make_keys:
            return []
        rows = await self._fetch(
            self.pool,
            "SELECT c.make_key, c.model_key FROM cells c WHERE c.make_key = ANY($1::text[]) "
            f"AND {gone_in(2)}",
            list(make_keys),
            str(before),
            *before_pair,
            str(end),
            *end_pair,
            table="cells",
        )
        return [(r[0], r[1]) for r in rows]

    async def models_gone_among(
        self,
        models: Sequence[tuple[str, str]],
        before: Month,
        end: Month,
        before_pair: tuple[str, int],
        end_pair: tuple[str, int],
    ) -> list[tuple[str, str]]:
        if not models:
            return []
        rows = await self._fetch(
            self.pool,
            "SELECT c.make_key, c.model_key FROM unnest($1::text[], $2::text[]) m (make_key, "
            "model_key) JOIN cells c ON c.make_key = m.make_key AND c.model_key = m.model_key "
            f"WHERE {gone_in(3)}",
            [m[0] for m in models],
            [m[1] for m in models],
            str(before),
            *before_pair,
            str(end),
            *end_pair,
            table="cells",
        )
        return [(r[0], r[1]) for r in rows]

    async def make_increments(self, make_keys: Sequence[str]) -> list[IncRow]:
        if not make_keys:
            return []
        rows = await self._fetch(
            self.pool,
            "SELECT source_id, region, make_key, '', month, inc FROM make_cells "
            "WHERE make_key = ANY($1::text[]) ORDER BY month",
            list(make_keys),
            table="make_cells",
        )
        return inc_rows(rows)

    async def journal_head(self) -> int:
        return await self._journal_head(self.pool)

    async def _journal_head(self, con: Any) -> int:
        return int(await self._val(con, "SELECT COALESCE(MAX(seq), 0) FROM journal"))

    async def sync_groups(self, groups: Sequence[GroupSpec]) -> None:
        async with self.pool.acquire() as con, con.transaction():
            # replicas starting together sync the same groups: one at a time
            await self._run(con, "LOCK TABLE groups IN EXCLUSIVE MODE")
            await self._run(con, "DELETE FROM group_members")
            await self._run(con, "DELETE FROM group_aliases")
            await self._run(con, "DELETE FROM groups")
            for position, group in enumerate(groups):
                await self._run(
                    con,
                    "INSERT INTO groups (name, position) VALUES ($1, $2)",
                    group.name,
                    position,
                )
                await self._many(
                    con,
                    "INSERT INTO group_members (group_name, make_key, make, valid_from, "
                    "valid_to) VALUES ($1, $2, $3, $4, $5)",
                    member_rows(group),
                )
                await self._many(
                    con,
                    "INSERT INTO group_aliases (group_name, alias) VALUES ($1, $2)",
                    [(group.name, a) for a in group.aliases],
                )

    async def groups(self) -> list[GroupSpec]:
        names = [
            r[0] for r in await self._fetch(self.pool, "SELECT name FROM groups ORDER BY position")
        ]
        members = await self._fetch(
            self.pool,
            "SELECT group_name, make, valid_from, valid_to FROM group_members ORDER BY id",
        )
        aliases = await self._fetch(
            self.pool, "SELECT group_name, alias FROM group_aliases ORDER BY id"
        )
        return groups_from_rows(names, members, aliases)
