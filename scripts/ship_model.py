"""Ship a trained model as a package model: write its checkpoint into src/balanced_fer/pretrained/ (in
the current model-file format), export it to ONNX beside it, and write the model card from what this
script measures (never typed by hand).

    python scripts/ship_model.py runs/fer2013_compact --name fer2013_compact --wall-minutes 80
    python scripts/ship_model.py src/balanced_fer/pretrained/fer2013_compact_long.safetensors \
        --name fer2013_compact_long --int8 ../shared/datasets/fer2013 --wall-minutes 117
    python scripts/ship_model.py runs/seed_study/fast_tier_the_default_as_a_live_teacher_consistent_teaching_seed_0 \
        --name fer2013_fast --wall-minutes 38.5

The first argument is a finished ``bfer train`` run folder (its ``final.safetensors`` and curves are
taken) or a checkpoint, such as an already shipped one, to regenerate its export and card. The card's
figures are measured here on the validation split the checkpoint's recipe names, for each runtime path:
the checkpoint (PyTorch) and the ONNX file prediction runs. ``--int8 SPEC`` quantizes that file,
calibrating on 512 faces of SPEC's train split (see balanced_fer.inference.export); its confusion
matrix goes to docs/figures/. The card's speed figures are measured here too (run it on an idle machine),
and a model that a tier of ``balanced_fer.pretrained.TIERS`` names is carded under that name.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from balanced_fer import Recognizer
from balanced_fer.data import load_arrays
from balanced_fer.doctor import cpu_description
from balanced_fer.evaluation import Evaluation, plot_confusion_matrix, to_markdown
from balanced_fer.inference import OnnxBackend, TorchBackend, evaluate_checkpoint, export_onnx
from balanced_fer.inference.evaluate import label_agreement, validation_dataset
from balanced_fer.inference.export import export_int8
from balanced_fer.models import ModelDescription, load_checkpoint, save_checkpoint
from balanced_fer.pretrained import PRETRAINED_DIR, TIERS
from balanced_fer.training.distill import VOTES_SOURCE, soft_targets_sources

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from inference_speed import faces_per_second, median_latency_ms  # noqa: E402

RARE_CLASSES = ("disgust", "contempt")  # the card's recall columns, for the classes a model has


@dataclass(frozen=True)
class CardData:
    """How a card describes the data of one dataset format."""

    title: str
    splits: dict[str, str]  # split -> what the dataset calls it
    labels: str  # the known-limits bullet on how its labels were made


CARD_DATA = {
    "fer2013": CardData(
        "FER2013",
        {"train": "Kaggle Training usage", "val": "PublicTest", "test": "PrivateTest"},
        "FER2013's labels are noisy (one annotator per face; FER+ relabelled about a tenth of them), so\n"
        "  neutral / sadness / fear and anger / disgust are confused most (see the confusion matrix).",
    ),
    "ferplus": CardData(
        "FER+",
        {"train": "FER2013Train", "val": "FER2013Valid", "test": "FER2013Test"},
        "FER+'s labels are what most of ten crowd workers chose; faces without such a majority, or voted\n"
        "  unknown / not a face, were left out of training and validation, so ambiguous faces are out of\n"
        "  its measured domain. Contempt and disgust are rare in FER+ (see the counts under Data): their\n"
        "  validation recall rests on a few dozen faces at most.",
    ),
}


def known_limits(data: CardData, description: ModelDescription) -> str:
    prior_weight = description.trained_prior_weight - description.post_hoc_tau  # as scoring.output_log_prior
    categories = (
        "the seven basic categories and contempt; compound expressions do not exist\n  for it"
        if "contempt" in description.class_names
        else "the seven basic categories; contempt and compound expressions do not exist\n  for it"
    )
    return f"""## Known limits
- Trained on {data.title} only: 48x48 grey, mostly frontal web images of posed and spontaneous
  expressions; faces seen at strong angles, under heavy occlusion or in infrared are out of its
  domain. Expressions are {categories}.
- {data.labels}
- Its scores are balanced part of the way against {data.title}'s class imbalance: they follow the training
  class frequencies to the power {prior_weight:g} (1: as plain training leaves them, 0: balanced), not the
  frequencies of any real population. Use `--prior FILE` with your own frequencies, or `--prior
  uniform`, when you know better.
- Demographic balance of {data.title} is undocumented; the model has not been audited for differences
  between groups of people. Do not use it to make decisions about individuals.
