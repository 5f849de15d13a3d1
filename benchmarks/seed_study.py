"""Seed studies on the CPU, each row trained with several seeds and compared in pairs:

- ``methods``: the two published methods: CE, weighted CE, RASN and its `saf: false` control, and
  DBL, on one short schedule (``--epochs``, default 8);
- ``fast``: the `fast` tier's student distilled from the default model, and one learning from FER+'s
  crowd votes for the same faces (half of its loss), against the same recipe without either; and the
  distilled student with an EMA of its weights, with mixup or CutMix, with blurred and downscaled faces
  (what phone and webcam faces suffer; benchmarks/robustness.py measures what they change), or trained
  50 epochs instead of 30, against it; each on its recipe's schedule (configs/fer2013_fast.yaml)
  unless the row says; and the student of two held-out teachers (each scored only the half of the
  training faces it never saw), of the default with its seed-1 twin (a stronger teacher than the
  default alone), and of ResNet-18 teachers (three on all faces, or five held-out ones; trained on a
  GPU), also with the network reshaped at about its cost (one layer at 44 px, a wider last stage:
  ``model.kwargs``; or smaller faces and wider stages: ``data.size``) or made wider at 1.6x and 2.2x
  its cost (what an int8 file might afford at the same speed), or trained with RepVGG's branches
  (folded away for inference); the student taught live by the default, which scores each augmented
  batch as the student sees it (``distill.live``), also with mixup (the teacher scoring the mixed
  faces), with the teacher's flip TTA, on the teacher's scores alone at temperature 1 (Beyer et
  al.'s loss), with its head on the last 5 x 5 map, or on classes drawn by the square root of their
  counts (rare faces seen more often, each scored by the teacher), or started from the default's weights
  narrowed to the student's widths (``model.pretrained``); the live row again on a CPU without native
  bf16 (fp32), the control of the row taught the default's scores on the same recipe's views, made once
  before training (``bfer soft-targets --views``); and the control with the faces
  confident learning flags as mislabelled left out, judged by the held-out teachers' scores or by
  FER+'s votes (``data.drop_label_issues``).

    python benchmarks/seed_study.py [--study methods] [--seeds 0 1 2] [--epochs 8] [--parallel 2] [--only RASN]
    python benchmarks/seed_study.py --study fast --seeds 0 1 --parallel 2
    python benchmarks/seed_study.py --report-only     # the table from the runs (or labels) so far

``--seeds`` are the seeds to train; the table covers every seed whose labels are kept.

Every row keeps its last epoch (`eval.select_metric=last`, the rule DBL's phases use), so no row is
selected on validation. Each finished run's validation labels are kept in
benchmarks/results/seed_study/ (the table rebuilds without the checkpoints); the table, with mean +- sd
over seeds and each comparison's paired difference (95% bootstrap over faces, every run resampled on
the same faces), goes to benchmarks/results/seed_study[_<study>].{json,md}.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from balanced_fer.data import load_arrays
from balanced_fer.evaluation import paired_difference_ci95
from balanced_fer.inference.backends import load_backend
from balanced_fer.inference.evaluate import deployed_labels, validation_dataset
from table import BFER, run_rows, slug, table_parser, train_row

BASELINE = "configs/fer2013_baseline.yaml"
RASN = "configs/fer2013_rasn_compact.yaml"
DBL = "configs/fer2013_dbl.yaml"
FAST = "configs/fer2013_fast.yaml"
# bfer soft-targets ../shared/datasets/fer2013 --votes ferplus:../shared/datasets/ferplus --out <VOTES>
VOTES = "data/fer2013_ferplus_votes.safetensors"
VOTE_SETTINGS = ["distill.temperature=1", "distill.alpha=0.5", "name=fer2013_fast_votes"]  # votes are probabilities
# made as in docs/benchmarks.md ("Teachers that never saw the face")
PAIR = "data/fer2013_default_pair_teachers.safetensors"  # the default and its seed-1 twin, flip TTA
HELD_OUT = "data/fer2013_held_out_teachers.safetensors"
# the default scoring each augmented batch as the student sees it (consistent teaching), not the faces once
FAST_LIVE = "configs/fer2013_fast_live.yaml"
LIVE = "fast tier, the default as a live teacher (consistent teaching)"
LIVE_LONG = "fast tier, the default as a live teacher, 50 epochs"  # patient as well as consistent
LIVE_MIXUP = "fast tier, the default as a live teacher + mixup (function matching)"  # it scores the mixed image
LIVE_FLIP = "fast tier, the default as a live teacher with flip TTA"  # the view and its mirror, averaged
LIVE_KL = "fast tier, the default as a live teacher, its scores alone at T 1"  # no label term: Beyer et al.'s loss
# the head sees the last 5 x 5 map flattened, not its global average: where on the face each feature fired
LIVE_GRID = "fast tier, the default as a live teacher, head on the 5 x 5 map"
# classes drawn by the square root of their counts: rare faces seen more often, each with the teacher's scores
LIVE_SQRT = "fast tier, the default as a live teacher, square-root class sampling"
# the student starts from its teacher narrowed to its widths (each layer's strongest channels), not at random
LIVE_NARROWED = "fast tier, the default as a live teacher, started from the default narrowed"
DEFAULT_FILE = "src/balanced_fer/pretrained/fer2013_compact_long.safetensors"
# the default's scores on the very views the live row's student sees, made once before training (12 MB,
# not committed; docs/training.md, "The teachers' scores on the views, made once"):
#   bfer soft-targets ../shared/datasets/fer2013 --teacher default --views configs/fer2013_fast_live.yaml \
#       --tta none --out runs/views/fer2013_default_fast_live_views.safetensors
LIVE_VIEWS_FILE = "runs/views/fer2013_default_fast_live_views.safetensors"
LIVE_VIEWS = "fast tier, the default's scores on the live row's views, made once"
# the live row again on a CPU without native bf16, where the recipe's amp runs in fp32 as the views row did
# (its runs' recipes name it fer2013_fast_live_avx2): the views row's control
LIVE_FP32 = "fast tier, the default as a live teacher, fp32 on an AVX2 CPU"
# decoupled KD (Zhao et al. 2022) with its authors' CIFAR weights (CE + TCKD + 8 NCKD at T 4, the teachers'
# term ramped in over the first 20 of 240 epochs, here 2.5 of 30), live, fp32 on the AVX2 CPU as its control
LIVE_DKD = "fast tier, the default as a live teacher, decoupled KD, fp32 on an AVX2 CPU"
# the teacher's scores alone at the recipe's T 4 (no label term), fp32 on the AVX2 CPU: which half of the
# T-1 row's change (no labels, and T 1) costs what
LIVE_NO_LABELS = "fast tier, the default as a live teacher, its scores alone at T 4, fp32 on an AVX2 CPU"
# ResNet-18s trained on a GPU (docs/benchmarks.md, "ResNet-18 teachers"): three on all the training
# faces, and five each without one of five folds (every face scored by the one that never saw it)
R18 = "data/fer2013_r18_teachers.safetensors"
R18_HELD_OUT = "data/fer2013_r18_held_out_teachers.safetensors"
# vgg_compact_s reshaped at about its cost: the second 44 px layer (a fifth of the multiply-adds, more of
# the time) traded for a last stage this wide
RESHAPED_WIDTHS = (192, 160)


def reshaped(width: int) -> str:
    return f"fast tier, R18 teachers, one layer at 44 px, last stage {width} wide"


# ... or fed smaller faces (48 px FER2013 resized), with the multiply-adds saved spent on width
LOW_RESOLUTION = ((24, (32, 64, 128, 256)), (36, (16, 48, 96, 192)))


def low_resolution(size: int, widths: tuple[int, ...]) -> str:
    return f"fast tier, R18 teachers, {size} px faces, one layer there, stages {'/'.join(map(str, widths))} wide"


# ... and, past its cost, every stage of vgg_compact_s (16/32/64/128) wider: 1.56x and 2.24x the
# multiply-adds, what an int8 file of such a network might afford at fer's speed (docs/benchmarks.md)
WIDER = ((20, 40, 80, 160), (24, 48, 96, 192))


def wider(widths: tuple[int, ...]) -> str:
    return f"fast tier, R18 teachers, every stage wider: {'/'.join(map(str, widths))}"


RESHAPED_ROWS = (
    [reshaped(width) for width in RESHAPED_WIDTHS]
    + [low_resolution(*row) for row in LOW_RESOLUTION]
    + [wider(widths) for widths in WIDER]
)

# ... or trained with RepVGG's 1x1 and identity branches beside each 3x3 layer, folded into it for
# inference: more to train, the same network to run
REPVGG = "fast tier, R18 teachers, RepVGG branches in training"


def reshaped_overrides(
    widths: tuple[int, ...], name: str, size: int | None = None, depths: tuple[int, ...] = (1, 2, 2, 2)
) -> list[str]:
    """A fast row learning from the ResNet-18s with these widths and depths (by default one layer in its
    first stage), fed ``size`` px faces (cropped from 48 / 44 as large, the usual framing) when given."""
    faces = [f"data.size={round(size * 48 / 44)}", f"data.input_size={size}"] if size else []
    shape = f"model.kwargs={{depths: [{', '.join(map(str, depths))}], widths: [{', '.join(map(str, widths))}]}}"
    return [f"distill.targets={R18}", *faces, shape, f"name={name}"]


@dataclass(frozen=True)
class Study:
    """Rows (name -> recipe and overrides; every row also gets the seed) and the comparisons (method,
    control) the table reports. With ``epochs``, rows other than DBL's get that schedule and keep their
    last epoch; without, each recipe's own schedule and selection rule apply."""

    rows: dict[str, tuple[str, list[str]]]
    comparisons: list[tuple[str, str]]
    epochs: int | None = None


