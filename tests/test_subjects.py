"""Subject keys: built and parsed in one place (`SubjectKey`), the spelling the store keeps."""

from __future__ import annotations

import pytest

from bot.domain.subjects import ALL, SubjectKey


def test_keys_are_built_in_the_spelling_the_store_keeps() -> None:
    assert SubjectKey.for_model("nissan", "leaf") == "model:nissan/leaf"
    assert SubjectKey.for_make("nissan") == "make:nissan"
    assert SubjectKey.for_group("Renault-Nissan Alliance") == "group:renault-nissan-alliance"


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("model:nissan/leaf", SubjectKey("model", make="nissan", model="leaf")),
        ("model:bmw/i3/94ah", SubjectKey("model", make="bmw", model="i3/94ah")),
        ("make:nissan", SubjectKey("make", make="nissan")),
        ("group:renault-nissan-alliance", SubjectKey("group", group="renault-nissan-alliance")),
        (ALL.key, SubjectKey("all")),
    ],
)
def test_a_key_parses_into_its_parts_and_back(key: str, parsed: SubjectKey) -> None:
    assert SubjectKey.parse(key) == parsed
    assert str(parsed) == key


@pytest.mark.parametrize("key", ["", "nissan", "model:nissan", "region:Norway", "all:"])
def test_text_that_is_not_a_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="not a subject key"):
        SubjectKey.parse(key)
