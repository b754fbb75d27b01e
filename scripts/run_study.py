"""Thin entry point kept for old command lines: ``python scripts/run_study.py`` = ``python -m eqaug.study``."""

import sys

from eqaug.study.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