STUDIES = {
    "methods": Study(
        rows={
            "CE": (BASELINE, []),
            "weighted CE (inverse frequency)": (BASELINE, ["loss.name=weighted_ce", "loss.kwargs={scheme: inverse}"]),
            "RASN (SAF + AFA), CE": (RASN, []),
            "RASN control (saf: false), CE": (RASN, ["model.kwargs.saf=false"]),
            "DBL K=3": (DBL, []),
        },
        comparisons=[
            ("RASN (SAF + AFA), CE", "RASN control (saf: false), CE"),
            ("RASN control (saf: false), CE", "CE"),
            ("weighted CE (inverse frequency)", "CE"),
            ("DBL K=3", "weighted CE (inverse frequency)"),
            ("DBL K=3", "CE"),
        ],
        epochs=8,
    ),
    "fast": Study(
        rows={
            "fast tier (distilled)": (FAST, ["name=fer2013_fast"]),
            "fast tier without distillation": (FAST, ["distill=null", "name=fer2013_fast_control"]),
            "fast tier, FER+ crowd votes as targets": (FAST, [f"distill.targets={VOTES}", *VOTE_SETTINGS]),
            "fast tier + EMA of weights (0.999)": (FAST, ["optim.ema=0.999", "name=fer2013_fast_ema"]),
            "fast tier + mixup (0.2, half the batches)": (FAST, ["augment.mixup=0.2", "name=fer2013_fast_mixup"]),
            "fast tier + cutmix (1.0, half the batches)": (FAST, ["augment.cutmix=1.0", "name=fer2013_fast_cutmix"]),
            "fast tier + blur and downscale (0.25 each)": (
                FAST,
                ["augment.blur=0.25", "augment.downscale=0.25", "name=fer2013_fast_degrade"],
            ),
            "fast tier, 50 epochs": (FAST, ["schedule.epochs=50", "name=fer2013_fast_long"]),
            "fast tier, held-out teachers": (FAST, [f"distill.targets={HELD_OUT}", "name=fer2013_fast_held_out"]),
            "fast tier, the default's two seeds as teachers": (
                FAST,
                [f"distill.targets={PAIR}", "name=fer2013_fast_pair"],
            ),
            LIVE: (FAST_LIVE, []),
            LIVE_LONG: (FAST_LIVE, ["schedule.epochs=50", "name=fer2013_fast_live_long"]),
            LIVE_MIXUP: (FAST_LIVE, ["augment.mixup=0.2", "name=fer2013_fast_live_mixup"]),
            LIVE_FLIP: (FAST_LIVE, ["distill.tta=flip", "name=fer2013_fast_live_flip"]),
            LIVE_KL: (FAST_LIVE, ["distill.alpha=1", "distill.temperature=1", "name=fer2013_fast_live_kl"]),
            LIVE_GRID: (FAST_LIVE, ["model.kwargs={pool_grid: 5}", "name=fer2013_fast_live_grid"]),
            LIVE_SQRT: (FAST_LIVE, ["sampler=square_root", "name=fer2013_fast_live_sqrt"]),
            LIVE_NARROWED: (FAST_LIVE, [f"model.pretrained={DEFAULT_FILE}", "name=fer2013_fast_live_narrowed"]),
            LIVE_VIEWS: (
                FAST_LIVE,
                [
                    "distill.live=false",
                    "distill.teachers=[]",
                    f"distill.targets={LIVE_VIEWS_FILE}",
                    "name=fer2013_fast_views",
                ],
            ),
            LIVE_FP32: (FAST_LIVE, ["name=fer2013_fast_live_avx2"]),
            LIVE_DKD: (
                FAST_LIVE,
                [
                    "distill.loss=dkd",
                    "distill.alpha=0.5",
                    "distill.nckd_weight=8",
                    "distill.warmup_epochs=2.5",
                    "name=fer2013_fast_live_dkd",
                ],
            ),
            LIVE_NO_LABELS: (FAST_LIVE, ["distill.alpha=1", "name=fer2013_fast_live_no_labels"]),
            "fast tier, three ResNet-18 teachers": (FAST, [f"distill.targets={R18}", "name=fer2013_fast_r18"]),
            "fast tier, five held-out ResNet-18 teachers": (
                FAST,
                [f"distill.targets={R18_HELD_OUT}", "name=fer2013_fast_r18_held_out"],
            ),
            **{
                reshaped(width): (FAST, reshaped_overrides((16, 32, 64, width), f"fer2013_fast_r18_w{width}"))
                for width in RESHAPED_WIDTHS
            },
            **{
                low_resolution(size, widths): (FAST, reshaped_overrides(widths, f"fer2013_fast_r18_{size}px", size))
                for size, widths in LOW_RESOLUTION
            },
            **{
                wider(widths): (FAST, reshaped_overrides(widths, f"fer2013_fast_r18_{widths[0]}w", depths=(2, 2, 2, 2)))
                for widths in WIDER
            },
            REPVGG: (FAST, [f"distill.targets={R18}", "model.kwargs={repvgg: true}", "name=fer2013_fast_r18_repvgg"]),
            "fast tier, label issues left out (held-out teachers)": (
                FAST,
                ["distill=null", f"data.drop_label_issues={HELD_OUT}", "name=fer2013_fast_clean"],
            ),
            "fast tier, label issues left out (FER+ votes)": (
                FAST,
                ["distill=null", f"data.drop_label_issues={VOTES}", "name=fer2013_fast_clean_votes"],
            ),
        },
        comparisons=[
            ("fast tier (distilled)", "fast tier without distillation"),
            ("fast tier, FER+ crowd votes as targets", "fast tier without distillation"),
            ("fast tier + EMA of weights (0.999)", "fast tier (distilled)"),
            ("fast tier + mixup (0.2, half the batches)", "fast tier (distilled)"),
            ("fast tier + cutmix (1.0, half the batches)", "fast tier (distilled)"),
            ("fast tier + blur and downscale (0.25 each)", "fast tier (distilled)"),
            ("fast tier, 50 epochs", "fast tier (distilled)"),
            ("fast tier, held-out teachers", "fast tier without distillation"),
            ("fast tier, held-out teachers", "fast tier (distilled)"),
            ("fast tier, the default's two seeds as teachers", "fast tier (distilled)"),
            (LIVE, "fast tier (distilled)"),
            (LIVE_LONG, LIVE),
            (LIVE_MIXUP, LIVE),
            (LIVE_FLIP, LIVE),
            (LIVE_KL, LIVE),
            (LIVE_GRID, LIVE),
            (LIVE_SQRT, LIVE),
            (LIVE_NARROWED, LIVE),
            (LIVE_VIEWS, LIVE),
            (LIVE_FP32, LIVE),
            (LIVE_VIEWS, LIVE_FP32),
            (LIVE_DKD, LIVE_FP32),
            (LIVE_NO_LABELS, LIVE_FP32),
            ("fast tier, three ResNet-18 teachers", "fast tier (distilled)"),
            ("fast tier, five held-out ResNet-18 teachers", "fast tier (distilled)"),
            *[(name, "fast tier, three ResNet-18 teachers") for name in [*RESHAPED_ROWS, REPVGG]],
            ("fast tier, label issues left out (held-out teachers)", "fast tier without distillation"),
            ("fast tier, label issues left out (FER+ votes)", "fast tier without distillation"),
        ],
    ),
}


