"""The dashboard's texts as tests read them: ``STRINGS`` of ui/static/i18n.js."""

from __future__ import annotations

import re
from pathlib import Path

I18N = Path(__file__).parents[1] / "ui" / "static" / "i18n.js"


def strings(lang: str) -> dict[str, str]:
    """``{key: text}`` of one language's block (comment lines skipped)."""
    source = I18N.read_text(encoding="utf-8")
    start = source.index(f"\n  {lang}: {{")
    end = source.index("\n  },", start)
    block = "\n".join(
        line for line in source[start:end].splitlines()[1:] if not line.strip().startswith("//")
    )
    pairs = re.findall(r'(\w+|"[^"]+")\s*:\s*"((?:[^"\\]|\\.)*)"', block)
    return {k.strip('"'): v for k, v in pairs}
