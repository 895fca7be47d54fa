"""Which evbot this is: the installed distribution's version, as `evbot --version`, `/healthz`,
`/metrics` and the User-Agent of every HTTP request the bot makes say it."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "evbot"
UNKNOWN = "0+unknown"  # run from a tree that was never installed (no metadata to read)


@cache
def evbot_version() -> str:
    """The installed distribution's version (its metadata), read once per process."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return UNKNOWN


def user_agent_product() -> str:
    """`evbot/<version>`: appended to a library's own User-Agent, never replacing it."""
    return f"{DISTRIBUTION}/{evbot_version()}"
