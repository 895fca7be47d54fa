"""Sources fetched from URLs, the pure part: their settings, the state of their last fetch, what
an address may be, how a URL is shown (its secrets redacted), and JSON rows read as a table."""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_MAX_BYTES = 50_000_000  # the decompressed body, at most
DEFAULT_TIMEOUT = 60.0  # seconds for one attempt, connection to last byte
DEFAULT_RETRIES = 3  # attempts after the first, on 5xx, 429, timeouts and broken bodies
DEFAULT_BACKOFF = 2.0  # seconds before the first retry, doubled for each next one
DEFAULT_REDIRECTS = 5
DEFAULT_REFRESH = "6h"
MAX_RETRY_AFTER = 600.0  # a 429 asking to wait longer than this ends the fetch, with when
CSV_TYPES = frozenset({"text/csv", "text/plain", "application/octet-stream"})
JSON_TYPES = frozenset({"application/json", "text/json", "text/plain"})
GZIP_TYPES = frozenset({"application/gzip", "application/x-gzip"})
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
Sleep = Callable[[float], Awaitable[None]]  # how a fetch waits before a retry (asyncio.sleep)


class FetchError(Exception):
    """A fetch that failed: `reason` says why (URL redacted); `retry` whether trying again
    later could help (a timeout, a 5xx) or not (a refused address, a wrong content type)."""

    def __init__(
        self,
        reason: str,
        *,
        retry: bool = False,
        status: int | None = None,
        wait: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.status = status
        self.wait = wait  # seconds the server asked for (Retry-After), if it did


@dataclass(frozen=True)
class UrlSettings:
    """How a `[sources.X]` with a `url` is fetched (`bot.ingest.fetcher`)."""

    url: str = field(repr=False)  # may hold credentials: shown only through `shown`
    refresh: str = DEFAULT_REFRESH  # "6h", "30m", or a cron expression (five fields)
    timezone: str = "UTC"  # of a cron expression
    headers_env: Mapping[str, str] = field(default_factory=dict)  # header -> env var name
    allow_http: bool = False
    allow_private: bool = False
    allow_shrink: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF
    max_redirects: int = DEFAULT_REDIRECTS
    body: str = "csv"  # or "json": rows at `json_rows`, fields named by the source's columns
    json_rows: str = ""  # dotted path to the list of rows ("" for a top-level list)

    @property
    def every_seconds(self) -> float | None:
        """The interval of an interval `refresh`; None for a cron expression."""
        return refresh_seconds(self.refresh)

    @property
    def shown(self) -> str:
        """The URL for logs, errors and listings: no credentials, no query."""
        return redact_url(self.url)


@dataclass
class FetchState:
    """What the store keeps of a URL source's fetches (`evbot sources`, /healthz)."""

    source: str
    last_fetch_at: float | None = None  # when the last attempt ended
    last_success_at: float | None = None
    status: str = "never"  # never, imported, unchanged or failed (a refused snapshot too)
    etag: str = ""
    last_modified: str = ""
    body_hash: str = ""
    rows: int = 0  # figures in the last body applied
    error: str = ""
    failures: int = 0  # consecutive
    alerted: bool = False  # the ops channel was told of the failures (and not yet of recovery)

    @property
    def healthy(self) -> bool:
        """False while the last fetch failed or was refused."""
        return self.failures == 0


def refresh_seconds(refresh: str) -> float | None:
    """ "6h" -> 21600.0, "90s", "30m", "1d", "1.5h"; None when it is not an interval."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd])\s*", refresh)
    if match is None:
        return None
    return float(match[1]) * _UNITS[match[2]]


def redact_url(url: str) -> str:
    """A URL without its user, password, query and fragment (each often a credential): the
    query is shown as `?…` so a reader knows there was one."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(an unreadable URL)"
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{port}" if port else "")
    if parts.username or parts.password:
        netloc = "…@" + netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))


def redact_urls(text: str, url: str) -> str:
    """`text` with `url` (and its form without a fragment) replaced by its redacted form."""
    shown = redact_url(url)
    for form in sorted({url, url.split("#", 1)[0]}, key=len, reverse=True):
        if form:
            text = text.replace(form, shown)
    return text


def address_refused(address: str, allow_private: bool) -> str | None:
    """Why a connection to `address` (an IP) is refused, or None when it may go ahead: loopback,
    private, link-local, multicast, reserved and unspecified addresses are the host's own or its
    network's, never a public source's, unless `allow_private`."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_private:
        return None
    for kind, flag in (
        ("loopback", ip.is_loopback),
        ("private", ip.is_private),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("unspecified", ip.is_unspecified),
    ):
        if flag:
            return (
                f"{ip} is a {kind} address: refused (the host's own network; "
                "allow_private = true allows it)"
            )
    if not ip.is_global:
        return f"{ip} is not a public address: refused (allow_private = true allows it)"
    return None


def scheme_refused(url: str, allow_http: bool) -> str | None:
    """Why a URL's scheme is refused, or None: https always, http only when allowed."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "https" or (scheme == "http" and allow_http):
        return None
    if scheme == "http":
        return "http:// is refused: use https, or set allow_http = true"
    return f"{scheme or 'a relative'}: URL refused: only https (or http with allow_http = true)"


def media_type(content_type: str) -> str:
    """ "text/csv; charset=utf-8" -> "text/csv"."""
    return content_type.split(";", 1)[0].strip().lower()


def type_accepted(content_type: str, body: str) -> bool:
    """Whether a response's Content-Type fits the source's body (csv or json); a gzip file is
    accepted for either and read as what it holds."""
    kind = media_type(content_type)
    if kind in GZIP_TYPES:
        return True
    if body == "json":
        return kind in JSON_TYPES or kind.endswith("+json")
    return kind in CSV_TYPES


def json_table(data: bytes, rows_path: str, where: str) -> bytes:
    """JSON rows (a list of objects at the dotted `rows_path`) as CSV text, one column per field
    seen, so the source's `columns` name the fields; `where` names the body in errors."""
    try:
        parsed: Any = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FetchError(f"{where}: not JSON ({exc})") from None
    node = parsed
    for step in filter(None, rows_path.split(".")):
        if not isinstance(node, dict) or step not in node:
            raise FetchError(f"{where}: no {rows_path!r} in the JSON (missing {step!r})")
        node = node[step]
    if not isinstance(node, list):
        raise FetchError(f"{where}: {rows_path or 'the JSON'} is not a list of rows")
    names: dict[str, None] = {}
    for i, row in enumerate(node):
        if not isinstance(row, dict):
            raise FetchError(f"{where}: row {i + 1} of {rows_path or 'the JSON'} is not an object")
        names.update(dict.fromkeys(str(k) for k in row))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in node:
        writer.writerow(["" if row.get(n) is None else _cell(row.get(n)) for n in names])
    return out.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def alert_due(state: FetchState, alert_after: int) -> str | None:
    """ "failing" when a source has just reached `alert_after` failures in a row and the ops
    channel was not told yet, "recovered" when it fetches again after that message; else None
    (one message each way, however long the failure lasts)."""
    if state.failures >= alert_after and not state.alerted:
        return "failing"
    if state.failures == 0 and state.alerted:
        return "recovered"
    return None
