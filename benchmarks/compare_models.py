"""Two models on FER2013 val, paired on the same faces: each one's figures and the first minus the
second (accuracy and mean class accuracy) with a 95% bootstrap interval.

Each model is a checkpoint or a shipped name, with its test-time augmentation after a colon; answers
are the argmax of the log-probabilities less the recipes' post-hoc tau 0.5 x log training prior.

    python benchmarks/compare_models.py runs/default_student/seed0/final.safetensors:none \\
        src/balanced_fer/pretrained/fer2013_compact_long.safetensors:flip
"""

from __future__ import annotations

import argparse

import numpy as np

from balanced_fer.data import open_dataset
from balanced_fer.evaluation.metrics import paired_difference_ci95
from balanced_fer.imbalance import adjust_logits
from balanced_fer.inference.backends import load_backend
from balanced_fer.inference.scoring import train_prior
from balanced_fer.training.distill import teacher_log_probs
from seed_study import figures

TAU = 0.5


def answers(model: str, tta: str, dataset) -> tuple[np.ndarray, np.ndarray]:
    """The model's labels on the val faces (tau 0.5 applied) and the faces' true labels."""
    log_probs, truth, _ = teacher_log_probs([model], dataset, "val", tta=tta, progress=False)
    adjusted = adjust_logits(log_probs, train_prior(load_backend(model).description), TAU)
    return adjusted.argmax(1).numpy(), truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="MODEL:TTA (TTA none or flip)")
    parser.add_argument("second", help="MODEL:TTA")
    parser.add_argument("--data", default="../shared/datasets/fer2013", help="FER2013 (val)")
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    classes = list(dataset.class_names)
    labels = {}
    for spec in (args.first, args.second):
        model, _, tta = spec.rpartition(":")
        labels[spec], truth = answers(model, tta, dataset)
        f = figures({"truth": truth, "labels": labels[spec], "classes": classes})
        print(
            f"{spec}: {100 * f['accuracy']:.2f} / {100 * f['mean_class_accuracy']:.2f} MCA, disgust {100 * f['disgust']:.1f}"
        )
    diff = paired_difference_ci95(truth, [labels[args.first]], [labels[args.second]], len(classes))
    for name, (value, low, high) in diff.items():
        print(f"first minus second, {name}: {100 * value:+.2f} ({100 * low:+.2f}..{100 * high:+.2f})")


if __name__ == "__main__":
    main()
