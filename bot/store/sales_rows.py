"""What both backends do alike around their imports and reads: figures held in memory imported
as a stream, the names an import improves, a source's metric checked, an import's summary begun,
groups as rows and back, journal rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from typing import Any

from bot.domain.names import better_display, name_key
from bot.domain.periods import Month
from bot.domain.plausibility import DEFAULT_RULE, HoldRule
from bot.domain.records import (
    GroupMember,
    GroupSpec,
    ImportSummary,
    JournalEntry,
    SalesRecord,
    SourceInfo,
    SourceSpec,
)
from bot.domain.staging import Repeats, StagedChunk, in_memory
from bot.ports.store import StoreError


def make_updates(known: dict[str, str], makes: dict[str, str]) -> list[tuple[str, str]]:
    """The makes (key, display) whose display an import improves (`better_display`)."""
    return [
        (k, better_display(known.get(k), v))
        for k, v in makes.items()
        if k and better_display(known.get(k), v) != known.get(k)
    ]


def model_updates(
    known: dict[tuple[str, str], str], models: dict[tuple[str, str], str]
) -> list[tuple[str, str, str]]:
    """The models (make key, model key, display) whose display an import improves."""
    return [
        (*k, better_display(known.get(k), v))
        for k, v in models.items()
        if k[1] and better_display(known.get(k), v) != known.get(k)
    ]


def check_metric(source: SourceSpec, held: str) -> None:
    """Refuse an import whose metric is not the one its source holds."""
    if held != source.metric:
        raise StoreError(
            f"source {source.name!r} holds {held} figures; this import says "
            f"{source.metric}: import it under another source name"
        )


def summary_of(info: SourceInfo, records: int, repeats: Repeats, dry_run: bool) -> ImportSummary:
    """An import's summary of one source, before its figures are classified."""
    return ImportSummary(
        source=info.name,
        records=records,
        duplicates=repeats.duplicates.get(info.id, 0),
        first_import=info.imports == 0,
        dry_run=dry_run,
        notices=repeats.notices.get(info.id, []),
    )


def member_rows(group: GroupSpec) -> list[tuple[str, str, str, str | None, str | None]]:
    """A group's members as rows of `group_members`."""
    return [
        (
            group.name,
            name_key(m.make),
            m.make,
            str(m.valid_from) if m.valid_from else None,
            str(m.valid_to) if m.valid_to else None,
        )
        for m in group.members
    ]


def groups_from_rows(
    names: Iterable[str],
    members: Iterable[Sequence[Any]],
    aliases: Iterable[Sequence[Any]],
) -> list[GroupSpec]:
    """Groups from their names in order, member rows (group, make, from, to) and alias rows
    (group, alias), each in the order they were written."""
    by_group: dict[str, list[GroupMember]] = defaultdict(list)
    for group, make, start, end in members:
        by_group[group].append(
            GroupMember(
                make,
                Month.parse(start) if start else None,
                Month.parse(end) if end else None,
            )
        )
    alias_of: dict[str, list[str]] = defaultdict(list)
    for group, alias in aliases:
        alias_of[group].append(alias)
    return [GroupSpec(n, tuple(by_group[n]), tuple(alias_of[n])) for n in names]


def journal_entries(rows: Iterable[Sequence[Any]]) -> list[JournalEntry]:
    """Journal rows (seq, source id, region, make key, model key, month, history)."""
    return [JournalEntry(r[0], r[1], r[2], r[3], r[4], Month.parse(r[5]), bool(r[6])) for r in rows]


class InMemoryImports:
    """`import_records` over a backend's `import_stream`."""

    async def import_stream(
        self,
        chunks: AsyncIterable[StagedChunk | None],
        spec_for: Callable[[str], SourceSpec],
        *,
        file: str = "",
        dry_run: bool = False,
        aggregate: bool = False,
        hold: HoldRule | None = DEFAULT_RULE,
    ) -> list[ImportSummary]:
        """Import streamed chunks of rows in one transaction (each backend's own)."""
        raise NotImplementedError

    async def import_records(
        self,
        batches: Sequence[tuple[SourceSpec, Sequence[SalesRecord]]],
        *,
        file: str = "",
        dry_run: bool = False,
        hold: HoldRule | None = DEFAULT_RULE,
    ) -> list[ImportSummary]:
        """Import figures held in memory: the streamed path with one chunk."""
        chunks, spec_for = in_memory(batches)
        return await self.import_stream(chunks, spec_for, file=file, dry_run=dry_run, hold=hold)


def shrink_refused(file: str, source: str, count: int, first: Sequence[Any]) -> str:
    """Why a snapshot that no longer holds some of its source's figures is not applied."""
    make, model, region, period = first
    what = " ".join(filter(None, (make, model))) or "all EVs"
    figures = "figure" if count == 1 else "figures"
    return (
        f"{file}: {count} {figures} of source {source} are no longer in it (the first: {what}, "
        f"{region}, {period}): the data went backwards, so nothing was applied; set "
        "allow_shrink = true to remove them (journalled and corrected as any revision)"
    )
