"""Files people have, imported end to end through `evbot import`: headers in any case, other
delimiters, UTF-16, thousands separators and the IEA file recognised by its header. Each either
imports correctly or fails with `FILE:LINE: reason` and a hint, writing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main
from bot.domain.settings import default_config
from bot.ingest.importer import import_file
from bot.store.sqlite.sales import SqliteStore


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVBOT_DB", raising=False)
    monkeypatch.delenv("EVBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def total(capsys: pytest.CaptureFixture[str], db: Path, subject: str = "leaf") -> str:
    status, out, _ = run(capsys, "total", subject, "--db", str(db))
    assert status == 0
    return out


def test_headers_in_any_case_import_and_a_misspelt_one_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "h.sqlite3"
    path = tmp_path / "cased.csv"
    path.write_text(" Period , Region ,MAKE,Model,UNITS\n2021-03,World,Nissan,Leaf,1234\n")
    status, _out, err = run(capsys, "import", str(path), "--db", str(db))
    assert status == 0, err
    assert "1,234" in total(capsys, db)
    bad = tmp_path / "typo.csv"
    bad.write_text("period,region,make,model,untis\n2021-04,World,Nissan,Leaf,5\n")
    status, _out, err = run(capsys, "import", str(bad), "--db", str(db))
    assert status == 1
    assert f"{bad}:1: missing column 'units'" in err
    assert "did you mean 'units' instead of 'untis'?" in err
    assert "1,234" in total(capsys, db)  # nothing written


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_files_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], delimiter: str
) -> None:
    db = tmp_path / "d.sqlite3"
    path = tmp_path / "sales.csv"
    rows = [
        ["# exported by a spreadsheet"],
        ["period", "region", "make", "model", "units"],
        ["2021-03", "World", "Nissan", "Leaf", "700"],
        ["2021-04", "World", "Nissan", '"Leaf"', "300"],
    ]
    path.write_text("".join(delimiter.join(r) + "\r\n" for r in rows))
    status, out, err = run(capsys, "import", str(path), "--db", str(db))
    assert status == 0, err
    assert "2 rows read" in out
    assert "1,000" in total(capsys, db)
    # a row cut differently from its header is refused at its line, naming what was found
    bad = tmp_path / "bad.csv"
    bad.write_text(delimiter.join(rows[1]) + "\n2021-05,World,Nissan,Leaf,9\n")
    status, _out, err = run(capsys, "import", str(bad), "--db", str(db))
    assert status == 1 and f"{bad}:2: expected 5 fields, found 1 (the header separates" in err


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_excel_unicode_text_utf16_with_a_bom_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoding: str
) -> None:
    """Excel's "Save as Unicode text": UTF-16 with a byte-order mark, tab-separated."""
    db = tmp_path / "u.sqlite3"
    path = tmp_path / "unicode.txt"
    text = "period\tregion\tmake\tmodel\tunits\r\n2021-03\tQuébec\tNissan\tLeaf\t42\r\n"
    bom = "\ufeff" if encoding == "utf-16-be" else ""  # Python's utf-16 writes its own
    path.write_bytes((bom + text).encode(encoding))
    status, _out, err = run(capsys, "import", str(path), "--db", str(db))
    assert status == 0, err
    assert "42" in total(capsys, db, "leaf")
    status, out, _ = run(capsys, "total", "leaf", "--region", "Québec", "--db", str(db))
    assert "42" in out
    # without its mark, UTF-16 is no text evbot can read: refused at its line, with the reason
    bare = tmp_path / "bare.txt"
    bare.write_bytes(text.encode("utf-16-le"))
    status, _out, err = run(capsys, "import", str(bare), "--db", str(db))
    assert status == 1 and f"{bare}:1: contains a NUL character" in err


