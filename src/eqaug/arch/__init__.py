"""Random architecture generators of Gerken et al. 2022 (App. B) and the best-of-n selection.

``sample(family, task, budget_min, budget_max, n, seed, ...)`` draws specs within a parameter
budget; ``python -m eqaug.arch sample ... +out=DIR`` writes them as model YAMLs;
``select(spec_dir, train_one)`` trains each and picks the best.
"""

from __future__ import annotations

from eqaug.arch.cnn import cnn_spec_from_choices, draw_cnn, draw_sphcnn, sphere_aware
from eqaug.arch.common import BudgetUnreachableError, Draw, max_depth, spec_to_yaml, write_draws
from eqaug.arch.gscnn import draw_gscnn, gscnn_spec_from_choices
from eqaug.arch.s2cnn import draw_s2cnn, s2cnn_spec_from_choices
from eqaug.arch.sampling import sample
from eqaug.arch.select import Selection, read_score, select, train_with_cli, training_command
from eqaug.arch.zonal import draw_zonal, zonal_spec_from_choices

__all__ = [
    "sample",
    "select",
    "Selection",
    "Draw",
    "BudgetUnreachableError",
    "max_depth",
    "draw_cnn",
    "draw_s2cnn",
    "draw_gscnn",
    "draw_zonal",
    "draw_sphcnn",
    "sphere_aware",
    "zonal_spec_from_choices",
    "gscnn_spec_from_choices",
    "cnn_spec_from_choices",
    "s2cnn_spec_from_choices",
    "spec_to_yaml",
    "write_draws",
    "training_command",
    "read_score",
    "train_with_cli",
]