"""


def figure_row(path: str, result: Evaluation) -> str:
    rare = "".join(f" {100 * result.per_class[c]['recall']:.1f}% |" for c in RARE_CLASSES if c in result.per_class)
    return (
        f"| {path} | {100 * result.accuracy:.2f}% | {100 * result.mean_class_accuracy:.2f}% | "
        f"{100 * result.macro_f1:.2f}% |{rare}"
    )


def measure_speed(model: Path, faces: np.ndarray) -> dict:
    """Faces per second (batches of 256) and one face's latency of what prediction runs, on this CPU."""
    recognizer = Recognizer(model)
    return {
        "faces_per_s": round(faces_per_second(recognizer.predict_proba, faces, 256, 2)),
        "one_face_ms": round(median_latency_ms(recognizer.predict_proba, faces, 300), 2),
        "cpu": cpu_description(),
        "threads": torch.get_num_threads(),
    }


def distillation(recipe: dict) -> str:
    """The card's paragraph (with its leading blank line) on where a distilled model's soft targets
    came from; '' when it was not distilled."""
    distill = recipe.get("distill") or {}
    if not (distill.get("targets") or distill.get("teachers")):
        return ""
    share = "teachers'" if distill.get("teachers") else "targets'"
    how = f"temperature {distill['temperature']}, alpha {distill['alpha']} (the {share} share of the loss)"
    if distill.get("live"):
        return (
            f"\n\nTaught live by the teachers {', '.join(f'`{t}`' for t in distill['teachers'])} ({distill['tta']} TTA): "
            f'they scored every augmented batch as the student saw it (docs/training.md, "Live teachers"), {how}.'
        )
    if distill.get("teachers"):
        return f"\n\nDistilled from the teachers {', '.join(distill['teachers'])} ({distill['tta']} TTA), {how}."
    sources = soft_targets_sources(ROOT / distill["targets"])
    if any(source.startswith(VOTES_SOURCE) for source in sources):
        return f"\n\nTrained towards `{distill['targets']}` (committed: {'; '.join(sources)}), {how}."
    return (
        f"\n\nDistilled from `{distill['targets']}` (committed), the {distill['tta']}-TTA scores of the teacher(s) "
        f"{', '.join(f'`{t}`' for t in sources)} on the training faces, {how}; made by\n\n"
        f"    bfer soft-targets {recipe['data']['train']} {' '.join(f'--teacher {t}' for t in sources)} "
        f"--out {distill['targets']}"
    )


def decoupling(description: ModelDescription, name: str) -> str:
    """The card's paragraph (with its leading blank line) on a classifier re-trained after training
    (``bfer decouple``); '' when it was not."""
    method, recipe = description.provenance.decoupled, description.recipe
    if not method:
        return ""
    cfg = recipe["decouple"]
    options = f"--tau {cfg['tau']}" if method == "tau_norm" else f"--epochs {cfg['epochs']} --lr {cfg['lr']}"
    if description.post_hoc_tau != recipe["post_hoc"]["tau"]:
        options += f" --post-hoc-tau {description.post_hoc_tau}"
    return (
        f"\n\nIts classifier was then re-balanced on the frozen features ({method}, Kang et al. 2020; "
        f"docs/training.md) in {description.provenance.decouple_seconds:.0f} s:\n\n"
        f"    bfer decouple RUN/final.safetensors --method {method} {options} --out {name}.safetensors\n\n"
        "where RUN is the folder `bfer train` wrote."
    )


