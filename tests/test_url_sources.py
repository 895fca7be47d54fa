"""Sources fetched from URLs (issue 20), against a real aiohttp server on 127.0.0.1: conditional
GETs, bodies that change or not, 429s, 5xx bursts, slow, oversized and truncated bodies, wrong
content types, redirects (loops, too many, to `file:`), the address guard, JSON rows, snapshots
that shrink; each case ends in the right import, or a clear error and nothing changed."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.domain.fetching import FetchState, alert_due, redact_url
from bot.domain.settings import ConfigError
from bot.ingest.remote import FAILED, IMPORTED, UNCHANGED, fetch_source
from bot.store.sqlite.sales import SqliteStore
from tests.conftest import StoreFactory
from tests.fake_publisher import (
    HEADER,
    JULY,
    MONTHS,
    Site,
    Sleeps,
    body,
    configure,
    serving,
    status,
)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with serving() as s:
        yield s


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "evbot.sqlite3") as opened:
        yield opened


async def test_a_source_is_imported_then_answered_304_then_its_new_month_imported(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    site.csv("/ev.csv", HEADER + "".join(MONTHS), etag='"v1"')
    config = configure(tmp_path, site.url("/ev.csv"))
    first = await fetch_source(store, config, "news")
    assert (first.status, first.after.rows, first.after.etag) == (IMPORTED, 6, '"v1"')
    assert await store.count_records() == 6
    head = await store.journal_head()

    again = await fetch_source(store, config, "news")
    assert again.status == UNCHANGED and again.detail == "not modified (304)"
    assert site.requests[-1].headers["If-None-Match"] == '"v1"'
    assert await store.journal_head() == head

    site.csv("/ev.csv", HEADER + "".join(MONTHS) + JULY, etag='"v2"')
    third = await fetch_source(store, config, "news")
    assert third.status == IMPORTED and third.detail == "7 rows: 1 new, 0 revised"
    assert await store.count_records() == 7
    states = await store.fetch_states()
    assert states["news"].etag == '"v2"' and states["news"].failures == 0


async def test_an_unchanged_body_without_validators_imports_nothing(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    site.csv(
        "/ev.csv", HEADER + "".join(MONTHS), **{"Last-Modified": "Mon, 01 Jun 2026 00:00:00 GMT"}
    )
    config = configure(tmp_path, site.url("/ev.csv"))
    assert (await fetch_source(store, config, "news")).status == IMPORTED
    head = await store.journal_head()
    again = await fetch_source(store, config, "news")
    assert (again.status, again.detail) == (UNCHANGED, "the same body as before")
    assert site.requests[-1].headers["If-Modified-Since"] == "Mon, 01 Jun 2026 00:00:00 GMT"
    assert await store.journal_head() == head


async def test_429_waits_as_retry_after_says_and_a_5xx_burst_is_retried_with_back_off(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    good = body(HEADER + "".join(MONTHS))
    site.sequence("/ev.csv", status(429, **{"Retry-After": "7"}), status(503), status(502), good)
    config = configure(tmp_path, site.url("/ev.csv"), retries=3, backoff=1.0)
    sleeps = Sleeps()
    outcome = await fetch_source(store, config, "news", sleep=sleeps)
    assert outcome.status == IMPORTED
    assert len(site.requests) == 4
    assert sleeps.asked[0] == 7.0  # Retry-After, not the back-off
    # then exponential back-off with jitter: 2 s and 4 s, each between half and one and a half
    assert 1.0 <= sleeps.asked[1] <= 3.0 and 2.0 <= sleeps.asked[2] <= 6.0


async def test_a_5xx_past_the_retries_fails_clearly_and_changes_nothing(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    site.routes["/ev.csv"] = status(500)
    config = configure(tmp_path, site.url("/ev.csv"), retries=2)
    outcome = await fetch_source(store, config, "news", sleep=Sleeps())
    assert outcome.status == FAILED
    assert outcome.detail.endswith("/ev.csv: HTTP 500 Internal Server Error (after 3 attempts)")
    assert len(site.requests) == 3
    assert await store.count_records() == 0
    state = (await store.fetch_states())["news"]
    assert (state.status, state.failures) == ("failed", 1)


async def test_a_retry_after_too_long_ends_the_fetch_until_the_next_refresh(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    site.routes["/ev.csv"] = status(429, **{"Retry-After": "86400"})
    config = configure(tmp_path, site.url("/ev.csv"), retries=3)
    outcome = await fetch_source(store, config, "news", sleep=Sleeps())
    assert outcome.status == FAILED and "asked to wait 86400 s (Retry-After)" in outcome.detail
    assert len(site.requests) == 1


async def test_a_slow_body_times_out(site: Site, store: SqliteStore, tmp_path: Path) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/csv"})
        await response.prepare(request)
        await response.write(HEADER.encode())
        await asyncio.sleep(2)
        return response

    site.routes["/ev.csv"] = slow
    config = configure(tmp_path, site.url("/ev.csv"), timeout=0.3)
    outcome = await fetch_source(store, config, "news")
    assert outcome.status == FAILED
    assert "no complete answer within 0.3 s (timeout)" in outcome.detail
    assert await store.count_records() == 0


async def test_oversized_bodies_are_refused_compressed_or_not(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    big = HEADER + "".join(MONTHS) * 50
    site.csv("/ev.csv", big)

    async def bomb(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=gzip.compress(big.encode()),
            headers={"Content-Type": "text/csv", "Content-Encoding": "gzip"},
        )

    site.routes["/small.csv"] = bomb
    for path in ("/ev.csv", "/small.csv"):
        config = configure(tmp_path, site.url(path), max_bytes=1000)
        outcome = await fetch_source(store, config, "news")
        assert outcome.status == FAILED
        assert "the body is larger than max_bytes = 1000" in outcome.detail
    assert await store.count_records() == 0


async def test_gzip_is_read_as_an_encoding_or_as_a_file(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    packed = gzip.compress((HEADER + "".join(MONTHS)).encode())

    async def encoded(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=packed, headers={"Content-Type": "text/csv", "Content-Encoding": "gzip"}
        )

    async def file(request: web.Request) -> web.StreamResponse:
        return web.Response(body=packed, headers={"Content-Type": "application/gzip"})

    site.routes["/enc.csv"] = encoded
    site.routes["/ev.csv.gz"] = file
    outcome = await fetch_source(store, configure(tmp_path, site.url("/enc.csv")), "news")
    assert (outcome.status, outcome.after.rows) == (IMPORTED, 6)
    outcome = await fetch_source(store, configure(tmp_path, site.url("/ev.csv.gz")), "news")
    assert outcome.status == UNCHANGED  # the same figures, decompressed: the same hash


async def test_a_truncated_body_fails_and_changes_nothing(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/csv", "Content-Length": "5000"}
        )
        await response.prepare(request)
        await response.write((HEADER + MONTHS[0]).encode())
        assert request.transport is not None
        request.transport.close()
        return response

    site.routes["/ev.csv"] = cut
    outcome = await fetch_source(store, configure(tmp_path, site.url("/ev.csv")), "news")
    assert outcome.status == FAILED and "cut short" in outcome.detail
    assert await store.count_records() == 0


async def test_a_wrong_content_type_is_refused(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    site.routes["/ev.csv"] = body("<html>login</html>", "text/html")
    outcome = await fetch_source(store, configure(tmp_path, site.url("/ev.csv")), "news")
    assert outcome.status == FAILED
    assert outcome.detail.endswith(
        "the content type text/html is not CSV (text/csv, text/plain or application/octet-stream)"
    )
    for accepted in ("text/plain", "application/octet-stream"):
        site.routes["/ev.csv"] = body(HEADER + "".join(MONTHS), accepted)
        outcome = await fetch_source(store, configure(tmp_path, site.url("/ev.csv")), "news")
        assert outcome.status in (IMPORTED, UNCHANGED)


async def test_redirects_are_followed_bounded_and_each_hop_checked(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    site.routes["/old.csv"] = status(301, Location="/ev.csv")
    site.csv("/ev.csv", HEADER + "".join(MONTHS))
    site.routes["/a"] = status(302, Location="/b")
    site.routes["/b"] = status(302, Location="/a")
    for i in range(4):
        site.routes[f"/hop{i}"] = status(307, Location=f"/hop{i + 1}")
    site.routes["/passwd"] = status(302, Location="file:///etc/passwd")
    outcome = await fetch_source(store, configure(tmp_path, site.url("/old.csv")), "news")
    assert outcome.status == IMPORTED
    loop = await fetch_source(store, configure(tmp_path, site.url("/a")), "news")
    assert "a redirect loop" in loop.detail
    chain = await fetch_source(
        store, configure(tmp_path, site.url("/hop0"), max_redirects=2), "news"
    )
    assert "more than 2 redirects (max_redirects)" in chain.detail
    local = await fetch_source(store, configure(tmp_path, site.url("/passwd")), "news")
    assert local.status == FAILED and "file: URL refused" in local.detail
    assert await store.count_records() == 6


async def test_loopback_and_private_addresses_are_refused_without_allow_private(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    site.csv("/ev.csv", HEADER + "".join(MONTHS))
    assert site.server is not None
    for url in (site.url("/ev.csv"), f"http://localhost:{site.server.port}/ev.csv"):
        config = configure(tmp_path, url, allow_private=False)
        outcome = await fetch_source(store, config, "news")
        assert outcome.status == FAILED
        assert "127.0.0.1 is a loopback address: refused" in outcome.detail
    assert not site.requests  # the guard refused before any request reached the server
    assert await store.count_records() == 0


async def test_a_bad_row_fails_as_url_line_reason_with_the_url_redacted(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    site.csv("/ev.csv", HEADER + MONTHS[0] + "2020-02,USA,Nissan,Leaf,lots\n")
    secret_url = site.url("/ev.csv").replace("http://", "http://me:hunter2@") + "?key=SECRET"
    outcome = await fetch_source(store, configure(tmp_path, secret_url), "news")
    assert outcome.status == FAILED
    shown = redact_url(secret_url)
    assert shown.startswith("http://…@127.0.0.1:") and shown.endswith("/ev.csv?…")
    assert outcome.detail.startswith(f"{shown}:3: ")
    assert "SECRET" not in outcome.detail and "hunter2" not in outcome.detail
    assert await store.count_records() == 0


async def test_json_rows_are_read_through_the_declared_mapping(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    data = {"data": {"rows": [{"m": f"2020-0{i}", "n": 100 * i} for i in range(1, 4)]}}
    site.routes["/ev.json"] = body(json.dumps(data), "application/json")
    config = configure(
        tmp_path,
        site.url("/ev.json"),
        format="mapped",
        body="json",
        json_rows="data.rows",
        columns={"period": "m", "units": "n"},
        constants={"region": "Norway", "make": "Tesla", "model": "Model Y"},
    )
    outcome = await fetch_source(store, config, "news")
    assert (outcome.status, outcome.after.rows) == (IMPORTED, 3)
    site.routes["/ev.json"] = body(json.dumps({"data": {"rows": 5}}), "application/json")
    bad = await fetch_source(store, config, "news")
    assert bad.status == FAILED and "data.rows is not a list of rows" in bad.detail


async def test_dry_run_says_what_would_change_and_keeps_nothing(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    site.csv("/ev.csv", HEADER + "".join(MONTHS), etag='"v1"')
    config = configure(tmp_path, site.url("/ev.csv"))
    outcome = await fetch_source(store, config, "news", dry_run=True)
    assert outcome.status == IMPORTED and outcome.dry_run
    assert await store.count_records() == 0
    assert await store.fetch_states() == {}


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        ({"allow_http": False}, "http:// is refused: use https, or set allow_http = true"),
        ({"url": "file:///etc/passwd"}, "file: URL refused"),
        ({"refresh": "every day"}, "is neither an interval"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"file": "x.csv"}, "a source reads a file or a URL, not both"),
        ({"body": "json"}, "format must be mapped"),
    ],
)
def test_bad_url_settings_are_refused_naming_the_key(
    tmp_path: Path, keys: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ConfigError, match=r"sources\.news") as caught:
        configure(tmp_path, keys.pop("url", "http://127.0.0.1/ev.csv"), **keys)
    assert reason in str(caught.value)


def test_the_alert_is_due_once_at_the_threshold_and_once_on_recovery() -> None:
    state = FetchState("news", failures=2)
    assert alert_due(state, 3) is None
    state.failures = 3
    assert alert_due(state, 3) == "failing"
    state.alerted = True
    state.failures = 4
    assert alert_due(state, 3) is None
    state.failures = 0
    assert alert_due(state, 3) == "recovered"


async def test_the_fetch_state_is_kept_on_both_backends(make_store: StoreFactory) -> None:
    state = FetchState(
        "news",
        last_fetch_at=1.5,
        last_success_at=1.0,
        status="failed",
        etag='"v1"',
        last_modified="Mon, 01 Jun 2026 00:00:00 GMT",
        body_hash="ab" * 32,
        rows=7,
        error="HTTP 500",
        failures=2,
        alerted=True,
    )
    async with make_store() as store:
        assert await store.fetch_states() == {}
        await store.save_fetch_state(state)
        state.failures = 3
        await store.save_fetch_state(state)
    async with make_store() as reopened:
        assert await reopened.fetch_states() == {"news": state}


async def test_a_snapshot_that_shrank_is_refused_unless_allow_shrink_then_removed(
    site: Site, make_store: StoreFactory, tmp_path: Path
) -> None:
    site.csv("/ev.csv", HEADER + "".join(MONTHS))
    config = configure(tmp_path, site.url("/ev.csv"))
    async with make_store() as store:
        assert (await fetch_source(store, config, "news")).status == IMPORTED
        head = await store.journal_head()
        site.csv("/ev.csv", HEADER + "".join(MONTHS[:4]))  # May and June withdrawn
        refused = await fetch_source(store, config, "news")
        assert refused.status == FAILED
        assert "2 figures of source news are no longer in it" in refused.detail
        assert "the data went backwards, so nothing was applied" in refused.detail
        assert "set allow_shrink = true" in refused.detail
        assert await store.count_records() == 6 and await store.journal_head() == head

        shrink = configure(tmp_path, site.url("/ev.csv"), allow_shrink=True)
        removed = await fetch_source(store, shrink, "news")
        assert removed.status == IMPORTED
        assert removed.detail == "4 rows: 0 new, 0 revised, 2 removed (allow_shrink)"
        assert await store.count_records() == 4
        assert await store.journal_head() > head  # journalled, for detection to correct
        increments = await store.make_increments(["nissan"])
        assert sum(row.inc for row in increments) == 60_000
        assert max(str(row.month) for row in increments if row.inc) == "2020-04"


async def test_headers_come_from_the_environment_and_stay_on_their_host(
    site: Site, store: SqliteStore, tmp_path: Path
) -> None:
    assert site.server is not None
    site.routes["/moved.csv"] = status(302, Location=f"http://localhost:{site.server.port}/ev.csv")
    site.csv("/ev.csv", HEADER + "".join(MONTHS))
    config = configure(tmp_path, site.url("/moved.csv"), headers_env={"Authorization": "NEWS_KEY"})
    missing = await fetch_source(store, config, "news", environ={})
    assert (
        missing.status == FAILED and "header Authorization: $NEWS_KEY is not set" in missing.detail
    )
    assert not site.requests
    outcome = await fetch_source(store, config, "news", environ={"NEWS_KEY": "Bearer k"})
    assert outcome.status == IMPORTED
    first, second = site.requests
    assert first.headers["Authorization"] == "Bearer k"
    assert "Authorization" not in second.headers  # another host: the key is not carried


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
US_MONTHLY = SHARED / "us_ev_monthly_sales_by_model_2006_2019.csv"
IEA_FILE = SHARED / "iea_global_ev_data_2024.csv"


@pytest.mark.skipif(
    not (US_MONTHLY.is_file() and IEA_FILE.is_file()),
    reason=f"the shared data files are not in {SHARED}",
)
async def test_the_shared_data_files_fetched_import_as_their_files_do(
    site: Site, tmp_path: Path
) -> None:
    from bot.ingest.importer import import_file

    us, iea = US_MONTHLY.read_bytes(), IEA_FILE.read_bytes()

    async def gzipped(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=gzip.compress(iea),
            headers={"Content-Type": "text/csv", "Content-Encoding": "gzip"},
        )

    site.routes["/us.csv"] = body(us.decode("utf-8"), "text/csv")
    site.routes["/iea.csv"] = gzipped
    cases = {
        "/us.csv": {
            "format": "mapped",
            "period_format": "%Y-%m-%d",
            "granularity": "month",
            "columns": {
                "period": "date",
                "make": "brand",
                "model": "model",
                "units": "sales",
                "powertrain": "category",
            },
            "constants": {"region": "USA"},
            "include": {"category": ["bev", "phev", "fcev"]},
        },
        "/iea.csv": {"format": "iea"},
    }
    for path, keys in cases.items():
        config = configure(tmp_path, site.url(path), **keys)
        async with SqliteStore(tmp_path / f"url{path[1:4]}.sqlite3") as fetched:
            outcome = await fetch_source(fetched, config, "news")
            assert outcome.status == IMPORTED, outcome.detail
            from_url = await fetched.count_records()
        local = tmp_path / "local.csv"
        local.write_bytes(us if path == "/us.csv" else iea)
        async with SqliteStore(tmp_path / f"file{path[1:4]}.sqlite3") as filed:
            await import_file(filed, config, local, source="news")
            assert from_url == await filed.count_records() > 1000
