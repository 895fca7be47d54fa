"""The wheel is the product: built from the tracked files, installed into a fresh virtual
environment outside the source tree, it carries everything the bot reads at run time (demo
data, region tables, and whatever later work adds under `bot/` and `adapters/`) and runs.

Offline: the wheel is built without build isolation, installed with `--no-deps`, and the new
environment sees this environment's libraries through a `.pth` line (never the project itself,
whose editable install needs its own `.pth` processing, which a path line does not do).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import built_once

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@dataclass
class Installed:
    wheel: Path
    venv: Path
    home: Path  # a folder outside the source tree to run from

    def run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EVBOT_CONFIG")}
        env.pop("EVBOT_DB", None)
        return subprocess.run(
            [str(self.venv / "bin" / args[0]), *args[1:]],
            cwd=self.home,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def tracked(*folders: str) -> list[str]:
    """The files git tracks under `folders` (the tree's own, not what a build left behind)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: which files are tracked is unknown")
    out = subprocess.run(
        ["git", "ls-files", "-z", "--", *folders],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in out.split("\0") if name and (ROOT / name).exists()]


def build_and_install(base: Path) -> Installed:
    """The wheel built from a copy of the tracked tree, installed into a new environment."""
    source = base / "src"
    for name in tracked("."):  # a copy of the tracked tree: the build litters where it runs
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, source],
        capture_output=True,
        check=True,
        timeout=300,
    )
    (wheel,) = dist.glob("evbot-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python]
    subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--no-index", wheel],
        capture_output=True,
        check=True,
        timeout=300,
    )
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "evbot-test-libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    home = base / "home"
    home.mkdir()
    return Installed(wheel, venv, home)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Built once for the run: the module's two tests may run in two workers."""
    return built_once(tmp_path_factory, "wheel", build_and_install)


def test_the_wheel_carries_every_tracked_data_file(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        (record,) = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
        listed = {line.split(",")[0] for line in archive.read(record).decode().splitlines()}
    data = [name for name in tracked("bot", "adapters") if not name.endswith(".py")]
    assert "bot/data/alliance_demo.csv" in data  # the demo needs it
    assert [name for name in data if name not in listed] == []
    modules = [name for name in tracked("bot", "adapters") if name.endswith(".py")]
    assert [name for name in modules if name not in listed] == []


def test_the_installed_wheel_runs_away_from_the_tree(installed: Installed) -> None:
    shown = installed.run("evbot", "--version")
    assert shown.returncode == 0 and shown.stdout == f"evbot {version('evbot')}\n"
    where = installed.run("python", "-c", "import bot; print(bot.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(installed.venv)  # not the source tree

    config = installed.home / "evbot.toml"
    config.write_text('database = "bot.sqlite3"\nlocale = "en"\n', encoding="utf-8")
    checked = installed.run("evbot", "check-config", "--config", str(config))
    assert checked.returncode == 0, checked.stderr
    assert "bot.sqlite3" in checked.stdout

    demo = installed.run("evbot", "demo", "--speed", "0")
    assert demo.returncode == 0, demo.stderr
    assert "350,000" in demo.stdout and "Demo done" in demo.stdout
