"""Thin entry point kept for old command lines: ``python scripts/equivariance_table.py`` = ``python -m eqaug.bench equivariance``."""

import sys

from eqaug.bench.equivariance import main

if __name__ == "__main__":
    sys.exit(main(prog="python scripts/equivariance_table.py"))
