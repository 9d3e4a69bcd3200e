"""``python -m territory`` runs the command line interface."""

from territory.cli import main

main()