def test_thousands_quoted_in_a_comma_file_or_as_the_import_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "t.sqlite3"
    comma = tmp_path / "comma.csv"
    comma.write_text('period,region,make,model,units\n2021-03,World,Nissan,Leaf,"1,234"\n')
    status, _out, err = run(capsys, "import", str(comma), "--source", "s", "--db", str(db))
    assert status == 0, err
    assert "1,234" in total(capsys, db)
    # in a semicolon file "1.234" may be a thousand or a decimal: refused, with the way to say it
    semi = tmp_path / "semi.csv"
    semi.write_text("period;region;make;model;units\n2021-04;World;Nissan;Leaf;2.000\n")
    status, _out, err = run(capsys, "import", str(semi), "--source", "s", "--db", str(db))
    assert status == 1
    assert (
        f"{semi}:2: units '2.000' is not a whole number: if '.' separates thousands, say so "
        'with thousands = "." on the source or --thousands . on evbot import'
    ) in err
    assert "1,234" in total(capsys, db)  # nothing written
    status, _out, err = run(
        capsys, "import", str(semi), "--thousands", ".", "--source", "s", "--db", str(db)
    )
    assert status == 0, err
    assert "3,234" in total(capsys, db)
    # a separator that does not group by three is no thousands separator
    odd = tmp_path / "odd.csv"
    odd.write_text("period;region;make;model;units\n2021-05;World;Nissan;Leaf;1.5\n")
    status, _out, err = run(
        capsys, "import", str(odd), "--thousands", ".", "--source", "s", "--db", str(db)
    )
    assert status == 1
    assert f"{odd}:2: units '1.5' is not a whole number ('.' separates thousands here" in err
    status, _out, err = run(
        capsys, "import", str(odd), "--thousands", "5", "--source", "s", "--db", str(db)
    )
    assert status == 1 and "thousands separator '5': at most 3 characters, and no digits" in err


def test_thousands_on_a_configured_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.sqlite3"
    data = tmp_path / "de.csv"
    data.write_text("Monat;Land;Neuzulassungen\n2021-03;Germany;12.345\n")
    config = tmp_path / "evbot.toml"
    config.write_text(
        "[sources.kba]\n"
        f'file = "{data}"\n'
        'thousands = "."\n'
        'columns = { period = "Monat", region = "Land", units = "Neuzulassungen" }\n'
    )
    status, _out, err = run(
        capsys, "import", "--source", "kba", "--config", str(config), "--db", str(db)
    )
    assert status == 0, err
    status, out, _ = run(capsys, "total", "all", "--region", "Germany", "--db", str(db))
    assert "12,345" in out


IEA_ROWS = (
    "World,Historical,EV sales,Cars,BEV,2014,Vehicles,200000\n"
    "Norway,Historical,EV sales,Cars,BEV,2014,Vehicles,20000\n"
)


def test_the_iea_file_is_recognised_by_its_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "i.sqlite3"
    path = tmp_path / "IEA-EV-dataEV salesCarsHistorical.csv"
    path.write_text("region,category,parameter,mode,powertrain,year,unit,value\n" + IEA_ROWS)
    status, out, err = run(capsys, "import", str(path), "--db", str(db))
    assert status == 0, err
    assert "read as the IEA Global EV Data Explorer export" in err
    assert "as source 'iea': 2 rows read, 2 figures" in out
    assert "20,000" in total(capsys, db, "norway")
    # one misspelt column: still the IEA file, and the IEA's column is named
    bad = tmp_path / "iea-typo.csv"
    bad.write_text("region,category,parameter,mode,powertrain,yaer,unit,value\n" + IEA_ROWS)
    status, _out, err = run(capsys, "import", str(bad), "--db", str(db))
    assert status == 1
    assert f"{bad}:1: missing column 'year'" in err and "did you mean 'year' instead of" in err


async def test_a_parser_process_reads_utf16_semicolons_and_the_thousands_given(
    tmp_path: Path,
) -> None:
    """The same file through a parse in a process of its own (as a large file is parsed)."""
    path = tmp_path / "big.csv"
    path.write_text("Period;Region;Make;Model;Units\n2021-03;World;Nissan;Leaf;1.234\n", "utf-16")
    async with SqliteStore(tmp_path / "p.sqlite3") as store:
        report = await import_file(
            store, default_config(), path, processes=True, thousands=".", source="s"
        )
        assert [s.records for s in report.summaries] == [1]
        assert await store.count_records() == 1
