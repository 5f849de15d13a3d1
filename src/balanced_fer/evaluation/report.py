"""Writing an evaluation as JSON, a Markdown table and a confusion-matrix PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .metrics import Evaluation


def to_markdown(result: Evaluation, title: str = "Evaluation") -> str:
    """A summary table and a per-class table, in Markdown."""
    ci = result.ci95
    lines = [
        f"## {title}",
        "",
        "| metric | value |",
        "|---|---|",
        f"| samples | {result.num_samples} |",
        f"| accuracy | {100 * result.accuracy:.2f}% (95% CI {100 * ci['accuracy'][0]:.2f}-{100 * ci['accuracy'][1]:.2f}) |",
        f"| mean class accuracy | {100 * result.mean_class_accuracy:.2f}% "
        f"(95% CI {100 * ci['mean_class_accuracy'][0]:.2f}-{100 * ci['mean_class_accuracy'][1]:.2f}) |",
        f"| macro-F1 | {100 * result.macro_f1:.2f}% |",
    ]
    lines += [f"| {group} accuracy | {100 * acc:.2f}% |" for group, acc in result.group_accuracy.items()]
    if result.ece is not None:
        lines += [f"| ECE | {result.ece:.4f} |", f"| NLL | {result.nll:.4f} |"]
    lines += ["", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for name, row in result.per_class.items():
        lines.append(
            f"| {name} | {100 * row['precision']:.1f}% | {100 * row['recall']:.1f}% | {100 * row['f1']:.1f}% | {row['support']} |"
        )
    return "\n".join(lines) + "\n"


def plot_confusion_matrix(result: Evaluation, path: Path, title: str = "") -> Path:
    """Row-normalised confusion matrix with counts, saved as PNG."""
    from matplotlib.figure import Figure  # no pyplot: the caller's matplotlib backend and state stay untouched

    normalized = np.array(result.confusion_matrix_normalized)
    counts = np.array(result.confusion_matrix)
    k = len(result.class_names)
    fig = Figure(figsize=(0.9 * k + 2.5, 0.8 * k + 2))
    ax = fig.subplots()
    image = ax.imshow(normalized, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                f"{100 * normalized[i, j]:.0f}%\n{counts[i, j]}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if normalized[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(k), result.class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), result.class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (row-normalised recall)")
    ax.set_title(
        title or f"accuracy {100 * result.accuracy:.1f}%, mean class accuracy {100 * result.mean_class_accuracy:.1f}%"
    )
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def evaluation_paths(out_dir: Path, stem: str) -> dict[str, Path]:
    """Where :func:`save_evaluation` writes its JSON, Markdown and confusion-matrix PNG."""
    return {
        "json": out_dir / f"{stem}.json",
        "markdown": out_dir / f"{stem}.md",
        "confusion_matrix": out_dir / f"{stem}_confusion.png",
    }


def save_evaluation(
    result: Evaluation, out_dir: Path, stem: str = "evaluation", title: str = "Evaluation"
) -> dict[str, Path]:
    """Write ``<stem>.json``, ``<stem>.md`` and ``<stem>_confusion.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = evaluation_paths(out_dir, stem)
    paths["json"].write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    paths["markdown"].write_text(to_markdown(result, title))
    plot_confusion_matrix(result, paths["confusion_matrix"])
    return paths
