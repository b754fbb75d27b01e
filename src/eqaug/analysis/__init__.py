"""Analysis layer: figures and tables of the study, regenerated from run records and benchmark JSON.

Modules (one job each):

* :mod:`~eqaug.analysis.summary` — the tidy run table (``results/summary.csv``) and seed aggregation;
* :mod:`~eqaug.analysis.expected` — an experiment's sweep expanded into the expected runs, compared with the records;
* :mod:`~eqaug.analysis.figures` — performance-vs-training-set-size figures (Fig. 2, 4, 5, 7, 9, 10, 14);
* :mod:`~eqaug.analysis.predictions` — sample predictions (Fig. 15/16) from checkpoints via committed ``.npz``;
* :mod:`~eqaug.analysis.tables` — Markdown/CSV tables (latency, profiles, time to threshold, parameters);
* :mod:`~eqaug.analysis.style` — display names and colours per model and family.

``python -m eqaug.analysis`` (``make figures``) regenerates everything from the records and
``results/bench/*.json``; the measurements are :mod:`eqaug.bench` (``python -m eqaug.analysis latency`` /
``profile`` (``make bench``) run :mod:`eqaug.bench.latency` / :mod:`eqaug.bench.profiling`).
"""
