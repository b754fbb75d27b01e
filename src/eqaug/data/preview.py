"""Draw samples of a spherical dataset: ``python -m eqaug.data.preview [overrides] +out=FILE.png``.

A Hydra app over ``conf/preview.yaml`` (``data`` group, ``split``, ``n_samples``; ``out`` defaults to
``preview.png``). Each sample is shown twice: as its equirectangular ``[β, α]`` grid image (β down,
α across, as the networks see it) with the segmentation mask overlaid in colour, and on a 3-D globe
turned towards the sample's mass centroid (cf. Gerken et al. 2022, Figs. 1, 6, 8). Examples::

    python -m eqaug.data.preview data=mnist4_seg +out=mnist4.png
    python -m eqaug.data.preview data=fashion_seg data.rotate=false data.bandwidth=30 +out=fashion.png
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from eqaug.data.spec import DataSpec
from eqaug.paths import CONF_DIR

if TYPE_CHECKING:
    from mpl_toolkits.mplot3d.axes3d import Axes3D

    from eqaug.data.sources import PlanarPools

__all__ = ["CONF_DIR", "render_preview", "main"]

_MASK_ALPHA = 0.6


def _colours(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """RGBA ``[H, W, 4]``: grey image, mask classes 1..10 blended in the ``tab10`` colours."""
    import matplotlib

    rgb = np.repeat(image[..., None], 3, axis=-1)
    if mask is not None:
        palette = np.asarray(matplotlib.colormaps["tab10"].colors)
        palette[7] = (1.0, 0.85, 0.0)  # tab10's grey would vanish on the grey image
        on = mask > 0
        rgb[on] = (1 - _MASK_ALPHA) * rgb[on] + _MASK_ALPHA * palette[(mask[on] - 1) % 10]
    return np.concatenate([rgb, np.ones_like(rgb[..., :1])], axis=-1)


def _globe(ax: Axes3D, colours: np.ndarray, bandwidth: int, view: np.ndarray) -> None:
    """Colour the sphere's SOFT-grid cells: cell ``[j, k]`` spans ``β ∈ [πj/2b, π(j+1)/2b]``, ``α_k ± π/2b``."""
    side = 2 * bandwidth
    beta = np.linspace(0, math.pi, side + 1)
    alpha = np.linspace(0, 2 * math.pi, side + 1) - math.pi / side
    B, A = np.meshgrid(beta, alpha, indexing="ij")
    x, y, z = np.sin(B) * np.cos(A), np.sin(B) * np.sin(A), np.cos(B)
    ax.plot_surface(x, y, z, facecolors=colours, rstride=1, cstride=1, shade=False, linewidth=0, antialiased=False)
    elev = math.degrees(math.asin(float(np.clip(view[2], -1, 1))))
    ax.view_init(elev=elev, azim=math.degrees(math.atan2(view[1], view[0])))
    ax.set_box_aspect((1, 1, 1))
    ax.set_axis_off()


def render_preview(
    spec: DataSpec,
    split: str = "train",
    n_samples: int = 8,
    out: str | os.PathLike = "preview.png",
    pools: PlanarPools | None = None,
) -> Path:
    """Render samples ``0 … n_samples−1`` of ``split`` to the PNG ``out`` and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eqaug.data.generator import SphericalGenerator
    from s2cnn.grids import quadrature_weights, s2_points

    if n_samples < 1:
        raise ValueError(f"n_samples={n_samples!r} is not allowed; it must be >= 1")
    generator = SphericalGenerator(spec, split, pools)
    images, targets = generator.get_batch(np.arange(n_samples))
    images = images[:, 0].numpy()
    masks = targets.numpy() if spec.task == "seg" else None
    b = spec.bandwidth
    points, weights = s2_points(b).numpy(), quadrature_weights(b).numpy()[:, None, None]

    per_row = min(4, n_samples)
    rows = math.ceil(n_samples / per_row)
    fig = plt.figure(figsize=(5.4 * per_row, 2.2 * rows + 0.4), dpi=110)
    panels = fig.add_gridspec(rows, 2 * per_row, width_ratios=[2, 1.2] * per_row)
    for n in range(n_samples):
        colours = _colours(images[n], None if masks is None else masks[n])
        row, col = divmod(n, per_row)
        flat = fig.add_subplot(panels[row, 2 * col])
        flat.imshow(colours, extent=(0, 360, 180, 0), interpolation="nearest", aspect="auto")
        flat.set_xlabel("α [deg]", fontsize=7)
        flat.set_ylabel("β [deg]", fontsize=7)
        flat.tick_params(labelsize=6)
        if masks is None:
            title = f"#{n}: class {int(targets[n])}"
        else:
            title = f"#{n}: classes {sorted(set((np.unique(masks[n]) - 1).tolist()) - {-1})}"
        flat.set_title(title, fontsize=8)
        centre = ((images[n][..., None] * weights) * points).sum((0, 1))
        view = centre / np.linalg.norm(centre) if np.linalg.norm(centre) > 0 else np.array([0.0, 0.0, -1.0])
        _globe(fig.add_subplot(panels[row, 2 * col + 1], projection="3d"), colours, b, view)
    where = "rotated" if spec.rotate else f"unrotated, at the {spec.projection_point.replace('_', ' ')}"
    fig.suptitle(f"{spec.dataset} {spec.task}, {spec.n_items} item(s), b={b}, {split}, {where}", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main() -> None:
    """Entry point: register the config schemas, then run the Hydra app."""
    import hydra
    from hydra.core.config_store import ConfigStore
    from hydra.utils import to_absolute_path
    from omegaconf import DictConfig

    @hydra.main(config_path=str(CONF_DIR), config_name="preview", version_base=None)
    def app(cfg: DictConfig) -> None:
        spec = DataSpec.from_config(cfg.data)
        out = render_preview(spec, cfg.split, int(cfg.n_samples), to_absolute_path(cfg.get("out") or "preview.png"))
        print(f"wrote {out}")

    ConfigStore.instance().store(group="data", name="schema", node=DataSpec)  # the data group's schema only
    app()


if __name__ == "__main__":
    main()