def parser():
    parser = table_parser(__doc__, "runs/seed_study")
    parser.add_argument("--study", choices=STUDIES, default="methods", help="which study (default %(default)s)")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to train (the table covers every seed kept)"
    )
    parser.add_argument("--epochs", type=int, help="schedule.epochs of the non-DBL rows (methods: 8)")
    parser.add_argument("--report-only", action="store_true", help="train nothing; write the table")
    parser.add_argument(
        "--only", nargs="*", default=None, help="train only rows whose name starts with one of these, in this order"
    )
    return parser


def short_schedule(args) -> int | None:
    """The epochs the study's non-DBL rows are cut to (None: each recipe's own schedule)."""
    return args.epochs or STUDIES[args.study].epochs


def kept_seeds(args) -> list[int]:
    """The seeds some row of the study has kept validation labels for."""
    rows = {slug(name) for name in STUDIES[args.study].rows}
    found = (re.fullmatch(r"(.+)_seed_(\d+)", path.stem) for path in (args.out / "seed_study").glob("*.json"))
    return sorted({int(match[2]) for match in found if match and match[1] in rows})


def study_rows(args, seeds: list[int]) -> dict[str, list]:
    """Each row's runs, one per seed."""
    study, epochs = STUDIES[args.study], short_schedule(args)
    rows: dict[str, list] = {name: [] for name in study.rows}
    for seed in seeds:
        for name, (recipe, sets) in study.rows.items():
            short = epochs is not None and recipe != DBL
            schedule = [f"schedule.epochs={epochs}", "eval.select_metric=last"] if short else []
            overrides = sets + schedule + [f"seed={seed}", f"data.train={args.data}"] + args.set
            rows[name].append(train_row(f"{name} seed {seed}", recipe, args.runs, overrides))
    return rows


