"""The top items of a py-spy record (``--format raw``: collapsed stacks), as shares of
the samples: ``python -m bench.profile_top FILE... [--top N]``.

Three views: by function where the sample was taken (self), by function anywhere on
the stack (inclusive, each function once per sample), and self time by module (the
file, e.g. ``paho/mqtt/client.py``). The ingest benchmark writes such records with
``python -m bench --only ingest --profile DIR``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

#: py-spy's frame: ``name (path/to/file.py:line)``; the line is left out when grouping
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def _short(path: str) -> str:
    """A file path from its package on (``.../site-packages/paho/mqtt/client.py`` ->
    ``paho/mqtt/client.py``)."""
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _frame(raw: str) -> tuple[str, str]:
    m = _FRAME.match(raw.strip())
    if m is None:
        return raw.strip(), "?"
    return m["name"], _short(m["file"])


def tally(lines: list[str]) -> tuple[int, Counter[str], Counter[str], Counter[str]]:
    """Samples, and counts by self function, inclusive function and self module."""
    total = 0
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame(f) for f in stack.split(";")]
        name, file = frames[-1]
        own[f"{name} ({file})"] += n
        modules[file] += n
        for key in {f"{name} ({file})" for name, file in frames}:
            inclusive[key] += n
    return total, own, inclusive, modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    lines: list[str] = []
    for path in args.files:
        lines += path.read_text().splitlines()
    total, own, inclusive, modules = tally(lines)
    print(f"{total} samples")
    for title, counts in (("self", own), ("inclusive", inclusive), ("self by module", modules)):
        print(f"\n## {title}")
        for key, n in counts.most_common(args.top):
            print(f"{100 * n / total:5.1f} %  {key}")


if __name__ == "__main__":
    main()
