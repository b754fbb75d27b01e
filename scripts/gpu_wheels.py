"""Wheels for a GPU machine without network that has its own PyTorch (``make gpu-wheels``, ``make gpu-check``).

``download`` (on a machine with network, from the project's ``.venv``): every distribution that eqaug and its
``dev`` extra need, minus torch, torchvision and everything torch itself depends on (the GPU machine's PyTorch
brings those), pinned to the versions installed here, goes to ``wheelhouse/requirements.txt``; their wheels, plus
``setuptools`` and ``wheel`` (the build backend of the editable install), are fetched with
``pip download --no-deps --only-binary=:all:`` into ``wheelhouse/`` (git-ignored). Most are pure Python; for the
others (numpy, pandas, matplotlib, …) pass the GPU machine's ``--python-version`` and ``--platform``.

``install`` (on the GPU machine, offline): installs the wheels of the distributions that are missing there and
``pip install --no-index --find-links wheelhouse --no-deps -e .``, only if something is missing; torch is never
installed or replaced. Uses only the standard library, so it runs before anything is installed.

Usage::

    python scripts/gpu_wheels.py download [--dest wheelhouse] [--python-version 3.11] [--platform manylinux_2_28_x86_64]
    python scripts/gpu_wheels.py install [--wheelhouse wheelhouse]
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: never downloaded or installed: the GPU machine's PyTorch build and what comes with it
TORCH = ("torch", "torchvision", "torchaudio", "triton")
BUILD = ("setuptools", "wheel")
EXTRAS = ("dev",)


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(dist: str, extras: tuple[str, ...] = ()) -> list[str]:
    """Names of the requirements of an installed distribution whose markers hold here (with ``extras``)."""
    from packaging.requirements import Requirement

    out = []
    for line in md.requires(dist) or []:
        req = Requirement(line)
        envs = [{"extra": e} for e in extras] or [{"extra": ""}]
        if req.marker is None or any(req.marker.evaluate(env) for env in envs):
            out.append(canonical(req.name))
    return out


def closure(roots: list[str], extras: tuple[str, ...] = ()) -> set[str]:
    """Every installed distribution reachable from ``roots`` (the roots' ``extras`` included)."""
    seen: set[str] = set()
    todo = [(canonical(r), extras) for r in roots]
    while todo:
        name, ex = todo.pop()
        if name in seen:
            continue
        try:
            md.version(name)
        except md.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [(r, ()) for r in _requirements(name, ex)]
    return seen


def pinned() -> list[str]:
    """``name==version`` of eqaug's (``dev``) dependencies without torch and torch's own dependencies."""
    torch_side = closure(list(TORCH)) | {canonical(t) for t in TORCH}
    needed = closure(["eqaug"], EXTRAS) - torch_side - {"eqaug"}
    needed = {n for n in needed if not n.startswith("nvidia-")}
    return sorted(f"{n}=={md.version(n)}" for n in needed)


def download(dest: Path, pip_target: list[str], dry_run: bool) -> int:
    reqs = pinned()
    build = [f"{b}=={md.version(b)}" for b in BUILD]
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "requirements.txt").write_text("\n".join(reqs) + "\n")
    print(f"{len(reqs)} distributions (+ {', '.join(build)}) → {dest}/requirements.txt")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(dest)]
    cmd += [*pip_target, *reqs, *build]
    if dry_run:
        print(" ".join(cmd))
        return 0
    return subprocess.run(cmd).returncode


def _installed(name: str) -> bool:
    try:
        md.version(name)
        return True
    except md.PackageNotFoundError:
        return False


def install(wheelhouse: Path) -> int:
    """Install what is missing from ``wheelhouse`` (offline); a no-op when eqaug and its dependencies are there."""
    reqs_file = wheelhouse / "requirements.txt"
    reqs = reqs_file.read_text().split() if reqs_file.exists() else []
    missing = [r for r in reqs if not _installed(r.split("==")[0])]
    need_project = importlib.util.find_spec("eqaug") is None or importlib.util.find_spec("s2cnn") is None
    if not missing and not need_project:
        print("eqaug and its dependencies are installed")
        return 0
    if not reqs_file.exists():
        print(
            f"eqaug is not installed and {reqs_file} is missing: run `make gpu-wheels` on a machine with network "
            "and copy wheelhouse/ here",
            file=sys.stderr,
        )
        return 1
    cmd = [sys.executable, "-m", "pip", "install", "--no-index", "--find-links", str(wheelhouse), "--no-deps"]
    cmd += missing + (["-e", str(REPO)] if need_project else [])
    print("installing offline: " + ", ".join(missing + (["eqaug (editable)"] if need_project else [])), flush=True)
    return subprocess.run(cmd).returncode


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("download", help="fetch the wheels into --dest (needs network)")
    d.add_argument("--dest", type=Path, default=REPO / "wheelhouse")
    d.add_argument("--python-version", default=None, help="the GPU machine's Python, e.g. 3.11 (default: this one)")
    d.add_argument("--platform", action="append", default=[], help="e.g. manylinux_2_28_x86_64 (repeatable)")
    d.add_argument("--dry-run", action="store_true", help="write requirements.txt and print the pip command only")
    i = sub.add_parser("install", help="install what is missing from --wheelhouse (offline)")
    i.add_argument("--wheelhouse", type=Path, default=REPO / "wheelhouse")
    args = p.parse_args(argv)
    if args.command == "download":
        target = (["--python-version", args.python_version] if args.python_version else []) + [
            x for plat in args.platform for x in ("--platform", plat)
        ]
        return download(args.dest, target, args.dry_run)
    return install(args.wheelhouse)


if __name__ == "__main__":
    sys.exit(main())