def run_labels(row, store: Path) -> dict | None:
    """A finished run's validation truth and deployed labels, read once from its checkpoint and kept."""
    path = store / f"{slug(row.name)}.json"
    if not path.is_file():
        if not row.summary.is_file():
            return None
        backend = load_backend(row.summary.parent / "final.safetensors")
        dataset, split = validation_dataset(backend.description)
        pre = backend.description.preprocessing
        arrays = load_arrays(dataset, split, pre.size, pre.channels, progress=False)
        minutes = json.loads(row.summary.read_text())["train_seconds"] / 60
        record = {
            "run": row.name,
            "command": " ".join(["bfer"] + row.command[len(BFER) :]),
            "train_minutes": round(minutes, 1),
            "classes": list(dataset.class_names),
            "truth": arrays.labels.tolist(),
            "labels": deployed_labels(backend, arrays.images).tolist(),
        }
        store.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, separators=(",", ":")) + "\n")
    return json.loads(path.read_text())


def seed_of(record: dict) -> str:
    return record["run"].rsplit(" ", 1)[1]


def seed_labels(records: list[dict], seeds: list[str]) -> list[np.ndarray]:
    return [np.asarray(r["labels"]) for r in records if seed_of(r) in seeds]


def class_recalls(record: dict) -> dict[str, float]:
    """Each class's recall in a record of true and answered labels."""
    truth, labels = np.asarray(record["truth"]), np.asarray(record["labels"])
    return {c: float((labels[truth == i] == i).mean()) for i, c in enumerate(record["classes"])}


