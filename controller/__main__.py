"""``python -m controller`` is the ``tryggbo`` command."""

from .cli import main

main()
