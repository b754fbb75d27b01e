"""``python -m eqaug.models NAME_OR_YAML [...]``: print each model's spec, architecture and parameter count.

The output for each model ends with the line ``params: N``. ``--list`` prints the known names.
"""

from __future__ import annotations

import argparse
import sys

from eqaug.models.registry import as_spec, build_from_spec, count_params, model_names


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m eqaug.models", description=__doc__)
    parser.add_argument("models", nargs="*", help="model names (conf/model/<name>.yaml) or YAML paths")
    parser.add_argument("--list", action="store_true", help="list the named models and their parameter counts")
    args = parser.parse_args(argv)
    if args.list or not args.models:
        for name in model_names():
            print(f"{name:28s} {as_spec(name).n_params():>10,d}")
        return 0
    for i, name in enumerate(args.models):
        spec = as_spec(name)
        model = build_from_spec(spec)
        if i:
            print()
        print(f"# {name}: {spec}")
        print(model)
        print(f"params: {count_params(model)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