def figures(record: dict) -> dict:
    recall = class_recalls(record)
    return {
        "accuracy": float((np.asarray(record["truth"]) == np.asarray(record["labels"])).mean()),
        "mean_class_accuracy": float(np.mean(list(recall.values()))),
        "disgust": recall.get("disgust"),
        "fear": recall.get("fear"),
    }


def report(rows: dict[str, list], args) -> str:
    store = args.out / "seed_study"
    done = {name: [r for r in (run_labels(row, store) for row in runs) if r] for name, runs in rows.items()}
    study, epochs = STUDIES[args.study], short_schedule(args)
    schedule = f"{epochs} epochs (DBL: its recipe's phases)" if epochs else "each recipe's schedule"
    lines = [
        f"{schedule}, last epoch, FER2013 val; mean +- sd over seeds",
        "",
        "| row | seeds | accuracy | mean class acc. | disgust recall | fear recall | train minutes |",
        "|---|---|---|---|---|---|---|",
    ]
    table = {"rows": {}, "comparisons": []}
    for name, records in done.items():
        if not records:
            lines.append(f"| {name} | 0 | not run yet | | | | |")
            continue
        per_seed = [figures(r) for r in records]
        cells = []
        for key in ("accuracy", "mean_class_accuracy", "disgust", "fear"):
            values = 100 * np.array([f[key] for f in per_seed])
            cells.append(f"{values.mean():.2f} +- {values.std(ddof=1):.2f}" if len(values) > 1 else f"{values[0]:.2f}")
        minutes = np.mean([r["train_minutes"] for r in records])
        lines.append(f"| {name} | {len(records)} | " + " | ".join(cells) + f" | {minutes:.1f} |")
        table["rows"][name] = {"runs": [{"run": r["run"], **f} for r, f in zip(records, per_seed)]}
    lines += ["", "| method - control | seeds | accuracy (95% CI) | MCA (95% CI) | reading |", "|---|---|---|---|---|"]
    for method, control in study.comparisons:
        seeds = sorted({seed_of(r) for r in done[method]} & {seed_of(r) for r in done[control]})
        if not seeds:
            lines.append(f"| {method} - {control} | 0 | not run yet | | |")
            continue
        truth = np.asarray(done[method][0]["truth"])
        diff = paired_difference_ci95(
            truth, seed_labels(done[method], seeds), seed_labels(done[control], seeds), len(done[method][0]["classes"])
        )
        acc, mca = (100 * np.array(diff[k]) for k in ("accuracy", "mean_class_accuracy"))
        reading = "no measurable effect" if mca[1] <= 0 <= mca[2] else ("MCA higher" if mca[0] > 0 else "MCA lower")
        lines.append(
            f"| {method} - {control} | {len(seeds)} | {acc[0]:+.2f} ({acc[1]:+.2f} to {acc[2]:+.2f}) | "
            f"{mca[0]:+.2f} ({mca[1]:+.2f} to {mca[2]:+.2f}) | {reading} |"
        )
        table["comparisons"].append({"method": method, "control": control, "seeds": seeds, **diff})
    lines += ["", "Commands (one per run):", ""] + [f"- `{r['command']}`" for records in done.values() for r in records]
    markdown = "\n".join(lines) + "\n"
    stem = "seed_study" if args.study == "methods" else f"seed_study_{args.study}"
    (args.out / f"{stem}.md").write_text(markdown)
    (args.out / f"{stem}.json").write_text(json.dumps(table, indent=2) + "\n")
    return markdown


def main() -> None:
    args = parser().parse_args()
    if not args.report_only:
        rows = study_rows(args, args.seeds)
        prefixes = args.only if args.only is not None else [""]
        wanted = [n for p in prefixes for n in rows if n.startswith(p)]
        order = [rows[name][i] for i in range(len(args.seeds)) for name in dict.fromkeys(wanted)]
        run_rows(order, args.parallel, Path(args.runs))
    # every kept seed, so training a subset of the seeds does not shrink the table
    print(report(study_rows(args, sorted(set(args.seeds) | set(kept_seeds(args)))), args))


if __name__ == "__main__":
    main()
