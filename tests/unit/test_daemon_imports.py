"""The running daemon does not load what only a rare path needs (issue 18: memory).

Alembic (with Mako and Pygments) is imported only to migrate a store behind the code,
zxcvbn's word lists at the first password set, openpyxl at the first XLSX export.
"""

from __future__ import annotations

import subprocess
import sys

#: Loaded by a path the daemon seldom takes; ~11, ~12 and ~5 MB of RSS.
RARE = ("alembic", "mako", "pygments", "zxcvbn", "openpyxl")

_LOAD = (
    "import importlib, pkgutil, sys\n"
    "import controller.daemon, controller.api as api\n"
    "for m in pkgutil.iter_modules(api.__path__, 'controller.api.'):\n"
    "    importlib.import_module(m.name)\n"
    "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))\n"
)


def test_the_daemon_and_its_api_load_none_of_the_rare_paths_modules() -> None:
    done = subprocess.run([sys.executable, "-c", _LOAD], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "aiohttp" in loaded  # the list is the daemon's
    assert loaded.isdisjoint(RARE), sorted(loaded & set(RARE))
