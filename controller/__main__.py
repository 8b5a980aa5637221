"""``python -m controller`` is the ``tryggbo`` command."""

from controller.cli.app import main

main()
