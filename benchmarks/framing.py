"""How FER2013's faces sit in their 48 px crops, and what framing detected faces the same way is worth.

    python benchmarks/framing.py [--data ../shared/datasets/fer2013] [--measure 1500]

1. Framing: BlazeFace on FER2013 train faces, upscaled 4x and padded by half their side (repeated
   border) so that the detector sees a whole head: the box's side as a share of the crop's, and its
   centre's offset from the crop's centre (medians).
2. Before / after on faces found by real detection: every FER2013 val face, upscaled to 96-200 px and
   pasted at a random place into a 512 px grey scene cut from examples/rocket.jpg (no face of its own),
   is detected, aligned with the framing before it was measured (box plus 25% a side) and with the
   measured one, and scored by the shipped model; the 48 px crops scored directly are the reference.
Writes benchmarks/results/framing.{json,md}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from balanced_fer import Recognizer
from balanced_fer.data import load_arrays, open_dataset, read_image
from balanced_fer.evaluation import evaluate_predictions
from balanced_fer.faces import FER2013_FRAMING, LOOSE_FRAMING, BlazeFaceDetector, align_face

ROOT = Path(__file__).resolve().parents[1]


def measure(images: np.ndarray, detector: BlazeFaceDetector) -> dict:
    rows = []
    for face in images:
        side = face.shape[0] * 4
        big = cv2.resize(face[..., 0], (side, side), interpolation=cv2.INTER_CUBIC)
        pad = side // 2
        found = detector.detect(
            cv2.cvtColor(cv2.copyMakeBorder(big, *[pad] * 4, cv2.BORDER_REPLICATE), cv2.COLOR_GRAY2RGB)
        )
        if found:
            x, y, w, h = max(found, key=lambda f: f.score).box
            rows.append((max(w, h) / side, (x + w / 2 - pad) / side - 0.5, (y + h / 2 - pad) / side - 0.5))
    values = np.array(rows)
    quartiles = np.percentile(values, [25, 50, 75], axis=0).round(3).tolist()
    return {
        "faces": len(images),
        "detected": len(rows),
        "box_share": [q[0] for q in quartiles],
        "dx": [q[1] for q in quartiles],
        "dy": [q[2] for q in quartiles],
    }


def pasted_scenes(faces: np.ndarray, seed: int = 0):
    """Each face in a scene of its own: (grey scene as RGB, the face's box in it)."""
    rng = np.random.default_rng(seed)
    background = cv2.cvtColor(read_image(ROOT / "examples" / "rocket.jpg", 3), cv2.COLOR_RGB2GRAY)
    for face in faces:
        scene = cv2.resize(background, (768, 768))
        top, left = rng.integers(0, 256, 2)
        scene = scene[top : top + 512, left : left + 512].copy()
        if rng.random() < 0.5:
            scene = scene[:, ::-1].copy()
        side = int(rng.integers(96, 201))
        x, y = (int(v) for v in rng.integers(0, 512 - side, 2))
        scene[y : y + side, x : x + side] = cv2.resize(face[..., 0], (side, side), interpolation=cv2.INTER_CUBIC)
        yield cv2.cvtColor(scene, cv2.COLOR_GRAY2RGB), (x, y, side, side)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/fer2013")
    parser.add_argument("--measure", type=int, default=1500, help="train faces measured")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = open_dataset(args.data)
    detector = BlazeFaceDetector()
    train = load_arrays(dataset, "train", 48, 1, progress=False)
    pick = np.random.default_rng(0).choice(len(train), args.measure, replace=False)
    framing = measure(train.images[pick], detector)
    print("framing of FER2013 train faces (quartiles):", framing, flush=True)

    recognizer = Recognizer.from_pretrained()
    val = load_arrays(dataset, "val", 48, 1, progress=False)
    size = recognizer.description.preprocessing.size
    crops: dict[str, list] = {"loose": [], "measured": []}
    found = []
    for scene, (x, y, w, h) in pasted_scenes(val.images):
        faces = detector.detect(scene)
        # the detection of the pasted face: the one whose centre lies in its square
        hits = [f for f in faces if x <= f.box[0] + f.box[2] / 2 <= x + w and y <= f.box[1] + f.box[3] / 2 <= y + h]
        found.append(bool(hits))
        if hits:
            face = max(hits, key=lambda f: f.score)
            crops["loose"].append(align_face(scene, face, size, LOOSE_FRAMING))
            crops["measured"].append(align_face(scene, face, size, FER2013_FRAMING))
    found = np.array(found)
    labels = val.labels[found]
    rows = []
    reference = recognizer.predict_proba(list(val.images[found]))
    for name, probabilities in (
        ("48 px crops scored directly (reference)", reference),
        (
            f"detected, loose framing (box {LOOSE_FRAMING.box_share:.3f} of the crop, centred)",
            recognizer.predict_proba(crops["loose"]),
        ),
        (
            f"detected, measured framing (box {FER2013_FRAMING.box_share:.3f}, {FER2013_FRAMING.dy:+.3f} down)",
            recognizer.predict_proba(crops["measured"]),
        ),
    ):
        result = evaluate_predictions(labels, dataset.class_names, probabilities=probabilities)
        rows.append(
            {
                "run": name,
                "faces": int(found.sum()),
                "accuracy": result.accuracy,
                "mean_class_accuracy": result.mean_class_accuracy,
                "ci95": result.ci95,
                "recall": {c: r["recall"] for c, r in result.per_class.items()},
            }
        )
        print(f"{name}: accuracy {100 * result.accuracy:.2f}, MCA {100 * result.mean_class_accuracy:.2f}", flush=True)
    payload = {"framing": framing, "val_faces": len(val), "detected": int(found.sum()), "rows": rows}
    (args.out / "framing.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        f"FER2013 val faces pasted into scenes: {int(found.sum())} of {len(val)} detected; figures on those",
        "",
        "| crop | accuracy (95% CI) | MCA (95% CI) | disgust | fear |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        (al, ah), (ml, mh) = r["ci95"]["accuracy"], r["ci95"]["mean_class_accuracy"]
        lines.append(
            f"| {r['run']} | {100 * r['accuracy']:.2f} ({100 * al:.1f}-{100 * ah:.1f}) | "
            f"{100 * r['mean_class_accuracy']:.2f} ({100 * ml:.1f}-{100 * mh:.1f}) | "
            f"{100 * r['recall']['disgust']:.1f} | {100 * r['recall']['fear']:.1f} |"
        )
    (args.out / "framing.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
