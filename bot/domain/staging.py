"""Figures on their way to a store: plain rows keyed as the store keys them, built where the
parser runs and handed over in chunks.

A file repeats a few thousand names and periods a million times, so every key, month and cleaned
label is computed once per distinct text and looked up after that. Building rows here, in the
thread that parses, leaves the store's thread nothing to do per row but bind it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from bot.domain.names import Spellings, name_key
from bot.domain.periods import end_month
from bot.domain.records import SalesRecord, SourceInfo, SourceSpec

# make_key, model_key, region, month, period, powertrain, cumulative (0/1), units, line
Row = tuple[str, str, str, str, str, str, int, int, int]
ROW_WIDTH = 9
MAX_PROBLEMS = 200  # past this, a summary line: nobody reads ten thousand errors
_CACHED = 65_536  # distinct names and periods remembered, at most
# (make_key, region, month): a make's period units in one region and month
MakeCell = tuple[str, str, str]


@dataclass(slots=True)
class StagedChunk:
    """A run of rows in file order, by source name, with what the store needs beside them.

    `makes` and `models` hold the display names first seen in this chunk. `sums` holds, per
    source, the period units (rows that are not running totals) summed by make, region and
    month, every row counted: a store subtracts the exact repeats it finds, and the rest are the
    make sums of a first import without reading its cells back.
    """

    rows: dict[str, list[Row]] = field(default_factory=dict)
    makes: dict[str, str] = field(default_factory=dict)
    models: dict[tuple[str, str], str] = field(default_factory=dict)
    sums: dict[str, dict[MakeCell, int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(map(len, self.rows.values()))


class ChunkSink:
    """A parser's sink (`bot.ingest.table.Sink`): turns records, or fields the parser has already
    cleaned, into rows, and hands them on in `StagedChunk`s of `size` rows through `emit`;
    `emit(None)` says the parse starts again from its first row."""

    def __init__(self, emit: Callable[[StagedChunk | None], None], size: int) -> None:
        self.emit = emit
        self.size = size
        self.count = 0  # rows in the chunk being built
        self.sent = 0  # rows handed on
        self.chunk = StagedChunk()
        self._keys: dict[tuple[str, str], tuple[str, str]] = {}
        self._months: dict[str, str] = {}
        self._source: str | None = None
        self._rows: list[Row] = []
        self._sums: dict[MakeCell, int] = {}
        self._regions = Spellings()
        self._sources = Spellings()

    def region(self, region: str) -> str:
        """The spelling that stands for a (cleaned) region's key in this parse: its first."""
        return self._regions(region)

    def names(self, make: str, model: str) -> tuple[str, str]:
        """The keys of a (cleaned) make and model; the first spelling seen is kept for display."""
        keys = self._keys.get((make, model))
        if keys is None:
            if len(self._keys) >= _CACHED:
                self._keys.clear()  # endless distinct names: stay bounded
            keys = self._keys[(make, model)] = (name_key(make), name_key(model))
            chunk = self.chunk
            chunk.makes.setdefault(keys[0], make)
            if keys not in chunk.models:
                chunk.models[keys] = model
        return keys

    def month(self, period: str) -> str:
        """The month (`YYYY-MM`) a canonical period ends in."""
        month = self._months.get(period)
        if month is None:
            if len(self._months) >= _CACHED:
                self._months.clear()
            month = self._months[period] = str(end_month(period))
        return month

    def append(self, source: str, row: Row) -> None:
        """Add a row whose keys came from `names` and month from `month`."""
        # a million calls: kept to the few steps every row needs
        if source != self._source:
            self._switch(source)
        self._rows.append(row)
        if not row[6] and row[5] != "FCEV":  # fuel-cell cars are not in the electric sums
            cell = (row[0], row[2], row[3])
            self._sums[cell] = self._sums.get(cell, 0) + row[7]
        self.count += 1
        if self.count >= self.size:
            self.flush()

    def add(self, source: str, record: SalesRecord) -> None:
        """Add a parsed record."""
        make_key, model_key = self.names(record.make, record.model)
        self.append(
            source,
            (
                make_key,
                model_key,
                self._regions(record.region),
                self.month(record.period),
                record.period,
                record.powertrain,
                int(record.cumulative),
                record.units,
                record.line,
            ),
        )

    def restart(self) -> None:
        """Forget everything, caches included, and say so: the parse starts again."""
        self.chunk = StagedChunk()
        self._keys.clear()
        self._months.clear()
        self._regions = Spellings()
        self._sources = Spellings()
        self._source = None
        self.count = self.sent = 0
        self.emit(None)

    def flush(self) -> None:
        """Hand on the rows built so far, if any (the caches stay)."""
        if self.count:
            chunk, self.chunk = self.chunk, StagedChunk()
            self._source = None
            self.sent += self.count
            self.count = 0
            self.emit(chunk)

    def _switch(self, source: str) -> None:
        self._source = source
        spelling = self._sources(source)  # a source's name is a key like any other
        self._rows = self.chunk.rows.setdefault(spelling, [])
        self._sums = self.chunk.sums.setdefault(spelling, {})


