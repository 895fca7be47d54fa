"""Secrets (platform tokens, signing secrets, a database password) never appear in `evbot
check-config`, error messages, crash output or logs; forged and replayed webhook signatures are
refused. Every log record of the hostile suite is grepped for the secrets too (conftest)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bot.cli.main
from adapters.webhook import WebhookAdapter, sign, verify_signature
from bot.cli.main import main
from bot.config.load import load_config, redact_secrets
from bot.domain.channels import REJECTED_PAYLOAD, DeliveryFailure
from bot.domain.messages import Message
from tests.fake_webhook import FakeWebhook
from tests.hostile.support import DB_PASSWORD, SECRET_VALUES, SECRETS

ROOT = Path(__file__).resolve().parents[2]
DSN = f"postgresql://evbot:{DB_PASSWORD}@127.0.0.1:1/evbot"  # as typed on a command line
CONFIG = """
database = "postgresql://evbot@127.0.0.1:1/evbot"

[platforms.discord]
enabled = true
token_env = "DISCORD_TOKEN"

[platforms.slack]
enabled = true
mode = "http"
bot_token_env = "SLACK_BOT_TOKEN"
signing_secret_env = "SLACK_SIGNING_SECRET"

[platforms.webhook]
enabled = true
"""


def _leaks(text: str) -> list[str]:
    return [s for s in SECRET_VALUES if s in text]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "evbot.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_check_config_shows_that_secrets_are_set_never_their_values(
    secret_env: dict[str, str], config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "check-config", "--config", str(config_file))
    assert status == 0, err
    assert _leaks(out + err) == []
    settings = json.loads(out)
    assert settings["database"] == "postgresql://evbot@127.0.0.1:1/evbot"
    assert settings["platforms"]["discord"]["token"] == "set ($DISCORD_TOKEN)"
    assert settings["platforms"]["slack"]["signing_secret"] == "set ($SLACK_SIGNING_SECRET)"


def test_check_config_hides_the_password_of_a_dsn_given_by_db_or_evbot_db(
    secret_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out, err = _run(capsys, "check-config", "--db", DSN)
    assert _leaks(out + err) == []
    monkeypatch.setenv("EVBOT_DB", DSN)
    _, out, err = _run(capsys, "check-config")
    assert _leaks(out + err) == []


def test_errors_never_show_a_secret(
    secret_env: dict[str, str],
    config_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outputs: list[str] = []
    for argv in (
        ["total", "all", "--config", str(config_file)],  # the server does not answer
        ["total", "all", "--db", DSN],
        ["import", str(tmp_path / "missing.csv"), "--db", DSN],
        ["subscriptions", "--db", DSN],
        ["deliveries", "--db", DSN],
    ):
        status, out, err = _run(capsys, *argv)
        assert status != 0, argv
        assert "Traceback" not in err, err
        outputs.append(out + err)
    # a secret pasted where the configuration wants a variable NAME is not repeated back
    pasted = tmp_path / "pasted.toml"
    for table, key, value in (
        ("discord", "token_env", SECRETS["DISCORD_TOKEN"]),
        ("discord", "token", SECRETS["DISCORD_TOKEN"]),
        ("slack", "signing_secret", SECRETS["SLACK_SIGNING_SECRET"]),
        ("webhook", "signing_secret", SECRETS["EVBOT_WEBHOOK_SECRET"]),
    ):
        pasted.write_text(f'[platforms.{table}]\n{key} = "{value}"\n', encoding="utf-8")
        status, out, err = _run(capsys, "check-config", "--config", str(pasted))
        assert status == 1 and err.startswith(f"evbot check-config: {pasted}: platforms."), err
        outputs.append(out + err)
    for text in outputs:
        assert _leaks(text) == [], text


def test_crash_output_keeps_the_traceback_but_not_the_secrets(
    secret_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug whose exception text carries a DSN and a token (as a library's might)."""

    async def crashing(args: object, out: object) -> int:
        raise RuntimeError(
            f"cannot reach {DSN} with token {SECRETS['DISCORD_TOKEN']} password={DB_PASSWORD}"
        )

    monkeypatch.setattr(bot.cli.main, "cmd_total", crashing)
    status, out, err = _run(capsys, "total", "all")
    assert status == 1
    assert "Traceback (most recent call last)" in err and "RuntimeError: cannot reach" in err
    assert err.rstrip().endswith("evbot total: internal error (a bug; please report it)")
    assert _leaks(out + err) == []


def test_redact_secrets_covers_dsn_forms(secret_env: dict[str, str]) -> None:
    for text in (
        DSN,
        f"postgres://evbot:{DB_PASSWORD}@db.example/evbot?sslmode=require",
        f"host=db user=evbot password={DB_PASSWORD} dbname=evbot",
        f"postgresql://evbot@db.example/evbot?password={DB_PASSWORD}",
        f"bot token {SECRETS['SLACK_BOT_TOKEN']} and {SECRETS['SLACK_APP_TOKEN']}",
    ):
        assert _leaks(redact_secrets(text)) == [], text
    assert redact_secrets("/var/lib/evbot/evbot.sqlite3") == "/var/lib/evbot/evbot.sqlite3"


def test_store_errors_name_a_dsn_without_a_password_in_its_query() -> None:
    from bot.store.postgres.base import safe_dsn

    assert DB_PASSWORD not in safe_dsn(f"postgresql://evbot@db/evbot?password={DB_PASSWORD}")


