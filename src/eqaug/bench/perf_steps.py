"""One performance step, before against after, alternated in one process (one thread, float32).

``python -m eqaug.bench perf_steps [--target {s2cnn,gscnn_activation}] --before REV_OR_PATH [--after PATH]
--step TEXT [--case MODEL:BATCH:MODE ...] [--cnn] [--repeats 15] [--out results/bench/s2cnn_perf_round2.json]``

``--target`` names the code that changed: ``s2cnn`` (default), the package ``third_party/s2cnn/s2cnn``, whose
layers the S2CNN models use; or ``gscnn_activation``, the module ``src/eqaug/models/gscnn/activation.py``, whose
``TensorProductActivation.forward`` the GSCNN models call.  ``--before`` is a git revision (the target is extracted
with ``git archive``) or a path to it; ``--after`` defaults to the working tree's.  Both are imported side by side
under private names, a model of each is built from the same seed (same parameters, same input), and per repetition
the two are timed one after the other (``MODE``: ``forward`` in ``no_grad``, ``forward+backward`` with cross-entropy,
or ``adam``, a full Adam step); ``max_abs_diff`` is the largest difference of their outputs (0: bit for bit the same).
With ``--cnn`` (target ``s2cnn`` only) the planar twin (``s2cnn_`` → ``cnn_``, ``204k`` → ``218k``) is timed
in the same alternation and the S2CNN/CNN ratios of the medians are reported too.  Reported per case: medians
(ms), ``ratio`` = median before / median after, and the quartiles of the per-repetition ratios (spread).  The
timings share the machine with whatever else runs (``contended``: the load average is recorded).
With ``--out`` the step is appended to the JSON list in that file.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import MethodType, ModuleType
from typing import Any

import torch
import torch.nn.functional as F

from eqaug.bench.io import command_line
from eqaug.bench.timing import quartiles

__all__ = ["build_parser", "main", "load_package", "time_case"]

ROOT = Path(__file__).resolve().parents[3]
#: the code each target names, relative to the repository root
TARGETS = {"s2cnn": "third_party/s2cnn/s2cnn", "gscnn_activation": "src/eqaug/models/gscnn/activation.py"}
DEFAULT_CASES = {
    "s2cnn": ("s2cnn_seg_204k:1:forward", "s2cnn_seg_204k:8:forward+backward:7", "s2cnn_seg_204k_small:32:adam"),
    "gscnn_activation": ("gscnn_seg_small:32:adam", "gscnn_cls_small:32:adam"),
}


def _package_dir(ref: str, tmp: Path, target: str = "s2cnn") -> Path:
    rel = TARGETS[target]
    p = Path(ref)
    if p.exists():
        return p / "s2cnn" if (p / "s2cnn" / "__init__.py").exists() else p
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, rel], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
    return tmp / rel


def resolved_commit(ref: str) -> str | None:
    """The commit a git revision names (``HEAD`` → its hash) so the record stays meaningful; ``None`` for a path."""
    if Path(ref).exists():
        return None
    out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{ref}^{{commit}}"], capture_output=True)
    if out.returncode != 0:
        return None
    return out.stdout.decode().strip() or None


def load_package(path: Path, name: str) -> ModuleType:
    """Import the package directory (its relative imports stay inside it) or module file at ``path`` as ``name``."""
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(
            name, path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _build(model: str, pkg: ModuleType | None, target: str = "s2cnn") -> torch.nn.Module:
    """Model ``model`` (seed 0) whose ``target`` code comes from ``pkg`` (``None``: the installed one)."""
    import eqaug.models.s2cnn as m
    from eqaug.models import build_model

    if target == "gscnn_activation":
        from eqaug.models.gscnn.activation import TensorProductActivation

        torch.manual_seed(0)
        net = build_model(model)
        if pkg is not None:
            for mod in net.modules():
                if isinstance(mod, TensorProductActivation):
                    mod.forward = MethodType(pkg.TensorProductActivation.forward, mod)
        return net

    names = ("S2Convolution", "SO3Convolution", "SO3Shortcut", "SO3ToS2Convolution", "so3_integrate")
    saved = {n: getattr(m, n) for n in names}
    try:
        if pkg is not None:
            for n in names:
                setattr(m, n, getattr(pkg, n))
        torch.manual_seed(0)
        return build_model(model)
    finally:
        for n, v in saved.items():
            setattr(m, n, v)


def _step(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, mode: str) -> Callable[[], None]:
    if mode == "forward":
        model.eval()

        def fn() -> None:
            with torch.no_grad():
                model(x)

        return fn
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3) if mode == "adam" else None

    def fn() -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), target).backward()
        if opt is not None:
            opt.step()

    return fn


def _twin(model: str) -> str:
    return model.replace("s2cnn_", "cnn_").replace("204k", "218k")


def time_case(
    model: str,
    batch: int,
    mode: str,
    pkgs: dict[str, ModuleType | None],
    repeats: int,
    cnn: bool,
    target: str = "s2cnn",
) -> dict[str, Any]:
    """Alternate the variants of ``pkgs`` (and the CNN twin) ``repeats`` times after two warm-up calls each."""
    models = {k: _build(model, p, target) for k, p in pkgs.items()}
    if cnn:
        models["cnn"] = _build(_twin(model), None)
    spec = next(iter(models.values())).spec
    b = spec.bandwidth
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, spec.in_channels, 2 * b, 2 * b, generator=g)
    task_shape = (batch, 2 * b, 2 * b) if spec.family.endswith("_seg") else (batch,)
    labels = torch.randint(0, spec.n_classes, task_shape, generator=g)
    with torch.no_grad():
        ys = [models[k].eval()(x) for k in ("before", "after")]
    max_abs_diff = (ys[0] - ys[1]).abs().max().item()
    fns = {k: _step(m, x, labels, mode) for k, m in models.items()}
    for fn in fns.values():
        fn()
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    med = {k: quartiles(v)[1] for k, v in times.items()}
    paired = [a / b for a, b in zip(times["before"], times["after"])]
    q1, qm, q3 = quartiles(paired)
    out = {
        "model": model,
        "batch": batch,
        "mode": mode,
        "n_repetitions": repeats,
        "median_ms_before": 1e3 * med["before"],
        "median_ms_after": 1e3 * med["after"],
        "ratio": med["before"] / med["after"],
        "paired_ratio_quartiles": [q1, qm, q3],
        "max_abs_diff": max_abs_diff,
        "contended": True,
    }
    if cnn:
        out["median_ms_cnn"] = 1e3 * med["cnn"]
        out["s2cnn_over_cnn_before"] = med["before"] / med["cnn"]
        out["s2cnn_over_cnn_after"] = med["after"] / med["cnn"]
    return out


def build_parser(prog: str = "python -m eqaug.bench perf_steps") -> argparse.ArgumentParser:
    """Options of ``python -m eqaug.bench perf_steps``."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", choices=sorted(TARGETS), default="s2cnn", help="the code that changed (default s2cnn)")
    p.add_argument("--before", required=True, help="git revision, or path, of the target before the step")
    p.add_argument("--after", default=None, help="path of the target after the step (default: the working tree's)")
    p.add_argument("--step", required=True, help="what changed")
    p.add_argument(
        "--case", action="append", help="MODEL:BATCH:MODE[:REPEATS] (repeatable; default: the target's DEFAULT_CASES)"
    )
    p.add_argument("--cnn", action="store_true", help="also time the CNN twin in the alternation")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--out", default=None, help="append the step to this JSON list")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m eqaug.bench perf_steps") -> int:
    """Time one step (before/after, alternated in one process) and append it to ``--out``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.cnn and args.target != "s2cnn":
        parser.error(f"--cnn times the S2CNN's planar twin; it is not allowed with --target {args.target}")
    torch.set_num_threads(1)
    after_path = args.after or str(ROOT / TARGETS[args.target])
    with tempfile.TemporaryDirectory() as tmp:
        before = load_package(_package_dir(args.before, Path(tmp), args.target), f"_{args.target}_before")
        after = load_package(_package_dir(after_path, Path(tmp), args.target), f"_{args.target}_after")
        pkgs = {"before": before, "after": after}
        load0 = os.getloadavg()
        cases = []
        for case in args.case or DEFAULT_CASES[args.target]:
            model, batch, mode, *rep = case.split(":")
            reps = int(rep[0]) if rep else args.repeats
            r = time_case(model, int(batch), mode, pkgs, reps, args.cnn, args.target)
            print(
                f"{model} batch {batch} {mode}: {r['median_ms_before']:.1f} -> {r['median_ms_after']:.1f} ms, "
                f"ratio {r['ratio']:.3f} (paired quartiles {', '.join(f'{q:.3f}' for q in r['paired_ratio_quartiles'])}), "
                f"outputs differ by {r['max_abs_diff']:.1e}"
                + (
                    f"; S2CNN/CNN {r['s2cnn_over_cnn_before']:.2f} -> {r['s2cnn_over_cnn_after']:.2f}"
                    if args.cnn
                    else ""
                ),
                flush=True,
            )
            cases.append(r)
    step = {
        "step": args.step,
        "target": args.target,
        "before": args.before,
        "before_commit": resolved_commit(args.before),
        "cases": cases,
        "threads": 1,
        "dtype": "float32",
        "loadavg_start": list(load0),
        "loadavg_end": list(os.getloadavg()),
        "command": command_line(prog, argv),
    }
    if args.out:
        import json

        path = Path(args.out)
        steps = json.loads(path.read_text()) if path.exists() else []
        steps.append(step)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(steps, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
