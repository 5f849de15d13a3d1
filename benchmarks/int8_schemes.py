"""Int8 quantization schemes for a model, compared on this CPU and under exact integer arithmetic;
writes benchmarks/results/int8_schemes.{json,md}.

    python benchmarks/int8_schemes.py [--model default] [--data ../shared/datasets/fer2013]

Each scheme quantizes the model's fp32 ONNX export (calibrated on 512 FER2013 train faces, as
`bfer export --int8` does) and is measured on every FER2013 val face with the model's own test-time
augmentation and post-hoc scoring:
- labels shared with the checkpoint, run by this CPU's onnxruntime kernels ("native") and under exact
  integer arithmetic (graph optimisations off: each quantize / dequantize node as written, operators in
  fp32: what CPUs with VNNI or AMX compute, whatever this CPU has);
- validation accuracy and mean class accuracy, native;
- faces per second, native, batches of 256, the median of 3 passes (the exact emulation is slow: no
  speed for it);
- the largest int8 weight magnitude (beyond 64, CPUs without VNNI can saturate).
The CPU's int8 flags head the table (benchmarks/inference_speed.py).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

from balanced_fer.data import load_arrays, open_dataset
from balanced_fer.doctor import cpu_description
from balanced_fer.evaluation import evaluate_predictions
from balanced_fer.inference import OnnxBackend, TorchBackend, export_onnx, saturation_risks
from balanced_fer.inference.evaluate import deployed_probabilities
from balanced_fer.inference.export import calibration_sample, quantize_int8
from balanced_fer.models import prepare_batch
from balanced_fer.pretrained import resolve_model

ROOT = Path(__file__).resolve().parents[1]
SCHEMES = {  # name: quantize_int8 settings
    "uint8 x int8, full-range weights (the first shipped file)": dict(reduce_range=False, float_input_layers=False),
    "int8 x int8, full-range weights": dict(activations="int8", reduce_range=False, float_input_layers=False),
    "uint8 x uint8, full-range weights": dict(weights="uint8", reduce_range=False, float_input_layers=False),
    "uint8 x int8, 7-bit weights": dict(float_input_layers=False),
    "uint8 x int8, 7-bit weights, image-reading layer fp32 (shipped)": {},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "fer2013"))
    parser.add_argument("--passes", type=int, default=3, help="timed passes over the faces; the median is kept")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "int8_schemes")
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    checkpoint = TorchBackend(resolve_model(args.model))
    pre, counts = checkpoint.description.preprocessing, list(checkpoint.description.train_counts)
    val = load_arrays(dataset, "val", pre.size, pre.channels, progress=False)
    faces = np.asarray(val.images)
    reference = deployed_probabilities(checkpoint, faces).argmax(1)
    calibration = prepare_batch(calibration_sample(dataset, "train", pre, 512)[0], pre, "cpu").numpy()
    result: dict = {"model": args.model, "cpu": cpu_description(), "faces": len(faces), "schemes": []}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(checkpoint.path, Path(tmp) / "fp32.onnx")
        files = {"fp32 (no quantization)": fp32}
        for i, (name, settings) in enumerate(SCHEMES.items()):
            files[name] = Path(tmp) / f"scheme{i}.onnx"
            quantize_int8(fp32, files[name], calibration, **settings)
            graph = onnx.load(str(files[name]))  # the model's description, for its preprocessing and scoring
            graph.metadata_props.extend(onnx.load(str(fp32)).metadata_props)
            onnx.save(graph, str(files[name]))
        for name, path in files.items():
            native = OnnxBackend(path)
            probabilities = deployed_probabilities(native, faces)
            figures = evaluate_predictions(
                val.labels, dataset.class_names, probabilities=probabilities, train_counts=counts
            )
            speeds = []
            for _ in range(args.passes):
                start = time.perf_counter()
                for i in range(0, len(faces), 256):
                    native.logits(faces[i : i + 256])
                speeds.append(len(faces) / (time.perf_counter() - start))
            risks = saturation_risks(path)
            row = {
                "scheme": name,
                "largest_weight": max(risks.values(), default=None),
                "agreement_native": round(float((probabilities.argmax(1) == reference).mean()), 4),
                "agreement_exact": None,
                "accuracy": round(figures.accuracy, 4),
                "mean_class_accuracy": round(figures.mean_class_accuracy, 4),
                "faces_per_s": round(float(np.median(speeds))),
            }
            if path != fp32:
                exact = deployed_probabilities(OnnxBackend(path, exact_int8=True), faces).argmax(1)
                row["agreement_exact"] = round(float((exact == reference).mean()), 4)
            result["schemes"].append(row)
            print(row, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(render(result))
    print(render(result))


def render(r: dict) -> str:
    cpu = r["cpu"]
    rows = [
        "| scheme | weights beyond +-64 | same label as the checkpoint: this CPU | ... under exact arithmetic (VNNI / AMX) | val accuracy | val MCA | faces/s (flip TTA) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in r["schemes"]:
        exact = "" if s["agreement_exact"] is None else f"{100 * s['agreement_exact']:.2f}%"
        largest = "none" if s["largest_weight"] is None else f"up to {s['largest_weight']}"
        rows.append(
            f"| {s['scheme']} | {largest} | {100 * s['agreement_native']:.2f}% | {exact} | {100 * s['accuracy']:.2f}% "
            f"| {100 * s['mean_class_accuracy']:.2f}% | {s['faces_per_s']:,} |"
        )
    return (
        f"Int8 schemes for `{r['model']}` on {cpu['model']} (int8 flags: {cpu['flags']}; int8 products in "
        f"{cpu['int8_products']}), {r['faces']} FER2013 val faces.\n\n" + "\n".join(rows) + "\n"
    )


if __name__ == "__main__":
    main()
