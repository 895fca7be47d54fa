"""Walking a parsed TOML table: keys refused with their path, values checked by type and
range, and what the file said quoted back redacted and cut (`FILE: key: reason`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bot.config.secrets import redact_secrets
from bot.domain.settings import ConfigError


class Reader:
    """Walks a parsed TOML table, refusing unknown keys and wrong types with the key's path.

    What the file said is quoted back only through `shown`/`fail`: secrets redacted first over
    the whole text, then cut, so neither a secret nor a 5 MB value reaches an error.
    """

    def __init__(self, file: str, environ: Mapping[str, str]) -> None:
        self.file = file
        self.environ = environ

    def fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(f"{self.file}: {self.shown(key, quote=False)}: {reason}")

    def shown(self, value: object, *, quote: bool = True) -> str:
        """`value` as it may appear in an error: redacted, then cut, then quoted."""
        if isinstance(value, bool) or not isinstance(value, str | int | float | Exception):
            return kind_text(value)
        if isinstance(value, int | float):
            return number_text(value)
        text = clip(redact_secrets(str(value), self.environ))
        return repr(text) if quote else text

    def table(self, data: Any, key: str, allowed: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(key, f"must be a table, not {kind_text(data)}")
        if allowed is not None:
            for k in data:
                if k not in allowed:
                    raise self.fail(
                        f"{key}.{k}" if key else k,
                        f"unknown key (expected one of: {', '.join(sorted(allowed))})",
                    )
        return data

    def string(self, data: Mapping[str, Any], key: str, path: str, default: str = "") -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, not {kind_text(value)}")
        return value

    def integer(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        default: int,
        low: int | None = None,
        high: int | None = None,
    ) -> int:
        """A whole number, within `low`..`high` (inclusive) where given."""
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be a whole number, not {kind_text(value)}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(
                path, f"must be a whole number {range_text(low, high)}, not {number_text(value)}"
            )
        return value

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        default: float,
        low: float | None = None,
        high: float | None = None,
        *,
        above: bool = False,
    ) -> float:
        """A finite number (never nan or inf), within `low`..`high` where given; `above`: the
        low end itself is excluded."""
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"must be a number, not {kind_text(value)}")
        try:
            number = float(value)
        except OverflowError:  # a whole number past any float: TOML has no limit
            number = math.inf
        if not math.isfinite(number) and low is None and high is None:
            raise self.fail(path, f"must be a finite number, not {number_text(value)}")
        if (
            not math.isfinite(number)
            or (low is not None and (number <= low if above else number < low))
            or (high is not None and number > high)
        ):
            raise self.fail(
                path,
                f"must be a number {range_text(low, high, above=above)}, not {number_text(value)}",
            )
        return number

    def boolean(self, data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, not {kind_text(value)}")
        return value

    def strings(self, data: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(path, "must be a list of strings")
        return tuple(value)

    def choice(
        self, data: Mapping[str, Any], key: str, path: str, options: tuple[str, ...], default: str
    ) -> str:
        value = self.string(data, key, path, default)
        if value not in options:
            raise self.fail(path, f"{self.shown(value)} is not one of {', '.join(options)}")
        return value


CLIP = 200  # characters of a value quoted back in an error, counted after redaction


def clip(text: str, limit: int = CLIP) -> str:
    """`text` cut to `limit` characters (with "…"); redact before cutting, never after."""
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def range_text(low: float | None, high: float | None, *, above: bool = False) -> str:
    if high is None:
        return f"{'above' if above else 'of at least'} {number_text(low)}"
    if low is None:
        return f"of at most {number_text(high)}"
    if above:
        return f"above {number_text(low)} and at most {number_text(high)}"
    return f"from {number_text(low)} to {number_text(high)}"


def number_text(value: float | None) -> str:
    """A number as an error shows it: whole numbers without exponent, grouped past 9,999."""
    if isinstance(value, int) and abs(value) >= 10**30:  # str() past 4,300 digits raises
        return "a number of more than 30 digits"
    if isinstance(value, float) and value.is_integer() and abs(value) < 10**16:
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)


def kind_text(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "a list" if isinstance(value, list) else "a table"
    )
