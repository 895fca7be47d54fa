"""Slack settings from the configuration, their errors, the wiring, and `evbot slack manifest`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from adapters.slack.adapter import SlackAdapter
from adapters.slack.manifest import BOT_SCOPES, manifest
from adapters.slack.render import suggestion_block
from adapters.slack.settings import DEFAULT_API, SlackSettings
from bot.app.bootstrap import build_adapters
from bot.cli.main import main
from bot.commands.table import COMMANDS
from bot.commands.types import CommandHost
from bot.config.load import load_config
from bot.domain.settings import ConfigError
from bot.ports.chat import ChatAdapter

ENV = {
    "SLACK_BOT_TOKEN": "xoxb-T1-secret-bot",
    "SLACK_APP_TOKEN": "xapp-1-secret-app",
    "SLACK_SIGNING_SECRET": "secret-signing",
    "SLACK_CLIENT_SECRET": "secret-client",
}


def settings(tmp_path: Path, body: str, environ: dict[str, str] = ENV) -> SlackSettings:
    path = tmp_path / "evbot.toml"
    path.write_text("[platforms.slack]\nenabled = true\n" + body, encoding="utf-8")
    config = load_config(path, environ=environ)
    return SlackSettings.from_config(config.platforms["slack"], environ)


def test_socket_mode_is_the_default_and_secrets_come_from_the_environment(
    tmp_path: Path,
) -> None:
    s = settings(tmp_path, "")
    assert (s.mode, s.api_base_url, s.oauth) == ("socket", DEFAULT_API, False)
    assert (s.bot_token, s.app_token) == ("xoxb-T1-secret-bot", "xapp-1-secret-app")
    assert s.channel_rate_per_second == 1.0
    for secret in ENV.values():
        assert secret not in repr(s) and secret not in repr(SlackAdapter(s))


def test_http_mode_with_its_address_allow_list_and_api_host(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        'mode = "http"\nhost = "0.0.0.0"\nport = 8080\n'
        'api_base_url = "https://slack-gov.com/api"\nadmins = ["U1", "T1:U2"]\n'
        "rate_per_second = 5\n",
    )
    assert (s.mode, s.host, s.port) == ("http", "0.0.0.0", 8080)
    assert s.api_base_url == "https://slack-gov.com/api/"  # slack_sdk joins method names to it
    assert s.admins == frozenset({"U1", "T1:U2"})
    assert SlackAdapter(s).limits.global_per_second == 5.0


def test_oauth_needs_http_mode_a_client_id_and_the_client_secret(tmp_path: Path) -> None:
    env = {"SLACK_SIGNING_SECRET": "s", "SLACK_CLIENT_SECRET": "c"}
    s = settings(tmp_path, 'mode = "http"\nclient_id = "123.456"\n', env)
    assert s.oauth and s.bot_token is None
    with pytest.raises(ConfigError, match="client_secret: missing secret"):
        settings(tmp_path, 'mode = "http"\nclient_id = "123.456"\n', {"SLACK_SIGNING_SECRET": "s"})
    with pytest.raises(ConfigError, match=r'client_id: .* need mode = "http"'):
        settings(tmp_path, 'client_id = "123.456"\n')


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('mode = "websocket"\n', "platforms.slack.mode: 'websocket' is not one of socket, http"),
        ("port = 70000\n", "platforms.slack.port: 70000 is not a TCP port"),
        ('api_base_url = "slack.com/api"\n', "platforms.slack.api_base_url: 'slack.com/api/'"),
        ("rate_per_second = 0\n", "platforms.slack.rate_per_second: must be a number above 0"),
        ('admins = "U1"\n', "platforms.slack.admins: must be"),
    ],
)
def test_bad_settings_say_which_key_and_why(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, body)
    assert message in str(caught.value)


def test_an_app_token_that_is_not_one_is_refused_without_repeating_it(tmp_path: Path) -> None:
    env = ENV | {"SLACK_APP_TOKEN": "xoxb-pasted-the-wrong-token"}
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, "", env)
    assert "app_token: an app-level token starts with xapp-" in str(caught.value)
    assert "xoxb-pasted" not in str(caught.value)


def test_wiring_builds_the_slack_adapter_and_names_the_file_in_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "evbot.toml"
    path.write_text("[platforms.slack]\nenabled = true\n", encoding="utf-8")
    adapters = build_adapters(load_config(path), io.StringIO())
    adapter = adapters["slack"]
    assert isinstance(adapter, SlackAdapter)
    assert isinstance(adapter, CommandHost)  # the app serves its commands
    checked: ChatAdapter = adapter
    assert checked.platform == "slack"

    path.write_text('[platforms.slack]\nenabled = true\nport = 99999\nmode = "http"\n')
    with pytest.raises(ConfigError) as caught:
        build_adapters(load_config(path), io.StringIO())
    assert str(caught.value).startswith(f"{path}: platforms.slack.port: 99999")


# -- the manifest ---------------------------------------------------------------------------


def test_the_manifest_lists_every_command_and_scope_with_socket_mode_on() -> None:
    out = io.StringIO()
    assert main(["slack", "manifest"], out=out) == 0
    m = json.loads(out.getvalue())
    commands = {c["command"]: c for c in m["features"]["slash_commands"]}
    assert set(commands) == {f"/{name}" for name in COMMANDS}
    assert commands["/ev-total"]["usage_hint"] == "nissan leaf region:US as-of:2015-06"
    assert all(not c["should_escape"] and "url" not in c for c in commands.values())
    assert all(len(c["description"]) <= 100 for c in commands.values())
    assert (
        set(m["oauth_config"]["scopes"]["bot"])
        == {
            "commands",
            "chat:write",
            "files:write",
            "users:read",
            "channels:history",
            "groups:history",
        }
        == set(BOT_SCOPES)
    )
    assert m["settings"]["socket_mode_enabled"] is True
    assert m["settings"]["interactivity"] == {"is_enabled": True}


def test_the_http_manifest_points_slack_at_the_bot() -> None:
    m = manifest(url="https://ev.example.org/")
    assert m["settings"]["socket_mode_enabled"] is False
    assert {c["url"] for c in m["features"]["slash_commands"]} == {
        "https://ev.example.org/slack/events"
    }
    assert m["settings"]["interactivity"]["request_url"] == "https://ev.example.org/slack/events"
    assert m["oauth_config"]["redirect_urls"] == ["https://ev.example.org/slack/oauth_redirect"]


def test_a_bad_manifest_option_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slack", "manifest", "--url", "http://ev.example.org"], out=io.StringIO()) == 1
    assert "--url: Slack only calls https:// addresses" in capsys.readouterr().err
    assert main(["slack", "manifest", "--name", "x" * 36], out=io.StringIO()) == 1


# -- did-you-mean buttons -------------------------------------------------------------------


def test_suggestion_buttons_are_inert_and_within_limits() -> None:
    block = suggestion_block(
        [("<!channel> @here", "v1"), ("x" * 200, "v2"), ("ok", "y" * 2001)]
        + [(f"n{i}", "v") for i in range(40)]
    )
    assert block is not None and block["type"] == "actions"
    buttons = block["elements"]
    assert len(buttons) == 25
    assert len({b["action_id"] for b in buttons}) == 25
    assert "<!channel>" not in buttons[0]["text"]["text"]
    assert "@here" not in buttons[0]["text"]["text"]
    assert len(buttons[1]["text"]["text"]) <= 75
    assert all(b["value"] != "y" * 2001 for b in buttons)  # too long for Slack: left out
    assert suggestion_block([]) is None


def test_slack_libraries_are_not_imported_by_the_core() -> None:
    import subprocess
    import sys

    code = (
        "import bot.app.runtime, bot.cli.main, bot.app.bootstrap, bot.store.sqlite.sales, sys; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('slack_bolt', 'slack_sdk')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
