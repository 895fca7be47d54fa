"""One set of row rules: the fast parse path, the careful one and the separate-process one read
every file alike, and no file, however long its lines, is read whole into memory."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.records import ImportFailed
from bot.domain.settings import SourceConfig, default_config
from bot.domain.staging import ChunkSink, Row, StagedChunk
from bot.ingest.canonical import _careful_canonical, _fast_canonical
from bot.ingest.fields import MAX_FIELD
from bot.ingest.importer import import_file
from bot.ingest.lines import MAX_LINE
from bot.ingest.mapped import parse_mapped
from bot.ingest.parse import parse_file
from bot.ingest.table import Parsed
from bot.ingest.worker import Job, ProcessFeed
from bot.store.sqlite.sales import SqliteStore
from tests.hostile.support import FUZZ, LONG, table_counts

COLUMNS = ["period", "region", "make", "model", "units", "powertrain", "source", "cumulative"]
TOO_LONG = [f"line too long (more than {MAX_LINE:,} characters)"]

# Values each column takes: mostly good ones (so that many files are clean and both paths read
# them to the end), with what publishers and attackers put in cells.
_HOSTILE = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\x1b[31m",
        "\x7f",
        "\x85",
        "\u2028",
        "\ufeff",
        "\udc80",
        "x" * (MAX_FIELD + 1),
        "١٢",
        "\t",
        "a\nb",
        "a\rb",
        '"',
        "#",
    ]
)
# good values, many spellings of each
_GOOD = {
    "period": st.sampled_from(["2014-03", "2015", "2016-02-29", " 2014-3 ", "2014-03"]),
    "region": st.sampled_from(["World", " USA ", "Norway", "Zürich"]),
    "make": st.sampled_from(["Nissan", "NISSAN", "Renault  ", "", "Zoé", "@everyone"]),
    "model": st.sampled_from(["", "", "", ""]),
    "units": st.sampled_from(["12", " 12 ", "012"]),  # another figure: a conflict
    "powertrain": st.sampled_from(["BEV", "phev", "", "Battery Electric Vehicle"]),
    "source": st.sampled_from(["", "a", "b", " a "]),
    "cumulative": st.sampled_from(["true", "no", ""]),
}
_MODELS = st.sampled_from(["Leaf", "Zoe", "", "Model  3", "leaf"])
# values a careful reader refuses
_BAD = {
    "period": st.sampled_from(["2014-13", "x", "", "June 2015"]),
    "region": st.sampled_from(["", "  "]),
    "make": st.just(""),  # with a model
    "model": st.just("Leaf"),  # without a make: set with an empty make below
    "units": st.sampled_from(["1,000", "-3", "4.5", "", "1" * 14, "١٢"]),
    "powertrain": st.sampled_from(["NOT A BEV", "diesel", "BEV2"]),
    "source": st.just("x" * (MAX_FIELD + 1)),
    "cumulative": st.sampled_from(["maybe", "2"]),
}


@st.composite
def canonical_files(draw: st.DrawFn) -> bytes:
    """A canonical CSV: a header of some columns, rows of good and hostile values, repeated
    rows (exact and conflicting duplicates), blank lines, any line end, some encodings."""
    header = draw(st.permutations(COLUMNS).map(lambda c: c[: draw(st.integers(5, 8))]))
    if not all(c in header for c in COLUMNS[:5]):
        header = COLUMNS[:5] + [c for c in header if c not in COLUMNS[:5]]
    rows: list[list[str]] = []
    for _ in range(draw(st.integers(0, 10))):
        choice = draw(st.integers(0, 12))
        if choice == 0 and rows:
            rows.append(list(draw(st.sampled_from(rows))))  # a repeat of an earlier row
            continue
        row = [draw(_GOOD[c]) for c in header]
        if row[header.index("make")].strip():
            row[header.index("model")] = draw(_MODELS)
        if choice == 1:
            row[draw(st.integers(0, len(row) - 1))] = draw(_HOSTILE)
        if choice == 2:
            row = row[:-1] if draw(st.booleans()) else [*row, "extra"]
        if choice == 4:
            row[header.index("units")] = draw(st.sampled_from(["0", "7"]))
        if choice == 3:
            column = draw(st.sampled_from(header))
            row[header.index(column)] = draw(_BAD[column])
            if column == "model":
                row[header.index("make")] = ""
        rows.append(row)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])))
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    if draw(st.booleans()):
        lines = text.splitlines(keepends=True)
        at = draw(st.integers(1, len(lines)))
        text = "".join(
            [*lines[:at], draw(st.sampled_from(["\n", ",,\n", "# note\n"])), *lines[at:]]
        )
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-8", "latin-1"]))
    return text.encode(encoding, errors="surrogatepass" if encoding == "utf-8" else "replace")


def _same(fast: Parsed, careful: Parsed) -> None:
    assert not careful.problems
    assert fast.records == careful.records
    assert (fast.duplicates, fast.notices, fast.rows_read) == (
        careful.duplicates,
        careful.notices,
        careful.rows_read,
    )


@FUZZ
@given(data=canonical_files())
def test_the_fast_path_answers_only_what_the_careful_path_answers(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    """Whenever the fast path accepts a file, the careful one gives the same records,
    duplicates and notices; whenever the careful one finds a problem, the fast one gives up."""
    path = tmp_path_factory.mktemp("paths") / "f.csv"
    path.write_bytes(data)
    fast = _fast_canonical(path, "src", None)
    careful = _careful_canonical(path, "src", None)
    if fast is not None:
        _same(fast, careful)
    if careful.problems:
        assert fast is None


def _staged(path: Path) -> tuple[list[Row], Parsed]:
    """Rows as a store receives them from a parse in this process (after its last restart)."""
    chunks: list[StagedChunk | None] = []
    sink = ChunkSink(chunks.append, 3)
    parsed = parse_file("canonical", path, "src", None, None, sink)
    sink.flush()
    return _rows_after_restart(chunks), parsed


def _rows_after_restart(chunks: list[StagedChunk | None]) -> list[Row]:
    last = max((i for i, c in enumerate(chunks) if c is None), default=-1)
    return [
        (source, *row)  # type: ignore[misc]
        for chunk in chunks[last + 1 :]
        if chunk is not None
        for source, rows in chunk.rows.items()
        for row in rows
    ]


async def _staged_by_process(path: Path) -> tuple[list[Row], Parsed | None, list[str]]:
    feed = ProcessFeed(Job("canonical", str(path), "src", None, 3), None)
    chunks: list[StagedChunk | None] = []
    try:
        async for chunk in feed.chunks():
            chunks.append(chunk)
    except ImportFailed as exc:
        return [], None, exc.problems
    finally:
        await feed.close()
    return _rows_after_restart(chunks), feed.parsed, []


@settings(FUZZ, max_examples=200 if LONG else 12)
@given(data=canonical_files())
@pytest.mark.slow
def test_the_separate_process_path_reads_what_this_process_reads(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("process") / "f.csv"
    path.write_bytes(data)
    rows, parsed = _staged(path)
    by_process, parsed_there, failed = asyncio.run(_staged_by_process(path))
    assert not failed
    assert parsed_there is not None
    assert by_process == rows
    assert (parsed_there.problems, parsed_there.notices, parsed_there.rows_read) == (
        parsed.problems,
        parsed.notices,
        parsed.rows_read,
    )


# -- lines without end -------------------------------------------------------------------------

MAPPED = SourceConfig(
    name="mapped",
    columns={"period": "Month", "region": "Country", "make": "Brand", "units": "Sold"},
    constants={"model": ""},
)


@pytest.fixture
async def store(tmp_path: Path) -> SqliteStore:
    db = tmp_path / "lines.sqlite3"
    async with SqliteStore(db) as s:
        good = tmp_path / "good.csv"
        good.write_text("period,region,make,model,units\n2020-01,World,Nissan,Leaf,100\n")
        await import_file(s, default_config(), good, source="good")
        yield s  # type: ignore[misc]


HEADERS = {
    "canonical": b"period,region,make,model,units\n2020-01,World,",
    "iea": b"region,category,parameter,mode,powertrain,year,unit,value\nWorld,",
    "mapped": b"Month,Country,Brand,Sold\n2020-01,",
}


@pytest.mark.parametrize("fmt", ["canonical", "iea", "mapped"])
@pytest.mark.parametrize("fill,after_header", [(b"\x00", False), (b"x", False), (b"N", True)])
async def test_a_line_without_end_is_refused_as_too_long_and_changes_nothing(
    tmp_path: Path, store: SqliteStore, fmt: str, fill: bytes, after_header: bool
) -> None:
    """What /dev/zero or a binary file looks like: one line longer than any CSV line, refused
    with its line after reading a bounded part of it, never read whole."""
    head = HEADERS[fmt] if after_header else b""
    path = tmp_path / "endless.csv"
    path.write_bytes(head + fill * (MAX_LINE * 3))
    db = tmp_path / "lines.sqlite3"
    before = table_counts(db)
    config = replace(default_config(), sources={"mapped": MAPPED})
    with pytest.raises(ImportFailed) as caught:
        await import_file(store, config, path, source=fmt, fmt=fmt)
    line = head.count(b"\n") + 1
    assert caught.value.problems == [f"{path}:{line}: {TOO_LONG[0]}"]
    assert table_counts(db) == before


async def test_dev_zero_itself(tmp_path: Path, store: SqliteStore) -> None:
    zero = Path("/dev/zero")
    if not await asyncio.to_thread(zero.exists):
        pytest.skip("no /dev/zero here")
    before = table_counts(tmp_path / "lines.sqlite3")
    with pytest.raises(ImportFailed) as caught:
        await asyncio.wait_for(import_file(store, default_config(), zero, source="z"), 60)
    assert caught.value.problems == [f"{zero}:1: {TOO_LONG[0]}"]
    assert table_counts(tmp_path / "lines.sqlite3") == before


def test_a_long_line_through_the_separate_process_path(tmp_path: Path) -> None:
    path = tmp_path / "endless.csv"
    path.write_bytes(b"period,region,make,model,units\n" + b"\x00" * (MAX_LINE + 10))
    _rows, _parsed, failed = asyncio.run(_staged_by_process(path))
    assert _parsed is not None and _parsed.problems == [f"{path}:2: {TOO_LONG[0]}"]
    assert not failed


# -- characters checked on the decoded text ------------------------------------------------------


def test_a_utf16_file_is_not_refused_for_its_zero_bytes(tmp_path: Path) -> None:
    source = replace(MAPPED, encoding="utf-16")
    path = tmp_path / "utf16.csv"
    path.write_bytes("Month,Country,Brand,Sold\r\n2020-01,Norway,Tesla,7\r\n".encode("utf-16"))
    assert b"\x00" in path.read_bytes()
    parsed = parse_mapped(path, source)
    assert parsed.problems == []
    assert [(r.region, r.make, r.units) for r in parsed.records["mapped"]] == [
        ("Norway", "Tesla", 7)
    ]


@pytest.mark.parametrize(
    "cell,reason",
    [
        ("Nis\x00san", "contains a NUL character: this is not a text CSV file"),
        ("Nis\x07san", "control character U+0007 at column 18"),
        ("Nis\x85san", "control character U+0085 at column 18"),
    ],
)
def test_nul_and_control_characters_in_a_data_row_are_refused_by_both_paths(
    tmp_path: Path, cell: str, reason: str
) -> None:
    """A NUL in a data row was accepted by the fast path and stored in the make's name."""
    path = tmp_path / "nul.csv"
    path.write_bytes(f"period,region,make,model,units\n2020-01,World,{cell},Leaf,5\n".encode())
    assert _fast_canonical(path, "src", None) is None
    assert _careful_canonical(path, "src", None).problems == [f"{path}:2: {reason}"]


