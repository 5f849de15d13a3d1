"""The long-tail baseline table: one compact model, one schedule, one loss or re-balancing per row.

    python benchmarks/baselines.py [--data ../shared/datasets/fer2013] [--parallel 1] [--set schedule.epochs=15]

Trained rows are ``bfer train configs/fer2013_baseline.yaml --set ...``; the cRT and post-hoc rows
re-use the CE run (``bfer decouple`` / ``bfer evaluate --post-hoc-tau``). Figures (best validation
checkpoint, FER2013 PublicTest) and the command of every row go to
benchmarks/results/baselines.{json,md}. Rows whose results exist are not run again.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from balanced_fer.models import load_checkpoint
from table import (
    BFER,
    Row,
    device_name,
    run_rows,
    table_parser,
    train_row,
    write_table,
)

RECIPE = "configs/fer2013_baseline.yaml"
TRAINED = {
    "CE": [],
    "weighted CE (inverse frequency)": ["loss.name=weighted_ce", "loss.kwargs={scheme: inverse}"],
    "focal (gamma 2)": ["loss.name=focal", "loss.kwargs={gamma: 2.0}"],
    "LDAM-DRW": ["loss.name=ldam", "loss.kwargs={drw_epoch: DRW}"],
    "balanced softmax": ["loss.name=balanced_softmax"],
}


def main() -> None:
    args = table_parser(__doc__, "runs/baselines").parse_args()

    epochs = yaml.safe_load(Path(RECIPE).read_text())["schedule"]["epochs"]
    epochs = next((int(s.split("=", 1)[1]) for s in args.set if s.startswith("schedule.epochs=")), epochs)
    trained = [
        train_row(
            name,
            RECIPE,
            args.runs,
            [o.replace("DRW", str(int(0.8 * epochs))) for o in sets] + [f"data.train={args.data}"] + args.set,
        )
        for name, sets in TRAINED.items()
    ]
    run_rows(trained, args.parallel, args.runs)
    ce = args.runs / "ce"
    crt = args.runs / "ce_crt.safetensors"
    derived = [
        Row(
            "CE + cRT",
            BFER
            + [
                "decouple",
                str(ce / "final.safetensors"),
                "--method",
                "crt",
                "--out",
                str(crt),
                "--json",
                str(args.runs / "ce_crt.json"),
                "--no-progress",
            ],
            args.runs / "ce_crt.json",
            ce / "summary.json",
        ),
        Row(
            "CE + post-hoc logit adjustment (tau 1)",
            BFER
            + [
                "evaluate",
                str(ce / "final.safetensors"),
                args.data,
                "--split",
                "val",
                "--post-hoc-tau",
                "1",
                "--json",
                str(args.runs / "ce_post_hoc.json"),
                "--no-progress",
            ],
            args.runs / "ce_post_hoc.json",
            ce / "summary.json",
        ),
    ]
    run_rows(derived, 1, args.runs)
    if crt.is_file():
        derived[0].extra_seconds = load_checkpoint(crt)[1]["decouple_seconds"]
    print(
        write_table(
            trained + derived, args.out, "baselines", ["disgust", "fear"], {"device": device_name(), "recipe": RECIPE}
        )
    )


if __name__ == "__main__":
    main()
