"""The README's configuration table matches the Settings it documents."""

from __future__ import annotations

from pathlib import Path

from audiotext.config import settings_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_settings_table_is_current() -> None:
    text = README.read_text()
    start = text.index("<!-- settings:start -->") + len("<!-- settings:start -->")
    end = text.index("<!-- settings:end -->")
    assert text[start:end].strip() == settings_table(), (
        "README configuration table is stale: run `make docs`"
    )
