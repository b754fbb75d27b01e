"""Tables as Markdown and CSV (``results/tables/``): latency/throughput (Tables 1–2), per-layer and
per-operator profiles (Tables 6–7), training time to a target score (Table 3) and parameter counts.

Latency and profile tables are rendered from the benchmark JSON (``results/bench/latency.json``,
``results/bench/profile.json``), so ``make figures`` re-renders them without re-measuring; the
time-to-threshold table comes from the run records' per-epoch history.

Modules: :mod:`~eqaug.analysis.tables.writer` (Markdown and CSV writing shared by every table),
:mod:`~eqaug.analysis.tables.latency`, :mod:`~eqaug.analysis.tables.profile`,
:mod:`~eqaug.analysis.tables.threshold`, :mod:`~eqaug.analysis.tables.params`,
:mod:`~eqaug.analysis.tables.scaling` (cost vs bandwidth, from ``results/bench/scaling.json``) and
:mod:`~eqaug.analysis.tables.study` (one table kind each); their names are re-exported here.
"""

from __future__ import annotations

from eqaug.analysis.tables.latency import latency_frame
from eqaug.analysis.tables.latency import write_latency_tables as write_latency_tables
from eqaug.analysis.tables.params import PAPER_PARAMS, params_frame
from eqaug.analysis.tables.params import write_params_table as write_params_table
from eqaug.analysis.tables.profile import profile_frames
from eqaug.analysis.tables.profile import write_profile_tables as write_profile_tables
from eqaug.analysis.tables.scaling import scaling_frame
from eqaug.analysis.tables.scaling import write_scaling_tables as write_scaling_tables
from eqaug.analysis.tables.study import study_frame as study_frame
from eqaug.analysis.tables.study import write_study_tables as write_study_tables
from eqaug.analysis.tables.threshold import threshold_frame, threshold_summary
from eqaug.analysis.tables.threshold import write_threshold_tables as write_threshold_tables
from eqaug.analysis.tables.writer import format_duration, to_markdown, write_table
from eqaug.training.callbacks import time_to_threshold

__all__ = [
    "to_markdown",
    "write_table",
    "latency_frame",
    "profile_frames",
    "scaling_frame",
    "time_to_threshold",
    "threshold_frame",
    "threshold_summary",
    "format_duration",
    "params_frame",
    "PAPER_PARAMS",
]
