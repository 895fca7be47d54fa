"""The closed vocabulary of powertrains: the three, their long forms, a source's own map."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.load import load_config
from bot.domain.powertrains import SYNONYMS, powertrain_of, powertrain_table
from bot.domain.settings import ConfigError


def test_every_built_in_spelling_names_one_of_the_three() -> None:
    assert set(SYNONYMS.values()) == {"BEV", "PHEV", "FCEV"}
    table = powertrain_table()
    for spelling, powertrain in SYNONYMS.items():
        assert powertrain_of(spelling.upper(), table) == powertrain
        assert powertrain_of(f"  {spelling} ", table) == powertrain
        assert powertrain_of(f"not {spelling}", table) is None
        assert powertrain_of(f"{spelling} x", table) is None


def test_a_source_map_adds_to_the_built_in_spellings() -> None:
    table = powertrain_table({"Elektro": "BEV", "bev": "PHEV"})
    assert powertrain_of("ELEKTRO", table) == "BEV"
    assert powertrain_of("BEV", table) == "PHEV"  # the source's own word wins
    assert powertrain_of("Elektro!", table) is None


def _config(tmp_path: Path, mapping: str) -> Path:
    path = tmp_path / "evbot.toml"
    path.write_text(
        f'[sources.de]\nformat = "canonical"\npowertrains = {{ {mapping} }}\n', encoding="utf-8"
    )
    return path


def test_the_configured_map_is_read_and_checked(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, '"Elektro" = "BEV", "Hybrid" = "PHEV"'), environ={})
    assert config.sources["de"].powertrains == {"Elektro": "BEV", "Hybrid": "PHEV"}
    path = _config(tmp_path, '"Elektro" = "EV"')
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == (
        f"{path}: sources.de.powertrains.Elektro: 'EV' is not one of BEV, PHEV, FCEV"
    )
    path = _config(tmp_path, '"Elektro" = 1')
    with pytest.raises(ConfigError, match=r"sources\.de\.powertrains\.Elektro: must be a string"):
        load_config(path, environ={})
