"""The seed study of the two published methods on the CPU: CE, weighted CE, RASN and its `saf: false`
control, and DBL, each trained with several seeds on one short schedule and compared in pairs.

    python benchmarks/seed_study.py [--seeds 0 1 2] [--epochs 8] [--parallel 2] [--only RASN]

Every row keeps its last epoch (`eval.select_metric=last`, the rule DBL's phases use), so no row is
selected on validation. Writes benchmarks/results/seed_study.{json,md}.
"""

from __future__ import annotations

from pathlib import Path

from table import run_rows, table_parser, train_row

BASELINE = "configs/fer2013_baseline.yaml"
RASN = "configs/fer2013_rasn_compact.yaml"
DBL = "configs/fer2013_dbl.yaml"
# name -> (recipe, overrides); every row also gets the seed, the schedule and the selection rule
ROWS = {
    "CE": (BASELINE, []),
    "weighted CE (inverse frequency)": (BASELINE, ["loss.name=weighted_ce", "loss.kwargs={scheme: inverse}"]),
    "RASN (SAF + AFA), CE": (RASN, []),
    "RASN control (saf: false), CE": (RASN, ["model.kwargs.saf=false"]),
    "DBL K=3": (DBL, []),
}


def parser():
    parser = table_parser(__doc__, "runs/seed_study")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8, help="schedule.epochs of the non-DBL rows")
    parser.add_argument(
        "--only", nargs="*", default=None, help="train only rows whose name starts with one of these, in this order"
    )
    return parser


def study_rows(args) -> dict[str, list]:
    """Each row's runs, one per seed, in seed-major order (every row's seed 0 first)."""
    rows: dict[str, list] = {name: [] for name in ROWS}
    for seed in args.seeds:
        for name, (recipe, sets) in ROWS.items():
            schedule = [] if recipe == DBL else [f"schedule.epochs={args.epochs}", "eval.select_metric=last"]
            overrides = sets + schedule + [f"seed={seed}", f"data.train={args.data}"] + args.set
            rows[name].append(train_row(f"{name} seed {seed}", recipe, args.runs, overrides))
    return rows


def main() -> None:
    args = parser().parse_args()
    rows = study_rows(args)
    prefixes = args.only if args.only is not None else [""]
    wanted = [n for p in prefixes for n in rows if n.startswith(p)]
    order = [rows[name][i] for i in range(len(args.seeds)) for name in dict.fromkeys(wanted)]
    run_rows(order, args.parallel, Path(args.runs))


if __name__ == "__main__":
    main()
