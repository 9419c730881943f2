"""``python -m teamexec`` runs the CLI."""

from teamexec.cli.entry import main

main()
