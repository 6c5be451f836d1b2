"""Counts read as people write them."""

from persona_studio.core.words import counted


def test_singular_plural_and_irregular() -> None:
    assert counted(1, "warning") == "1 warning"
    assert counted(0, "warning") == "0 warnings"
    assert counted(2_500, "example") == "2,500 examples"
    assert counted(1, "example was", "examples were") == "1 example was"
    assert counted(3, "example was", "examples were") == "3 examples were"
