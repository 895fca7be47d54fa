from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.growth import eligible, record_month, year_to_date
from bot.domain.periods import Month


def test_year_to_date() -> None:
    monthly = {
        Month(2023, 1): 100,
        Month(2023, 5): 50,
        Month(2023, 6): 999,  # after May: not in the window
        Month(2024, 1): 120,
        Month(2024, 3): 30,
        Month(2024, 5): 40,
        Month(2022, 5): 7,  # two years back: not in the window
    }
    assert year_to_date(monthly, Month(2024, 5)) == (190, 150)
    assert year_to_date(monthly, Month(2024, 1)) == (120, 100)
    assert year_to_date(monthly, Month(2023, 12)) == (1_149, 7)
    assert year_to_date({}, Month(2024, 5)) == (0, 0)


def test_record_month() -> None:
    monthly = {
        Month(2020, 1): 100,
        Month(2020, 2): 300,
        Month(2020, 3): 250,
        Month(2020, 4): 300,
        Month(2020, 5): 301,
        Month(2020, 7): 900,  # later than the month asked: ignored
    }
    assert record_month(monthly, Month(2020, 5)) == (300, Month(2020, 2))
    assert record_month(monthly, Month(2020, 4)) is None  # a tie is not a record
    assert record_month(monthly, Month(2020, 3)) is None
    assert record_month(monthly, Month(2020, 2)) == (100, Month(2020, 1))
    assert record_month(monthly, Month(2020, 1)) is None  # nothing earlier
    assert record_month(monthly, Month(2020, 6)) is None  # missing month = 0
    assert record_month(monthly, Month(2020, 8)) is None
    monthly[Month(2020, 8)] = 901
    assert record_month(monthly, Month(2020, 8)) == (900, Month(2020, 7))


def test_record_month_needs_an_earlier_month_with_sales() -> None:
    monthly = {Month(2020, 1): 0, Month(2020, 2): 0, Month(2020, 3): 5}
    assert record_month(monthly, Month(2020, 3)) is None
    monthly[Month(2019, 12)] = 1
    assert record_month(monthly, Month(2020, 3)) == (1, Month(2019, 12))


@given(st.dictionaries(st.integers(0, 30), st.integers(0, 20), max_size=25), st.integers(0, 32))
def test_record_month_matches_brute_force(raw: dict[int, int], at: int) -> None:
    base = Month(2018, 1)
    monthly = {base.plus(i): v for i, v in raw.items()}
    month = base.plus(at)
    value = raw.get(at, 0)
    earlier = [(v, i) for i, v in raw.items() if i < at and v > 0]
    got = record_month(monthly, month)
    if earlier and all(value > v for v, _ in earlier):
        best = max(v for v, _ in earlier)
        first = min(i for v, i in earlier if v == best)
        assert got == (best, base.plus(first))
    else:
        assert got is None


def test_eligible() -> None:
    first = Month(2020, 3)
    assert not eligible(first, Month(2020, 3), 50_000)
    assert not eligible(first, Month(2021, 2), 50_000)  # month 11 of the first 12
    assert eligible(first, Month(2021, 3), 50_000)
    assert eligible(first, Month(2021, 3), 10_000)
    assert not eligible(first, Month(2021, 3), 9_999)
    assert not eligible(first, Month(2019, 1), 50_000)
    assert eligible(first, Month(2020, 5), 500, min_months=2, min_parent_total=500)
    assert not eligible(first, Month(2020, 4), 500, min_months=2, min_parent_total=500)


@given(
    st.dictionaries(
        st.integers(0, 60).map(lambda i: Month(2019, 1).plus(i)), st.integers(-50, 500)
    ),
    st.integers(0, 72).map(lambda i: Month(2019, 1).plus(i)),
)
def test_year_to_date_sums_the_months_it_names(monthly: dict[Month, int], month: Month) -> None:
    """One pass over the figures gives the sums of January to `month` of its year and of the
    same months a year earlier, each month looked up."""
    current = sum(monthly.get(Month(month.year, m), 0) for m in range(1, month.month + 1))
    previous = sum(monthly.get(Month(month.year - 1, m), 0) for m in range(1, month.month + 1))
    assert year_to_date(monthly, month) == (current, previous)


@given(
    st.integers(0, 400).map(lambda i: Month(2000, 1).plus(i)),
    st.integers(0, 400).map(lambda i: Month(2000, 1).plus(i)),
    st.integers(0, 30),
)
def test_eligible_counts_the_months_between_by_their_index(
    first: Month, month: Month, min_months: int
) -> None:
    expected = month.index - first.index >= min_months
    assert eligible(first, month, 10_000, min_months, 10_000) == expected
    assert not eligible(first, month, 9_999, min_months, 10_000)
