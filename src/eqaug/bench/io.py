"""What the benchmarks write: one payload JSON writer and one table (CSV + Markdown) writer."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

__all__ = ["command_line", "write_json", "write_table", "write_bench"]


def command_line(prog: str, argv: Sequence[str]) -> str:
    """The command line that made a result (kept in its ``meta``)."""
    return " ".join([prog, *argv])


def write_json(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` (parents created) as JSON, ``indent=1``, with a trailing newline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path


def write_table(*args: Any, **kwargs: Any) -> list[Path]:
    """``<name>.csv`` and ``<name>.md`` in ``out_dir``: :func:`eqaug.analysis.tables.write_table` (same arguments).

    Imported when called, so that a benchmark process (the memory probes of :mod:`eqaug.bench.models`)
    does not load pandas and the analysis layer before it measures.
    """
    from eqaug.analysis.tables import write_table as _write_table

    return _write_table(*args, **kwargs)


def write_bench(
    payload: dict[str, Any],
    out: str | os.PathLike,
    tables_dir: str | os.PathLike,
    table_writer: Callable[[dict[str, Any], str | os.PathLike], list[Path]],
) -> list[Path]:
    """Write a benchmark's JSON (``out``) and the tables rendered from it (``tables_dir``); say what was written."""
    path = write_json(out, payload)
    files = table_writer(payload, tables_dir)
    print(f"wrote {path}, {', '.join(str(f) for f in files)} ({payload['meta']['total_seconds']:.0f} s)")
    return [path, *files]


def bench_main(
    argv: list[str] | None,
    prog: str,
    build_parser: Callable[[str], argparse.ArgumentParser],
    run: Callable[..., dict[str, Any]],
    table_writer: Callable[[dict[str, Any], str | os.PathLike], list[Path]],
) -> int:
    """The ``main`` of a benchmark command: parse ``argv``, call ``run`` with every option but ``--out`` and
    ``--tables-dir`` (the parser's names are ``run``'s parameters) and the command line, :func:`write_bench`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    options = vars(build_parser(prog).parse_args(argv))
    out, tables_dir = options.pop("out"), options.pop("tables_dir")
    payload = run(**options, command=command_line(prog, argv))
    write_bench(payload, out, tables_dir, table_writer)
    return 0
