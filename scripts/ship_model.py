"""Ship a trained run as a package model: copy its checkpoint into src/balanced_fer/pretrained/,
export it to ONNX beside it, and write the model card from what the run measured (never typed by hand).

    python scripts/ship_model.py runs/fer2013_compact --name fer2013_compact --wall-minutes 80
    python scripts/ship_model.py runs/fer2013_compact_long --name fer2013_compact_long \
        --int8 ../shared/datasets/fer2013 --wall-minutes 100

The card's figures come from the checkpoint's own metadata and the run's validation report
(``eval/val.md``); its curves and confusion matrix are copied to docs/figures/. ``--int8 SPEC``
quantizes the ONNX export (calibrated on 512 faces of SPEC's train split); the card then also gives
the figures of that file, measured here on the run's validation split.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from balanced_fer.data import open_dataset
from balanced_fer.evaluation import Evaluation, evaluation_paths
from balanced_fer.inference import evaluate_checkpoint
from balanced_fer.inference.backends import calibration_sample, export_onnx
from balanced_fer.pretrained import PRETRAINED_DIR
from balanced_fer.training.checkpoint import load_checkpoint
from balanced_fer.training.rebalance import validation_dataset

ROOT = Path(__file__).resolve().parents[1]

LIMITS = """\
## Known limits
- Trained on FER2013 only: 48x48 grey, mostly frontal web images of posed and spontaneous
  expressions; faces seen at strong angles, under heavy occlusion or in infrared are out of its
  domain. Expressions are the seven basic categories; contempt and compound expressions do not exist
  for it.
- FER2013's labels are noisy (one annotator per face; FER+ relabelled about a tenth of them), so
  neutral / sadness / fear and anger / disgust are confused most (see the confusion matrix).
- Its scores are post-hoc adjusted for FER2013's class imbalance (tau below): they are not the class
  frequencies of any real population. Use `--prior FILE` with your own frequencies, or `--prior
  uniform`, when you know better.
- Demographic balance of FER2013 is undocumented; the model has not been audited for differences
  between groups of people. Do not use it to make decisions about individuals.
"""


def onnx_rows(onnx: Evaluation | None) -> str:
    if onnx is None:
        return "| ONNX export (what prediction runs) | fp32, logits equal to the checkpoint's within 1e-4 |\n"
    return (
        "| ONNX export (what prediction runs) | int8 (static, per-channel weights): "
        f"accuracy {100 * onnx.accuracy:.2f}%, mean class accuracy {100 * onnx.mean_class_accuracy:.2f}%, "
        f"macro-F1 {100 * onnx.macro_f1:.2f}% on the same validation faces |\n"
    )


def render_card(name: str, meta: dict, report: str, wall_minutes: float | None, onnx: Evaluation | None) -> str:
    recipe = meta["recipe"]
    pre = meta["preprocessing"]
    counts = ", ".join(f"{c} {n:,}" for c, n in zip(meta["class_names"], meta["train_counts"]))
    val = meta["validation"]
    minutes = f" in {wall_minutes:.0f} minutes on 2 CPU cores" if wall_minutes else ""
    return f"""# Model card: `{name}` (`bfer predict --model default`)

| | |
|---|---|
| architecture | `{meta["model"]["name"]}` ({meta["model"]["num_classes"]} classes, {pre["channels"]} channel) |
| input | {pre["size"]} px face, centre {pre["input_size"]} px crop, (x/255 - {pre["mean"]}) / {pre["std"]} |
| classes | {", ".join(meta["class_names"])} |
| post-hoc logit adjustment | logits - {meta["logit_adjustment"]["tau"]} x log(training class frequencies) |
| test-time augmentation | {meta.get("tta", "none")} (in the figures below, and at prediction unless `--tta` says otherwise) |
| validation accuracy | {100 * val["accuracy"]:.2f}% |
| validation mean class accuracy | {100 * val["mean_class_accuracy"]:.2f}% |
| validation macro-F1 | {100 * val["macro_f1"]:.2f}% |
{onnx_rows(onnx)}| selected at epoch | {meta["epoch"]} of {recipe["schedule"]["epochs"]} (best validation {recipe["eval"]["select_metric"].replace("_", " ")}) |
| git commit of the training code | `{meta.get("git_commit")}` |

## Data
FER2013 `train` (Kaggle Training usage, 28,709 faces: {counts}) from `../shared/datasets/fer2013`;
selected and measured on `val` (PublicTest, 3,589 faces). PrivateTest was never used.

## Recipe
`configs/{recipe["name"]}.yaml`, trained{minutes} with

    bfer train configs/{recipe["name"]}.yaml

loss `{recipe["loss"]["name"]}` {recipe["loss"]["kwargs"] or ""}, sampler `{recipe["sampler"]}`, {recipe["optim"]["name"]} lr {recipe["optim"]["lr"]},
batch {recipe["optim"]["batch_size"]}, {recipe["schedule"]["epochs"]} epochs {recipe["schedule"]["schedule"]}, seed {recipe["seed"]}.
Reproduce the figures below (the PyTorch checkpoint):
`bfer evaluate src/balanced_fer/pretrained/{name}.safetensors ../shared/datasets/fer2013 --split val`;
`bfer evaluate default ../shared/datasets/fer2013 --split val` measures the ONNX export that
prediction runs.

## Validation figures (FER2013 PublicTest)
{report.split(chr(10), 1)[1].strip()}

![confusion matrix](../../../docs/figures/{name}_confusion.png)
![training curves](../../../docs/figures/{name}_curves.png)

{LIMITS}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a finished bfer train run folder")
    parser.add_argument("--name", required=True, help="the shipped model's name")
    parser.add_argument("--wall-minutes", type=float, help="the run's wall time, for the card")
    parser.add_argument("--int8", metavar="SPEC", help="quantize the ONNX export, calibrating on SPEC's train faces")
    args = parser.parse_args()
    checkpoint = args.run / "final.safetensors"
    _, meta = load_checkpoint(checkpoint)
    target = PRETRAINED_DIR / f"{args.name}.safetensors"
    shutil.copyfile(checkpoint, target)
    onnx_figures = None
    if args.int8:
        calibration, _ = calibration_sample(open_dataset(args.int8), "train", meta["preprocessing"], 512)
        onnx = export_onnx(target, target.with_suffix(".onnx"), calibration=calibration)
        onnx_figures = evaluate_checkpoint(onnx, *validation_dataset(meta), progress=False)
    else:
        export_onnx(target, target.with_suffix(".onnx"))  # parity with the checkpoint is tested
    figures = ROOT / "docs" / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    reports = evaluation_paths(args.run / "eval", "val")  # the run's own validation report
    shutil.copyfile(reports["confusion_matrix"], figures / f"{args.name}_confusion.png")
    shutil.copyfile(args.run / "curves.png", figures / f"{args.name}_curves.png")
    report = reports["markdown"].read_text()
    target.with_suffix(".md").write_text(render_card(args.name, meta, report, args.wall_minutes, onnx_figures))
    print(json.dumps({"weights": str(target), "bytes": target.stat().st_size, "validation": meta["validation"]}))


if __name__ == "__main__":
    main()
