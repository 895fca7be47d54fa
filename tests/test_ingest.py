"""Reading CSV files into sales records: canonical, configured mappings, IEA; every bad input.

Each bad input is checked against the exact `FILE:LINE: reason` the user sees.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.records import ImportFailed, SalesRecord
from bot.domain.settings import SourceConfig, default_config
from bot.domain.staging import MAX_PROBLEMS
from bot.ingest.canonical import _careful_canonical, _fast_canonical, parse_canonical
from bot.ingest.iea import parse_iea
from bot.ingest.importer import import_file
from bot.ingest.mapped import parse_mapped
from bot.ingest.table import Parsed
from bot.store.sqlite.sales import SqliteStore

HEADER = "period,region,make,model,units\n"
IEA_HEADER = "region,category,parameter,mode,powertrain,year,unit,value\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def canonical(tmp_path: Path, text: str | bytes, name: str = "sales.csv") -> tuple[str, Parsed]:
    path = write(tmp_path, name, text)
    return str(path), parse_canonical(path, "src")


def records(parsed: Parsed, source: str = "src") -> list[SalesRecord]:
    return parsed.records.get(source, [])


# -- canonical: good files ---------------------------------------------------------------------


def test_canonical_basic(tmp_path: Path) -> None:
    _, parsed = canonical(
        tmp_path, HEADER + "2014-01,World,Nissan,Leaf,5\n2014,Norway,Tesla,Model S,70\n"
    )
    assert parsed.problems == [] and parsed.notices == []
    assert (parsed.rows_read, parsed.duplicates, parsed.skipped) == (2, 0, 0)
    assert records(parsed) == [
        SalesRecord("2014-01", "World", "Nissan", "Leaf", 5, "", False, 2),
        SalesRecord("2014", "Norway", "Tesla", "Model S", 70, "", False, 3),
    ]


def test_canonical_comments_blank_lines_bom_and_crlf(tmp_path: Path) -> None:
    text = (
        "\ufeff# Monthly EV sales\r\n# second comment, with a comma\r\n\r\n"
        + HEADER.replace("\n", "\r\n")
        + "2014-01,World,Nissan,Leaf,5\r\n\r\n"
        + "2014-02-28,World, Nissan ,  Leaf  ,6\r\n"
    )
    _, parsed = canonical(tmp_path, text)
    assert parsed.problems == []
    assert [(r.line, r.period, r.make, r.model, r.units) for r in records(parsed)] == [
        (5, "2014-01", "Nissan", "Leaf", 5),
        (7, "2014-02-28", "Nissan", "Leaf", 6),
    ]


def test_canonical_optional_columns(tmp_path: Path) -> None:
    text = (
        "period,region,make,model,units,powertrain,source,cumulative\n"
        "2014-01,World,Nissan,Leaf,5,bev,,\n"
        "2014-01,World,Nissan,Leaf,6,Plug-in hybrid (PHEV),press,no\n"
        "2014-06,World,Nissan,Leaf,180000,,press,true\n"
        "2014-07,World,Nissan,Leaf,3,FCEV,,0\n"
    )
    _, parsed = canonical(tmp_path, text)
    assert parsed.problems == []
    assert [(r.units, r.powertrain, r.cumulative) for r in records(parsed)] == [
        (5, "BEV", False),
        (3, "FCEV", False),
    ]
    assert [(r.units, r.powertrain, r.cumulative) for r in records(parsed, "press")] == [
        (6, "PHEV", False),
        (180000, "", True),
    ]


def test_canonical_columns_in_any_order_and_totals_without_make(tmp_path: Path) -> None:
    text = "units,model,make,region,period\n20000,,,Norway,2014\n"
    _, parsed = canonical(tmp_path, text)
    assert records(parsed) == [SalesRecord("2014", "Norway", "", "", 20000, "", False, 2)]


def test_canonical_quoted_fields_and_a_line_break_inside_one(tmp_path: Path) -> None:
    text = HEADER + '2014-01,World,Renault,"Kangoo Z.E., van",5\n2014-01,World,Nissan,"Le\naf",1\n'
    path, parsed = canonical(tmp_path, text + "2014-02,World,Nissan,Leaf,-1\n")
    # the bad row starts on line 5, after a record that spans lines 3 and 4
    assert parsed.problems == [f"{path}:5: negative units '-1': figures are never below 0"]
    assert [r.model for r in records(parsed)] == ["Kangoo Z.E., van", "Le af"]


def test_exact_duplicates_are_counted_once_with_a_notice(tmp_path: Path) -> None:
    text = HEADER + (
        "2014-01,World,Nissan,Leaf,5\n2014-02,World,Nissan,Leaf,6\n2014-01,World,NISSAN,leaf,5\n"
    )
    path, parsed = canonical(tmp_path, text)
    assert parsed.problems == []
    assert parsed.duplicates == 1
    assert parsed.notices == [f"{path}:4: duplicate of line 2, counted once"]
    assert [(r.period, r.units) for r in records(parsed)] == [("2014-01", 5), ("2014-02", 6)]


# -- canonical: every bad input, with FILE:LINE: reason ----------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2014-13,World,Nissan,Leaf,5", "bad period: '2014-13': month 13 is not between 01 and 12"),
        (
            "2014-1,World,Nissan,Leaf,5",
            "bad period: '2014-1' is not a period (expected YYYY, YYYY-MM or YYYY-MM-DD)",
        ),
        (
            "2014-02-30,World,Nissan,Leaf,5",
            "bad period: '2014-02-30': day 30 does not exist in 2014-02",
        ),
        ("1800,World,Nissan,Leaf,5", "bad period: '1800': year 1800 is out of range 1900-2200"),
        (
            "Jan 2014,World,Nissan,Leaf,5",
            "bad period: 'Jan 2014' is not a period (expected YYYY, YYYY-MM or YYYY-MM-DD)",
        ),
        ("2014-01,World,Nissan,Leaf,-5", "negative units '-5': figures are never below 0"),
        ("2014-01,World,Nissan,Leaf,1.5", "units '1.5' is not a whole number"),
        (
            '2014-01,World,Nissan,Leaf,"1,50"',
            "units '1,50' is not a whole number (',' separates thousands here, in groups of "
            "three digits)",
        ),
        ("2014-01,World,Nissan,Leaf,1.5", "units '1.5' is not a whole number"),
        ("2014-01,World,Nissan,Leaf,", "units '' is not a whole number"),
        ("2014-01,World,Nissan,Leaf,many", "units 'many' is not a whole number"),
        ("2014-01,,Nissan,Leaf,5", "region is empty"),
        ("2014-01,World,,Leaf,5", "model 'Leaf' has no make"),
        ("2014-01,World,Nissan,Leaf,5,6", "expected 5 fields, found 6"),
        ("2014-01,World,Nissan", "expected 5 fields, found 3"),
    ],
)
def test_canonical_bad_rows(tmp_path: Path, row: str, reason: str) -> None:
    text = HEADER + "2013-12,World,Nissan,Leaf,1\n" + row + "\n2014-03,World,Nissan,Leaf,2\n"
    path, parsed = canonical(tmp_path, text)
    assert parsed.problems == [f"{path}:3: {reason}"]


def test_bad_optional_values(tmp_path: Path) -> None:
    text = (
        "period,region,make,model,units,powertrain,cumulative\n"
        "2014-01,World,Toyota,Prius,5,hybrid,\n"
        "2014-01,World,Nissan,Leaf,5,BEV,maybe\n"
    )
    path, parsed = canonical(tmp_path, text)
    assert parsed.problems == [
        f"{path}:2: powertrain 'hybrid' is not an accepted value: BEV, PHEV, FCEV, a long "
        "form such as 'Plug-in Hybrid Electric Vehicle (PHEV)', or empty",
        f"{path}:3: cumulative 'maybe' is not true or false",
    ]


POWERTRAIN_HEADER = "period,region,make,model,units,powertrain\n"


@pytest.mark.parametrize(
    "value,expected",
    [
        ("BEV", "BEV"),
        ("bev", "BEV"),
        ("  Phev ", "PHEV"),
        ("fcev", "FCEV"),
        ("Battery Electric Vehicle (BEV)", "BEV"),
        ("battery  electric vehicle (bev)", "BEV"),
        ("Plug-in Hybrid Electric Vehicle (PHEV)", "PHEV"),
        ("Fuel Cell Electric Vehicle (FCEV)", "FCEV"),
        ("", ""),
        ("n/a", ""),
    ],
)
def test_powertrain_accepts_the_three_and_their_long_forms(
    tmp_path: Path, value: str, expected: str
) -> None:
    text = POWERTRAIN_HEADER + f"2014-01,World,Nissan,Leaf,5,{value}\n"
    path = write(tmp_path, "p.csv", text)
    for parsed in (_fast_canonical(path, "src", None), _careful_canonical(path, "src", None)):
        assert parsed is not None and parsed.problems == []
        assert [r.powertrain for r in records(parsed)] == [expected]


@pytest.mark.parametrize(
    "value", ["NOT A BEV", "BEV2", "non-PHEV", "EV", "hybrid", "Plug-in Hybrid (PHEV) no"]
)
def test_powertrain_is_matched_whole_not_by_substring(tmp_path: Path, value: str) -> None:
    text = POWERTRAIN_HEADER + f"2014-01,World,Nissan,Leaf,5,{value}\n"
    path, parsed = canonical(tmp_path, text)
    assert parsed.problems == [
        f"{path}:2: powertrain {value!r} is not an accepted value: BEV, PHEV, FCEV, a long form "
        "such as 'Plug-in Hybrid Electric Vehicle (PHEV)', or empty"
    ]
    assert _fast_canonical(Path(path), "src", None) is None
    mapped = SourceConfig(
        name="m",
        columns={c: c for c in ("period", "region", "units", "powertrain")},
    )
    problems = parse_mapped(Path(path), mapped).problems
    assert len(problems) == 1 and problems[0].startswith(f"{path}:2: powertrain {value!r} is not")


def test_a_source_maps_its_own_powertrain_spellings(tmp_path: Path) -> None:
    text = POWERTRAIN_HEADER + "2014-01,World,Nissan,Leaf,5,Elétrico\n2014-01,World,Kia,Niro,2,X\n"
    path = write(tmp_path, "own.csv", text)
    own = {"elétrico": "BEV"}
    parsed = parse_canonical(path, "src", powertrains=own)
    assert parsed.problems == [
        f"{path}:3: powertrain 'X' is not an accepted value: BEV, PHEV, FCEV, a long form such "
        "as 'Plug-in Hybrid Electric Vehicle (PHEV)', or empty, or one of this source's 'elétrico'"
    ]
    parsed = parse_canonical(path, "src", powertrains={**own, "x": "PHEV"})
    assert [(r.make, r.powertrain) for r in records(parsed)] == [("Nissan", "BEV"), ("Kia", "PHEV")]
    mapped = SourceConfig(
        name="m",
        columns={c: c for c in ("period", "region", "units", "powertrain")},
        powertrains={"ELETRICO": "BEV", "x": "FCEV"},
    )
    assert [r.powertrain for r in parse_mapped(path, mapped).records["m"]] == ["BEV", "FCEV"]


async def test_a_configured_powertrain_map_reaches_a_canonical_import(
    tmp_path: Path, store: SqliteStore
) -> None:
    path = write(tmp_path, "own.csv", POWERTRAIN_HEADER + "2014-01,World,Nissan,Leaf,5,E\n")
    source = SourceConfig(name="own", format="canonical", powertrains={"E": "BEV"})
    config = replace(default_config(), sources={"own": source})
    report = await import_file(store, config, path, source="own")
    assert report.summaries[0].records == 1
    with pytest.raises(ImportFailed) as caught:
        await import_file(store, default_config(), path, source="other")
    assert caught.value.problems[0].startswith(f"{path}:2: powertrain 'E' is not")


def test_every_bad_row_is_reported_not_only_the_first(tmp_path: Path) -> None:
    text = HEADER + "".join(
        f"2014-{m:02d},World,Nissan,Leaf,{'-1' if m % 3 == 0 else m}\n" for m in range(1, 13)
    )
    path, parsed = canonical(tmp_path, text)
    assert parsed.problems == [
        f"{path}:{m + 1}: negative units '-1': figures are never below 0" for m in (3, 6, 9, 12)
    ]


def test_a_flood_of_bad_rows_is_summarised(tmp_path: Path) -> None:
    text = HEADER + "2014-01,World,Nissan,Leaf,x\n" * (MAX_PROBLEMS + 50)
    path, parsed = canonical(tmp_path, text)
    assert len(parsed.problems) == MAX_PROBLEMS + 1
    assert parsed.problems[0] == f"{path}:2: units 'x' is not a whole number"
    assert parsed.problems[-1] == "... and 50 more problems"


def test_conflicting_duplicates_are_refused(tmp_path: Path) -> None:
    text = (
        HEADER
        + "2014-01,World,Nissan,Leaf,5\n2014-02,World,Nissan,Leaf,6\n2014-01,World,Nissan,LEAF,7\n"
    )
    path, parsed = canonical(tmp_path, text)
    assert parsed.problems == [
        f"{path}:4: conflicting duplicate of line 2: same period, region, make, model and "
        "powertrain with 7 units instead of 5"
    ]


def test_the_same_key_in_two_sources_is_no_duplicate(tmp_path: Path) -> None:
    text = (
        "period,region,make,model,units,source\n"
        "2014-01,World,Nissan,Leaf,5,a\n2014-01,World,Nissan,Leaf,7,b\n"
    )
    _, parsed = canonical(tmp_path, text)
    assert parsed.problems == [] and parsed.duplicates == 0
    assert {s: [r.units for r in rs] for s, rs in parsed.records.items()} == {"a": [5], "b": [7]}


def test_a_missing_column(tmp_path: Path) -> None:
    path, parsed = canonical(tmp_path, "period,region,make,model\n2014-01,World,Nissan,Leaf\n")
    assert parsed.problems == [
        f"{path}:1: missing column 'units' (the header has 'period', 'region', 'make', 'model')"
    ]
    path, parsed = canonical(tmp_path, "# a comment\nperiod,make,model\n", "two.csv")
    assert parsed.problems == [
        f"{path}:2: missing columns 'region', 'units' (the header has 'period', 'make', 'model')"
    ]


def test_an_unknown_or_repeated_column(tmp_path: Path) -> None:
    path, parsed = canonical(tmp_path, "period,region,make,model,units,colour\n")
    assert parsed.problems == [
        f"{path}:1: unknown column 'colour' (the canonical columns are period, region, make, "
        "model, units, powertrain, source, cumulative)"
    ]
    path, parsed = canonical(tmp_path, "period,region,make,model,units,units\n", "twice.csv")
    assert parsed.problems == [f"{path}:1: column 'units' appears twice in the header"]


def test_undecodable_bytes(tmp_path: Path) -> None:
    text = (HEADER + "2014-01,World,Nissan,Leaf,5\n2014-02,World,Renault,Zo\xe9,5\n").encode(
        "latin-1"
    )
    path, parsed = canonical(tmp_path, text)
    assert len(parsed.problems) == 1
    assert parsed.problems[0].startswith(f"{path}:3: undecodable bytes at column 25 ")


def test_nul_bytes(tmp_path: Path) -> None:
    path, parsed = canonical(tmp_path, HEADER + "2014-01,World,Nissan,Leaf,5\x00\n")
    assert parsed.problems == [f"{path}:2: contains a NUL character: this is not a text CSV file"]


def test_empty_files(tmp_path: Path) -> None:
    for name, text in (("empty.csv", ""), ("comments.csv", "# only a comment\n\n")):
        path, parsed = canonical(tmp_path, text, name)
        assert parsed.problems == [
            f"{path}:1: empty file: expected a header line period,region,make,model,units"
        ]


def test_a_malformed_quote(tmp_path: Path) -> None:
    path, parsed = canonical(tmp_path, HEADER + '2014-01,World,"Nis"san,Leaf,5\n')
    assert parsed.problems == [f"{path}:2: malformed CSV: ',' expected after '\"'"]


def test_an_unclosed_quote_names_the_line_where_it_opens(tmp_path: Path) -> None:
    text = (
        HEADER
        + '2014-01,World,Nissan,"Leaf,5\n2014-02,World,Nissan,Leaf,1\n2014-03,World,Nissan,Leaf,1\n'
    )
    path, parsed = canonical(tmp_path, text)
    assert len(parsed.problems) == 1
    assert parsed.problems[0].startswith(f"{path}:2: ")


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed) as caught:
        parse_canonical(tmp_path / "nope.csv", "src")
    assert caught.value.problems[0].startswith(f"{tmp_path / 'nope.csv'}: cannot read: ")


# -- mapped sources ----------------------------------------------------------------------------

COUNTY = SourceConfig(
    name="wa",
    metric="stock",
    figures="running",
    aggregate=True,
    columns={"period": "Date", "region": "State", "units": "EV Total"},
    include={"State": ("wa",)},  # filters ignore case
    period_format="%B %d %Y",
    granularity="month",
)
COUNTY_TEXT = (
    "\ufeffDate,County,State,EV Total,Other\r\n"
    'January 31 2017,King,WA,"2,578",x\r\n'
    "January 31 2017,Kitsap,WA,898,x\r\n"
    "January 31 2017,NULL,NULL,13,x\r\n"
    "January 31 2017,Ozaukee,WI,1,x\r\n"
    'February 28 2017,King,WA,"2,600",x\r\n'
)


def test_mapped_columns_filters_period_format_thousands_and_aggregation(tmp_path: Path) -> None:
    path = write(tmp_path, "county.csv", COUNTY_TEXT)
    parsed = parse_mapped(path, COUNTY)
    assert parsed.problems == []
    assert (parsed.rows_read, parsed.skipped, parsed.duplicates) == (5, 2, 0)
    assert parsed.records == {
        "wa": [
            SalesRecord("2017-01", "WA", "", "", 3476, "", True, 2),
            SalesRecord("2017-02", "WA", "", "", 2600, "", True, 6),
        ]
    }


def test_mapped_constants_and_per_vehicle_counting(tmp_path: Path) -> None:
    source = SourceConfig(
        name="vehicles",
        aggregate=True,
        columns={"make": "Make", "model": "Model", "powertrain": "Electric Vehicle Type"},
        constants={"period": "2026-01", "region": "Washington", "units": "1"},
    )
    text = (
        "VIN,Make,Model,Electric Vehicle Type,Utility\r\n"
        "1,NISSAN,LEAF,Battery Electric Vehicle (BEV),A\r\n"
        '2,NISSAN,LEAF,Battery Electric Vehicle (BEV),"B, INC"\r\n'
        "3,nissan,leaf,Battery Electric Vehicle (BEV),A|B\r\n"
        "4,KIA,NIRO,Plug-in Hybrid Electric Vehicle (PHEV),\r\n"
    )
    parsed = parse_mapped(write(tmp_path, "vehicles.csv", text), source)
    assert parsed.problems == []
    assert [(r.make, r.model, r.powertrain, r.units) for r in parsed.records["vehicles"]] == [
        ("NISSAN", "LEAF", "BEV", 3),
        ("KIA", "NIRO", "PHEV", 1),
    ]


def test_mapped_include_by_field_name_is_case_insensitive(tmp_path: Path) -> None:
    source = SourceConfig(
        name="us",
        columns={
            "period": "date",
            "make": "brand",
            "model": "model",
            "units": "sales",
            "powertrain": "category",
        },
        constants={"region": "USA"},
        include={"powertrain": ("BEV", "phev")},
        granularity="month",
    )
    text = (
        "brand,model,category,sales,date\n"
        "Nissan,Leaf,bev,1539,2012-11-01\n"
        "Toyota,Prius,hybrid,9000,2012-11-01\n"
        "Chevrolet,Volt,PHEV,2961,2012-11-01\n"
        "Honda,Accord,hybrid,426,2013-12-01\n"
    )
    parsed = parse_mapped(write(tmp_path, "us.csv", text), source)
    assert parsed.problems == [] and parsed.skipped == 2
    assert [(r.period, r.region, r.model, r.powertrain, r.units) for r in parsed.records["us"]] == [
        ("2012-11", "USA", "Leaf", "BEV", 1539),
        ("2012-11", "USA", "Volt", "PHEV", 2961),
    ]


def test_mapped_thousands_separator_and_granularity_year(tmp_path: Path) -> None:
    source = SourceConfig(
        name="fr",
        columns={"period": "Date", "units": "N"},
        constants={"region": "France"},
        thousands=" ",
        granularity="year",
    )
    parsed = parse_mapped(
        write(tmp_path, "fr.csv", "Date,N\n2014-03-31,1 000\n2015-06,12\n"), source
    )
    assert parsed.problems == []
    assert [(r.period, r.units) for r in parsed.records["fr"]] == [("2014", 1000), ("2015", 12)]


def test_mapped_without_aggregate_refuses_conflicting_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "county.csv", COUNTY_TEXT)
    parsed = parse_mapped(path, replace(COUNTY, aggregate=False))
    assert parsed.problems == [
        f"{path}:3: conflicting duplicate of line 2: same period, region, make, model and "
        "powertrain with 898 units instead of 2578"
    ]


def test_mapped_other_encoding(tmp_path: Path) -> None:
    source = SourceConfig(
        name="ch", columns={"period": "Y", "units": "N", "region": "R"}, encoding="latin-1"
    )
    parsed = parse_mapped(
        write(tmp_path, "ch.csv", "Y,N,R\n2014,1,Zürich\n".encode("latin-1")), source
    )
    assert parsed.problems == []
    assert parsed.records["ch"][0].region == "Zürich"


def test_mapped_bad_rows(tmp_path: Path) -> None:
    text = (
        "Date,State,EV Total,Type\n"
        "February 30 2017,WA,9,BEV\n"
        "March 31 2017,WA,9,diesel\n"
        'March 31 2017,WA,"1.000",BEV\n'
        "March 31 2017,WA,-4,BEV\n"
        "2017-03-31,WA,4,BEV\n"
        "April 30 2017,WA,4\n"
    )
    source = replace(COUNTY, aggregate=False, columns={**COUNTY.columns, "powertrain": "Type"})
    path = write(tmp_path, "bad.csv", text)
    parsed = parse_mapped(path, source)
    assert parsed.problems == [
        f"{path}:2: bad period 'February 30 2017' (expected %B %d %Y): "
        "day is out of range for month",
        f"{path}:3: powertrain 'diesel' is not an accepted value: BEV, PHEV, FCEV, a long form "
        "such as 'Plug-in Hybrid Electric Vehicle (PHEV)', or empty (leave such rows out with "
        "an include rule, or map the value with the source's `powertrains`)",
        f"{path}:4: units '1.000' is not a whole number: if '.' separates thousands, say so "
        'with thousands = "." on the source or --thousands . on evbot import',
        f"{path}:5: negative units '-4': figures are never below 0",
        f"{path}:6: bad period '2017-03-31' (expected %B %d %Y): time data '2017-03-31' does not "
        "match format '%B %d %Y'",
        f"{path}:7: expected 4 fields, found 3",
    ]


def test_mapped_missing_columns_and_filters(tmp_path: Path) -> None:
    path = write(tmp_path, "other.csv", "Date,County,Total\nJanuary 31 2017,King,5\n")
    assert parse_mapped(path, COUNTY).problems == [
        f"{path}:1: missing columns 'State', 'EV Total' (the header has 'Date', 'County', 'Total'; "
        "did you mean 'EV Total' instead of 'Total'?)"
    ]
    source = replace(
        COUNTY, columns={"period": "Date", "units": "Total"}, constants={"region": "WA"}
    )
    assert parse_mapped(path, source).problems == [
        f"{path}:1: include filter 'State' names no column of this file"
    ]


# -- IEA ---------------------------------------------------------------------------------------

IEA_ROWS = [
    "World,Historical,EV sales,Cars,BEV,2014,Vehicles,200000",
    "World,Historical,EV sales,Cars,PHEV,2014,Vehicles,120000",
    "Europe,Historical,EV sales,Cars,BEV,2014,Vehicles,50000",
    "Norway,Historical,EV sales,Cars,BEV,2014,Vehicles,20000",
    "Norway,Historical,EV stock,Cars,BEV,2014,Vehicles,40000",
    "Norway,Projection-STEPS,EV sales,Cars,BEV,2025,Vehicles,99000",
    "Norway,Historical,EV sales share,Cars,EV,2014,percent,13",
    "Norway,Historical,EV sales,Buses,BEV,2014,Vehicles,3",
    'World,Historical,"Oil displacement, million lge",Cars,EV,2014,'
    '"Oil displacement, million lge",1.5',
    "Norway,Historical,EV sales,Cars,FCEV,2014,Vehicles,2.200000048",
]


def test_iea_keeps_historical_car_sales_only(tmp_path: Path) -> None:
    path = write(
        tmp_path, "iea.csv", (IEA_HEADER + "\n".join(IEA_ROWS) + "\n").replace("\n", "\r\n")
    )
    parsed = parse_iea(path, "iea")
    assert parsed.problems == []
    # the sales share is kept apart, as a market share (tests/test_market_share.py), never units
    assert (parsed.rows_read, parsed.skipped, len(parsed.shares)) == (10, 4, 1)
    assert (parsed.shares[0].region, parsed.shares[0].percent) == ("Norway", 13.0)
    assert [
        (r.region, r.period, r.powertrain, r.units, r.make, r.model) for r in parsed.records["iea"]
    ] == [
        ("World", "2014", "BEV", 200000, "", ""),
        ("World", "2014", "PHEV", 120000, "", ""),
        ("Europe", "2014", "BEV", 50000, "", ""),
        ("Norway", "2014", "BEV", 20000, "", ""),
        ("Norway", "2014", "FCEV", 2, "", ""),
    ]


def test_iea_bad_rows(tmp_path: Path) -> None:
    rows = [
        "Norway,Historical,EV sales,Cars,PHEV,2014,Vehicles,-3",
        "Norway,Historical,EV sales,Cars,PHEV,20x4,Vehicles,3",
        "Norway,Historical,EV sales,Cars,PHEV,2013,Vehicles,nan",
        "Norway,Historical,EV sales,Cars,PHEV,2012,Vehicles,lots",
        "Norway,Historical,EV sales,Cars,PHEV,2011,Vehicles",
    ]
    path = write(tmp_path, "iea.csv", IEA_HEADER + "\n".join(rows) + "\n")
    parsed = parse_iea(path, "iea")
    assert parsed.problems == [
        f"{path}:2: value '-3' is not a count of vehicles",
        f"{path}:3: bad year or value: '20x4' is not a period "
        "(expected YYYY, YYYY-MM or YYYY-MM-DD)",
        f"{path}:4: value 'nan' is not a count of vehicles",
        f"{path}:5: bad year or value: could not convert string to float: 'lots'",
        f"{path}:6: expected 8 fields, found 7",
    ]


def test_iea_infinite_value_is_a_bad_row(tmp_path: Path) -> None:
    path = write(
        tmp_path, "iea.csv", IEA_HEADER + "Norway,Historical,EV sales,Cars,BEV,2014,Vehicles,inf\n"
    )
    assert parse_iea(path, "iea").problems == [f"{path}:2: value 'inf' is not a count of vehicles"]


def test_iea_wrong_header(tmp_path: Path) -> None:
    path = write(tmp_path, "iea.csv", "region,year,value\nWorld,2014,5\n")
    assert parse_iea(path, "iea").problems == [
        f"{path}:1: missing columns 'category', 'parameter', 'mode', 'powertrain', 'unit' "
        "(the header has 'region', 'year', 'value')"
    ]


# -- import_file: parse, then one transaction --------------------------------------------------


async def test_import_file_names_the_source_after_the_file(
    tmp_path: Path, store: SqliteStore
) -> None:
    path = write(
        tmp_path,
        "nordic-sales.csv",
        HEADER + "2014-01,Norway,Nissan,Leaf,5\n2014-01,Norway,Nissan,Leaf,5\n",
    )
    report = await import_file(store, default_config(), path)
    assert report.file == str(path)
    assert (report.rows_read, report.duplicates, report.skipped) == (2, 1, 0)
    assert report.notices == [f"{path}:3: duplicate of line 2, counted once"]
    [summary] = report.summaries
    assert (summary.source, summary.records, summary.new, summary.duplicates) == (
        "nordic-sales",
        1,
        1,
        1,
    )
    assert [s.name for s in await store.sources()] == ["nordic-sales"]


async def test_import_file_with_a_bad_row_writes_nothing(
    tmp_path: Path, store: SqliteStore
) -> None:
    await import_file(
        store, default_config(), write(tmp_path, "a.csv", HEADER + "2014-01,World,Nissan,Leaf,5\n")
    )
    head, count = await store.journal_head(), await store.count_records()
    path = write(
        tmp_path, "b.csv", HEADER + "2014-02,World,Nissan,Leaf,5\n2014-03,World,Nissan,Leaf,-1\n"
    )
    with pytest.raises(ImportFailed) as caught:
        await import_file(store, default_config(), path, source="a")
    assert caught.value.problems == [f"{path}:3: negative units '-1': figures are never below 0"]
    assert (await store.journal_head(), await store.count_records()) == (head, count)


async def test_import_file_dry_run(tmp_path: Path, store: SqliteStore) -> None:
    path = write(tmp_path, "a.csv", HEADER + "2014-01,World,Nissan,Leaf,5\n")
    report = await import_file(store, default_config(), path, dry_run=True)
    assert [(s.dry_run, s.new) for s in report.summaries] == [(True, 1)]
    assert (await store.count_records(), await store.journal_head(), await store.sources()) == (
        0,
        0,
        [],
    )


async def test_import_file_of_a_configured_source(tmp_path: Path, store: SqliteStore) -> None:
    path = write(tmp_path, "county.csv", COUNTY_TEXT)
    config = replace(default_config(), sources={"wa": replace(COUNTY, file=str(path))})
    report = await import_file(store, config, source="wa")
    assert (report.rows_read, report.skipped) == (5, 2)
    [source] = await store.sources()
    assert (source.name, source.metric) == ("wa", "stock")
    rows = await store.all_increments()
    assert [(str(r.month), r.inc) for r in rows] == [("2017-01", 3476), ("2017-02", -876)]


async def test_import_file_iea_format(tmp_path: Path, store: SqliteStore) -> None:
    path = write(tmp_path, "IEA Global EV Data 2024.csv", IEA_HEADER + "\n".join(IEA_ROWS) + "\n")
    report = await import_file(store, default_config(), path, fmt="iea")
    assert [s.source for s in report.summaries] == ["iea"]
    assert await store.regions() == ["Europe", "Norway", "World"]


async def test_import_file_refusals(tmp_path: Path, store: SqliteStore) -> None:
    config = replace(
        default_config(), sources={"nofile": SourceConfig(name="nofile", format="canonical")}
    )
    cases = [
        ("unknown", "no file given and no configured source 'unknown' (nofile)"),
        ("nofile", "source 'nofile' has no file in the configuration"),
    ]
    for source, message in cases:
        with pytest.raises(ImportFailed) as caught:
            await import_file(store, config, source=source)
        assert caught.value.problems == [message]
    path = write(tmp_path, "a.csv", HEADER + "2014-01,World,Nissan,Leaf,5\n")
    with pytest.raises(ImportFailed, match="unknown format 'xlsx'"):
        await import_file(store, config, path, fmt="xlsx")
    empty = write(tmp_path, "empty.csv", HEADER)
    with pytest.raises(ImportFailed) as caught:
        await import_file(store, config, empty)
    assert caught.value.problems == [
        f"{empty}: no figures to import (0 rows read, 0 left out by filters)"
    ]
    assert await store.sources() == []


# -- the fast path reads exactly what the careful path reads ----------------------------------

_CELL = st.one_of(
    st.sampled_from(["2014-03", "2015", "2016-02-29", " 2014-3 ", "June 2015", "", "x"]),
    st.sampled_from(["World", " USA ", "", "Norway"]),
    st.sampled_from(["Nissan", "Renault  ", "", "Zoé"]),
    st.sampled_from(["Leaf", "Zoe", "", "Model  3"]),
    st.sampled_from(["0", "12", " 7 ", "1,000", "-3", "4.5", "١٢", ""]),
    st.sampled_from(["BEV", "phev", "", "diesel"]),
    st.sampled_from(["true", "no", "", "maybe"]),
)


@settings(max_examples=150, deadline=None)
@given(
    header=st.permutations(["period", "region", "make", "model", "units", "powertrain"]),
    rows=st.lists(st.lists(_CELL, min_size=5, max_size=7), max_size=12),
    blank=st.booleans(),
)
def test_the_fast_path_agrees_with_the_careful_one(
    tmp_path_factory: pytest.TempPathFactory, header: list[str], rows: list[list[str]], blank: bool
) -> None:
    path = tmp_path_factory.mktemp("fast") / "f.csv"
    lines = [",".join(header)] + [",".join(f'"{c}"' for c in row[: len(header)]) for row in rows]
    if blank:
        lines.insert(len(lines) // 2 + 1, "")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast = _fast_canonical(path, "src", None)
    careful = _careful_canonical(path, "src", None)
    if fast is not None:  # the fast path only answers when the file is clean
        assert not careful.problems
        assert fast == careful
    else:  # and declines only a file the careful path finds a problem in
        assert careful.problems


def test_header_names_in_any_case_and_with_spaces(tmp_path: Path) -> None:
    text = " Period ,REGION,Make,  model,Units , PowerTrain\n2014-01,World,Nissan,Leaf,5,BEV\n"
    for careful in (False, True):
        path = write(tmp_path, "cased.csv", text)
        parsed = _careful_canonical(path, "s", None) if careful else parse_canonical(path, "s")
        assert parsed.problems == []
        assert parsed.records["s"] == [
            SalesRecord("2014-01", "World", "Nissan", "Leaf", 5, "BEV", False, 2)
        ]
    path = write(
        tmp_path,
        "iea.csv",
        IEA_HEADER.upper() + "World,Historical,EV sales,Cars,BEV,2014,Vehicles,9\n",
    )
    assert [r.units for r in parse_iea(path, "iea").records["iea"]] == [9]
    source = SourceConfig(
        name="m", columns={"period": "Date", "units": "EV Total", "region": "State"}
    )
    path = write(tmp_path, "m.csv", "date, ev  total ,STATE\n2017-01,250,WA\n")
    assert [r.units for r in parse_mapped(path, source).records["m"]] == [250]


def test_an_unknown_header_names_the_closest_expected_one(tmp_path: Path) -> None:
    path, parsed = canonical(tmp_path, "period,region,make,model,unts\n2014-01,World,N,L,5\n")
    assert parsed.problems == [
        f"{path}:1: missing column 'units' (the header has 'period', 'region', 'make', 'model', "
        "'unts'; did you mean 'units' instead of 'unts'?)"
    ]
    path, parsed = canonical(tmp_path, "period,region,make,model,units,powertrian\n", "p.csv")
    assert parsed.problems == [
        f"{path}:1: unknown column 'powertrian' (did you mean 'powertrain'? the canonical "
        "columns are period, region, make, model, units, powertrain, source, cumulative)"
    ]
