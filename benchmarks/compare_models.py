"""Two models on a validation split (FER2013's by default), paired on the same faces: each one's figures
and the first minus the second (accuracy and mean class accuracy) with a 95% bootstrap interval.

Each model is a checkpoint or a shipped name, or an ensemble of them joined by ``+`` (their
log-probabilities averaged, as ``bfer soft-targets`` averages teachers), with its test-time
augmentation after a colon and, optionally, a post-hoc tau after another (default 0.5, the recipes');
answers are the argmax of the log-probabilities less tau x log training prior (a negative tau puts
part of the prior back, for a head trained on balanced batches). ``--data`` takes another dataset's
val split (FER+: its labels).

    python benchmarks/compare_models.py runs/default_student/seed0/final.safetensors:none \\
        src/balanced_fer/pretrained/fer2013_compact_long.safetensors:flip
    python benchmarks/compare_models.py runs/ferplus/crt.safetensors:flip:-0.5 \\
        src/balanced_fer/pretrained/ferplus_compact.safetensors:flip \\
        --data ferplus:../shared/datasets/ferplus
    python benchmarks/compare_models.py default+runs/default_seed1/run/final.safetensors:flip default:flip
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
from seed_study import class_recalls, figures

TAU = 0.5
RARE = ("disgust", "contempt")  # classes whose recall is printed


def answers(models: list[str], tta: str, tau: float, dataset) -> tuple[np.ndarray, np.ndarray]:
    """The labels of the models' ensemble on the val faces (post-hoc ``tau`` applied, with the first
    model's training prior) and the faces' true labels."""
    log_probs, truth, _ = teacher_log_probs(models, dataset, "val", tta=tta, progress=False)
    adjusted = adjust_logits(log_probs, train_prior(load_backend(models[0]).description), tau)
    return adjusted.argmax(1).numpy(), truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "first", help=f"MODEL[+MODEL...]:TTA[:TAU] (an ensemble with +; TTA none or flip; TAU default {TAU})"
    )
    parser.add_argument("second", help="MODEL[+MODEL...]:TTA[:TAU]")
    parser.add_argument(
        "--data", default="../shared/datasets/fer2013", help="the dataset whose val split (default FER2013)"
    )
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    classes = list(dataset.class_names)
    labels = {}
    for spec in (args.first, args.second):
        model, tta, *tau = spec.split(":")
        labels[spec], truth = answers(model.split("+"), tta, float(tau[0]) if tau else TAU, dataset)
        record = {"truth": truth, "labels": labels[spec], "classes": classes}
        f = figures(record)
        recall = ", ".join(f"{c} {100 * r:.1f}" for c, r in class_recalls(record).items() if c in RARE)
        print(f"{spec}: {100 * f['accuracy']:.2f} / {100 * f['mean_class_accuracy']:.2f} MCA, {recall}")
    diff = paired_difference_ci95(truth, [labels[args.first]], [labels[args.second]], len(classes))
    for name, (value, low, high) in diff.items():
        print(f"first minus second, {name}: {100 * value:+.2f} ({100 * low:+.2f}..{100 * high:+.2f})")


if __name__ == "__main__":
    main()