def render_card(
    name: str,
    description: ModelDescription,
    exported: ModelDescription,
    figures: dict[str, Evaluation],
    agreement: float,
    speed: dict,
    wall_minutes: float | None,
    data_format: str,
) -> str:
    recipe = description.recipe
    data, spec = CARD_DATA[data_format], recipe["data"]
    val_spec, train_split, val_split = spec["val"] or spec["train"], spec["train_split"], spec["val_split"]
    rare = [c for c in RARE_CLASSES if c in description.class_names]
    pre, architecture = description.preprocessing, description.architecture
    counts = ", ".join(f"{c} {n:,}" for c, n in zip(description.class_names, description.train_counts))
    minutes = f" in {wall_minutes:.0f} minutes on 2 CPU cores" if wall_minutes else ""
    options = ", ".join(f"{key} `{value}`" for key, value in spec["options"].items())
    options = f" ({options})" if options else ""
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
    tier = next((alias for alias, t in TIERS.items() if t.model == name), None)
    called = tier or name
    purpose = f"| tier | `{tier}`: {TIERS[tier].purpose} |\n" if tier else ""
    select = recipe["eval"]["select_metric"]
    selected = "the last: no selection on validation" if select == "last" else f"best validation {select}"
    selected = selected.replace("_", " ")
    cpu = speed["cpu"]
    return f"""# Model card: `{name}` (`bfer predict --model {called}`)

| | |
|---|---|
{purpose}| architecture | `{architecture.name}` ({architecture.num_classes} classes, {pre.channels} channel) |
| input | {pre.size} px face, centre {pre.input_size} px crop, (x/255 - {pre.mean}) / {pre.std} |
| classes | {", ".join(description.class_names)} |
| post-hoc logit adjustment | logits {"-" if description.post_hoc_tau >= 0 else "+"} {abs(description.post_hoc_tau)} x log(training class frequencies) |
| test-time augmentation | {description.tta} (in the figures below, and at prediction unless `--tta` says otherwise) |
| what prediction runs | {runs} |
| speed of what prediction runs | {speed["faces_per_s"]:,} faces/s in batches of 256, {speed["one_face_ms"]:.2f} ms for one face (`Recognizer.predict_proba` on 48 px crops; {cpu["model"]}, flags {cpu["flags"]}, {speed["threads"]} threads); side by side with `fer`: `python benchmarks/inference_speed.py --model {called} --data {val_spec}` |
| selected at epoch | {description.provenance.epoch} of {recipe["schedule"]["epochs"]} ({selected}) |
| git commit of the training code | `{description.provenance.git_commit}` |
| model file format | {description.format_version} (`balanced_fer.models.ModelDescription`) |

## Validation figures per runtime path ({data.title} {data.splits[val_split]}, {what_runs.num_samples:,} faces)
| runtime path | accuracy | mean class accuracy | macro-F1 |{"".join(f" {c} recall |" for c in rare)}
|---|---|---|---|{"---|" * len(rare)}
{figure_row(f"ONNX `{name}.onnx`: `bfer predict`, `bfer serve`, `Recognizer` (what runs)", what_runs)}
{figure_row(f"PyTorch checkpoint `{name}.safetensors`: training-side commands", figures["checkpoint"])}

The two give the same label on {100 * agreement:.2f}% of these faces. Reproduce:
`bfer evaluate {called} {val_spec} --split {val_split}` (what prediction runs) and
`bfer evaluate src/balanced_fer/pretrained/{name}.safetensors {val_spec} --split {val_split}`.

## Data
{data.title} `{train_split}` ({data.splits[train_split]}, {sum(description.train_counts):,} faces: {counts}) from `{spec["train"]}`{options};
selected and measured on `{val_split}` ({data.splits[val_split]}, {what_runs.num_samples:,} faces). {data.splits["test"]} was never used.

## Recipe
`configs/{recipe["name"]}.yaml`, trained{minutes} with

    bfer train configs/{recipe["name"]}.yaml

loss `{recipe["loss"]["name"]}` {recipe["loss"]["kwargs"] or ""}, sampler `{recipe["sampler"]}`, {recipe["optim"]["name"]} lr {recipe["optim"]["lr"]},
batch {recipe["optim"]["batch_size"]}, {recipe["schedule"]["epochs"]} epochs {recipe["schedule"]["schedule"]}, seed {recipe["seed"]}.{distillation(recipe)}{decoupling(description, name)}

## Validation figures of what prediction runs
{to_markdown(what_runs).split(chr(10), 1)[1].strip()}

![confusion matrix](../../../docs/figures/{name}_confusion.png)
![training curves](../../../docs/figures/{name}_curves.png)

{known_limits(data, description)}"""


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
    speed = measure_speed(export, faces)
    card = render_card(
        args.name, description, exported.description, figures, agreement, speed, args.wall_minutes, dataset.format
    )
    target.with_suffix(".md").write_text(card)
    summary = {path: result.summary() for path, result in figures.items()}
    print(
        json.dumps(
            {
                "weights": str(target),
                "export": str(export),
                "agreement": agreement,
                "validation": summary,
                "speed": speed,
            }
        )
    )


if __name__ == "__main__":
    main()
