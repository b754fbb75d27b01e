"""The study runner: job plans (``conf/plans/*.yaml``), their status and parallel execution.

``python -m eqaug.study --set study --lanes 2`` (``make study``); see :mod:`eqaug.study.__main__`.
"""
