"""Display names, colours and markers of models and families, shared by every figure.

Colours are fixed per *model*, so the same model has the same colour in every figure: each family
base (``s2cnn``, ``gscnn``, ``cnn``, …; the part of the family name before ``_seg``/``_cls``) has a
colour map, and a model's shade in it follows its parameter budget parsed from its name
(``cnn_seg_218k`` < ``cnn_seg_1m`` < ``cnn_seg_5m5``). A model and its ``_small`` twin share a
colour. Unknown families get the next free colour map, so any family name works.
"""

from __future__ import annotations

import re
import zlib

import matplotlib

matplotlib.use("Agg")

from matplotlib import colormaps  # noqa: E402

from eqaug.config import is_equivariant_family  # noqa: E402

__all__ = [
    "family_base",
    "model_budget",
    "display_name",
    "regime_label",
    "series_label",
    "model_color",
    "family_marker",
    "format_count",
]

#: Colour map of the known family bases; equivariant ones cool, planar CNNs warm.
FAMILY_CMAPS = {"s2cnn": "Blues", "gscnn": "Greens", "zonal": "Purples", "cnn": "Oranges", "sphcnn": "Reds"}
#: Colour maps handed out (by a stable hash of the name) to any other family base.
SPARE_CMAPS = ("Purples", "Reds", "Greys", "YlOrBr", "PuRd", "BuGn")
FAMILY_MARKERS = {"s2cnn": "o", "gscnn": "D", "zonal": "^", "cnn": "s", "sphcnn": "v"}
SPARE_MARKERS = ("^", "v", "P", "X", "*", "h")
#: Display names of the known family bases.
FAMILY_LABELS = {"s2cnn": "S2CNN", "gscnn": "GSCNN", "zonal": "Zonal", "cnn": "CNN", "sphcnn": "Sphere CNN"}

_BUDGET = re.compile(r"(?:^|_)(\d+)([km])(\d*)(?=_|$)")


def family_base(family: str) -> str:
    """``"s2cnn_seg"`` → ``"s2cnn"``: the family without its task suffix."""
    family = str(family)
    for suffix in ("_seg", "_cls"):
        if family.endswith(suffix):
            return family[: -len(suffix)]
    return family


def model_budget(name: str) -> float | None:
    """Parameter budget encoded in a model name: ``218k`` → 218e3, ``5m5`` → 5.5e6, ``1m`` → 1e6; else ``None``."""
    match = _BUDGET.search(str(name))
    if match is None:
        return None
    whole, unit, frac = match.groups()
    value = float(f"{whole}.{frac}" if frac else whole)
    return value * (1e3 if unit == "k" else 1e6)


def format_count(n: float) -> str:
    """``218144`` → ``"218k"``, ``1200000`` → ``"1.2M"``, ``60000`` → ``"60k"``, ``512`` → ``"512"``."""
    n = float(n)
    if n >= 1e6:
        text = f"{n / 1e6:.1f}".rstrip("0").rstrip(".")
        return f"{text}M"
    if n >= 1e3:
        text = f"{n / 1e3:.1f}".rstrip("0").rstrip(".")
        return f"{text}k"
    return f"{n:g}"


def display_name(model: str, family: str | None = None) -> str:
    """Readable model name: ``"s2cnn_seg_204k"`` → ``"S2CNN 204k"``, ``"cnn_seg_5m5_small"`` → ``"CNN 5.5M small"``.

    Names without a parameter budget keep their variant: ``"gscnn_seg_small"`` → ``"GSCNN small"``; so do
    named variants after the budget (``"cnn_seg_218k_b16"`` → ``"CNN 218k b16"``); ``_circ`` marks the
    sphere-aware CNN (``"cnn_seg_218k_circ_small"`` → ``"Sphere CNN 218k small"``); names of no known family
    are returned unchanged.
    """
    model = str(model)
    tokens = model.split("_")
    base = family_base(family) if family else ("sphcnn" if "circ" in tokens else tokens[0])
    budget = model_budget(model)
    if budget is None:
        if tokens[0] not in FAMILY_LABELS:
            return model
        variant = " ".join(t for t in tokens[1:] if t not in ("seg", "cls", "circ"))
        return f"{FAMILY_LABELS.get(base, base.upper())} {variant}".strip()
    after = tokens[next(i for i, t in enumerate(tokens) if model_budget(t) is not None) + 1 :]
    variant = " ".join(t for t in after if t != "circ")
    return f"{FAMILY_LABELS.get(base, base.upper())} {format_count(budget)} {variant}".strip()


def regime_label(rotate: bool | None, rotation: str | None = None) -> str:
    """Training regime of a run: ``"rotated"`` (Haar), ``"unrotated"``, or a restricted set such as ``"tilt:30"``
    (``data.rotation``); ``"?"`` when unknown."""
    if rotation:
        return rotation
    if rotate is None:
        return "?"
    return "rotated" if rotate else "unrotated"


def series_label(model: str, family: str | None, regime: str) -> str:
    """Legend entry of a line: ``"S2CNN 204k (unrotated)"``."""
    return f"{display_name(model, family)} ({regime})"


def _cmap_name(base: str) -> str:
    if base in FAMILY_CMAPS:
        return FAMILY_CMAPS[base]
    return SPARE_CMAPS[zlib.crc32(base.encode()) % len(SPARE_CMAPS)]


def family_marker(family: str) -> str:
    """Marker of a family (by its base); stable for unknown families."""
    base = family_base(family)
    if base in FAMILY_MARKERS:
        return FAMILY_MARKERS[base]
    return SPARE_MARKERS[zlib.crc32(base.encode()) % len(SPARE_MARKERS)]


def model_color(model: str, family: str, known_models: list[str] | None = None) -> tuple[float, float, float, float]:
    """RGBA colour of a model: its family's colour map, shaded by its budget among ``known_models``.

    Parameters
    ----------
    model : model name.
    family : its family (``"cnn_seg"``); the colour map depends on its base.
    known_models : the models of the same family to shade against (names without a parameter
        budget are left out of it; default: only ``model``, which gives the middle shade).
        A model's ``_small`` twin and the CNN drawn at b = 16 for its budget (``_b16``) shade as the model.
    """
    cmap = colormaps[_cmap_name(family_base(family))]

    def key(name: str) -> tuple[float, str]:
        stem = re.sub(r"_(small|b\d+)$", "", name)  # a twin or a drawn model shades as its budget's model
        budget = model_budget(stem)
        return (budget if budget is not None else float("inf"), stem)

    universe = [m for m in (known_models or []) if key(m)[0] != float("inf")]
    stems = sorted({key(m) for m in universe} | {key(model)})
    rank = stems.index(key(model))
    shade = 0.7 if len(stems) == 1 else 0.5 + 0.45 * rank / (len(stems) - 1)
    return cmap(shade)


def is_equivariant(family: str) -> bool:
    """Whether a family is rotation equivariant (:func:`eqaug.config.is_equivariant_family`)."""
    return is_equivariant_family(family)
