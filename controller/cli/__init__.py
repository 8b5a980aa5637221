"""The ``tryggbo`` command line: one module per command group, :mod:`.app` joins them."""

from .app import main

__all__ = ["main"]
