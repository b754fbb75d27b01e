"""Thin entry point kept for old command lines: ``python scripts/bench_s2cnn.py`` = ``python -m eqaug.bench s2cnn``."""

import sys

from eqaug.bench.s2cnn_layers import main

if __name__ == "__main__":
    sys.exit(main(prog="python scripts/bench_s2cnn.py"))
