"""Faces per second of compact VGG shapes as fp32 ONNX: what a fast-tier candidate costs before it is
trained; writes benchmarks/results/shape_speed.{json,md}.

    python benchmarks/shape_speed.py [--threads 2] [--batch 256] [--rounds 5]

Each shape (a recipe's network, its ``model.kwargs`` and the face size it is fed) is built with random
weights, exported to ONNX and run by onnxruntime on random faces; the shapes take turns over several
rounds and each keeps its best round, so a busy moment of the machine does not land on one shape.
The model alone: no resizing or scoring (benchmarks/inference_speed.py measures what predict runs).
Speeds are this CPU's (its flags head the table); compare shapes within one run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from balanced_fer.doctor import cpu_description
from balanced_fer.models import create_model
from balanced_fer.training import load_recipe
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


def onnx_session(model: nn.Module, size: int, folder: Path, threads: int) -> ort.InferenceSession:
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
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def faces_per_second(session: ort.InferenceSession, faces: np.ndarray, repeats: int) -> float:
    session.run(None, {"faces": faces})  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        session.run(None, {"faces": faces})
    return repeats * len(faces) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads (default %(default)s)")
    parser.add_argument("--batch", type=int, default=256, help="faces a run (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=10, help="runs a round (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="turns each shape takes (default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="where the table goes")
    args = parser.parse_args()

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    rows, sessions = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (network, kwargs, size) in shapes().items():
            model = create_model(network, 7, 1, **kwargs).eval()
            parameters = sum(p.numel() for p in model.parameters())
            rows[name] = {"network": network, "kwargs": kwargs, "size": size, "parameters": parameters}
            rows[name]["multiply_adds"] = multiply_adds(model, size)
            faces = rng.standard_normal((args.batch, 1, size, size), dtype=np.float32)
            sessions[name] = (onnx_session(model, size, Path(folder), args.threads), faces)
        for _ in range(args.rounds):
            for name, (session, faces) in sessions.items():
                speed = faces_per_second(session, faces, args.repeats)
                rows[name]["faces_per_second"] = max(rows[name].get("faces_per_second", 0.0), speed)

    cpu = cpu_description()
    settings = {k: getattr(args, k) for k in ("threads", "batch", "repeats", "rounds")}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "shape_speed.json").write_text(json.dumps({"cpu": cpu, **settings, "shapes": rows}, indent=2) + "\n")
    reference = next(iter(rows.values()))["faces_per_second"]
    lines = [
        f"CPU: {cpu['model']} ({cpu['flags']}); fp32 ONNX, {args.threads} threads, batches of {args.batch}, "
        f"best of {args.rounds} rounds",
        "",
        "| shape | parameters | multiply-adds | faces/s | vs the first |",
        "|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['parameters'] / 1e6:.2f} M | {row['multiply_adds'] / 1e6:.1f} M "
            f"| {row['faces_per_second']:,.0f} | {row['faces_per_second'] / reference:.2f}x |"
        )
    table = "\n".join(lines) + "\n"
    (args.out / "shape_speed.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
