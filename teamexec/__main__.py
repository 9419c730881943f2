"""``python -m teamexec`` runs the CLI."""

from teamexec.cli import main

main()
