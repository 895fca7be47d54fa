"""Discord channel webhooks, Slack incoming webhooks and Teams Workflows, end to end: the
configuration read from a real file (`[webhooks.NAME]`, the URL from the environment), the adapter
made by the registry, the real detector fanning a milestone out, the real delivery worker with
its real charts, and the strict fakes in `tests/fake_hooks.py` over sockets on 127.0.0.1.

Per target: a milestone posted (its chart as a file on Discord, as a link on Slack and Teams
where a public chart URL is configured), 429 and 5xx survived, a gone target paused with its
reason, hostile text inert, and no webhook URL in the database, the logs or the CLI output.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters import registry
from adapters.named_webhook import NamedWebhooks
from bot.app.bootstrap import build_worker
from bot.cli.main import main as evbot
from bot.config.load import load_config
from bot.delivery.worker import DeliveryWorker
from bot.detection.detector import Detector
from bot.domain.channels import (
    CHANNEL_GONE,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    RATE_LIMITED,
    REJECTED_PAYLOAD,
    SERVER_ERROR,
    Channel,
    DeliveryFailure,
)
from bot.domain.defuse import ZWSP
from bot.domain.messages import Field, Message
from bot.domain.settings import Config, ConfigError
from bot.domain.subscriptions import SubscriptionSpec
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import LEAF, Feed
from tests.fake_hooks import DISCORD, SIG, SLACK, TEAMS, TOKEN, FakeHooks, card_texts

KINDS = (DISCORD, SLACK, TEAMS)
FAST = "rate_per_second = 500\nchannel_rate_per_second = 100\ntimeout = 3\n"
HOSTILE_TITLE = "@everyone <!channel> <@U123> <at>Boss</at> **bold** [click](https://evil.test)"
HOSTILE_BODY = "# Heading\n> quote\n- list <@&42> @here `code` <!here> ~~gone~~ _it_\n1. one"


class Clock:
    """A wall clock the test moves: retries fall due when the test says so."""

    def __init__(self) -> None:
        self.now = time.time() + 1  # after the detector queued the deliveries

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def hooks() -> AsyncIterator[FakeHooks]:
    async with FakeHooks() as fake:
        yield fake


def var(name: str) -> str:
    return "HOOK_" + name.upper().replace("-", "_")


def write_config(
    path: Path, fake: FakeHooks, kind: str, names: list[str], extra: str = ""
) -> dict[str, str]:
    """A configuration with `kind` enabled and one `[webhooks.NAME]` per name; the URLs go in
    the environment returned."""
    lines = [f"[platforms.{kind}]", "enabled = true", FAST + extra]
    env: dict[str, str] = {}
    for name in names:
        lines += [f"[webhooks.{name}]", f'kind = "{kind}"', f'url_env = "{var(name)}"', ""]
        env[var(name)] = fake.url(kind, name)
    path.write_text("\n".join(lines), encoding="utf-8")
    return env


@pytest.fixture
async def made() -> AsyncIterator[list[NamedWebhooks]]:
    adapters: list[NamedWebhooks] = []
    yield adapters
    for adapter in adapters:
        await adapter.close()


Setup = Callable[..., Any]


@pytest.fixture
async def setup(
    tmp_path: Path,
    hooks: FakeHooks,
    made: list[NamedWebhooks],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Setup]:
    """`await setup(kind, names)`: (config, adapter, store, feed): each name subscribed to the
    Leaf, its history imported; `feed.news()` fans the next milestone out."""

    async def build(
        kind: str, names: list[str], extra: str = "", charts: bool = False
    ) -> tuple[Config, NamedWebhooks, SqliteStore, Feed]:
        path = tmp_path / "evbot.toml"
        for key, value in write_config(path, hooks, kind, names, extra).items():
            monkeypatch.setenv(key, value)
        config = load_config(path)
        adapter = registry.factory(kind)(config.platforms[kind])
        assert isinstance(adapter, NamedWebhooks)
        made.append(adapter)
        store = SqliteStore(tmp_path / "bot.sqlite3")
        await store.open()
        stores.append(store)
        await store.sync_groups(config.groups)
        for name in names:
            spec = SubscriptionSpec(Channel(kind, "default", name), LEAF, charts=charts)
            await store.subscribe(spec)
        feed = Feed(store, Detector(store, config))
        await feed.history()
        return config, adapter, store, feed

    stores: list[SqliteStore] = []
    yield build
    for store in stores:
        await store.close()


def worker(
    store: SqliteStore, config: Config, adapter: NamedWebhooks, clock: Clock
) -> DeliveryWorker:
    return build_worker(store, config, {adapter.platform: adapter}, clock)


async def statuses(store: SqliteStore) -> list[tuple[str, str, str | None]]:
    rows = await store.deliveries(limit=1000)
    return sorted((d.channel.channel, d.status, d.reason) for d in rows)


# -- posted, with the chart where the target can carry one ------------------------------------


async def test_discord_webhook_posts_the_milestone_with_its_chart_as_a_file(
    setup: Setup, hooks: FakeHooks
) -> None:
    config, adapter, store, feed = await setup(DISCORD, ["newsroom", "fleet"], charts=True)
    w = worker(store, config, adapter, Clock())
    await feed.news()
    await w.drain()
    assert [s for _, s, _ in await statuses(store)] == ["posted", "posted"]
    for name in ("newsroom", "fleet"):
        (posted,) = hooks.messages(DISCORD, name)
        (embed,) = posted.body["embeds"]
        assert "Nissan Leaf" in embed["title"]
        assert posted.body["allowed_mentions"]["parse"] == []
        ((filename, png),) = posted.files
        assert png.startswith(b"\x89PNG") and embed["image"]["url"] == f"attachment://{filename}"
        assert posted.body["attachments"][0]["description"]  # alt text
        (row,) = [d for d in await store.deliveries() if d.channel.channel == name]
        assert row.message_id == posted.id  # Discord's id, from ?wait=true


async def test_discord_webhook_thread_username_and_correction_edit(
    tmp_path: Path, hooks: FakeHooks, made: list[NamedWebhooks], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "evbot.toml"
    env = {var("newsroom"): hooks.url(DISCORD, "newsroom")}
    path.write_text(
        f"[platforms.{DISCORD}]\nenabled = true\n{FAST}\n[webhooks.newsroom]\n"
        f'kind = "{DISCORD}"\nurl_env = "{var("newsroom")}"\nthread_id = "777"\n'
        'username = "EV news"\navatar_url = "https://example.test/a.png"\n',
        encoding="utf-8",
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    adapter = registry.factory(DISCORD)(load_config(path).platforms[DISCORD])
    assert isinstance(adapter, NamedWebhooks)
    made.append(adapter)
    target = adapter.channel("newsroom")
    mid = await adapter.post(target, Message("Leaf passes 2,500", "body"), "evbot-delivery-1")
    (posted,) = hooks.messages(DISCORD)
    assert (posted.id, posted.thread) == (mid, "777")
    assert posted.body["username"] == "EV news"
    assert posted.body["avatar_url"] == "https://example.test/a.png"
    editor: Any = adapter
    await editor.edit(target, mid, Message("Leaf passes 2,500 (corrected)", "body"))
    assert posted.edits == 1 and "corrected" in posted.body["embeds"][0]["title"]
    # the message is there, as the webhook itself can read it back by its id
    async with aiohttp.ClientSession() as session:
        where = f"{hooks.discord_url('newsroom')}/messages/{mid}?thread_id=777"
        async with session.get(where) as response:
            assert response.status == 200 and (await response.json())["id"] == mid


@pytest.mark.parametrize("kind", [SLACK, TEAMS])
async def test_slack_and_teams_post_the_milestone_with_a_chart_link_only_when_configured(
    kind: str, setup: Setup, hooks: FakeHooks, tmp_path: Path
) -> None:
    charts = tmp_path / "public-charts"
    extra = f'chart_base_url = "https://charts.example.test/ev"\nchart_dir = "{charts}"\n'
    config, adapter, store, feed = await setup(kind, ["linked"], extra, charts=True)
    assert adapter.images == "inline"
    w = worker(store, config, adapter, Clock())
    await feed.news()
    await w.drain()
    assert await statuses(store) == [("linked", "posted", None)]
    (posted,) = hooks.messages(kind, "linked")
    (png,) = list(charts.iterdir())  # the chart, published where the link points
    link = f"https://charts.example.test/ev/{png.name}"
    if kind == SLACK:
        assert "Nissan Leaf" in posted.body["text"]
        (image,) = [b for b in posted.body["blocks"] if b["type"] == "image"]
        assert image["image_url"] == link and image["alt_text"]
    else:
        card = posted.body["attachments"][0]["content"]
        (image,) = [i for i in card["body"][0]["items"] if i["type"] == "Image"]
        assert image["url"] == link and image["altText"]
        assert any("Nissan Leaf" in t for _, t in card_texts(posted))
    (row,) = await store.deliveries()
    assert row.message_id == row.key  # no id comes back: the key stands for it


async def test_a_chart_that_cannot_be_published_leaves_the_post_without_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from adapters.named_webhook import HookSettings, publish_chart

    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory", encoding="utf-8")
    settings = HookSettings(SLACK, 1.0, 1.0, 1.0, "https://c.example.test", str(blocked / "x"))
    message = Message("t", "b", image=b"\x89PNG...", image_name="chart.png")
    assert await publish_chart(settings, message) is None
    assert "posting without it" in caplog.text


@pytest.mark.parametrize("kind", [SLACK, TEAMS])
async def test_without_a_public_chart_url_slack_and_teams_get_no_chart(
    kind: str, setup: Setup, hooks: FakeHooks
) -> None:
    config, adapter, store, feed = await setup(kind, ["plain"], charts=True)
    assert adapter.images == "none"
    await feed.news()
    await worker(store, config, adapter, Clock()).drain()
    (posted,) = hooks.messages(kind, "plain")
    assert "image" not in json.dumps(posted.body).lower()


# -- 429 and 5xx survived; a gone target paused with its reason -------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_429_and_5xx_are_survived(kind: str, setup: Setup, hooks: FakeHooks) -> None:
    config, adapter, store, feed = await setup(kind, ["limited", "flaky"])
    hooks.fail(kind, "limited", 429, times=1, retry_after="1")
    hooks.fail(kind, "flaky", 503, times=2, text="ServiceUnavailable")
    clock = Clock()
    w = worker(store, config, adapter, clock)
    await feed.news()
    await w.drain()
    rows = {d.channel.channel: d for d in await store.deliveries()}
    assert (rows["limited"].status, rows["limited"].reason) == ("pending", RATE_LIMITED)
    assert rows["limited"].next_attempt_at - clock() >= 0.9  # Retry-After honoured
    assert (rows["flaky"].status, rows["flaky"].reason) == ("pending", SERVER_ERROR)
    deadline = time.monotonic() + 10
    while (await store.delivery_counts())["pending"] and time.monotonic() < deadline:
        clock.advance(10)  # the retries' back-off; the pacer holds the channel for real
        await w.drain()
        await asyncio.sleep(0.1)
    assert [s for _, s, _ in await statuses(store)] == ["posted", "posted"]
    assert len(hooks.messages(kind, "limited")) == len(hooks.messages(kind, "flaky")) == 1


GONE = [
    (DISCORD, 404, "", CHANNEL_GONE),
    (DISCORD, 401, "", MISSING_ACCESS),
    (DISCORD, 403, "", MISSING_PERMISSIONS),
    (SLACK, 404, "no_service", CHANNEL_GONE),
    (SLACK, 410, "channel_is_archived", CHANNEL_GONE),
    (SLACK, 403, "action_prohibited", MISSING_PERMISSIONS),
    (SLACK, 404, "channel_not_found", CHANNEL_GONE),
    (TEAMS, 404, "WorkflowNotFound", CHANNEL_GONE),
    (TEAMS, 401, "DirectApiAuthorizationRequired", MISSING_ACCESS),
]


@pytest.mark.parametrize(("kind", "status", "text", "reason"), GONE)
async def test_a_gone_target_pauses_with_its_reason(
    kind: str, status: int, text: str, reason: str, setup: Setup, hooks: FakeHooks
) -> None:
    config, adapter, store, feed = await setup(kind, ["gone", "fine"])
    hooks.fail(kind, "gone", status, text=text)
    w = worker(store, config, adapter, Clock())
    await feed.news()
    await w.drain()
    assert await statuses(store) == [("fine", "posted", None), ("gone", "failed", reason)]
    (sub,) = await store.subscriptions(adapter.channel("gone"))
    assert (sub.status, sub.paused_reason) == ("paused", reason)
    await feed.news()  # a paused channel hears nothing new
    await w.drain()
    assert len(hooks.messages(kind, "fine")) == 2 and not hooks.messages(kind, "gone")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_deleted_webhook_pauses_and_a_rejected_payload_is_named(
    kind: str, setup: Setup, hooks: FakeHooks
) -> None:
    _, adapter, _, _ = await setup(kind, ["deleted", "refused"])
    hooks.gone(kind, "deleted")
    with pytest.raises(DeliveryFailure) as caught:
        await adapter.post(adapter.channel("deleted"), Message("t", "b"), "k1")
    assert (caught.value.reason, caught.value.permanent) == (CHANNEL_GONE, True)
    hooks.fail(kind, "refused", 400, text="invalid_payload")
    with pytest.raises(DeliveryFailure) as caught:
        await adapter.post(adapter.channel("refused"), Message("t", "b"), "k2")
    assert caught.value.reason == REJECTED_PAYLOAD
    with pytest.raises(DeliveryFailure) as caught:  # unsubscribed from the file since
        await adapter.post(adapter.channel("not-configured"), Message("t", "b"), "k3")
    assert caught.value.reason == CHANNEL_GONE


# -- hostile text inert -----------------------------------------------------------------------


def hostile() -> Message:
    fields = (Field("<!channel> @everyone", "**x** <@U1> [a](https://evil.test)"),)
    return Message(HOSTILE_TITLE, HOSTILE_BODY, fields, footer="@here <at>x</at>")


async def test_hostile_text_is_inert_on_discord(setup: Setup, hooks: FakeHooks) -> None:
    _, adapter, _, _ = await setup(DISCORD, ["h"])
    await adapter.post(adapter.channel("h"), hostile(), "k")
    (posted,) = hooks.messages(DISCORD)
    text = json.dumps(posted.body, ensure_ascii=False)
    assert posted.body["allowed_mentions"] == {
        "parse": [],
        "users": [],
        "roles": [],
        "replied_user": False,
    }
    assert "@everyone" not in text and "@here" not in text and "<@" not in text
    embed = posted.body["embeds"][0]
    assert "\\*\\*bold\\*\\*" in embed["title"] and "\\[click\\]" in embed["title"]
    assert "\\# Heading" in embed["description"] and "\\- list" in embed["description"]


async def test_hostile_text_is_inert_on_slack(setup: Setup, hooks: FakeHooks) -> None:
    _, adapter, _, _ = await setup(SLACK, ["h"])
    await adapter.post(adapter.channel("h"), hostile(), "k")
    (posted,) = hooks.messages(SLACK)
    text = json.dumps(posted.body, ensure_ascii=False)
    for raw in ("<!channel>", "<!here>", "<@U", "@everyone", "**x**", "`code`"):
        assert raw not in text, raw
    assert "&lt;!channel&gt;" in posted.body["text"]
    assert posted.body["link_names"] is False and posted.body["unfurl_links"] is False


async def test_hostile_text_is_inert_on_teams(setup: Setup, hooks: FakeHooks) -> None:
    _, adapter, _, _ = await setup(TEAMS, ["h"])
    await adapter.post(adapter.channel("h"), hostile(), "k")
    (posted,) = hooks.messages(TEAMS)
    texts = card_texts(posted)
    assert texts and {kind for kind, _ in texts} == {"TextRun"}  # markdown is never parsed
    joined = "\n".join(t for _, t in texts)
    assert "<at>" not in joined and "@everyone" not in joined and "<!channel>" not in joined
    assert f"<{ZWSP}at>" in joined and f"@{ZWSP}everyone" in joined


async def test_a_teams_card_stays_under_28_kb() -> None:
    from adapters.teams.render import MAX_PAYLOAD, render_card

    fields = tuple(Field(f"f{i}" * 50, "v" * 2000) for i in range(40))
    card = render_card(Message("t" * 1000, "b" * 100_000, fields, footer="x" * 5000))
    assert len(json.dumps(card, ensure_ascii=False).encode()) <= MAX_PAYLOAD


# -- the URL is a secret ----------------------------------------------------------------------


def secrets_of(hooks: FakeHooks) -> tuple[str, ...]:
    return (TOKEN, SIG, "T0001/B0001", f"127.0.0.1:{hooks.port}")


async def test_no_webhook_url_in_the_database_the_logs_or_the_cli(
    tmp_path: Path,
    hooks: FakeHooks,
    made: list[NamedWebhooks],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "bot.sqlite3"
    outputs: list[str] = []
    async with SqliteStore(db) as store:  # the Leaf's history, to subscribe to
        await store.sync_groups(load_config(None).groups)
        await Feed(store, Detector(store, load_config(None))).history()
    for step, kind in enumerate(KINDS):
        config_path = tmp_path / f"{kind}.toml"
        for key, value in write_config(config_path, hooks, kind, [f"desk{step}"]).items():
            monkeypatch.setenv(key, value)

        async def run(*args: str, path: Path = config_path) -> int:
            out = io.StringIO()  # the command runs its own loop: in a thread of its own
            code = await asyncio.to_thread(
                evbot, [*args, "--db", str(db), "--config", str(path)], out
            )
            outputs.append(out.getvalue())
            return code

        assert (
            await run("subscribe", "nissan leaf", "--platform", kind, "--channel", f"desk{step}")
            == 0
        )
        # a URL given as the channel is refused, and not repeated
        url = hooks.url(kind, "x")
        assert await run("subscribe", "nissan leaf", "--platform", kind, "--channel", url) != 0
        assert await run("subscribe", "nissan leaf", "--platform", kind, "--channel", "nope") != 0
        await run("subscriptions")
        await run("subscriptions", "--json")
        await run("check-config")
        config = load_config(config_path)
        adapter = registry.factory(kind)(config.platforms[kind])
        assert isinstance(adapter, NamedWebhooks)
        made.append(adapter)
        outputs.append(repr(adapter) + repr(config))
        hooks.fail(kind, None, 500)  # failures land in the outbox's last error and the log
        async with SqliteStore(db) as store:
            feed = Feed(store, Detector(store, config))
            feed.step = step  # the next rung: one delivery to the channel just subscribed
            await feed.news()
            await worker(store, config, adapter, Clock()).drain()
        hooks.faults.clear()
        await run("deliveries", "--json")
    captured = capsys.readouterr()
    outputs += [captured.out, captured.err, caplog.text]
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    conn.close()
    assert "failed" in dump or "pending" in dump  # the failures were recorded
    for secret in secrets_of(hooks):
        assert secret not in dump, secret
        for text in outputs:
            assert secret not in text, (secret, text[:500])


# -- the configuration ------------------------------------------------------------------------


BAD = [
    (
        '[webhooks.x]\nkind = "discord_webhook"\nurl = "https://discord.com/api/webhooks/1/t"\n',
        "never goes in the file",
    ),
    ('[webhooks.x]\nkind = "nope"\nurl_env = "X"\n', "is not one of"),
    ('[webhooks.x]\nurl_env = "X"\n', "kind: missing"),
    ('[webhooks.x]\nkind = "teams"\n', "needs one of url_env"),
    ('[webhooks.x]\nkind = "teams"\nurl_env = "https://x"\n', "NAME of an environment variable"),
    ('[webhooks.x]\nkind = "teams"\nurl_env = "X"\nthread_id = "1"\n', "unknown key"),
    ('[webhooks.x]\nkind = "discord_webhook"\nurl_env = "X"\nthread_id = "abc"\n', "thread id"),
    ('[webhooks."a b"]\nkind = "teams"\nurl_env = "X"\n', "a webhook's name"),
    (
        '[platforms.teams]\nenabled = true\n[webhooks.x]\nkind = "teams"\nurl_env = "UNSET_X"\n',
        "missing URL",
    ),
    ('[platforms.slack_webhook]\nchart_base_url = "http://x"\nchart_dir = "c"\n', "https://"),
    ('[platforms.slack_webhook]\nchart_base_url = "https://x"\n', "go together"),
]


@pytest.mark.parametrize(("text", "error"), BAD)
def test_bad_webhook_configuration_is_refused_with_its_key(
    text: str, error: str, tmp_path: Path
) -> None:
    path = tmp_path / "evbot.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert error in str(caught.value)
    assert "discord.com/api/webhooks/1/t" not in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        (DISCORD, "https://discord.com/api/webhooks/123/"),
        (DISCORD, "http://discord.com/api/webhooks/123/tok"),  # not https
        (SLACK, "https://hooks.slack.com/other/T/B/X"),
        (TEAMS, "https://prod.logic.azure.com/workflows/abc/run"),
    ],
)
def test_a_url_that_is_not_a_webhook_of_its_kind_is_refused_unquoted(
    kind: str, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "evbot.toml"
    path.write_text(
        f'[platforms.{kind}]\nenabled = true\n[webhooks.x]\nkind = "{kind}"\nurl_env = "U"\n',
        encoding="utf-8",
    )
    config = load_config(path, environ={"U": url})
    monkeypatch.setenv("U", url)
    with pytest.raises(ConfigError) as caught:
        registry.factory(kind)(config.platforms[kind])
    assert "webhooks.x" in str(caught.value) and url not in str(caught.value)


def test_a_url_read_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "hook.url"
    secret.write_text("https://discord.com/api/webhooks/42/abc-DEF_1\n", encoding="utf-8")
    path = tmp_path / "evbot.toml"
    path.write_text(
        '[platforms.discord_webhook]\nenabled = true\n[webhooks.ops]\nkind = "discord_webhook"\n'
        'url_file = "hook.url"\n',
        encoding="utf-8",
    )
    config = load_config(path, environ={})
    (target,) = config.platforms[DISCORD].webhooks.values()
    assert target.url({}) == "https://discord.com/api/webhooks/42/abc-DEF_1"
    assert "abc-DEF_1" not in repr(config)


def test_a_webhook_url_in_any_text_on_its_way_out_is_redacted() -> None:
    from bot.config.secrets import redact_secrets

    texts = {
        "see https://discord.com/api/webhooks/123/AbC-d_e?wait=true": "AbC-d_e",
        "https://hooks.slack.com/services/T0AB/B0CD/XyZ123abc failed": "XyZ123abc",
        "https://p.logic.azure.com:443/workflows/ab/triggers/manual/paths/invoke"
        "?api-version=1&sp=%2F&sv=1.0&sig=Q-w_e%3D9": "Q-w_e%3D9",
    }
    for text, credential in texts.items():
        shown = redact_secrets(text, {})
        assert credential not in shown and "***" in shown
