"""Powertrains: BEV, PHEV and FCEV, and the spellings registries use for them, matched whole.

A value is looked up by `name_key` (case, accents and spacing folded), never searched for a
substring: "NOT A BEV" is no BEV.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.i18n import tp
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


# -- the split on reading (issue 18) ----------------------------------------------------------

FUEL_CELL = "FCEV"
# What `powertrain:` takes on the reading commands (and `--powertrain` on the CLI): "electric",
# the default, is BEV + PHEV and figures without a powertrain (the IEA's "electric cars").
ELECTRIC = "electric"
CHOICES = ("electric", "bev", "phev", "fcev")


def asked_powertrain(text: str | None) -> str:
    """The powertrain a `powertrain:` value asks for: "" (electric cars, the default), BEV,
    PHEV or FCEV; anything else is a ValueError naming the choices."""
    if text is None or name_key(text) in ("", ELECTRIC):
        return ""
    found = name_key(text).upper()
    if found not in POWERTRAINS:
        raise ValueError(
            f"powertrain: {text!r} is not one of {', '.join(CHOICES)} (electric, the default, "
            "is BEV + PHEV; fuel-cell cars are counted only with powertrain:fcev)"
        )
    return found


def powertrain_tag(powertrain: str, loc: str) -> str:
    """A title's note of a powertrain asked for, in the language of `loc`: " (plug-in hybrids)";
    none for the default (electric cars)."""
    if powertrain == "BEV":
        return tp(loc, "counted", " (battery-electric cars)")
    if powertrain == "PHEV":
        return tp(loc, "counted", " (plug-in hybrids)")
    if powertrain == "FCEV":
        return tp(loc, "counted", " (fuel-cell cars)")
    return ""


def measure(metric: str, powertrain: str) -> str:
    """The read model's series key of a metric and a powertrain: "sales", or "sales:BEV"."""
    return f"{metric}:{powertrain}" if powertrain else metric


def split_measure(key: str) -> tuple[str, str]:
    """(metric, powertrain) of a `measure` key; the powertrain is "" for electric cars."""
    metric, _, powertrain = key.partition(":")
    return metric, powertrain
