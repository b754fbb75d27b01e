"""Accuracy of trained classifiers with BatchNorm running statistics (eval mode, as tested) vs batch statistics.

Diagnostic for results/STUDY.md (C2): loads the best checkpoint of a ``cls_mnist_small`` run (local
``results/checkpoints``; checkpoints are not committed, re-run the training to recreate them) and scores the
validation set and 20 training batches both ways, batch 32, no gradient.

    python results/explore/cls_bn_gap/bn_eval_gap.py s2cnn_cls_150k_small:1000 cnn_cls_500k_small:10000 ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from eqaug.config import register_configs
from eqaug.models import build_model
from eqaug.training.datamodule import SphericalDataModule
from eqaug.training.run import to_run_config

REPO = Path(__file__).resolve().parents[3]


def accuracy(model: torch.nn.Module, batches, batch_stats: bool) -> float:
    model.train(batch_stats)
    right = total = 0
    with torch.no_grad():
        for x, y in batches:
            right += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    return right / total


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    register_configs()
    rows = []
    for arg in argv:
        name, n = arg.split(":")
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base=None):
            cfg = compose(
                "train", overrides=["experiment=cls_mnist_small", f"model={name}", f"data.n_train={n}", "seed=0"]
            )
        typed, resolved = to_run_config(cfg)
        dm = SphericalDataModule(typed.data, batch_size=32, seed=0)
        model = build_model(resolved["model"])
        (ckpt,) = (REPO / "results/checkpoints/cls_mnist_small").glob(f"{name}__mnist1-cls__n{n}__*__s0__*/best.ckpt")
        state = torch.load(ckpt, weights_only=True, map_location="cpu")["state_dict"]
        model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
        train = [b for _, b in zip(range(20), dm.train_dataloader())]
        row = {
            "model": name,
            "n_train": int(n),
            "val_running_stats": accuracy(model, dm.val_dataloader(), False),
            "val_batch_stats": accuracy(model, dm.val_dataloader(), True),
            "train_running_stats": accuracy(model, train, False),
            "train_batch_stats": accuracy(model, train, True),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    (Path(__file__).parent / "bn_eval_gap.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
