"""`[sources.X]` keys of a source fetched from a URL, and the `[ops]` section (where a failing
source is told)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config.reader import Reader
from bot.domain.channels import Channel
from bot.domain.fetching import (
    DEFAULT_BACKOFF,
    DEFAULT_MAX_BYTES,
    DEFAULT_REDIRECTS,
    DEFAULT_REFRESH,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    UrlSettings,
    redact_url,
    refresh_seconds,
    scheme_refused,
)
from bot.domain.settings import OpsConfig

URL_KEYS = {
    "url",
    "refresh",
    "timezone",
    "headers_env",
    "allow_http",
    "allow_private",
    "allow_shrink",
    "max_bytes",
    "timeout",
    "retries",
    "backoff",
    "max_redirects",
    "body",
    "json_rows",
}
OPS_KEYS = {"channel", "workspace", "alert_after"}
MIN_REFRESH_SECONDS = 1.0
_HEADER_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def read_fetch(r: Reader, path: str, s: Mapping[str, Any], fmt: str) -> UrlSettings | None:
    """The URL settings of a source, or None when it has no `url` (a file source); a URL key
    without a `url` is refused, as is a URL that is not https (or http, allowed)."""
    if "url" not in s:
        stray = sorted(URL_KEYS & set(s))
        if stray:
            raise r.fail(f"{path}.{stray[0]}", "applies only to a source with a url")
        return None
    url = r.string(s, "url", f"{path}.url").strip()
    if s.get("file"):
        raise r.fail(f"{path}.url", "a source reads a file or a URL, not both")
    allow_http = r.boolean(s, "allow_http", f"{path}.allow_http", False)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise r.fail(f"{path}.url", f"{redact_url(url)!r} is not a URL ({exc})") from None
    refused = scheme_refused(url, allow_http)
    if refused:
        raise r.fail(f"{path}.url", refused)
    if not parts.hostname:
        raise r.fail(f"{path}.url", f"{redact_url(url)!r} names no host")
    refresh = r.string(s, "refresh", f"{path}.refresh", DEFAULT_REFRESH).strip()
    timezone = r.string(s, "timezone", f"{path}.timezone", "UTC")
    _check_refresh(r, path, refresh, timezone)
    headers = r.table(s.get("headers_env", {}), f"{path}.headers_env")
    for header, var in headers.items():
        if not header or not set(header) <= _HEADER_CHARS:
            raise r.fail(f"{path}.headers_env", f"{r.shown(header)} is not a header name")
        if not isinstance(var, str) or not var:
            raise r.fail(f"{path}.headers_env.{header}", "must name an environment variable")
    body = r.choice(s, "body", f"{path}.body", ("csv", "json"), "csv")
    if body == "json" and fmt != "mapped":
        raise r.fail(f"{path}.body", "JSON rows are read through columns: format must be mapped")
    return UrlSettings(
        url=url,
        refresh=refresh,
        timezone=timezone,
        headers_env={str(k): str(v) for k, v in headers.items()},
        allow_http=allow_http,
        allow_private=r.boolean(s, "allow_private", f"{path}.allow_private", False),
        allow_shrink=r.boolean(s, "allow_shrink", f"{path}.allow_shrink", False),
        max_bytes=r.integer(s, "max_bytes", f"{path}.max_bytes", DEFAULT_MAX_BYTES, 1, 2**40),
        timeout=r.number(s, "timeout", f"{path}.timeout", DEFAULT_TIMEOUT, 0, 3600, above=True),
        retries=r.integer(s, "retries", f"{path}.retries", DEFAULT_RETRIES, 0, 20),
        backoff=r.number(s, "backoff", f"{path}.backoff", DEFAULT_BACKOFF, 0, 3600),
        max_redirects=r.integer(
            s, "max_redirects", f"{path}.max_redirects", DEFAULT_REDIRECTS, 0, 20
        ),
        body=body,
        json_rows=r.string(s, "json_rows", f"{path}.json_rows"),
    )


def _check_refresh(r: Reader, path: str, refresh: str, timezone: str) -> None:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail(f"{path}.timezone", f"unknown time zone {r.shown(timezone)}") from None
    seconds = refresh_seconds(refresh)
    if seconds is not None:
        if seconds < MIN_REFRESH_SECONDS:
            raise r.fail(f"{path}.refresh", "must be at least 1s")
        return
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(refresh, timezone=zone)
    except ValueError as exc:
        raise r.fail(
            f"{path}.refresh",
            f'{r.shown(refresh)} is neither an interval ("6h", "30m") nor a cron expression '
            f'("0 6 * * *"): {exc}',
        ) from None


def read_ops(r: Reader, data: Mapping[str, Any], known_platforms: tuple[str, ...]) -> OpsConfig:
    """`[ops] channel = "PLATFORM:CHANNEL"` (workspace: `workspace`, else the platform's
    default) and `alert_after` consecutive failures."""
    ops = r.table(data.get("ops", {}), "ops", OPS_KEYS)
    alert_after = r.integer(ops, "alert_after", "ops.alert_after", 3, 1, 1000)
    text = r.string(ops, "channel", "ops.channel").strip()
    if not text:
        return OpsConfig(None, alert_after)
    platform, sep, channel = text.partition(":")
    if not sep or not channel or platform not in known_platforms:
        raise r.fail(
            "ops.channel",
            f'must be "PLATFORM:CHANNEL", the platform one of {", ".join(known_platforms)} '
            '(e.g. "console:terminal", "webhook:https://…")',
        )
    default_workspace = "default" if platform == "webhook" else "local"
    workspace = r.string(ops, "workspace", "ops.workspace", default_workspace)
    return OpsConfig(Channel(platform, workspace, channel), alert_after)
