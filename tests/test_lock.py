"""The deployment lock, checked offline: every requirement of `pyproject.toml` is met by the
version `requirements.lock` pins, every pin carries hashes, and `requirements.lock` pins what
`uv.lock` does (README "Running it for real" names the command that refreshes both)."""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")

Locked = dict[str, set[Version]]


def requirements_lock(text: str) -> tuple[Locked, list[str]]:
    """Pinned versions by canonical name (a package may be pinned once per Python range), and
    the pins that carry no hash."""
    pins: Locked = defaultdict(set)
    unhashed = []
    logical = re.sub(r"\\\n", " ", text)  # a pin continues over backslashed lines
    for line in logical.splitlines():
        found = PIN.match(line)
        if found is None:
            continue
        pins[canonicalize_name(found[1])].add(Version(found[2]))
        if "--hash=sha256:" not in line:
            unhashed.append(found[1])
    return dict(pins), unhashed


def uv_lock(text: str) -> Locked:
    """Every registry package's locked versions in a uv.lock (the project itself left out)."""
    pins: Locked = defaultdict(set)
    for package in tomllib.loads(text)["package"]:
        if "registry" in package.get("source", {}):
            pins[canonicalize_name(package["name"])].add(Version(package["version"]))
    return dict(pins)


def unmet(requirements: list[str], locked: Locked) -> list[str]:
    """The requirements no locked version satisfies (missing, or outside the range)."""
    problems = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        versions = locked.get(canonicalize_name(requirement.name), set())
        if not versions:
            problems.append(f"{text}: not locked")
        for version in sorted(versions):
            if not requirement.specifier.contains(version, prereleases=True):
                problems.append(f"{text}: locked at {version}")
    return problems


def project() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {"": data["dependencies"], **data["optional-dependencies"]}


def test_every_runtime_requirement_is_met_by_its_locked_version() -> None:
    pins, unhashed = requirements_lock((ROOT / "requirements.lock").read_text(encoding="utf-8"))
    assert unmet(project()[""], pins) == []
    assert unhashed == []  # pip installs it with --require-hashes
    assert "pytest" not in pins and "evbot" not in pins  # no dev tools, not the project itself


def test_requirements_lock_pins_what_uv_lock_pins() -> None:
    path = ROOT / "uv.lock"
    if not path.exists():
        pytest.skip("no uv.lock in this tree")
    locked = uv_lock(path.read_text(encoding="utf-8"))
    pins, _ = requirements_lock((ROOT / "requirements.lock").read_text(encoding="utf-8"))
    assert {name: pins[name] for name in pins} == {name: locked.get(name) for name in pins}
    # the universal lock also holds the dev tools, each within its range
    assert unmet(project()[""] + project()["dev"], locked) == []


def test_a_drifted_lock_is_caught() -> None:
    pins, unhashed = requirements_lock(
        "rich==12.6.0 \\\n    --hash=sha256:ab\nbabel==2.19.0\n"
        "numpy==2.4.6 ; python_full_version < '3.12' \\\n    --hash=sha256:cd\n"
    )
    assert unhashed == ["babel"]
    assert pins["numpy"] == {Version("2.4.6")}
    assert unmet(["rich>=13", "babel>=2.14", "asyncpg>=0.29"], pins) == [
        "rich>=13: locked at 12.6.0",
        "asyncpg>=0.29: not locked",
    ]
