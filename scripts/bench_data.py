"""Thin entry point kept for old command lines: ``python scripts/bench_data.py`` = ``python -m eqaug.bench data``."""

import sys

from eqaug.bench.data import main

if __name__ == "__main__":
    sys.exit(main(prog="python scripts/bench_data.py"))
