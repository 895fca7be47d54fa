"""`evbot --version` says the installed distribution's version."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from bot.cli.main import main


def test_version_flag_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["--version"])
    assert ended.value.code == 0
    assert capsys.readouterr().out == f"evbot {version('evbot')}\n"
