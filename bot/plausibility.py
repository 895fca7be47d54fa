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
    from bot.config import Config

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


# The line of a figure: SQLite keeps it in `records`; PostgreSQL in the import's staging table.
LINE_IN_RECORDS = "MIN(r.line)"
LINE_IN_STAGING = (
    "(SELECT MIN(s.ord) FROM staging s WHERE s.source_id = r.source_id AND s.make_key = "
    "r.make_key AND s.model_key = r.model_key AND s.region = r.region AND s.period = r.period)"
)
# The period figures (running totals aside) of the cells one import journaled, summed over
# powertrains (an aggregated source's rows are summed on import already), each with the number
# and the largest of the earlier figures of its series: same model, region, metric and
# granularity (length of the period), from any source. $1, $2: the journal's range; {line}: one
# of the two expressions above.
FIGURES_TO_JUDGE_SQL = """
WITH fig AS (
    SELECT r.source_id, r.make_key, r.model_key, r.region, r.period,
        MIN(r.month) AS month, SUM(r.units) AS units, {line} AS line
    FROM (SELECT DISTINCT source_id, make_key, model_key, region, month
          FROM journal WHERE seq >= $1 AND seq <= $2) j
    JOIN records r ON r.source_id = j.source_id AND r.make_key = j.make_key
        AND r.model_key = j.model_key AND r.region = j.region AND r.month = j.month
    WHERE NOT r.cumulative
    GROUP BY r.source_id, r.make_key, r.model_key, r.region, r.period
), earlier AS (
    SELECT f.source_id, f.make_key, f.model_key, f.region, f.period,
        r.source_id AS e_source, r.period AS e_period, SUM(r.units) AS units
    FROM fig f
    JOIN sources fs ON fs.id = f.source_id
    JOIN sources es ON es.metric = fs.metric
    JOIN records r ON r.source_id = es.id AND r.make_key = f.make_key
        AND r.model_key = f.model_key AND r.region = f.region AND r.month < f.month
        AND NOT r.cumulative AND length(r.period) = length(f.period)
    GROUP BY f.source_id, f.make_key, f.model_key, f.region, f.period, r.source_id, r.period
)
SELECT f.source_id, f.make_key, f.model_key, f.region, f.period, f.month, f.units, f.line,
    fs.metric,
    (SELECT COUNT(DISTINCT e.e_period) FROM earlier e WHERE e.source_id = f.source_id
        AND e.make_key = f.make_key AND e.model_key = f.model_key AND e.region = f.region
        AND e.period = f.period),
    (SELECT MAX(e.units) FROM earlier e WHERE e.source_id = f.source_id
        AND e.make_key = f.make_key AND e.model_key = f.model_key AND e.region = f.region
        AND e.period = f.period)
FROM fig f JOIN sources fs ON fs.id = f.source_id
ORDER BY f.line, f.make_key, f.model_key, f.region, f.period
"""


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
