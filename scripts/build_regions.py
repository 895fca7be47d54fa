"""Build `bot/data/regions.csv`, the region membership table the bot ships, from country_converter.

The bot never imports country_converter (it pulls pandas, ~70 MB, and fails under pandas 3):
this script runs once, by hand, in an environment of its own, and its output is committed.

    python -m venv /tmp/regions-build
    /tmp/regions-build/bin/pip install 'country_converter==1.3.2' 'pandas>=2.2,<3'
    /tmp/regions-build/bin/python scripts/build_regions.py

(the pins are the `regions-build` extra of pyproject.toml). It checks every alias it adds against
country_converter's own matcher and stops on any disagreement.

The table holds one row per region: `name,kind,parent,code,aliases`, where `kind` is one of
world, continent, aggregate, country or residual; `parent` the region that contains it (empty for
the world); `code` a country's ISO 3166 alpha-2 code (read only for sources declared
country-level: in other files `CA` may be California); `aliases` other spellings separated by `|`.
Every region is inside exactly one parent: the European Union nests as EU28 > EU27 inside Europe,
so the table is a tree and a total can always count each vehicle once.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import country_converter as coco  # type: ignore[import-untyped]

OUT = Path(__file__).resolve().parents[1] / "bot" / "data" / "regions.csv"
WORLD = "World"
CONTINENTS = ("Africa", "Asia", "Europe", "North America", "Oceania", "South America")

# Where people (and the IEA, whose Europe holds Turkiye) put a country that
# country_converter's seven continents place otherwise.
CONTINENT_OF = {"TUR": "Europe"}

# The name shown for a country when it differs from country_converter's short name: the spelling
# most publishers use.
DISPLAY = {"USA": "USA"}

# Spellings publishers write that country_converter's short and official names do not give,
# each checked against country_converter's own matcher below.
ALIASES: dict[str, tuple[str, ...]] = {
    "USA": ("United States", "United States of America", "U.S.", "U.S.A."),
    "GBR": ("UK", "U.K.", "Great Britain", "Britain"),
    "KOR": ("Korea", "Republic of Korea", "Korea, Rep.", "Korea (Republic of)", "S. Korea"),
    "PRK": ("North Korea", "Korea, Dem. People's Rep."),
    "CZE": ("Czech Republic", "Czechia"),
    "TUR": ("Turkey", "Turkiye", "Türkiye"),
    "RUS": ("Russia", "Russian Federation"),
    "NLD": ("The Netherlands",),
    "ARE": ("UAE", "U.A.E."),
    "CIV": ("Ivory Coast",),
    "VNM": ("Vietnam", "Viet Nam"),
    "IRN": ("Iran",),
    "SVK": ("Slovak Republic",),
    "MKD": ("North Macedonia", "Macedonia"),
    "MDA": ("Moldova",),
    "LAO": ("Laos",),
    "SYR": ("Syria",),
    "BOL": ("Bolivia",),
    "VEN": ("Venezuela",),
    "TZA": ("Tanzania",),
    "TWN": ("Taiwan", "Chinese Taipei"),
    "HKG": ("Hong Kong", "Hong Kong SAR", "Hong Kong, China"),
    "MAC": ("Macau", "Macao"),
    "CHN": ("China", "Mainland China", "People's Republic of China"),
    "CPV": ("Cape Verde", "Cabo Verde"),
    "SWZ": ("Eswatini", "Swaziland"),
    "MMR": ("Myanmar", "Burma"),
    "BRN": ("Brunei",),
    "BIH": ("Bosnia and Herzegovina", "Bosnia"),
    "COD": ("DR Congo", "Democratic Republic of the Congo", "Congo, Dem. Rep."),
    "COG": ("Republic of the Congo", "Congo, Rep."),
    "PSE": ("Palestine",),
}

AGGREGATES: dict[str, tuple[str, tuple[str, ...]]] = {
    # name: (parent, aliases)
    "EU28": ("Europe", ("EU-28", "EU 28", "European Union (28)")),
    "EU27": ("EU28", ("EU-27", "EU 27", "EU", "European Union", "European Union (27)")),
}
WORLD_ALIASES = ("Global", "Worldwide", "World total", "Total world", "Whole world")
# Residuals: the rest of a region once its listed parts are taken away. Leaves inside it.
RESIDUAL_FORMS = ("Other {}", "Rest of {}", "Other {} countries")
RESIDUAL_ALIASES = {"EU27": ("Other EU", "Rest of EU", "Rest of the EU", "Other EU countries")}
WORLD_RESIDUALS = (
    "Rest of the world",
    "Rest of world",
    "RoW",
    "Other",
    "Others",
    "Other countries",
    "Other world",
)


def build() -> list[dict[str, str]]:
    cc = coco.CountryConverter()
    data = cc.data
    rows: list[dict[str, str]] = [
        {
            "name": WORLD,
            "kind": "world",
            "parent": "",
            "code": "",
            "aliases": "|".join(WORLD_ALIASES),
        }
    ]
    rows.append(
        {
            "name": "Rest of the world",
            "kind": "residual",
            "parent": WORLD,
            "code": "",
            "aliases": "|".join(WORLD_RESIDUALS[1:]),
        }
    )
    for continent in CONTINENTS:
        rows.append(
            {"name": continent, "kind": "continent", "parent": WORLD, "code": "", "aliases": ""}
        )
    for name, (parent, aliases) in AGGREGATES.items():
        rows.append(
            {
                "name": name,
                "kind": "aggregate",
                "parent": parent,
                "code": "",
                "aliases": "|".join(aliases),
            }
        )
    for region in (*CONTINENTS, "EU27"):
        forms = [f.format(region) for f in RESIDUAL_FORMS] + list(RESIDUAL_ALIASES.get(region, ()))
        rows.append(
            {
                "name": forms[0],
                "kind": "residual",
                "parent": region,
                "code": "",
                "aliases": "|".join(forms[1:]),
            }
        )
    eu27 = set(data.loc[data["EU27"].notna(), "ISO3"])
    eu28 = set(data.loc[data["EU28"].notna(), "ISO3"])
    if len(eu27) != 27 or eu28 - eu27 != {"GBR"}:
        sys.exit(f"country_converter's EU27/EU28 columns changed: {sorted(eu27)} {sorted(eu28)}")
    for rec in data.sort_values("name_short").to_dict("records"):
        iso3 = str(rec["ISO3"])
        short, official = str(rec["name_short"]), str(rec["name_official"])
        # country_converter writes a pattern where a country has two codes (^GB$|^UK$,
        # ^GR$|^EL$): the first is ISO 3166's
        code = str(rec["ISO2"]).split("|")[0].strip("^$")
        if iso3 in eu27:
            parent = "EU27"
        elif iso3 in eu28:
            parent = "EU28"
        else:
            parent = CONTINENT_OF.get(iso3, str(rec["Continent_7"]))
            if parent not in CONTINENTS:
                parent = WORLD  # Antarctica and the southern islands: in no inhabited continent
        name = DISPLAY.get(iso3, short)
        aliases = [a for a in (short, official, iso3, *ALIASES.get(iso3, ())) if a != name]
        for alias in ALIASES.get(iso3, ()):
            found = cc.convert(alias, src="regex", to="ISO3", not_found=None)
            if found != iso3:
                sys.exit(f"alias {alias!r} of {iso3}: country_converter reads it as {found!r}")
        rows.append(
            {
                "name": name,
                "kind": "country",
                "parent": parent,
                "code": code,
                "aliases": "|".join(dict.fromkeys(aliases)),
            }
        )
    return rows


def main() -> None:
    rows = build()
    with OUT.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["name", "kind", "parent", "code", "aliases"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"{OUT}: {len(rows)} regions")


if __name__ == "__main__":
    main()
