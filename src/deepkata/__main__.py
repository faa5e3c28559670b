"""``python -m deepkata`` runs the command-line interface."""

from deepkata.cli import main

main()
