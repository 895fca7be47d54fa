"""The shipped demo data, bot/data/alliance_demo.csv: format, and the public figures it encodes.

The figures come from scripts/build_demo_data.py (whose docstring says where the sources
disagree and which figures were chosen). These tests fail if a regeneration breaks a milestone
month, a yearly total or the file format.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
CSV_PATH = ROOT / "bot" / "data" / "alliance_demo.csv"
SCRIPT_PATH = ROOT / "scripts" / "build_demo_data.py"

HEADER = ["period", "region", "make", "model", "units", "powertrain"]
FIRST, LAST = "2010-12", "2016-12"
LAUNCH = {
    ("Nissan", "Leaf"): "2010-12",
    ("Nissan", "e-NV200"): "2014-06",
    ("Renault", "Kangoo Z.E."): "2011-10",
    ("Renault", "Fluence Z.E."): "2012-01",
    ("Renault", "Twizy"): "2012-03",
    ("Renault", "Zoe"): "2012-12",
}
RENAULT = ("Zoe", "Kangoo Z.E.", "Twizy", "Fluence Z.E.")

Row = tuple[str, str, str, str, int, str]


def _months(first: str, last: str) -> list[str]:
    year, month = map(int, first.split("-"))
    out: list[str] = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


MONTHS = _months(FIRST, LAST)


def _read(path: Path) -> tuple[list[str], list[str], list[list[str]]]:
    """Comment lines, header, data rows (as strings)."""
    text = path.read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    reader = csv.reader(line for line in text.splitlines() if not line.startswith("#"))
    header = next(reader)
    return comments, header, list(reader)


@pytest.fixture(scope="module")
def raw() -> tuple[list[str], list[str], list[list[str]]]:
    return _read(CSV_PATH)


@pytest.fixture(scope="module")
def rows(raw: tuple[list[str], list[str], list[list[str]]]) -> list[Row]:
    return [(p, r, mk, md, int(u), pt) for p, r, mk, md, u, pt in raw[2]]


def _series(rows: Iterable[Row], models: Iterable[str] | None = None) -> dict[str, int]:
    """Units per month for the chosen models (all models if None)."""
    wanted = None if models is None else set(models)
    out: dict[str, int] = defaultdict(int)
    for period, _region, _make, model, units, _pt in rows:
        if wanted is None or model in wanted:
            out[period] += units
    return out


def _cum(series: dict[str, int], upto: str) -> int:
    return sum(units for period, units in series.items() if period <= upto)


def _between(series: dict[str, int], first: str, last: str) -> int:
    return sum(units for period, units in series.items() if first <= period <= last)


def _crossing(series: dict[str, int], threshold: int) -> str | None:
    """The first month whose cumulative total is >= threshold."""
    total = 0
    for period in MONTHS:
        total += series.get(period, 0)
        if total >= threshold:
            return period
    return None


def _previous(period: str) -> str:
    return MONTHS[MONTHS.index(period) - 1]


# --- format ---------------------------------------------------------------------------------


def test_comments_say_what_the_file_is(raw: tuple[list[str], list[str], list[list[str]]]) -> None:
    comments, _, _ = raw
    assert comments, "the file starts with comment lines"
    assert all(line.startswith("# ") for line in comments)
    text = " ".join(line[2:] for line in comments)
    assert "Renault-Nissan Alliance" in text
    assert "scripts/build_demo_data.py" in text
    assert "estimate" in text
    for source in ("23 Jul 2013", "26 Nov 2014", "24 Jun 2015", "Sep 2016"):
        assert source in text


def test_comments_come_first_then_header() -> None:
    lines = CSV_PATH.read_text(encoding="utf-8").splitlines()
    first_data = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    assert first_data > 0
    assert lines[first_data] == "period,region,make,model,units,powertrain"
    assert not any(line.startswith("#") for line in lines[first_data:])
    assert all(line for line in lines), "no blank lines"


def test_header(raw: tuple[list[str], list[str], list[list[str]]]) -> None:
    assert raw[1] == HEADER


def test_row_format(raw: tuple[list[str], list[str], list[list[str]]]) -> None:
    assert raw[2]
    for row in raw[2]:
        assert len(row) == 6, row
        period, region, make, model, units, powertrain = row
        assert re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period), row
        assert FIRST <= period <= LAST, row
        assert region == "World", row
        assert (make, model) in LAUNCH, row
        assert powertrain == "BEV", row
        assert re.fullmatch(r"0|[1-9]\d*", units), row  # a non-negative integer


def test_sorted_and_unique(rows: list[Row]) -> None:
    keys = [(p, mk, md) for p, _r, mk, md, _u, _pt in rows]
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys))


def test_every_model_from_launch_to_the_end(rows: list[Row]) -> None:
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    units: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for period, _r, make, model, value, _pt in rows:
        seen[make, model].append(period)
        units[make, model][period] = value
    assert set(seen) == set(LAUNCH)
    for key, launch in LAUNCH.items():
        assert seen[key] == _months(launch, LAST), key
        assert units[key][launch] > 0, f"{key} sells in its launch month"


def test_fluence_stops_in_early_2014(rows: list[Row]) -> None:
    fluence = _series(rows, ["Fluence Z.E."])
    assert all(fluence[p] > 0 for p in _months("2012-01", "2014-01"))
    assert all(fluence[p] == 0 for p in _months("2014-04", LAST))


def test_zoe_real_ramp_from_april_2013(rows: list[Row]) -> None:
    zoe = _series(rows, ["Zoe"])
    assert zoe["2012-12"] < 100
    assert max(zoe[p] for p in _months("2013-01", "2013-03")) < 748
    assert zoe["2013-04"] >= 748  # 748 registrations in France alone in April 2013


# --- Alliance milestones (hard requirements) ---------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "month"),
    [(100_000, "2013-07"), (200_000, "2014-11"), (250_000, "2015-06"), (350_000, "2016-08")],
)
def test_alliance_milestone_months(rows: list[Row], threshold: int, month: str) -> None:
    total = _series(rows)
    assert _crossing(total, threshold) == month
    assert _cum(total, month) >= threshold
    assert _cum(total, _previous(month)) < threshold


# --- Alliance totals ---------------------------------------------------------------------------


def test_alliance_end_2014_and_year_2014(rows: list[Row]) -> None:
    total = _series(rows)
    assert abs(_cum(total, "2014-12") - 217_365) <= 500
    assert abs(_between(total, "2014-01", "2014-12") - 82_602) <= 500


def test_alliance_jan_may_2015_growth(rows: list[Row]) -> None:
    total = _series(rows)
    jan_may_2015 = _between(total, "2015-01", "2015-05")
    jan_may_2014 = _between(total, "2014-01", "2014-05")
    assert abs(jan_may_2015 - 31_700) <= 100
    assert 1.14 <= jan_may_2015 / jan_may_2014 <= 1.16


def test_alliance_end_2016_without_mitsubishi(rows: list[Row]) -> None:
    # 424,797 at the end of 2016 includes Mitsubishi, which the file does not. The brief's
    # 410,000-420,000 cannot be reached after 350,000 in August 2016 with the Leaf at ~50,000
    # (see the script's docstring); the total must still be below 424,797 and well above 350,000.
    end_2016 = _cum(_series(rows), "2016-12")
    assert 370_000 <= end_2016 < 424_797


# --- Nissan Leaf -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "units"),
    [(2011, 22_094), (2012, 26_973), (2013, 47_716), (2014, 61_507), (2015, 43_651)],
)
def test_leaf_yearly(rows: list[Row], year: int, units: int) -> None:
    leaf = _series(rows, ["Leaf"])
    assert abs(_between(leaf, f"{year}-01", f"{year}-12") - units) <= units * 0.01


def test_leaf_2016(rows: list[Row]) -> None:
    leaf = _series(rows, ["Leaf"])
    assert abs(_between(leaf, "2016-01", "2016-12") - 50_000) <= 2_500


def test_leaf_at_the_250k_milestone(rows: list[Row]) -> None:
    leaf = _cum(_series(rows, ["Leaf"]), "2015-06")
    alliance = _cum(_series(rows), "2015-06")
    assert 180_000 <= leaf <= 185_000
    assert 0.715 <= leaf / alliance <= 0.735


def test_leaf_crossings(rows: list[Row]) -> None:
    leaf = _series(rows, ["Leaf"])
    assert _crossing(leaf, 100_000) in {"2014-01", "2014-02", "2014-03"}
    assert _crossing(leaf, 200_000) in {"2015-11", "2015-12", "2016-01"}


# --- Renault -----------------------------------------------------------------------------------


def test_renault_yearly(rows: list[Row]) -> None:
    renault = _series(rows, RENAULT)
    assert abs(_between(renault, "2013-01", "2013-12") - 18_673) <= 18_673 * 0.01
    assert abs(_between(renault, "2014-01", "2014-12") - 17_813) <= 17_813 * 0.01


def test_renault_100k(rows: list[Row]) -> None:
    assert _crossing(_series(rows, RENAULT), 100_000) in {"2016-08", "2016-09"}


# --- the script --------------------------------------------------------------------------------


def _load_script() -> ModuleType:
    name = "build_demo_data_under_test"
    spec = importlib.util.spec_from_file_location(name, SCRIPT_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look the module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def test_script_is_deterministic_and_matches_the_committed_file() -> None:
    first = _load_script().build()
    second = _load_script().build()
    assert first == second
    assert first.encode("utf-8") == CSV_PATH.read_bytes()


def test_script_writes_the_same_bytes(tmp_path: Path) -> None:
    target = tmp_path / "alliance_demo.csv"
    assert _load_script().main([str(target)]) == 0
    assert target.read_bytes() == CSV_PATH.read_bytes()


def test_script_does_not_read_the_fact_sheet() -> None:
    source = SCRIPT_PATH.read_text(encoding="utf-8")
    assert "/work/shared" not in source
    assert "shared/data" not in source
