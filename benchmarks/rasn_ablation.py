"""RASN ablation on FER2013 train -> PublicTest, one schedule (the baseline table's): backbone only,
+ SAF, + SAF + AFA, and + SAF + AFA with balanced softmax.

    python benchmarks/rasn_ablation.py [--data ../shared/datasets/fer2013]

"backbone only" is the baseline table's CE row (the same network, loss and schedule), taken from
runs/baselines/ce when it exists. Writes benchmarks/results/rasn_ablation.{json,md} with every
row's command and per-class recall.
"""

from __future__ import annotations

from balanced_fer.labels import SEVEN_CLASSES
from table import device_name, run_rows, table_parser, train_row, write_table

RECIPE = "configs/fer2013_rasn_compact.yaml"
ROWS = {
    "+ SAF": ["model.kwargs.afa=false"],
    "+ SAF + AFA": [],
    "+ SAF + AFA, balanced softmax": ["loss.name=balanced_softmax"],
}


def main() -> None:
    args = table_parser(__doc__, "runs/rasn_ablation").parse_args()
    backbone = train_row("CE", "configs/fer2013_baseline.yaml", args.baselines, [f"data.train={args.data}"] + args.set)
    backbone.name = "backbone only (vgg_compact_s, CE)"
    rows = [
        train_row(name, RECIPE, args.runs, sets + [f"data.train={args.data}"] + args.set) for name, sets in ROWS.items()
    ]
    run_rows([backbone] + rows, args.parallel, args.runs)
    print(
        write_table(
            [backbone] + rows,
            args.out,
            "rasn_ablation",
            list(SEVEN_CLASSES),
            {"device": device_name(), "recipe": RECIPE},
        )
    )


if __name__ == "__main__":
    main()
