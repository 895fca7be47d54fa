"""Text made inert for places no platform escapes: the console and every `--json` printout.

One platform-neutral rule: a zero-width space after the `@` of @everyone, @here and @channel, and
after a `<` that would open a mention, a channel, an emoji, a command or a timestamp (`<@`, `<@&`,
`<!`, `<#`, `<:`, `</`, `<a:`, `<t:`). Pasted or forwarded into chat, the text then pings nobody.
Raw text stays raw where it is stored (the outbox's events: defusing there would defuse every post
twice), and each adapter escapes for its own platform.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

ZWSP = "\u200b"

_MENTION_AT = re.compile(r"@(?=everyone|here|channel)", re.IGNORECASE)
_MENTION_LT = re.compile(r"<(?=[@!#:/&]|[at]:)", re.IGNORECASE)


def defuse(text: str) -> str:
    """`text` with every mention made inert; defusing twice changes nothing more."""
    return _MENTION_LT.sub("<" + ZWSP, _MENTION_AT.sub("@" + ZWSP, text))


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of JSON-able `value` with `change` applied to every string in it, keys included."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {
            change(k) if isinstance(k, str) else k: map_strings(v, change) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [map_strings(v, change) for v in value]
    return value


def defuse_json(value: Any) -> Any:
    """A copy of JSON-able `value` with every string in it defused (what `--json` prints)."""
    return map_strings(value, defuse)
