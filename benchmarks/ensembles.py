"""How far ensembles of trained checkpoints get on FER2013 val: the teachers a student could distil from.

Each row averages its checkpoints' log-probabilities on the val faces, as `bfer soft-targets` does for
a teacher ensemble (flip test-time augmentation), and reports the scores raw (what a student learns
from) and with the recipes' post-hoc adjustment tau 0.5 (what deployment answers).

    python benchmarks/ensembles.py                       # the shipped models and the fast study's students
    python benchmarks/ensembles.py --row "mine=runs/a/final.safetensors,runs/b/final.safetensors"

Rows whose checkpoints are missing (the fast study not run here) are left out, with a line saying so.
Writes benchmarks/results/ensembles.{json,md}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from balanced_fer.data import open_dataset
from balanced_fer.imbalance import adjust_logits
from balanced_fer.inference.backends import load_backend
from balanced_fer.inference.scoring import train_prior
from balanced_fer.training.distill import teacher_log_probs
from seed_study import figures

STUDY = "runs/seed_study"
STUDENTS = [  # the fast study's 30-epoch students, seed 0 unless named (benchmarks/seed_study.py --study fast)
    f"{STUDY}/fast_tier_distilled_seed_1/final.safetensors",
    f"{STUDY}/fast_tier_without_distillation_seed_0/final.safetensors",
    f"{STUDY}/fast_tier_ema_of_weights_0_999_seed_0/final.safetensors",
    f"{STUDY}/fast_tier_mixup_0_2_half_the_batches_seed_0/final.safetensors",
]
ROWS = {
    "default": ["default"],
    "fast": ["fast"],
    "fast + 4 fast-recipe students": ["fast", *STUDENTS],
    "default + fast": ["default", "fast"],
    "default + fast + 4 fast-recipe students": ["default", "fast", *STUDENTS],
}
TAUS = (0.0, 0.5)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/fer2013", help="FER2013 (val)")
    parser.add_argument("--row", action="append", default=[], help="NAME=CKPT[,CKPT...] (replaces the default rows)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    return parser


def labelled(log_probs: torch.Tensor, truth: np.ndarray, classes: list[str]) -> dict:
    """Figures of the answers ``log_probs`` give (the seed study's: accuracy, MCA, disgust, fear)."""
    return figures({"truth": truth, "labels": log_probs.argmax(1).numpy(), "classes": classes})


def main() -> None:
    args = parser().parse_args()
    rows = {name: models.split(",") for name, models in (r.split("=", 1) for r in args.row)} if args.row else ROWS
    dataset = open_dataset(args.data)
    scores: dict[str, torch.Tensor] = {}
    table, lines = {}, []
    for name, models in rows.items():
        missing = [m for m in models if m.endswith(".safetensors") and not Path(m).is_file()]
        if missing:
            print(f"{name}: left out, {', '.join(missing)} not found")
            continue
        for model in models:
            if model not in scores:
                scores[model], truth, _ = teacher_log_probs([model], dataset, "val", progress=False)
        ensemble = torch.stack([scores[m] for m in models]).mean(0).log_softmax(1)
        prior = train_prior(load_backend(models[0]).description)
        table[name] = {
            "models": models,
            **{
                f"tau {tau}": labelled(adjust_logits(ensemble, prior, tau), truth, list(dataset.class_names))
                for tau in TAUS
            },
        }
        cells = [
            f"{100 * f['accuracy']:.2f} / {100 * f['mean_class_accuracy']:.2f} / {100 * f['disgust']:.1f}"
            for f in (table[name][f"tau {tau}"] for tau in TAUS)
        ]
        lines.append(f"| {name} | {len(models)} | " + " | ".join(cells) + " |")
        print(lines[-1])
    head = [
        "FER2013 val, flip TTA, log-probabilities averaged; accuracy / mean class accuracy / disgust recall",
        "",
        "| ensemble | models | raw scores | post-hoc tau 0.5 |",
        "|---|---|---|---|",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ensembles.json").write_text(json.dumps(table, indent=2) + "\n")
    (args.out / "ensembles.md").write_text("\n".join(head + lines) + "\n")


if __name__ == "__main__":
    main()
