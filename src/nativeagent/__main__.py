"""``python -m nativeagent`` runs the command line."""

from nativeagent.cli import main

main()
