"""docs/settings.md, generated from :class:`config.settings.Settings` (one source of
truth: ``tryggbo settings-doc > docs/settings.md``; a test checks it is current)."""

from __future__ import annotations

from typing import Any

from pydantic.fields import FieldInfo

from .settings import CONFIG_FILE_ENV, Settings

HEADER = f"""# Settings reference

Generated from `config/settings.py` by `tryggbo settings-doc`; do not edit by hand.

Each setting comes from, in this order: a `tryggbo serve` flag, the environment
variable `TRYGGBO_<NAME>`, or the TOML file named by `{CONFIG_FILE_ENV}` (keys as
below, lower case, no prefix). An invalid value stops the daemon at start with a
message naming the setting. On a Debian install the variables live in
`/etc/tryggbo/tryggbo.env` (see `deploy/` and docs/operations.md).

| setting | environment variable | default | allowed | what it is |
| --- | --- | --- | --- | --- |
"""


def _allowed(info: FieldInfo) -> str:
    parts = []
    for item in info.metadata:
        for attr, text in (
            ("ge", ">= {}"),
            ("gt", "> {}"),
            ("le", "<= {}"),
            ("lt", "< {}"),
            ("min_length", "length >= {}"),
            ("max_length", "length <= {}"),
            ("pattern", "matches `{}`"),
        ):
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(text.format(value))
    annotation = str(info.annotation).replace("typing.", "")
    if "Literal" in annotation:
        parts.append("one of " + annotation.split("[", 1)[1].rstrip("]").replace("'", "`"))
    return ", ".join(parts).replace("|", "\\|")


def _default(value: Any) -> str:
    return "(none)" if value is None else f"`{value}`"


def render_settings_doc() -> str:
    rows = []
    for name, info in Settings.model_fields.items():
        what = (info.description or "").replace("|", "\\|")
        rows.append(
            f"| `{name}` | `TRYGGBO_{name.upper()}` | {_default(info.default)} | "
            f"{_allowed(info)} | {what} |"
        )
    return HEADER + "\n".join(rows) + "\n"
