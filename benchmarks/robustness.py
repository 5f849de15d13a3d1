"""How the shipped model holds up when FER2013 val faces are degraded: resolution, blur, JPEG,
lighting, and colour. Writes benchmarks/results/robustness.{json,md}.

    python benchmarks/robustness.py [--data ../shared/datasets/fer2013] [--model default]

Each row scores all 3,589 val crops after one perturbation, through `Recognizer.predict_proba` (what
`bfer predict --no-detect` runs); "colour" tints each grey face and passes it as RGB, which the grey
model converts back with the usual luma weights.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from balanced_fer import Recognizer
from balanced_fer.data import load_arrays, open_dataset
from balanced_fer.evaluation import evaluate_predictions

ROOT = Path(__file__).resolve().parents[1]


def resample(side: int) -> Callable[[np.ndarray], np.ndarray]:
    def apply(face: np.ndarray) -> np.ndarray:
        small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, face.shape[:2][::-1], interpolation=cv2.INTER_LINEAR)

    return apply


def blur(sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda face: cv2.GaussianBlur(face, (0, 0), sigma)


def jpeg(quality: int) -> Callable[[np.ndarray], np.ndarray]:
    def apply(face: np.ndarray) -> np.ndarray:
        ok, data = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, quality])
        return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)

    return apply


def gamma(value: float) -> Callable[[np.ndarray], np.ndarray]:
    table = (255 * (np.arange(256) / 255) ** value).round().astype(np.uint8)
    return lambda face: table[face]


def contrast(factor: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda face: np.clip((face.astype(np.float32) - 128) * factor + 128, 0, 255).astype(np.uint8)


def tint(face: np.ndarray) -> np.ndarray:
    return np.clip(face[..., None] * np.array([1.1, 0.95, 0.8]), 0, 255).astype(np.uint8)  # warm skin-like tone


PERTURBATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda face: face,
    "resolution 32 px": resample(32),
    "resolution 24 px": resample(24),
    "resolution 16 px": resample(16),
    "blur sigma 1": blur(1.0),
    "blur sigma 2": blur(2.0),
    "JPEG quality 30": jpeg(30),
    "JPEG quality 10": jpeg(10),
    "darker (gamma 2)": gamma(2.0),
    "brighter (gamma 0.5)": gamma(0.5),
    "low contrast (x0.5)": contrast(0.5),
    "colour (tinted RGB)": tint,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/fer2013")
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = open_dataset(args.data)
    val = load_arrays(dataset, "val", 48, 1, progress=False)
    recognizer = Recognizer(args.model)
    rows = []
    for name, perturb in PERTURBATIONS.items():
        faces = [perturb(face[..., 0]) for face in val.images]
        result = evaluate_predictions(val.labels, dataset.class_names, probabilities=recognizer.predict_proba(faces))
        rows.append(
            {
                "perturbation": name,
                "accuracy": result.accuracy,
                "mean_class_accuracy": result.mean_class_accuracy,
                "recall": {c: r["recall"] for c, r in result.per_class.items()},
            }
        )
        print(f"{name}: accuracy {100 * result.accuracy:.2f}, MCA {100 * result.mean_class_accuracy:.2f}", flush=True)
    (args.out / "robustness.json").write_text(json.dumps({"model": args.model, "rows": rows}, indent=2) + "\n")
    base = rows[0]
    lines = ["| perturbation | accuracy | MCA | change in MCA | disgust | fear |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['perturbation']} | {100 * r['accuracy']:.2f} | {100 * r['mean_class_accuracy']:.2f} | "
            f"{100 * (r['mean_class_accuracy'] - base['mean_class_accuracy']):+.2f} | "
            f"{100 * r['recall']['disgust']:.1f} | {100 * r['recall']['fear']:.1f} |"
        )
    (args.out / "robustness.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
