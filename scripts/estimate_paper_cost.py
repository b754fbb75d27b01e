"""Thin entry point: ``python scripts/estimate_paper_cost.py`` = :func:`eqaug.analysis.paper_cost.main` (make paper's cost)."""

from eqaug.analysis.paper_cost import main

if __name__ == "__main__":
    raise SystemExit(main())