def test_undecodable_bytes_are_found_on_the_decoded_text(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"period,region,make,model,units\n2020-01,Z\xfcrich,Nissan,Leaf,5\n")
    assert _fast_canonical(path, "src", None) is None
    assert _careful_canonical(path, "src", None).problems == [
        f"{path}:2: undecodable bytes at column 10 (not utf-8-sig text)"
    ]
    bom = tmp_path / "bom.csv"
    bom.write_bytes(codecs.BOM_UTF8 + b"period,region,make,model,units\n2020-01,World,N,L,5")
    fast = _fast_canonical(bom, "src", None)
    assert fast is not None and [r.units for r in fast.records["src"]] == [5]


@pytest.mark.parametrize("make", ["현대", "Citroën °", "A\u2028B", "Zoé\u00a0E"])
def test_text_that_looks_like_a_control_in_its_bytes_is_no_control(
    tmp_path: Path, make: str
) -> None:
    """Hangul (lead byte ED, as a surrogate's), U+00B0 and U+00A0 (lead byte C2, as a C1
    control's), U+2028 (a line end to `str.splitlines`, not to CSV): plain text, one row."""
    path = tmp_path / "text.csv"
    path.write_text(f'period,region,make,model,units\n2020-01,World,"{make}",,5\n', "utf-8")
    fast = _fast_canonical(path, "src", None)
    assert fast is not None
    assert [r.units for r in fast.records["src"]] == [5]
    _same(fast, _careful_canonical(path, "src", None))
