"""``python -m gnomon.cli``: the same as the ``gnomon`` command."""

from gnomon.cli.main import main

main()
