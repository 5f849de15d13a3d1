"""The long-tail baseline table: one compact model, one schedule, one loss or re-balancing per row.

    python benchmarks/baselines.py [--data ../shared/datasets/fer2013] [--parallel 1] [--set schedule.epochs=15]

Trained rows are ``bfer train configs/fer2013_baseline.yaml --set ...``; the cRT and post-hoc rows
re-use the CE run (``bfer decouple`` / ``bfer evaluate --post-hoc-tau``). Every command is recorded
beside its figures (best validation checkpoint, FER2013 PublicTest) in
benchmarks/results/baselines.{json,md}. Rows whose run already finished are not trained again.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

RECIPE = "configs/fer2013_baseline.yaml"
TRAINED = {
    "CE": [],
    "weighted CE (inverse frequency)": ["loss.name=weighted_ce", "loss.kwargs={scheme: inverse}"],
    "focal (gamma 2)": ["loss.name=focal", "loss.kwargs={gamma: 2.0}"],
    "LDAM-DRW": ["loss.name=ldam", "loss.kwargs={drw_epoch: DRW}"],
    "balanced softmax": ["loss.name=balanced_softmax"],
}
DERIVED = {  # row: (trained row it starts from, bfer arguments)
    "CE + cRT": ("CE", ["decouple", "{checkpoint}", "--method", "crt", "--out", "{runs}/ce_crt.safetensors", "--json", "{report}"]),
    "CE + post-hoc logit adjustment (tau 1)": ("CE", ["evaluate", "{checkpoint}", "{data}", "--split", "val", "--post-hoc-tau", "1", "--json", "{report}"]),
}
BFER = [sys.executable, "-m", "balanced_fer.cli"]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def run_all(commands: dict[str, list[str]], parallel: int, logs: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    pending, running = list(commands.items()), {}
    while pending or running:
        while pending and len(running) < parallel:
            name, cmd = pending.pop(0)
            with open(logs / f"{slug(name)}.log", "w") as log:
                running[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), time.time())
            print(f"started {name}: {' '.join(cmd)}", flush=True)
        for name, (proc, started) in list(running.items()):
            if proc.poll() is not None:
                print(f"finished {name} (exit {proc.returncode}) after {time.time() - started:.0f} s", flush=True)
                del running[name]
        time.sleep(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/fer2013")
    parser.add_argument("--runs", type=Path, default=Path("runs/baselines"))
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], help="extra overrides for every trained row")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    import yaml

    epochs = yaml.safe_load(Path(RECIPE).read_text())["schedule"]["epochs"]
    epochs = next((int(s.split("=", 1)[1]) for s in args.set if s.startswith("schedule.epochs=")), epochs)
    args.runs.mkdir(parents=True, exist_ok=True)
    trained = {}
    for name, overrides in TRAINED.items():
        sets = [o.replace("DRW", str(int(0.8 * epochs))) for o in overrides] + [f"data.train={args.data}", f"name={slug(name)}"] + args.set
        trained[name] = BFER + ["train", RECIPE, "--out", str(args.runs / slug(name)), "--no-progress"] + [a for s in sets for a in ("--set", s)]
    run_all({k: v for k, v in trained.items() if not (args.runs / slug(k) / "summary.json").is_file()}, args.parallel, args.runs)
    derived = {}
    for name, (base, template) in DERIVED.items():
        fields = {"checkpoint": str(args.runs / slug(base) / "final.safetensors"), "runs": str(args.runs),
                  "report": str(args.runs / f"{slug(name)}.json"), "data": args.data}
        derived[name] = BFER + [part.format(**fields) for part in template] + ["--no-progress"]
    run_all({k: v for k, v in derived.items() if not (args.runs / f"{slug(k)}.json").is_file()}, args.parallel, args.runs)

    rows = []
    for name, cmd in {**trained, **derived}.items():
        base = DERIVED[name][0] if name in DERIVED else name
        report = args.runs / (f"{slug(name)}.json" if name in DERIVED else f"{slug(name)}/eval/val.json")
        summary = args.runs / slug(base) / "summary.json"
        if not report.is_file() or not summary.is_file():
            print(f"{name}: missing results (see {args.runs / (slug(name) + '.log')})", file=sys.stderr)
            continue
        seconds = json.loads(summary.read_text())["train_seconds"]
        if name == "CE + cRT":
            from balanced_fer.training import load_checkpoint

            seconds += load_checkpoint(args.runs / "ce_crt.safetensors")[1]["decouple_seconds"]
        figures = json.loads(report.read_text())
        rows.append({"row": name, "command": " ".join(["bfer"] + cmd[len(BFER):]), "train_minutes": round(seconds / 60, 1), **figures})
    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    device = f"{torch.get_num_threads()} CPU threads" if not torch.cuda.is_available() else torch.cuda.get_device_name()
    (args.out / "baselines.json").write_text(json.dumps({"device": device, "recipe": RECIPE, "rows": rows}, indent=2) + "\n")
    lines = ["| method | accuracy | mean class acc. (95% CI) | macro-F1 | disgust recall | fear recall | train minutes |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        low, high = r["ci95"]["mean_class_accuracy"]
        lines.append(f"| {r['row']} | {100 * r['accuracy']:.2f} | {100 * r['mean_class_accuracy']:.2f} ({100 * low:.1f}-{100 * high:.1f}) | "
                     f"{100 * r['macro_f1']:.2f} | {100 * r['per_class']['disgust']['recall']:.1f} | "
                     f"{100 * r['per_class']['fear']['recall']:.1f} | {r['train_minutes']} |")
    lines += ["", "Commands:", ""] + [f"- {r['row']}: `{r['command']}`" for r in rows]
    (args.out / "baselines.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
