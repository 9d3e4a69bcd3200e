"""``python -m territory`` runs the command line interface."""

import sys

try:
    from territory.cli import main
except KeyboardInterrupt:  # Ctrl-C while starting up: nothing was written
    sys.stderr.write("Aborted\n")
    sys.exit(130)

main()
