"""Where a figure is from, in the reader's language: "in Norway", "aux États-Unis", "in den USA".

A region's name comes from Babel's territory names (the region table gives a country's ISO
code; continents and the EU have CLDR codes of their own); a name neither knows is shown as
written. Each phrase is a message of its own, so a language gets its preposition and article
right: a generic " in {place}", and whole phrases for the territories whose grammar differs
(French "aux États-Unis", German "in der Schweiz"). English keeps `bot.domain.formatting`'s
phrases ("in the USA"), which read the data's own names.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from babel import Locale, UnknownLocaleError

from bot.domain.formatting import covered, in_region, place
from bot.domain.i18n import is_english, t, tn, tp
from bot.domain.names import name_key
from bot.domain.regions import shipped_table

# regions without an ISO 3166 code, by their CLDR territory code
_AREA_CODES = {
    "africa": "002",
    "asia": "142",
    "europe": "150",
    "north america": "003",
    "south america": "005",
    "oceania": "009",
    "eu": "EU",
    "eu27": "EU",
    "eu28": "EU",
    "european union": "EU",
    "world": "001",
}


def N_(context: str, message: str) -> tuple[str, str]:
    """Mark a message for extraction (keyword `N_:1c,2`) without translating it yet."""
    return context, message


# territories whose phrase is not the generic " in {place}" in some language: the message
# names the place itself, so each catalog writes the whole phrase
_PHRASES = {
    "US": N_("where", " in the USA"),
    "GB": N_("where", " in the UK"),
    "NL": N_("where", " in the Netherlands"),
    "CH": N_("where", " in Switzerland"),
    "JP": N_("where", " in Japan"),
    "CA": N_("where", " in Canada"),
    "DK": N_("where", " in Denmark"),
    "PT": N_("where", " in Portugal"),
    "BR": N_("where", " in Brazil"),
    "MX": N_("where", " in Mexico"),
    "LU": N_("where", " in Luxembourg"),
    "AE": N_("where", " in the United Arab Emirates"),
    "PH": N_("where", " in the Philippines"),
    "TR": N_("where", " in Turkey"),
    "CZ": N_("where", " in the Czech Republic"),
    "EU": N_("where", " in the EU"),
}


def is_world(region: str) -> bool:
    """Whether the region is the whole world."""
    return region.strip().casefold() in ("", "world")


@lru_cache(maxsize=1024)
def region_code(region: str) -> str | None:
    """The territory code Babel names a region by (`Norway` -> `NO`), None when it has none."""
    key = name_key(region)
    if key in _AREA_CODES:
        return _AREA_CODES[key]
    table = shipped_table()
    found = table.find(region)
    if found is None:
        return None
    for code, region_key in table.codes.items():
        if region_key == found:
            return code
    return _AREA_CODES.get(name_key(table.regions[found].name))


@lru_cache(maxsize=4096)
def local_name(region: str, loc: str) -> str:
    """A region's name in the language of `loc` (`Norway` -> fr `Norvège`); as written in
    English or when Babel does not know it."""
    name = region.strip()
    code = region_code(name)
    if is_english(loc) or code is None:
        return name
    try:
        return str(Locale.parse(loc.replace("-", "_")).territories.get(code, name))
    except (UnknownLocaleError, ValueError):
        return name


def in_place(region: str, loc: str) -> str:
    """ " in Norway" in the language of `loc`, with its leading space."""
    if is_english(loc):
        return f" in {place(region)}"
    phrase = _PHRASES.get(region_code(region) or "")
    if phrase is not None:
        return tp(loc, *phrase)
    if is_rest_of_world(region):
        return tp(loc, "where", " in the rest of the world")
    return tp(loc, "where", " in {place}", place=local_name(region, loc))


def is_rest_of_world(region: str) -> bool:
    """Whether the region is the world's residual ("Rest of the world", "RoW"): what a source
    counts outside the regions it names."""
    table = shipped_table()
    found = table.find(region)
    return (
        found is not None
        and table.regions[found].kind == "residual"
        and (table.regions[found].parent == table.find("World"))
    )


def and_list(items: Sequence[str], loc: str) -> str:
    """ "a", "a and b", "a, b and c" in the language of `loc`."""
    if len(items) <= 1:
        return "".join(items)
    separator = tp(loc, "list", ", ")
    return t(loc, "{items} and {last}", items=separator.join(items[:-1]), last=items[-1])


def covered_in(covers: Sequence[str], loc: str) -> str:
    """What a partial figure covers: "the USA and Norway", "14 regions"."""
    if is_english(loc):
        return covered(covers)
    if len(covers) > 3:
        return tn(loc, "{n} region", "{n} regions", len(covers), n=len(covers))
    return and_list([local_name(r, loc) for r in covers], loc)


def where_in(region: str, covers: Sequence[str], loc: str) -> str:
    """ " in Norway"; "" for the world's own figure; a partial figure's coverage, named."""
    if is_english(loc):
        return in_region(region, covers)
    if covers:
        if is_world(region):
            if len(covers) == 1:
                return in_place(covers[0], loc)
            return tp(loc, "where", " in {covered}", covered=covered_in(covers, loc))
        return in_place(region, loc) + t(loc, " ({covered} only)", covered=covered_in(covers, loc))
    return "" if is_world(region) else in_place(region, loc)


def worldwide(loc: str) -> str:
    """ " worldwide", with its leading space."""
    return tp(loc, "where", " worldwide")


def region_field(region: str, covers: Sequence[str], loc: str) -> str:
    """The Region field: the region, with what a partial figure covers."""
    name = local_name(region, loc)
    if not covers:
        return name
    what = covered_in(covers, loc)
    if is_world(region):
        return t(loc, "{covered} only", covered=what)
    return t(loc, "{region} ({covered} only)", region=name, covered=what)
