"""Ship a trained model as a package model: write its checkpoint into src/balanced_fer/pretrained/ (in
the current model-file format), export it to ONNX beside it, and write the model card from what this
script measures (never typed by hand).

    python scripts/ship_model.py runs/fer2013_compact --name fer2013_compact --wall-minutes 80
    python scripts/ship_model.py src/balanced_fer/pretrained/fer2013_compact_long.safetensors \
        --name fer2013_compact_long --int8 ../shared/datasets/fer2013 --wall-minutes 117

The first argument is a finished ``bfer train`` run folder (its ``final.safetensors`` and curves are
taken) or a checkpoint, such as an already shipped one, to regenerate its export and card. The card's
figures are measured here on the validation split the checkpoint's recipe names, for each runtime path:
the checkpoint (PyTorch) and the ONNX file prediction runs. ``--int8 SPEC`` quantizes that file,
calibrating on 512 faces of SPEC's train split (see balanced_fer.inference.export); its confusion
matrix goes to docs/figures/.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from balanced_fer.data import load_arrays
from balanced_fer.evaluation import Evaluation, plot_confusion_matrix, to_markdown
from balanced_fer.inference import OnnxBackend, TorchBackend, evaluate_checkpoint, export_onnx
from balanced_fer.inference.evaluate import label_agreement, validation_dataset
from balanced_fer.inference.export import export_int8
from balanced_fer.models import ModelDescription, load_checkpoint, save_checkpoint
from balanced_fer.pretrained import PRETRAINED_DIR

ROOT = Path(__file__).resolve().parents[1]

LIMITS = """\
## Known limits
- Trained on FER2013 only: 48x48 grey, mostly frontal web images of posed and spontaneous
  expressions; faces seen at strong angles, under heavy occlusion or in infrared are out of its
  domain. Expressions are the seven basic categories; contempt and compound expressions do not exist
  for it.
- FER2013's labels are noisy (one annotator per face; FER+ relabelled about a tenth of them), so
  neutral / sadness / fear and anger / disgust are confused most (see the confusion matrix).
- Its scores are post-hoc adjusted for FER2013's class imbalance (tau above): they are not the class
  frequencies of any real population. Use `--prior FILE` with your own frequencies, or `--prior
  uniform`, when you know better.
- Demographic balance of FER2013 is undocumented; the model has not been audited for differences
  between groups of people. Do not use it to make decisions about individuals.
"""


def figure_row(path: str, result: Evaluation) -> str:
    return (
        f"| {path} | {100 * result.accuracy:.2f}% | {100 * result.mean_class_accuracy:.2f}% | "
        f"{100 * result.macro_f1:.2f}% | {100 * result.per_class['disgust']['recall']:.1f}% |"
    )


def render_card(
    name: str,
    description: ModelDescription,
    exported: ModelDescription,
    figures: dict[str, Evaluation],
    agreement: float,
    wall_minutes: float | None,
) -> str:
    recipe = description.recipe
    pre, architecture = description.preprocessing, description.architecture
    counts = ", ".join(f"{c} {n:,}" for c, n in zip(description.class_names, description.train_counts))
    minutes = f" in {wall_minutes:.0f} minutes on 2 CPU cores" if wall_minutes else ""
    quantization = exported.quantization
    if quantization:
        runs = (
            f"`{name}.onnx`, int8: weights {quantization.weights}, {quantization.activations} activations, "
            f"layers reading the image in fp32 ({', '.join(quantization.float_layers)}); no CPU's integer "
            "arithmetic saturates on it, so every x86-64 CPU gives the same answers"
        )
    else:
        runs = f"`{name}.onnx`, fp32: logits equal to the checkpoint's within 1e-4"
    what_runs = figures["onnx"]
    return f"""# Model card: `{name}` (`bfer predict --model default`)

