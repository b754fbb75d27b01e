"""The shared writer of every table: a GitHub pipe table of a frame (:func:`to_markdown`), the ``.csv`` and
``.md`` pair of a table with its title and notes (:func:`write_table`), the benchmark-environment note of the
latency and profile tables, and durations as text (:func:`format_duration`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["to_markdown", "write_table", "format_duration"]


def _fmt(value: Any, digits: int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and digits is not None:
        return f"{value:,.{digits}f}" if abs(value) >= 1000 else f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def to_markdown(frame: pd.DataFrame, digits: dict[str, int] | None = None, default_digits: int = 3) -> str:
    """A GitHub pipe table of ``frame`` (floats rounded per column; ``None``/NaN left empty)."""
    digits = digits or {}
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        cells = []
        for col, value in zip(cols, row):
            if hasattr(value, "item") and not isinstance(value, (str, bytes)):
                value = value.item()
            cells.append(_fmt(value, digits.get(col, default_digits)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_table(
    frame: pd.DataFrame,
    out_dir: str | os.PathLike,
    name: str,
    title: str,
    notes: list[str] | None = None,
    digits: dict[str, int] | None = None,
    markdown: str | None = None,
) -> list[Path]:
    """Write ``<name>.csv`` (the frame) and ``<name>.md`` (title, notes, the table or ``markdown``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv, md = out / f"{name}.csv", out / f"{name}.md"
    frame.to_csv(csv, index=False, float_format="%.6g")
    body = markdown if markdown is not None else to_markdown(frame, digits)
    text = f"# {title}\n\n" + "".join(f"{n}\n\n" for n in notes or []) + body + "\n"
    md.write_text(text)
    return [csv, md]


def _meta_note(meta: dict[str, Any]) -> str:
    keys = ("cpu", "cuda", "threads", "torch", "python", "date", "command")
    return "Measured with " + ", ".join(f"{k}: `{meta.get(k)}`" for k in keys if meta.get(k) is not None) + "."


def format_duration(seconds: float | None) -> str:
    """``45.2`` → ``"45s"``, ``192`` → ``"3m 12s"``, ``54000`` → ``"15h 00m"`` (empty for ``None``/NaN)."""
    if seconds is None or seconds != seconds:
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {int(round(seconds % 60)):02d}s"
    return f"{int(seconds // 3600)}h {int(round(seconds % 3600 / 60)):02d}m"
