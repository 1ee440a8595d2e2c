"""``python -m pisteur``: the same as the ``pisteur`` command."""

from pisteur.cli import main

main()
