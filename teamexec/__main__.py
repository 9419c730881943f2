"""``python -m teamexec`` runs the CLI."""

from teamexec.cli.app import main

main()
