"""Powertrains: BEV, PHEV and FCEV, and the spellings registries use for them, matched whole.

A value is looked up by `name_key` (case, accents and spacing folded), never searched for a
substring: "NOT A BEV" is no BEV.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.names import name_key
from bot.domain.records import POWERTRAINS

# What a cell may say when it says nothing: the figure has no powertrain.
ABSENT = frozenset({"", "null", "none", "n/a", "na"})

# The long forms, each also accepted with its abbreviation after it in brackets, singular or
# plural ("Battery Electric Vehicle (BEV)", "Plug-In Hybrid Electric Vehicles (PHEVs)").
_LONG_FORMS = {
    "BEV": (
        "Battery Electric",
        "Battery-Electric",
        "Battery Electric Vehicle",
        "Battery Electric Vehicles",
        "Battery-Electric Vehicle",
        "Battery-Electric Vehicles",
    ),
    "PHEV": (
        "Plug-in Hybrid",
        "Plug in Hybrid",
        "Plugin Hybrid",
        "Plug-in Hybrids",
        "Plug-in Hybrid Electric",
        "Plug-in Hybrid Electric Vehicle",
        "Plug-in Hybrid Electric Vehicles",
        "Plug in Hybrid Electric Vehicle",
        "Plug in Hybrid Electric Vehicles",
        "Plugin Hybrid Electric Vehicle",
        "Plugin Hybrid Electric Vehicles",
    ),
    "FCEV": (
        "Fuel Cell",
        "Fuel Cell Electric",
        "Fuel Cell Vehicle",
        "Fuel Cell Vehicles",
        "Fuel Cell Electric Vehicle",
        "Fuel Cell Electric Vehicles",
        "Hydrogen Fuel Cell",
        "Hydrogen Fuel Cell Vehicle",
        "Hydrogen Fuel Cell Electric Vehicle",
    ),
}
SYNONYMS: Mapping[str, str] = {
    name_key(spelling): powertrain
    for powertrain, forms in _LONG_FORMS.items()
    for spelling in (
        powertrain,
        f"{powertrain}s",
        *forms,
        *(f"{form} ({powertrain})" for form in forms),
        *(f"{form} ({powertrain}s)" for form in forms),
    )
}
EXAMPLE = "Plug-in Hybrid Electric Vehicle (PHEV)"


def powertrain_table(configured: Mapping[str, str] | None = None) -> dict[str, str]:
    """The built-in spellings with a source's own (`powertrains = {...}`), by `name_key`."""
    table = dict(SYNONYMS)
    for spelling, powertrain in (configured or {}).items():
        table[name_key(spelling)] = powertrain
    return table


def powertrain_of(text: str, table: Mapping[str, str]) -> str | None:
    """BEV, PHEV or FCEV; "" when the cell is empty or says so; None when it is anything else."""
    key = name_key(text)
    if key in ABSENT:
        return ""
    return table.get(key)


def refusal(text: str, configured: Mapping[str, str] | None = None) -> str:
    """Why a powertrain value is refused, with what is accepted."""
    own = ", ".join(repr(k) for k in list(configured or {})[:10])
    return (
        f"powertrain {text.strip()[:80]!r} is not an accepted value: {', '.join(POWERTRAINS)}, "
        f"a long form such as {EXAMPLE!r}, or empty"
        + (f", or one of this source's {own}" if own else "")
    )
