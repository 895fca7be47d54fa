"""Random TOML through `load_config` and `evbot check-config`: every file gives a configuration or
a `ConfigError` worded `FILE: key: reason` naming a key the file holds (or `FILE: reason` for a
file that is not TOML), never a traceback; with every secret set in the environment and pasted
anywhere in the file, no secret (nor the head of one) is printed."""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.cli.main import main
from bot.config.load import TOP_KEYS, load_config
from bot.config.platforms import PLATFORM_OPTIONS
from bot.config.secrets import redact_secrets
from bot.config.sections import SOURCE_KEYS
from bot.domain.settings import PLATFORM_SECRETS, Config, ConfigError
from tests.hostile.support import FUZZ, SECRET_VALUES

KEYS = sorted(
    TOP_KEYS
    | SOURCE_KEYS
    | {k for opts in PLATFORM_OPTIONS.values() for k in opts}
    | {
        f"{k}{s}"
        for secrets in PLATFORM_SECRETS.values()
        for k in secrets
        for s in ("", "_env", "_file")
    }
    | set(PLATFORM_SECRETS)
    | {"enabled", "poll_seconds", "name", "members", "make", "from", "to", "aggregates", "parents"}
    | {"share_band", "share_hysteresis", "min_months", "min_parent_total", "period", "units"}
    | {"region", "model", "columns", "constants", "default", "us", "World"}
)
_key = st.one_of(st.sampled_from(KEYS), st.text(min_size=1, max_size=8))
_scalar = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "default",
            "every:0",
            "every:5",
            "mapped",
            "iea",
            "canonical",
            "running",
            "en",
            "xx",
            "2016-10",
            "2016-13",
            "utf-8",
            "nope-codec",
            "%Y",
            "http",
            "SLACK_BOT_TOKEN",
            "xoxb-not-an-env-name!",
            "../../etc/passwd",
            # enumerations, and values next to them
            "socket",
            "websocket",
            "sales",
            "stock",
            "period",
            "cumulative",
            "year",
            "week",
            "every:²",
            "every:99999999999999999999",
            "postgresql://evbot@127.0.0.1/evbot",
            "mysql://evbot@db/evbot",
            "missing-folder/evbot.sqlite3",
            ".",
            "\x00",
        ]
    ),
    st.sampled_from(SECRET_VALUES),
    st.sampled_from(SECRET_VALUES).map(lambda v: f"postgresql://evbot:{v}@db/evbot"),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, -1, 1, 65535, 65536, 99999999, 2**64, -(10**30), 10**40]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_key, inner, max_size=5)),
    max_leaves=25,
)


def _toml_string(text: str) -> str:
    # JSON's escapes are TOML's, except that TOML wants DEL escaped too
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def to_toml(data: dict[str, Any]) -> str:
    """A TOML document for `data` (inline tables: deep nesting on few lines)."""
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in data.items())


def _load(path: Path) -> Config | None:
    try:
        return load_config(path, environ={})
    except ConfigError as exc:
        text = str(exc)
        assert text.startswith(f"{path}: "), text
        assert len(text) > len(f"{path}: "), "an error with no reason"
        return None


def _names_a_key(rest: str, data: dict[str, Any]) -> bool:
    """Whether an error (after `FILE: `) starts with the path of a key the file holds: its
    top-level key, then `.`, `[` or `: ` (keys are shown redacted)."""
    return any(re.match(re.escape(redact_secrets(key)) + r"(?:[.\[]|: )", rest) for key in data)


def _leaks(text: str) -> list[str]:
    """Secrets, or the first 10 characters of one (what a cut before redaction would leave)."""
    return [s for s in SECRET_VALUES if s in text or s[:10] in text]


