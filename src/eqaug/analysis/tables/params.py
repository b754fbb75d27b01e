"""Parameter counts of the named models (built from ``conf/model``) next to the paper's published counts,
written as ``params.{md,csv}``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from eqaug.analysis.style import display_name
from eqaug.analysis.tables.writer import write_table
from eqaug.config import is_equivariant_family

__all__ = ["PAPER_PARAMS", "params_frame", "write_params_table"]

#: Parameter counts of the paper's published architectures (Gerken et al. 2022, Tables 4–5).
PAPER_PARAMS = {"cnn_seg_218k": 218_144, "cnn_seg_1m": 1_042_013, "cnn_seg_5m5": 5_519_335, "s2cnn_seg_204k": 204_073}


def params_frame(names: list[str] | None = None) -> pd.DataFrame:
    """Parameter counts of the named models (built from ``conf/model``), with the paper's where published."""
    from eqaug.models import as_spec, build_model, count_params, model_names

    rows = []
    for name in names or model_names():
        spec = as_spec(name)
        rows.append(
            {
                "model": name,
                "name": display_name(name, spec.family),
                "family": spec.family,
                "equivariant": is_equivariant_family(spec.family),
                "bandwidth": spec.bandwidth,
                "params": count_params(build_model(spec)),
                "paper_params": PAPER_PARAMS.get(name),
            }
        )
    frame = pd.DataFrame(rows)
    frame["paper_params"] = pd.array(frame["paper_params"], dtype="Int64")
    return frame


def write_params_table(out_dir: str | os.PathLike, names: list[str] | None = None) -> list[Path]:
    """``params.{md,csv}``."""
    frame = params_frame(names)
    notes = [
        "Trainable parameters of every named model (`conf/model/*.yaml`, built with `eqaug.models.build_model`); "
        "`paper_params`: the count of the paper's published architecture (Gerken et al. 2022, Tables 4–5). "
        "`_small` twins take b = 16 inputs; `_tiny` models are for tests.",
        "Made by `python -m eqaug.analysis` (`make figures`).",
    ]
    return write_table(frame, out_dir, "params", "Parameter counts", notes)
