"""When a figure is implausible (issue 26, "Hold the implausible"): far above everything its
series has given, or above any count of cars one period can have.

The rule is a plain function; the stores judge each figure an import wrote by it
(`FIGURES_TO_JUDGE_SQL`, inside the import's transaction) and keep a `holds` row for each held
one; the detector holds every event that depends on a held figure (`Hold.moves`), and
`evbot release ID` lets them go out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.domain.settings import Config

HOLD_FACTOR = 20.0
HOLD_MIN_PERIODS = 6
HOLD_CEILING = 1_000_000_000


@dataclass(frozen=True, slots=True)
class HoldRule:
    """A figure is held when above `ceiling` units in one period, or when more than `factor`
    times the largest figure of a series with at least `min_periods` earlier periods."""

    factor: float = HOLD_FACTOR
    min_periods: int = HOLD_MIN_PERIODS
    ceiling: int = HOLD_CEILING


DEFAULT_RULE = HoldRule()  # what an import holds by when not told otherwise


def implausible(figure: int, earlier: Sequence[int], rule: HoldRule = HoldRule()) -> str | None:
    """Why `figure` is held, given the earlier figures of its series (per subject, region,
    metric and granularity, after aggregation); None when it is plausible.

    A series whose earlier figures are all 0 has no scale yet: only the ceiling applies.
    """
    if figure > rule.ceiling:
        return f"{figure:,} units is above the ceiling of {rule.ceiling:,} units in one period"
    if len(earlier) < rule.min_periods:
        return None
    largest = max(earlier)
    if largest > 0 and figure > rule.factor * largest:
        return (
            f"{figure:,} units is more than {rule.factor:g} times the largest of the "
            f"{len(earlier)} earlier figures of its series ({largest:,})"
        )
    return None


def rule_of(config: Config) -> HoldRule:
    """The hold rule a configuration sets (`[milestones] hold_*`)."""
    ms = config.milestones
    return HoldRule(ms.hold_factor, ms.hold_min_periods, ms.hold_ceiling)


@dataclass(frozen=True, slots=True)
class Hold:
    """A held figure: a model's period figure from one source in one region."""

    id: int
    source: str
    make_key: str
    model_key: str
    region: str
    period: str
    month: str  # the month the figure is kept in (a year's in its December)
    metric: str
    units: int
    reason: str
    place: str  # FILE:LINE, or the source for an aggregated figure
    events: int = 0  # events it holds
    released: bool = False


# The cells a journal range ($1, $2) names.
JOURNALED_CELLS_SQL = """
SELECT DISTINCT source_id, make_key, model_key, region, month
FROM journal WHERE seq >= $1 AND seq <= $2
"""

# Every period figure (running totals aside) of the series a journal range ($1, $2) touches,
# each summed over powertrains (an aggregated source's rows are summed on import already), with
# the number and the largest of the earlier figures of its series: same model, region, metric
# and granularity (length of the period), from any source, in month order. Each touched series
# is read once, by its key (the series drive the join), in one window pass. Only figures from
# the range's earliest month on come back (earlier ones were judged when they came, and the
# caller keeps those of the cells the range names): returning every month made the next month's
# import of 10,000 models fetch a million rows.
FIGURES_TO_JUDGE_SQL = """
WITH span AS (
    SELECT CAST($1 AS BIGINT) AS lo, CAST($2 AS BIGINT) AS hi
), touched AS (
    SELECT j.make_key, j.model_key, j.region, j.month
    FROM span, journal j WHERE j.seq >= span.lo AND j.seq <= span.hi
), series AS (
    SELECT DISTINCT make_key, model_key, region FROM touched
), figs AS (
    SELECT r.source_id, r.make_key, r.model_key, r.region, r.period, s.metric,
        MIN(r.month) AS month, SUM(r.units) AS units
    FROM series t CROSS JOIN sources s CROSS JOIN records r
    WHERE r.source_id = s.id AND r.make_key = t.make_key AND r.model_key = t.model_key
        AND r.region = t.region AND NOT r.cumulative
    GROUP BY r.source_id, r.make_key, r.model_key, r.region, r.period, s.metric
), judged AS (
    SELECT f.source_id, f.make_key, f.model_key, f.region, f.period, f.month, f.units, f.metric,
        COUNT(*) OVER w AS earlier, MAX(f.units) OVER w AS top
    FROM figs f
    WINDOW w AS (
        PARTITION BY f.make_key, f.model_key, f.region, f.metric, length(f.period)
        ORDER BY f.month, f.source_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    )
)
SELECT source_id, make_key, model_key, region, period, month, units, metric, earlier, top
FROM judged WHERE month >= (SELECT MIN(month) FROM touched)
"""

# The first line of a held figure ($1 source, $2 make, $3 model, $4 region, $5 month, $6
# period): SQLite keeps it in `records`; PostgreSQL in the import's staging table.
LINE_IN_RECORDS = (
    "SELECT MIN(line) FROM records WHERE source_id = $1 AND make_key = $2 AND model_key = $3 "
    "AND region = $4 AND month = $5 AND period = $6"
)
LINE_IN_STAGING = (
    "SELECT MIN(ord) FROM staging WHERE source_id = $1 AND make_key = $2 AND model_key = $3 "
    "AND region = $4 AND month = $5 AND period = $6"
)


def judge(figure: int, count: int, largest: int | None, rule: HoldRule) -> str | None:
    """`implausible` from the count and the largest of the earlier figures (as the SQL gives)."""
    if figure > rule.ceiling:
        return implausible(figure, [], rule)
    if count < rule.min_periods or not largest:
        return None
    return implausible(figure, [largest] * count, rule)


def hold_notice(hold: Hold, display: str) -> str:
    """The import's warning about a held figure."""
    return (
        f"{hold.place}: {display} in {hold.region}, {hold.period}: held, not announced: "
        f"{hold.reason} (hold {hold.id}: `evbot held`, `evbot release {hold.id}`)"
    )
