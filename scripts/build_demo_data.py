#!/usr/bin/env python3
"""Build `bot/data/alliance_demo.csv`: monthly sales of the Renault-Nissan Alliance's EVs.

The demo data covers December 2010 (the first Nissan Leaf) to December 2016, one row per model
and month, worldwide. It is built from public yearly, half-year and milestone figures (the
numbers in brackets are the sources in the project's fact sheet, `alliance-facts.md`), which are
spread over the months with a plain seasonal profile, launch ramps and end-of-quarter peaks.
Every monthly split is an estimate, and so are the few yearly figures marked as such below.

The script is deterministic (integer arithmetic only, no randomness) and uses only the standard
library. It does not read the fact sheet at run time: every figure is a constant below.

Run it from anywhere: `python scripts/build_demo_data.py`.

How the figures fit together, and where the facts had to give way
-----------------------------------------------------------------
Hard requirements (the Alliance milestone months, "reached" dates):
    100,000 in 2013-07 [13][15][16], 200,000 in 2014-11 [6]-[9], 250,000 in 2015-06 [1]-[5],
    350,000 in 2016-08 [20][21][22].
Closed exactly: cumulative 217,365 at the end of 2014 [18]; 82,602 sold in 2014 [18] (so
134,763 at the end of 2013); 31,700 sold Jan-May 2015 [1], +14.9 % on Jan-May 2014 (27,600).

Compromises (the closest figures that fit the hard requirements and the exact ones above):
- Renault before 2013 (Kangoo Z.E. from Oct 2011, Twizy and Fluence Z.E. 2012, first Zoes) is
  19,257: the Alliance total at the end of 2013 (134,763) less the Leaf (96,833 [25]) and Renault's
  2013 (18,673 [26]). The Fluence Z.E. 2012 figure (3,425) is the balancing item; no source gives
  it (France alone registered 295 [37]).
- Renault then stands at about 29,400 at the end of July 2013 ("about 30,000" at the Alliance's
  100,000th [13]) and 34,300 at the end of October 2013 (">34,000" in autumn 2013 [49]), but at
  about 66,900 at mid-2015 ("about 65,000" [2]) and 80,577 at the end of 2015 ("just shy of
  80,000", which counts Europe plus the Twizy only [43]). The 2013-2015 yearly figures were kept.
- Twizy 2012 is 9,100: 7,895 from March to September [50] plus an estimated 1,205 for the
  fourth quarter (the ">6,783" full-year European figure [48] conflicts and is not used).
- The Alliance's 2015 total is 73,885, not "about 85,000" [27]: that source also gives a Leaf
  figure that contradicts every cumulative total (see the fact sheet, section 8).
- The Leaf's 2016 is 52,000: "about 50,000" was a partial figure [25], and 350,000 in August 2016
  needs a strong first eight months. The Leaf is at about 237,000 and Nissan (Leaf plus
  e-NV200) at about 250,500 at the end of August 2016 (">230,000" and ">250,000" [20]).
- The Alliance ends 2016 at 377,700. The published 424,797 [23][24] includes Mitsubishi, which
  this file does not; the difference (about 47,000) would be Mitsubishi's own cumulative
  EV sales. A figure of 410,000-420,000 without Mitsubishi cannot be reached: it would need some
  60,000-70,000 sales in the last four months of 2016 after 350,000 in August.
- Renault's H1 2016 is about 14,300 excluding the Twizy (">15,000" [12][43], which presumably
  counts the Korean SM3 Z.E.). The Fluence Z.E. / SM3 Z.E. is not counted after its sales were
  suspended in early 2014 [11]; it has rows of 0 units from April 2014 so every series runs to
  2016-12.
- Renault passes 100,000 in September 2016 (announced 9 Sep 2016 [12][20][51]).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "bot" / "data" / "alliance_demo.csv"
FIRST_PERIOD = "2010-12"
LAST_PERIOD = "2016-12"
HEADER = "period,region,make,model,units,powertrain"
REGION = "World"
POWERTRAIN = "BEV"

# Month-of-year weights (January first). Cars: quiet January/February and August, peaks at the
# end of each quarter (March, June, September, December), the usual registration pattern.
CAR_SEASON = (80, 85, 125, 90, 95, 115, 95, 80, 115, 95, 100, 125)
# The Twizy is an open two-seater: it sells in spring and summer and little in winter.
TWIZY_SEASON = (60, 70, 120, 120, 120, 130, 110, 80, 110, 90, 70, 80)


@dataclass(frozen=True, slots=True)
class Segment:
    """`units` sold from `first` to `last` (inclusive, `YYYY-MM`), spread over those months.

    Each month's weight is the season weight x the launch ramp (percent, for the first months
    of the segment) x a linear trend (`trend` percent more, or less, per month).
    """

    first: str
    last: str
    units: int
    trend: int = 0
    ramp: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Model:
    make: str
    name: str
    season: tuple[int, ...]
    segments: tuple[Segment, ...]
    stopped: str | None = None  # first month with no sales after the model was withdrawn


LEAF = Model(
    "Nissan",
    "Leaf",
    CAR_SEASON,
    (
        Segment("2010-12", "2010-12", 50),  # ≈50 in Dec 2010 (Japan and US launch) [25][13]
        # 2011: 22,094 [25]; slow start (production ramp, March 2011 earthquake)
        Segment("2011-01", "2011-12", 22_094, trend=3, ramp=(35, 40, 45, 70)),
        Segment("2012-01", "2012-12", 26_973, trend=2),  # 2012: 26,973 [25]
        # 2013: 47,716 [25]. H1 close to the US share (9,839 of 22,610 [15][D]); it puts
        # the Leaf at just over 70,000 at the start of July (">71,000" at 100k [13]).
        Segment("2013-01", "2013-06", 21_300, trend=4),
        Segment("2013-07", "2013-12", 26_416, trend=2),
        # 2014: 61,507 [18][25]; passes 100,000 in January 2014 ("early 2014" [31]). The split
        # gives the Alliance 27,600 in Jan-May 2014 (31,700 [1] / 1.149) and 199,463 at the end
        # of Oct 2014, so 200,000 falls in early November [6]-[9].
        Segment("2014-01", "2014-05", 20_850, trend=4),
        Segment("2014-06", "2014-10", 27_600, trend=3),
        Segment("2014-11", "2014-12", 13_057),
        # 2015: 43,651 [25]; ">180,000" (185,000 per [2]) at the 250k milestone [1][2];
        # ≈192,000 at the end of Sep 2015 [33]; 200,000 in Dec 2015 [34][35]. Jan-May closes
        # the Alliance's 31,700 for Jan-May 2015 [1].
        Segment("2015-01", "2015-05", 21_669),
        Segment("2015-06", "2015-06", 4_181),
        Segment("2015-07", "2015-09", 8_600),
        Segment("2015-10", "2015-12", 9_201),
        # 2016: 52,000, estimate (≈50,000 "partial figure" [25]); >230,000 by Aug 2016 [20].
        Segment("2016-01", "2016-08", 35_100, trend=1),
        Segment("2016-09", "2016-12", 16_900),
    ),
)

E_NV200 = Model(
    "Nissan",
    "e-NV200",
    CAR_SEASON,
    (
        # 2014: 3,282 derived (82,602 - 61,507 - 17,813) [18]; Barcelona production from May
        # 2014, on sale in Europe and Japan in 2014 [20][52] (first sales in June: estimate).
        Segment("2014-06", "2014-10", 1_900, ramp=(40, 75, 90)),
        Segment("2014-11", "2014-12", 1_382),
        # ≈5,000 cumulative at the 250k milestone, June 2015 [5].
        Segment("2015-01", "2015-05", 1_400, trend=4),
        Segment("2015-06", "2015-06", 318),
        # Rest of 2015 and 2016: estimates (2015 = 5,400; 2016 = 7,200, +33 %, in line with
        # European sales +34 % in H1 2016 [53]).
        Segment("2015-07", "2015-12", 3_682, trend=6),
        Segment("2016-01", "2016-08", 4_700, trend=1),
        Segment("2016-09", "2016-12", 2_500),
    ),
)

ZOE = Model(
    "Renault",
    "Zoe",
    CAR_SEASON,
    (
        Segment("2012-12", "2012-12", 48),  # first registrations, 48 in France in 2012 [37]
        # 2013: 8,857 [26]; commercial launch March 2013, first real month April (748 in France)
        # [38]. Jan-Mar 2013 is an estimate.
        Segment("2013-01", "2013-03", 600, ramp=(60, 90, 150)),
        Segment("2013-04", "2013-12", 8_257, trend=1),
        # 2014: 11,227 ("over 11,000" [29]; European registrations 11,227 [40][41])
        Segment("2014-01", "2014-05", 4_000),
        Segment("2014-06", "2014-10", 4_900),
        Segment("2014-11", "2014-12", 2_327),
        # 2015: 18,453 [43][44][45]; Jan-Apr ≈4,800 [40]; H1 ≈8,500 [42] (French superbonus
        # from April 2015 [1])
        Segment("2015-01", "2015-04", 4_800),
        Segment("2015-05", "2015-06", 3_700),
        Segment("2015-07", "2015-12", 9_953),
        # 2016: 21,700, estimate (Jan-Oct 17,060 in Europe [46], plus other markets)
        Segment("2016-01", "2016-08", 15_550, trend=2),
        Segment("2016-09", "2016-12", 6_150),
    ),
)

KANGOO = Model(
    "Renault",
    "Kangoo Z.E.",
    CAR_SEASON,
    (
        # Launched 28 Oct 2011 [20][47]; Oct-Dec 2011 estimated so that the van reaches ≈5,000
        # by Oct 2012 [47] and ≈11,000 by autumn 2013 [49].
        Segment("2011-10", "2011-12", 1_000, ramp=(20, 100, 130)),
        Segment("2012-01", "2012-12", 5_684),  # 2012: 5,684 [48]
        Segment("2013-01", "2013-12", 5_874),  # 2013: 5,874 [26]
        # 2014: 4,236 derived (Renault 17,813 [18] - Zoe 11,227 - Twizy 2,150 - Fluence 200)
        Segment("2014-01", "2014-05", 1_600),
        Segment("2014-06", "2014-10", 1_800),
        Segment("2014-11", "2014-12", 836),
        # 2015: 4,325 [44]; H1 ≈1,600 [42]
        Segment("2015-01", "2015-06", 1_600),
        Segment("2015-07", "2015-12", 2_725),
        # 2016: 4,500, estimate
        Segment("2016-01", "2016-08", 3_200),
        Segment("2016-09", "2016-12", 1_300),
    ),
)

TWIZY = Model(
    "Renault",
    "Twizy",
    TWIZY_SEASON,
    (
        # Launched March 2012 [50]: 7,895 from March to September 2012 [50]; Oct-Dec estimated
        # (1,205, so 9,100 in 2012 and >11,400 by autumn 2013 [49]).
        Segment("2012-03", "2012-09", 7_895, trend=-6, ramp=(55, 110)),
        Segment("2012-10", "2012-12", 1_205, trend=-10),
        Segment("2013-01", "2013-12", 3_025, trend=-3),  # 2013: 3,025 [26]
        # 2014: 2,150, estimate (>12,500 cumulative by April 2014 [11])
        Segment("2014-01", "2014-05", 950),
        Segment("2014-06", "2014-10", 900),
        Segment("2014-11", "2014-12", 300),
        # 2015: 2,056 derived (16,331 cumulative at the end of 2015 [43])
        Segment("2015-01", "2015-12", 2_056),
        # 2016: 1,050, estimate (17,000 cumulative by September 2016 [12])
        Segment("2016-01", "2016-08", 650),
        Segment("2016-09", "2016-12", 400),
    ),
)

FLUENCE = Model(
    "Renault",
    "Fluence Z.E.",
    CAR_SEASON,
    (
        # 2012: 3,425, the balancing figure (see the module docstring; 295 in France [37]);
        # deliveries from January 2012 (estimate).
        Segment("2012-01", "2012-12", 3_425, trend=-2, ramp=(50, 80)),
        Segment("2013-01", "2013-12", 917, trend=-6),  # 2013: 917 worldwide [26]
        Segment("2014-01", "2014-03", 200, trend=-20),  # estimate; suspended by April 2014 [11]
    ),
    stopped="2014-04",
)

MODELS: tuple[Model, ...] = (LEAF, E_NV200, ZOE, KANGOO, TWIZY, FLUENCE)

COMMENTS = (
    "Renault-Nissan Alliance electric cars: monthly worldwide sales, 2010-12 to 2016-12.",
    "Demo data for the EV Milestone Bot. Built by scripts/build_demo_data.py from public figures;",
    "do not edit by hand, change the script and run it again.",
    "Sources: Alliance press releases of 23 Jul 2013 (100,000 EVs), 26 Nov 2014 (200,000),",
    "24 Jun 2015 (250,000; 31,700 sold Jan-May 2015) and Sep 2016 (350,000; Renault 100,000);",
    "Alliance 2014 summary (82,602 sold, 217,365 cumulative); yearly figures: Nissan Leaf",
    "2011-2015, Renault 2013-2015 by model (Zoe, Kangoo Z.E., Twizy, Fluence Z.E.).",
    "Yearly and milestone figures follow the sources; the monthly splits are estimates,",
    "and so are a few yearly figures that no source gives (see the script).",
    "Mitsubishi is not included. The Twizy is a quadricycle but the Alliance counts it.",
    "Fluence Z.E. sales were suspended in April 2014: 0 units from then on.",
)


def month_index(period: str) -> int:
    """Months since year 0 for a `YYYY-MM` string."""
    year, month = period.split("-")
    return int(year) * 12 + int(month) - 1


def period_of(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def spread(segment: Segment, season: tuple[int, ...]) -> dict[int, int]:
    """Split a segment's units over its months: integer weights, largest remainder."""
    first, last = month_index(segment.first), month_index(segment.last)
    if last < first:
        raise ValueError(f"segment {segment.first}..{segment.last} runs backwards")
    months = range(first, last + 1)
    weights: list[int] = []
    for step, index in enumerate(months):
        ramp = segment.ramp[step] if step < len(segment.ramp) else 100
        trend = 100 + segment.trend * step
        weight = season[index % 12] * ramp * trend
        if weight <= 0:
            raise ValueError(f"segment {segment.first}..{segment.last}: weight <= 0")
        weights.append(weight)
    total = sum(weights)
    floors = [segment.units * weight // total for weight in weights]
    remainders = [segment.units * weight % total for weight in weights]
    short = segment.units - sum(floors)
    for step in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:short]:
        floors[step] += 1
    return dict(zip(months, floors, strict=True))