| | |
|---|---|
| architecture | `{architecture.name}` ({architecture.num_classes} classes, {pre.channels} channel) |
| input | {pre.size} px face, centre {pre.input_size} px crop, (x/255 - {pre.mean}) / {pre.std} |
| classes | {", ".join(description.class_names)} |
| post-hoc logit adjustment | logits - {description.post_hoc_tau} x log(training class frequencies) |
| test-time augmentation | {description.tta} (in the figures below, and at prediction unless `--tta` says otherwise) |
| what prediction runs | {runs} |
| selected at epoch | {description.provenance.epoch} of {recipe["schedule"]["epochs"]} (best validation {recipe["eval"]["select_metric"].replace("_", " ")}) |
| git commit of the training code | `{description.provenance.git_commit}` |
| model file format | {description.format_version} (`balanced_fer.models.ModelDescription`) |

## Validation figures per runtime path (FER2013 PublicTest, {what_runs.num_samples:,} faces)
| runtime path | accuracy | mean class accuracy | macro-F1 | disgust recall |
|---|---|---|---|---|
{figure_row(f"ONNX `{name}.onnx`: `bfer predict`, `bfer serve`, `Recognizer` (what runs)", what_runs)}
{figure_row(f"PyTorch checkpoint `{name}.safetensors`: training-side commands", figures["checkpoint"])}

The two give the same label on {100 * agreement:.2f}% of these faces. Reproduce:
`bfer evaluate default ../shared/datasets/fer2013 --split val` (what prediction runs) and
`bfer evaluate src/balanced_fer/pretrained/{name}.safetensors ../shared/datasets/fer2013 --split val`.

## Data
FER2013 `train` (Kaggle Training usage, 28,709 faces: {counts}) from `../shared/datasets/fer2013`;
selected and measured on `val` (PublicTest, 3,589 faces). PrivateTest was never used.

## Recipe
`configs/{recipe["name"]}.yaml`, trained{minutes} with

    bfer train configs/{recipe["name"]}.yaml

loss `{recipe["loss"]["name"]}` {recipe["loss"]["kwargs"] or ""}, sampler `{recipe["sampler"]}`, {recipe["optim"]["name"]} lr {recipe["optim"]["lr"]},
batch {recipe["optim"]["batch_size"]}, {recipe["schedule"]["epochs"]} epochs {recipe["schedule"]["schedule"]}, seed {recipe["seed"]}.

## Validation figures of what prediction runs
{to_markdown(what_runs).split(chr(10), 1)[1].strip()}

![confusion matrix](../../../docs/figures/{name}_confusion.png)
![training curves](../../../docs/figures/{name}_curves.png)

{LIMITS}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a finished bfer train run folder, or a checkpoint")
    parser.add_argument("--name", required=True, help="the shipped model's name")
    parser.add_argument("--wall-minutes", type=float, help="the run's wall time, for the card")
    parser.add_argument("--int8", metavar="SPEC", help="quantize the ONNX export, calibrating on SPEC's train faces")
    args = parser.parse_args()
    run = args.model if args.model.is_dir() else None
    checkpoint = run / "final.safetensors" if run else args.model
    tensors, description = load_checkpoint(checkpoint)
    target = save_checkpoint(PRETRAINED_DIR / f"{args.name}.safetensors", tensors, description)  # current format
    if args.int8:
        export = export_int8(target, target.with_suffix(".onnx"), args.int8).path
    else:
        export = export_onnx(target, target.with_suffix(".onnx"))  # parity with the checkpoint is tested
    dataset, split = validation_dataset(description)
    figures = {
        path: evaluate_checkpoint(model, dataset, split, progress=False)
        for path, model in (("checkpoint", target), ("onnx", export))
    }
    pre = description.preprocessing
    faces = load_arrays(dataset, split, pre.size, pre.channels, progress=False).images
    exported = OnnxBackend(export)
    agreement = label_agreement(TorchBackend(target), exported, faces)
    docs_figures = ROOT / "docs" / "figures"
    plot_confusion_matrix(figures["onnx"], docs_figures / f"{args.name}_confusion.png")
    if run:
        shutil.copyfile(run / "curves.png", docs_figures / f"{args.name}_curves.png")
    card = render_card(args.name, description, exported.description, figures, agreement, args.wall_minutes)
    target.with_suffix(".md").write_text(card)
    summary = {path: result.summary() for path, result in figures.items()}
    print(json.dumps({"weights": str(target), "export": str(export), "agreement": agreement, "validation": summary}))


if __name__ == "__main__":
    main()
