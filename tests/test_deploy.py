"""The service files in `deploy/`, checked without a service manager's or a container engine's
run: the systemd unit verifies, charts draw with only `MPLCONFIGDIR` writable, and the
Dockerfile and compose file hold together (no container engine runs in CI)."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app.ops import parse_address
from bot.domain.settings import STOP_GRACE_SECONDS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def unit() -> dict[str, list[str]]:
    """The unit's `Key=value` settings (a key may repeat)."""
    found: dict[str, list[str]] = {}
    for line in (DEPLOY / "evbot.service").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    evbot = Path(sys.executable).parent / "evbot"
    if not evbot.exists():
        pytest.skip("no evbot script beside this interpreter")
    text = (DEPLOY / "evbot.service").read_text(encoding="utf-8")
    copy = tmp_path / "evbot.service"
    copy.write_text(re.sub(r"(?m)^ExecStart=\S+", f"ExecStart={evbot}", text), encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(copy)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # a misspelt key only warns: any output at all is a failure
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_unit_holds_what_a_long_running_bot_needs() -> None:
    found = unit()
    assert found["User"] == ["evbot"] and found["StateDirectory"] == ["evbot"]
    assert found["CacheDirectory"] == ["evbot"]
    assert "MPLCONFIGDIR=/var/cache/evbot/matplotlib" in found["Environment"]
    assert found["ProtectSystem"] == ["strict"] and found["NoNewPrivileges"] == ["yes"]
    assert found["Restart"] == ["on-failure"] and found["EnvironmentFile"]
    assert found["ExecStart"][0].split()[1] == "run"
    assert float(found["TimeoutStopSec"][0]) > STOP_GRACE_SECONDS


def test_a_chart_draws_with_a_read_only_home_and_only_mplconfigdir_writable(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    db = tmp_path / "bot.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVBOT_", "XDG_"))}
    # /proc takes no new folder, even for root: a home where nothing can be written
    env |= {"HOME": "/proc/evbot-home", "MPLCONFIGDIR": str(cache), "PYTHONPATH": str(ROOT)}
    for args in (["import", "--demo"], ["chart", "alliance", "--out", str(out / "a.png")]):
        done = subprocess.run(
            [sys.executable, "-m", "bot", *args, "--db", str(db)],
            cwd=out,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "temporary" not in done.stderr  # matplotlib's "created a temporary cache"
    assert (out / "a.png").read_bytes().startswith(b"\x89PNG")
    assert list(cache.glob("fontlist-*.json"))  # matplotlib's cache went where it was told


def dockerignored(context: Path) -> list[str]:
    lines = (context / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    return any(
        fnmatch.fnmatch(path, p)
        or fnmatch.fnmatch(path, p.removeprefix("**/"))
        or path.startswith(p.rstrip("/") + "/")
        for p in patterns
    )


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return data


def replicas() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose()["services"].items() if "build" in s}


def test_every_copy_in_the_dockerfile_exists_in_the_build_context() -> None:
    (build,) = {json.dumps(s["build"], sort_keys=True) for s in replicas().values()}
    spec = json.loads(build)
    context = (DEPLOY / spec["context"]).resolve()
    dockerfile = context / spec["dockerfile"]
    assert dockerfile == DEPLOY / "Dockerfile"
    patterns = dockerignored(context)
    sources = []
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += words[1:-1]
    assert sources
    for source in sources:
        assert (context / source).exists(), source
        assert not ignored(source, patterns), f"{source} is left out by .dockerignore"
    assert "requirements.lock" in sources  # the container installs the lock


def test_the_container_runs_an_evbot_command_in_exec_form_and_checks_its_health() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    entry = json.loads(re.search(r"(?m)^ENTRYPOINT (\[.*\])$", text)[1])  # type: ignore[index]
    command = json.loads(re.search(r"(?m)^CMD (\[.*\])$", text)[1])  # type: ignore[index]
    assert entry == ["evbot"]
    from bot.cli.main import build_parser

    assert build_parser().parse_args(command).command == "run"
    assert re.search(r"(?m)^USER evbot$", text)  # not root
    health = re.search(r"HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])", text)
    assert health is not None
    probe = " ".join(json.loads(health[1]))
    ops = re.search(r"EVBOT_OPS_ADDRESS=(\S+)", text)
    assert ops is not None
    _, port = parse_address(ops[1])
    assert f"127.0.0.1:{port}/healthz" in probe
    for service in replicas().values():
        assert service["command"][0] == "run"
        assert parse_address(service["environment"]["EVBOT_OPS_ADDRESS"])[1] == port


def test_the_replicas_share_one_database_and_differ_in_shards() -> None:
    services = replicas()
    assert len(services) == 2
    databases = {s["environment"]["EVBOT_DB"] for s in services.values()}
    assert len(databases) == 1 and next(iter(databases)).startswith("postgresql://")
    assert "@db:" in next(iter(databases)) and "db" in compose()["services"]
    shards = []
    for service in services.values():
        assert float(service["stop_grace_period"].removesuffix("s")) > STOP_GRACE_SECONDS
        (mount,) = service["volumes"]
        local = DEPLOY / mount.split(":")[0]
        config = tomllib.loads(local.read_text(encoding="utf-8"))
        shards.append(tuple(config["platforms"]["discord"]["shard_ids"]))
    assert len(set(shards)) == 2
