"""The long-tail baseline table: one compact model, one schedule, one loss or re-balancing per row.

    python benchmarks/baselines.py [--data ../shared/datasets/fer2013] [--parallel 7] [--set schedule.epochs=45]

Each row is one ``bfer train configs/fer2013_compact.yaml --set ...`` command (printed in the table);
rows run as parallel processes (useful on a GPU). Figures come from each run's ``summary.json``
(best validation checkpoint, FER2013 PublicTest) and go to benchmarks/results/baselines.{json,md}.
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
ROWS = {
    "CE": [],
    "weighted CE (inverse frequency)": ["loss.name=weighted_ce", "loss.kwargs={scheme: inverse}"],
    "focal (gamma 2)": ["loss.name=focal", "loss.kwargs={gamma: 2.0}"],
    "LDAM-DRW": ["loss.name=ldam", "loss.kwargs={drw_epoch: DRW}"],
    "balanced softmax": ["loss.name=balanced_softmax"],
    "CE + cRT": ["decouple.method=crt"],
    "CE + post-hoc logit adjustment (tau 1)": ["post_hoc.tau=1.0"],
}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/fer2013")
    parser.add_argument("--runs", type=Path, default=Path("runs/baselines"))
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], help="extra overrides for every row")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--only", action="append", help="run only these rows")
    args = parser.parse_args()

    import yaml

    epochs = yaml.safe_load(Path(RECIPE).read_text())["schedule"]["epochs"]
    for item in args.set:
        if item.startswith("schedule.epochs="):
            epochs = int(item.split("=", 1)[1])
    rows = {k: v for k, v in ROWS.items() if not args.only or k in args.only}
    commands = {}
    for name, overrides in rows.items():
        sets = [o.replace("DRW", str(int(0.8 * epochs))) for o in overrides] + [f"data.train={args.data}", f"name={slug(name)}"] + args.set
        commands[name] = [sys.executable, "-m", "balanced_fer.cli", "train", RECIPE, "--out", str(args.runs / slug(name)), "--no-progress"] + [
            a for s in sets for a in ("--set", s)]
    args.runs.mkdir(parents=True, exist_ok=True)
    pending, running, started = list(commands.items()), {}, {}
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    while pending or running:
        while pending and len(running) < args.parallel:
            name, cmd = pending.pop(0)
            with open(args.runs / f"{slug(name)}.log", "w") as log:
                running[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            started[name] = time.time()
            print(f"started {name}: {' '.join(cmd)}", flush=True)
        for name, proc in list(running.items()):
            if proc.poll() is not None:
                print(f"finished {name} (exit {proc.returncode}) after {time.time() - started[name]:.0f} s", flush=True)
                del running[name]
        time.sleep(2)
    results = []
    for name, cmd in commands.items():
        summary_path = args.runs / slug(name) / "summary.json"
        if not summary_path.is_file():
            print(f"{name}: no summary (see {args.runs / (slug(name) + '.log')})", file=sys.stderr)
            continue
        summary = json.loads(summary_path.read_text())
        results.append({"row": name, "command": " ".join(cmd), **summary})
    args.out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if _cuda() else "cpu"
    (args.out / "baselines.json").write_text(json.dumps({"device": device, "rows": results}, indent=2) + "\n")
    lines = ["| method | accuracy | mean class acc. | macro-F1 | disgust recall | fear recall | train minutes |", "|---|---|---|---|---|---|---|"]
    for r in results:
        v = r["validation"]
        lines.append(f"| {r['row']} | {100 * v['accuracy']:.2f} | {100 * v['mean_class_accuracy']:.2f} | {100 * v['macro_f1']:.2f} | "
                     f"{100 * v['recall']['disgust']:.1f} | {100 * v['recall']['fear']:.1f} | {r['train_seconds'] / 60:.1f} |")
    (args.out / "baselines.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
