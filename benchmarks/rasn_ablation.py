"""RASN ablation on FER2013 train -> PublicTest, one schedule: backbone only, + SAF, + SAF + AFA,
and SAF + AFA with balanced softmax.

    python benchmarks/rasn_ablation.py [--recipe configs/fer2013_rasn_compact.yaml] [--data ../shared/datasets/fer2013]

Writes benchmarks/results/rasn_ablation.{json,md} with every row's command and per-class recall.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from table import device_name, run_rows, train_row, write_table

from balanced_fer.labels import SEVEN_CLASSES

ROWS = {
    "backbone only": ["model.kwargs.saf=false"],
    "+ SAF": ["model.kwargs.afa=false"],
    "+ SAF + AFA": [],
    "+ SAF + AFA, balanced softmax": ["loss.name=balanced_softmax"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="configs/fer2013_rasn_compact.yaml")
    parser.add_argument("--data", default="../shared/datasets/fer2013")
    parser.add_argument("--runs", type=Path, default=Path("runs/rasn_ablation"))
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    rows = [train_row(name, args.recipe, args.runs, sets + [f"data.train={args.data}"] + args.set) for name, sets in ROWS.items()]
    run_rows(rows, args.parallel, args.runs)
    print(write_table(rows, args.out, "rasn_ablation", list(SEVEN_CLASSES), {"device": device_name(), "recipe": args.recipe}))


if __name__ == "__main__":
    main()
