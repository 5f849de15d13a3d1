"""DBL with K = 3 and K = 5 balanced subsets against the same backbone trained with CE and with the
best long-tail baseline (by validation mean class accuracy) of benchmarks/results/baselines.json.

    python benchmarks/dbl_table.py [--data ../shared/datasets/fer2013]

Writes benchmarks/results/dbl.{json,md} with every row's command and per-class recall.
"""

from __future__ import annotations

import json
from pathlib import Path

from balanced_fer.labels import SEVEN_CLASSES
from table import (
    BFER,
    Row,
    device_name,
    run_report,
    run_rows,
    slug,
    table_parser,
    train_row,
    write_table,
)

RECIPE = "configs/fer2013_dbl.yaml"


def main() -> None:
    args = table_parser(__doc__, "runs/dbl").parse_args()
    table = json.loads((args.out / "baselines.json").read_text())["rows"]
    best = max((r for r in table if r["row"] != "CE"), key=lambda r: r["mean_class_accuracy"])
    reused = []
    for r in (next(r for r in table if r["row"] == "CE"), best):
        command = r["command"].split()
        report = (
            Path(command[command.index("--json") + 1])
            if "--json" in command
            else run_report(args.baselines / slug(r["row"]))
        )
        reused.append(
            Row(
                f"{r['row']} (baseline table)",
                BFER + command[1:],
                report,
                args.baselines / "ce" / "summary.json"
                if r["row"].startswith("CE")
                else args.baselines / slug(r["row"]) / "summary.json",
            )
        )
    rows = [
        train_row(f"DBL K={k}", RECIPE, args.runs, [f"dbl.k={k}", f"data.train={args.data}"] + args.set) for k in (3, 5)
    ]
    run_rows(rows, args.parallel, args.runs)
    print(write_table(reused + rows, args.out, "dbl", list(SEVEN_CLASSES), {"device": device_name(), "recipe": RECIPE}))


if __name__ == "__main__":
    main()
