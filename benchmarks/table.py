"""Shared machinery of the benchmark tables: run one bfer command per row, collect the figures,
write JSON and a Markdown table with the command behind every row."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from balanced_fer.evaluation import evaluation_paths

BFER = [sys.executable, "-m", "balanced_fer.cli"]


def table_parser(doc: str, runs: str) -> argparse.ArgumentParser:
    """The arguments every table script takes."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/fer2013", help="FER2013 (train / val)")
    parser.add_argument("--runs", type=Path, default=Path(runs), help="folder of the training runs")
    parser.add_argument("--baselines", type=Path, default=Path("runs/baselines"), help="the baseline table's runs")
    parser.add_argument("--parallel", type=int, default=1, help="rows trained at once")
    parser.add_argument("--set", action="append", default=[], help="extra recipe overrides for every trained row")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="where the table goes")
    return parser


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@dataclass
class Row:
    """One table row: the bfer command that produces ``report`` (an evaluation JSON)."""

    name: str
    command: list[str]
    report: Path
    summary: Path  # the training run's summary.json (for its training time)
    extra_seconds: float = 0.0
    figures: dict = field(default_factory=dict)


def run_report(out: Path) -> Path:
    """The validation JSON a `bfer train --out OUT` run writes."""
    return evaluation_paths(out / "eval", "val")["json"]


def train_row(name: str, recipe: str, runs: Path, overrides: list[str]) -> Row:
    out = runs / slug(name)
    sets = overrides if any(s.startswith("name=") for s in overrides) else overrides + [f"name={slug(name)}"]
    command = BFER + ["train", recipe, "--out", str(out), "--no-progress"] + [a for s in sets for a in ("--set", s)]
    return Row(name, command, run_report(out), out / "summary.json")


def run_rows(rows: list[Row], parallel: int, logs: Path) -> None:
    """Run the rows whose report is missing, ``parallel`` at a time, logging each to a file."""
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", str(max(2 // parallel, 1))))
    pending, running = [r for r in rows if not r.report.is_file()], {}
    while pending or running:
        while pending and len(running) < parallel:
            row = pending.pop(0)
            with open(logs / f"{slug(row.name)}.log", "w") as log:
                running[row.name] = (
                    subprocess.Popen(row.command, stdout=log, stderr=subprocess.STDOUT, env=env),
                    time.time(),
                )
            print(f"started {row.name}: {' '.join(row.command)}", flush=True)
        for name, (proc, started) in list(running.items()):
            if proc.poll() is not None:
                print(f"finished {name} (exit {proc.returncode}) after {time.time() - started:.0f} s", flush=True)
                del running[name]
        time.sleep(2)


def write_table(rows: list[Row], out_dir: Path, stem: str, recall_classes: list[str], meta: dict) -> str:
    """Collect each row's figures and write ``<stem>.json`` and ``<stem>.md``; returns the Markdown."""
    done = []
    for row in rows:
        if not row.report.is_file() or not row.summary.is_file():
            print(f"{row.name}: missing results ({row.report})", file=sys.stderr)
            continue
        row.figures = json.loads(row.report.read_text())
        minutes = (json.loads(row.summary.read_text())["train_seconds"] + row.extra_seconds) / 60
        done.append(
            {
                "row": row.name,
                "command": " ".join(["bfer"] + row.command[len(BFER) :]),
                "train_minutes": round(minutes, 1),
                **row.figures,
            }
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps({**meta, "rows": done}, indent=2) + "\n")
    header = (
        ["method", "accuracy", "mean class acc. (95% CI)", "macro-F1"]
        + [f"{c} recall" for c in recall_classes]
        + ["train minutes"]
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in done:
        low, high = r["ci95"]["mean_class_accuracy"]
        cells = (
            [
                r["row"],
                f"{100 * r['accuracy']:.2f}",
                f"{100 * r['mean_class_accuracy']:.2f} ({100 * low:.1f}-{100 * high:.1f})",
                f"{100 * r['macro_f1']:.2f}",
            ]
            + [f"{100 * r['per_class'][c]['recall']:.1f}" for c in recall_classes]
            + [str(r["train_minutes"])]
        )
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Commands:", ""] + [f"- {r['row']}: `{r['command']}`" for r in done]
    markdown = "\n".join(lines) + "\n"
    (out_dir / f"{stem}.md").write_text(markdown)
    return markdown


def device_name() -> str:
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU, {torch.get_num_threads()} threads"
