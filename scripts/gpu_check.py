"""Thin entry point of ``make gpu-check``: skip without CUDA, install offline what is missing, run the check.

1. Without a CUDA device (or without PyTorch) print ``no CUDA device: gpu-check skipped`` and exit 0.
2. ``scripts/gpu_wheels.py install``: install eqaug (editable, ``--no-deps``) and its missing dependencies from
   ``wheelhouse/`` without network; a no-op where everything is installed. PyTorch is never installed.
3. :func:`eqaug.bench.gpu_check.main` (``python -m eqaug.bench gpu_check``) with this script's arguments.
"""

import subprocess
import sys
from pathlib import Path

SKIP_LINE = "no CUDA device: gpu-check skipped"  # = eqaug.bench.gpu_check.SKIP_LINE (not importable yet here)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        import torch
    except ImportError:
        print(f"{SKIP_LINE} (PyTorch is not installed)")
        return 0
    if not torch.cuda.is_available():
        print(SKIP_LINE)
        return 0
    here = Path(__file__).resolve().parent
    rc = subprocess.run([sys.executable, str(here / "gpu_wheels.py"), "install"]).returncode
    if rc != 0:
        return rc
    from eqaug.bench.gpu_check import main as gpu_check

    return gpu_check(argv, prog="python scripts/gpu_check.py")


if __name__ == "__main__":
    sys.exit(main())
