"""Training throughput of a recipe's model, data pipeline included: writes benchmarks/results/train_throughput.json.

    python benchmarks/train_throughput.py [--recipe configs/fer2013_compact.yaml] [--steps 60]

Times real optimiser steps of the trainer (cached uint8 batch gathered from the memory map,
batched augmentation, forward, backward, SGD step) after a few warm-up steps.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from balanced_fer.training import Trainer, load_recipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="configs/fer2013_compact.yaml")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "train_throughput.json")
    args = parser.parse_args()

    recipe = load_recipe(args.recipe, args.set)
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(recipe, Path(out), progress=False)
        trainer._setup()
        rng = np.random.default_rng(0)
        n = len(trainer.data.train_index)
        batches = [np.sort(rng.choice(n, trainer.batch, replace=False)) for _ in range(args.warmup + args.steps)]
        for idx in batches[: args.warmup]:
            trainer._train_step(idx)
        start = time.perf_counter()
        for idx in batches[args.warmup :]:
            trainer._train_step(idx)
        seconds = time.perf_counter() - start
    images_per_s = args.steps * trainer.batch / seconds
    result = {
        "recipe": args.recipe,
        "overrides": args.set,
        "model": recipe.model.name,
        "input_size": recipe.data.input_size,
        "batch_size": trainer.batch,
        "channels_last": recipe.channels_last,
        "images_per_second": round(images_per_s, 1),
        "epoch_minutes_fer2013": round(28709 / images_per_s / 60, 2),
        "device": str(trainer.device),
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
