"""``python -m alignxpert_fast``: the command line (see :mod:`alignxpert_fast.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
