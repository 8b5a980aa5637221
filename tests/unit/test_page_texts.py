"""The room screen's and the relative's page's own texts (``TEXTS`` in
ui/static/screen.js and call.js): the same keys in Swedish and English, none empty.
(The dashboard's are checked by test_translations.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).parents[2] / "ui" / "static"
#: A key: at a line's start or after "{" or ",", before its text, list or object.
KEY = re.compile(r"(?:^\s*|[{,]\s*)([a-z_]+):\s*[\"{\[]", re.MULTILINE)


def blocks(page: str) -> dict[str, str]:
    """The source of each language's block of the page's ``TEXTS``."""
    text = (STATIC / page).read_text(encoding="utf-8")
    body = text[text.index("const TEXTS = {") : text.index("\n};", text.index("const TEXTS = {"))]
    sv, en = body.index("\n  sv: {"), body.index("\n  en: {")
    # each without its own "sv: {" / "en: {" line
    return {"sv": body[sv:en].split("\n", 2)[2], "en": body[en:].split("\n", 2)[2]}


@pytest.mark.parametrize("page", ["screen.js", "call.js"])
def test_both_languages_have_the_same_keys_and_no_empty_text(page: str) -> None:
    found = blocks(page)
    sv, en = (sorted(KEY.findall(found[lang])) for lang in ("sv", "en"))
    assert len(sv) > 20
    assert sv == en
    for lang, block in found.items():
        assert '""' not in block, (page, lang)
