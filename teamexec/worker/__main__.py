"""``python -m teamexec.worker`` runs the built-in worker."""

import sys

from teamexec.worker.main import main

sys.exit(main(sys.argv[1:]))