def monthly(model: Model) -> dict[int, int]:
    """Units per month index, from the model's launch (first segment) to LAST_PERIOD."""
    units: dict[int, int] = {}
    for segment in model.segments:
        for index, value in spread(segment, model.season).items():
            if index in units:
                raise ValueError(f"{model.name}: segments overlap at {period_of(index)}")
            units[index] = value
    start, end = min(units), month_index(LAST_PERIOD)
    stop = month_index(model.stopped) if model.stopped else end + 1
    for index in range(start, end + 1):
        if index not in units:
            if index < stop:
                raise ValueError(f"{model.name}: no figure for {period_of(index)}")
            units[index] = 0
    if start < month_index(FIRST_PERIOD) or max(units) > end:
        raise ValueError(f"{model.name}: figures outside {FIRST_PERIOD}..{LAST_PERIOD}")
    return units


def rows() -> list[tuple[str, str, str, int]]:
    """(period, make, model, units), sorted by period, make, model."""
    out = [
        (period_of(index), model.make, model.name, value)
        for model in MODELS
        for index, value in monthly(model).items()
    ]
    return sorted(out, key=lambda row: (row[0], row[1], row[2]))


def build() -> str:
    """The whole CSV file as text (`\\n` line endings)."""
    lines = [f"# {comment}" for comment in COMMENTS]
    lines.append(HEADER)
    lines.extend(
        f"{period},{REGION},{make},{model},{units},{POWERTRAIN}"
        for period, make, model, units in rows()
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else OUTPUT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(build().encode("utf-8"))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
