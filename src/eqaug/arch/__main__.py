"""Random architecture generators (Gerken et al. 2022, App. B).

Usage (arguments are Hydra-style ``key=value`` overrides; ``+key=value`` is accepted too)::

    python -m eqaug.arch sample family=s2cnn task=seg budget_min=180000 budget_max=230000 n=20 seed=0 +out=DIR
    python -m eqaug.arch sample family=gscnn task=seg budget_min=180000 budget_max=230000 n=20 seed=0 +out=DIR
    python -m eqaug.arch sample family=zonal task=seg budget_min=180000 budget_max=230000 n=10 seed=0 +out=DIR
    python -m eqaug.arch select dir=DIR [work_dir=DIR/select] [overrides='["trainer.max_epochs=5"]']

``sample`` writes one model YAML per draw into ``out`` (loadable with ``build_model(path)`` or by
copying into ``conf/model/``). ``select`` trains every spec in ``dir`` with ``python -m eqaug.train``
and writes ``<work_dir>/selection.json`` (scores and the best spec).

sample keys: family (cnn|s2cnn|gscnn|zonal|sphcnn, required), task (seg|cls, default seg), budget_min, budget_max
(required), n (20), seed (0), bandwidth (50), n_classes (11 for seg, 10 for cls), max_attempts
(100000), out (required).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser

from eqaug.arch.common import BudgetUnreachableError, write_draws
from eqaug.arch.sampling import sample
from eqaug.arch.select import select, train_with_cli

SAMPLE_KEYS = {
    "family": None,
    "task": "seg",
    "budget_min": None,
    "budget_max": None,
    "n": 20,
    "seed": 0,
    "bandwidth": 50,
    "n_classes": None,
    "max_attempts": 100_000,
    "out": None,
}
SAMPLE_REQUIRED = ("family", "budget_min", "budget_max", "out")
SELECT_KEYS = {"dir": None, "work_dir": None, "overrides": [], "higher_is_better": True}
SELECT_REQUIRED = ("dir",)


def parse_overrides(
    args: list[str], allowed: dict[str, Any], required: tuple[str, ...], command: str
) -> dict[str, Any]:
    """Parse Hydra-syntax ``key=value`` / ``+key=value`` arguments into a dict over ``allowed`` keys."""
    try:
        parsed = OverridesParser.create().parse_overrides(args)
    except Exception as e:
        raise SystemExit(f"{command}: cannot parse arguments {args!r}: {e}") from e
    values = dict(allowed)
    for o in parsed:
        key = o.key_or_group
        if key not in allowed:
            raise SystemExit(f"{command}: unknown key {key!r}; allowed keys: {', '.join(allowed)}")
        if o.is_delete():
            values[key] = allowed[key]
            continue
        v = o.value()
        values[key] = list(v) if isinstance(v, list) else v
    missing = [k for k in required if values[k] is None]
    if missing:
        raise SystemExit(f"{command}: missing required key(s) {', '.join(missing)} (give them as key=value)")
    return values


def cmd_sample(args: list[str]) -> int:
    """``sample`` subcommand."""
    v = parse_overrides(args, SAMPLE_KEYS, SAMPLE_REQUIRED, "sample")
    try:
        draws = sample(
            family=str(v["family"]),
            task=str(v["task"]),
            budget_min=v["budget_min"],
            budget_max=v["budget_max"],
            n=v["n"],
            seed=v["seed"],
            bandwidth=v["bandwidth"],
            n_classes=v["n_classes"],
            max_attempts=v["max_attempts"],
        )
    except (BudgetUnreachableError, ValueError) as e:
        print(f"sample: {e}", file=sys.stderr)
        return 2
    header = [
        "Drawn by the random architecture generator (Gerken et al. 2022, App. B; eqaug.arch):",
        "python -m eqaug.arch sample " + " ".join(shlex.quote(a) for a in args),
        f"seed={v['seed']}",
    ]
    for path, d in zip(write_draws(draws, v["out"], header), draws):
        print(f"{path}  params={d.n_params}")
    return 0


def cmd_select(args: list[str]) -> int:
    """``select`` subcommand."""
    v = parse_overrides(args, SELECT_KEYS, SELECT_REQUIRED, "select")
    spec_dir = Path(v["dir"])
    work = Path(v["work_dir"]) if v["work_dir"] else spec_dir / "select"
    result = select(
        spec_dir, train_with_cli(work, [str(o) for o in v["overrides"]]), higher_is_better=bool(v["higher_is_better"])
    )
    work.mkdir(parents=True, exist_ok=True)
    (work / "selection.json").write_text(json.dumps(result.to_json(), indent=2))
    for p, s in result.scores.items():
        print(f"{p}  score={s:.6g}")
    print(f"best: {result.best}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in ("sample", "select"):
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return cmd_sample(argv[1:]) if argv[0] == "sample" else cmd_select(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