@pytest.mark.slow
@FUZZ
@given(data=st.dictionaries(_key, _value, max_size=8))
@example(data={"ladders": {"x": "every:00"}})
@example(data={"regions": {"parents": {"A": "B", "B": "A"}}})
@example(data={"groups": [{"name": "G", "members": [{"make": "M", "from": 201610}]}]})
@example(
    data={
        "sources": {
            "s": {
                "format": "mapped",
                "columns": {"period": "p", "units": "u", "region": "r"},
                "encoding": "\x00",
            }
        }
    }
)
@example(data={"platforms": {"slack": {"enabled": True, "mode": "http"}}})
@example(data={"platforms": {"discord": {"token": "abc.def.ghi"}}})
@example(data={"schedule": {"poll_seconds": math.nan}})
@example(data={"milestones": {"share_band": math.inf}})
@example(data={"locale": "\x00"})
def test_config_shaped_toml(tmp_path: Path, data: dict[str, Any]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    assert _parsed(tomllib.loads(path.read_text(encoding="utf-8"))) == _parsed(data)
    try:
        load_config(path, environ={})
    except ConfigError as exc:
        text = str(exc)
        assert text.startswith(f"{path}: "), text
        assert _names_a_key(text.removeprefix(f"{path}: "), data), text


def _parsed(data: Any) -> Any:
    """`data` as TOML gives it back (nan is not equal to itself: compare its text)."""
    if isinstance(data, float) and math.isnan(data):
        return "nan"
    if isinstance(data, dict):
        return {k: _parsed(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_parsed(v) for v in data]
    return data


_long = st.builds(
    lambda piece, n: piece * n,
    st.sampled_from(["a", "a://u:", "@", "password=", "<@&1>", *SECRET_VALUES]),
    st.integers(min_value=1, max_value=20_000),
)
_hostile_scalar = st.one_of(
    _scalar,
    _long,
    st.tuples(_long, st.sampled_from(SECRET_VALUES), _long).map("".join),
)
_hostile_value = st.recursive(
    _hostile_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_key, inner, max_size=4)),
    max_leaves=12,
)
_settings = st.sampled_from(
    [
        ("database", None),
        ("locale", None),
        ("schedule", "poll_seconds"),
        ("milestones", "share_band"),
        ("milestones", "min_months"),
        ("milestones", "min_parent_total"),
        ("ladders", "big"),
        ("aliases", "leaf"),
        ("platforms", "slack"),
        ("platforms", "discord"),
        ("platforms", "webhook"),
        ("sources", "us"),
    ]
)
_options = st.sampled_from(
    sorted({k for opts in PLATFORM_OPTIONS.values() for k in opts} | SOURCE_KEYS | {"enabled"})
)


@st.composite
def hostile_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Config-shaped files whose values are hostile where a real setting reads them."""
    data: dict[str, Any] = {}
    for section, key in draw(st.lists(_settings, min_size=1, max_size=4)):
        value = draw(_hostile_value)
        if key is None:
            data[section] = value
        elif section in ("platforms", "sources"):
            table = draw(st.dictionaries(_options, _hostile_value, max_size=4))
            data.setdefault(section, {})[key] = table
        else:
            data.setdefault(section, {})[key] = value
    return data


@pytest.mark.slow
@FUZZ
@given(data=hostile_configs())
@example(data={"schedule": {"poll_seconds": math.inf}})
@example(data={"platforms": {"slack": {"mode": "x" * 190 + SECRET_VALUES[1]}}})
@example(data={"platforms": {"slack": {"port": 99999999, "enabled": True}}})
@example(data={"database": "missing-folder/evbot.sqlite3"})
@example(data={"locale": "password=" + SECRET_VALUES[-1] * 50})
@example(data={SECRET_VALUES[0]: 1})
@example(data={"aliases": {SECRET_VALUES[2]: SECRET_VALUES[3]}})
def test_check_config_never_crashes_names_the_key_and_keeps_secrets(
    tmp_path: Path,
    secret_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    data: dict[str, Any],
) -> None:
    """`evbot check-config` on hostile values, every secret set in the environment: exit 0 with
    the settings, or 1 with a line `FILE: key: reason` per problem, each naming a key the file
    holds; never an internal error, never a secret or the head of one in what it prints."""
    path = tmp_path / "config.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    status = main(["check-config", "--config", str(path)])
    out, err = capsys.readouterr()
    assert _leaks(out + err) == [], (out + err)[:2000]
    assert "internal error" not in err and "Traceback" not in err, err[-3000:]
    if status == 0:
        json.loads(out)
        return
    assert status == 1 and out == "", (status, out[:500])
    lines = err.splitlines()
    if len(lines) == 1:  # one problem: `evbot check-config: FILE: key: reason`
        problems = [lines[0].removeprefix("evbot check-config: ")]
    else:  # several: each `FILE: key: reason`, then how many
        problems = lines[:-1]
        assert lines[-1] == f"evbot check-config: {len(problems)} problems in {path}", err[:2000]
    for problem in problems:
        prefix = f"{path}: "
        assert problem.startswith(prefix), err[:2000]
        rest = problem.removeprefix(prefix)
        assert _names_a_key(rest, data), err[:2000]
        assert len(rest) < 1200, rest[:2000]  # quoted values are cut


@FUZZ
@given(raw=st.one_of(st.binary(max_size=500), st.text(max_size=500).map(str.encode)))
@example(raw=b"\xef\xbb\xbfdatabase = 'x'")
@example(raw=b"a = " + b"[" * 5000)
@example(raw=b"a = " + b"{b = " * 3000)
def test_any_bytes(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(raw)
    _load(path)


def test_a_secret_pasted_as_an_env_name_is_not_repeated(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    token = "xoxb-1234-5678-SECRETVALUE"
    path.write_text(f'[platforms.slack]\nbot_token_env = "{token}"\n', encoding="utf-8")
    try:
        load_config(path, environ={})
    except ConfigError as exc:
        assert token not in str(exc)
        assert "must be the NAME of an environment variable" in str(exc)
    else:
        raise AssertionError("a token in place of an env var name was accepted")
