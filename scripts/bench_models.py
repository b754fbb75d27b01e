"""Thin entry point kept for old command lines: ``python scripts/bench_models.py`` = ``python -m eqaug.bench models``."""

import sys

from eqaug.bench.models import main

if __name__ == "__main__":
    sys.exit(main(prog="python scripts/bench_models.py"))