def chunk_of(batches: Sequence[tuple[str, Sequence[SalesRecord]]]) -> StagedChunk:
    """Records held in memory as one chunk. Their lines tell repeats apart, so unless they are
    all distinct and in order (as a parser numbers them), they are numbered 1, 2, 3... here."""
    lines = [r.line for _, records in batches for r in records]
    numbered = all(a < b for a, b in zip([0, *lines], lines, strict=False))
    chunks: list[StagedChunk | None] = []
    sink = ChunkSink(chunks.append, len(lines) + 1)
    position = 0
    for source, records in batches:
        for record in records:
            position += 1
            sink.add(source, record if numbered else replace(record, line=position))
    sink.flush()
    return next((c for c in chunks if c is not None), StagedChunk())


def in_memory(
    batches: Sequence[tuple[SourceSpec, Sequence[SalesRecord]]],
) -> tuple[AsyncIterator[StagedChunk | None], Callable[[str], SourceSpec]]:
    """Figures held in memory as a store's `import_stream` takes them: one chunk, and the
    sources' specs by name."""
    specs = {spec.name: spec for spec, _ in batches}
    chunk = chunk_of([(spec.name, records) for spec, records in batches])

    async def one() -> AsyncIterator[StagedChunk | None]:
        if len(chunk):
            yield chunk

    return one(), specs.__getitem__


def source_named(sources: Iterable[SourceInfo], name: str) -> SourceInfo | None:
    """The known source whose name is `name` by `name_key`, if any."""
    key = name_key(name)
    return next((s for s in sources if name_key(s.name) == key), None)


def respell_regions(chunk: StagedChunk, known: Spellings) -> None:
    """Give each region of the chunk the store's spelling of its key (`known`, which learns the
    chunk's new ones): a region spelled otherwise in the store is the same region."""
    used = {row[2] for rows in chunk.rows.values() for row in rows}
    change = {s: known(s) for s in used}
    change = {a: b for a, b in change.items() if a != b}
    if not change:
        return
    for source, rows in chunk.rows.items():
        chunk.rows[source] = [
            r if r[2] not in change else (r[0], r[1], change[r[2]], *r[3:]) for r in rows
        ]
    for source, sums in chunk.sums.items():
        respelled: dict[MakeCell, int] = {}
        for (make, region, month), units in sums.items():
            cell = (make, change.get(region, region), month)
            respelled[cell] = respelled.get(cell, 0) + units
        chunk.sums[source] = respelled


class Repeats:
    """What a store found among one import's repeated keys: an exact repeat is counted once with
    a notice, a conflicting one is a problem. Both stores word them alike."""

    def __init__(self, file: str, aggregate: bool) -> None:
        self.file = file
        self.aggregate = aggregate
        self.makes: dict[str, str] = {}
        self.models: dict[tuple[str, str], str] = {}
        self.duplicates: dict[int, int] = {}
        self.notices: dict[int, list[str]] = {}
        self.problems: list[str] = []

    def names(self, chunk: StagedChunk) -> None:
        """Keep the chunk's display names (the first spelling of each key wins)."""
        for key, display in chunk.makes.items():
            self.makes.setdefault(key, display)
        for keys, display in chunk.models.items():
            self.models.setdefault(keys, display)

    def repeat(
        self, source_id: int, line: int, first: int, units: int, first_units: int, same: bool
    ) -> bool:
        """Judge a repeat of the key first seen on line `first`; True when it is exact."""
        if same and units == first_units:
            self.duplicates[source_id] = self.duplicates.get(source_id, 0) + 1
            self.notices.setdefault(source_id, []).append(
                f"{self.file}:{line}: duplicate of line {first}, counted once"
            )
            return True
        self.problems.append(
            f"{self.file}:{line}: conflicting duplicate of line {first}: same period, "
            f"region, make, model and powertrain with {units} units instead of {first_units}"
        )
        return False

    def with_problems(self, parsed: list[str]) -> list[str]:
        """The parser's problems and the repeats', in line order, capped as the parser caps."""
        more = 0
        lines = []
        for problem in parsed:
            match = _MORE.fullmatch(problem)
            if match:
                more += int(match.group(1))
            else:
                lines.append(problem)
        lines = sorted([*lines, *self.problems], key=_line_of)
        more += max(0, len(lines) - MAX_PROBLEMS)
        return lines[:MAX_PROBLEMS] + ([f"... and {more} more problems"] if more else [])


_MORE = re.compile(r"\.\.\. and (\d+) more problems")
_LINE = re.compile(r":(\d+): ")


def _line_of(problem: str) -> int:
    match = _LINE.search(problem)
    return int(match.group(1)) if match else 0