def test_the_configuration_object_does_not_hold_secret_values(
    secret_env: dict[str, str], config_file: Path
) -> None:
    """Secrets are read when used, so a repr of the config (in a log or a crash) has none."""
    config = load_config(config_file)
    assert _leaks(repr(config)) == []


# -- webhook signatures: forged and replayed -----------------------------------------------------


async def test_forged_and_replayed_webhook_signatures_are_refused(
    secret_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    secret = SECRETS["EVBOT_WEBHOOK_SECRET"]
    caplog.set_level(logging.DEBUG)
    async with FakeWebhook(secret=secret) as fake:
        good = WebhookAdapter(secret=secret, timeout=5)
        forger = WebhookAdapter(secret="guessed-secret", timeout=5)
        unsigned = WebhookAdapter(timeout=5)
        try:
            channel = good.channel(fake.url("room"))
            msg = Message("Nissan Leaf passes 250,000", "A milestone.")
            assert await good.post(channel, msg, "evbot-delivery-1") == "m1"
            for adapter in (forger, unsigned):
                with pytest.raises(DeliveryFailure) as info:
                    await adapter.post(channel, msg, "evbot-delivery-2")
                assert info.value.reason == REJECTED_PAYLOAD
                assert _leaks(str(info.value)) == []
        finally:
            for adapter in (good, forger, unsigned):
                await adapter.close()
        assert list(fake.messages) == ["evbot-delivery-1"]
        sent = fake.requests[0]
        assert _leaks(sent.body.decode() + json.dumps(sent.headers)) == []
        assert repr(good).count("secret") == 0 or secret not in repr(good)

    stamp = sent.headers["X-Evbot-Timestamp"]
    signature = sent.headers["X-Evbot-Signature"]
    now = float(stamp)
    assert verify_signature(secret, stamp, sent.body, signature, now=now)
    # replayed later than the window, with the original signature
    assert not verify_signature(secret, stamp, sent.body, signature, now=now + 301)
    # replayed with a fresh timestamp but the old signature
    assert not verify_signature(secret, str(int(now) + 200), sent.body, signature, now=now + 200)
    # a changed body, a truncated or differently cased signature, a signature of another secret
    assert not verify_signature(
        secret, stamp, sent.body.replace(b"250", b"999"), signature, now=now
    )
    assert not verify_signature(secret, stamp, sent.body, signature[:-1], now=now)
    assert not verify_signature(secret, stamp, sent.body, signature.upper(), now=now)
    assert not verify_signature(secret, stamp, sent.body, sign("x", stamp, sent.body), now=now)
    # timestamps that are not numbers, or not finite, or far in the future
    for bad in ("", "abc", "nan", "inf", "-inf", "1e400", str(int(now) + 10_000)):
        assert not verify_signature(secret, bad, sent.body, sign(secret, bad, sent.body), now=now)
    # the same request sent again (a replay inside the window) never makes a second message
    assert time.time() - now < 300


# -- what an error quotes back: redacted over the whole text, then cut ---------------------------


@pytest.mark.parametrize(
    ("secret", "before"),
    [
        (SECRETS["SLACK_BOT_TOKEN"], ""),
        (SECRETS["DISCORD_TOKEN"], ""),
        (DB_PASSWORD, "postgresql://evbot:"),  # a DSN's password, cut before its "@"
        (DB_PASSWORD, "password="),
    ],
)
def test_a_secret_across_the_cut_point_leaves_no_part_of_itself(
    secret_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    secret: str,
    before: str,
) -> None:
    """An error quotes at most 200 characters of a value; cutting first would keep the head of
    a secret that straddles the cut, which no redaction then recognises."""
    for offset in (3, len(secret) // 2, len(secret) - 2):
        # the quoted value is cut to 199 characters and "…": the secret starts `offset` before
        head = "." * (199 - offset - len(before)) + before
        value = f"{head}{secret}@db.example/evbot" + " and more" * 50
        path = tmp_path / "evbot.toml"
        path.write_text(f'[platforms.slack]\nmode = "{value}"\n', encoding="utf-8")
        status, out, err = _run(capsys, "check-config", "--config", str(path))
        assert status == 1 and out == ""
        assert err.startswith(f"evbot check-config: {path}: platforms.slack.mode: '....")
        assert len(err) < 400 and err.count("and more") < 3, err  # cut
        fragments = [secret[:k] for k in range(3, len(secret) + 1) if secret[:k] in err]
        assert fragments == [], err


@pytest.mark.slow
def test_a_5_mb_value_is_refused_quickly(tmp_path: Path) -> None:
    """Redaction is linear: 5 MB takes about a second here, where the backtracking pattern it
    replaced took 1.6 s for 40,000 characters and grew with the square (hours for 5 MB). The
    generous timeouts bound a hang; they do not measure speed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    path = tmp_path / "evbot.toml"
    path.write_text(f'[platforms.slack]\nmode = "{"a" * 5_000_000}"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"evbot check-config: {path}: platforms.slack.mode: 'aaaa")
    assert len(done.stderr) < 400
    # the shapes that make a DSN pattern work hardest: many schemes and no "@", many "@"
    shapes = (
        "from bot.config.load import redact_secrets\n"
        "for text in ('a://u:' * 800_000, 'postgresql://evbot:' + '@' * 5_000_000,\n"
        "             'password=' * 500_000, 'x' * 5_000_000 + '://u:p@h'):\n"
        "    assert '***' in redact_secrets(text, {}) or '@' not in text\n"
    )
    subprocess.run([sys.executable, "-c", shapes], timeout=120, env=env, check=True)
