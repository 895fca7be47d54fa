"""Random TOML through `load_config`: every file gives a configuration or a `ConfigError` worded
`FILE: key: reason` (or `FILE: reason` for a file that is not TOML), never a traceback."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from bot.config import (
    _SOURCE_KEYS,
    _TOP,
    PLATFORM_OPTIONS,
    PLATFORM_SECRETS,
    Config,
    ConfigError,
    load_config,
)
from tests.hostile.support import FUZZ

KEYS = sorted(
    _TOP
    | _SOURCE_KEYS
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
        ]
    ),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_key, inner, max_size=5)),
    max_leaves=25,
)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


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
        return json.dumps(value, ensure_ascii=False)
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
    _load(path)


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
