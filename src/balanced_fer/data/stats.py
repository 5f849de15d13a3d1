"""Dataset statistics: class counts, imbalance, head / medium / tail groups, duplicates, blanks."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import BalancedFerError
from .cache import FaceArrays, load_arrays
from .dataset import FaceDataset

GROUPS = ("head", "medium", "tail")


def frequency_groups(counts: np.ndarray, head: float = 0.5, tail: float = 0.2) -> list[str]:
    """Label each class ``head`` (count >= head x largest), ``tail`` (< tail x largest) or ``medium``."""
    if not 0 < tail <= head <= 1:
        raise BalancedFerError(f"need 0 < tail <= head <= 1, got head={head}, tail={tail}")
    largest = max(int(np.max(counts)), 1)
    return ["head" if c >= head * largest else "tail" if c < tail * largest else "medium" for c in counts]


def imbalance_ratio(counts: np.ndarray) -> float:
    """Largest class count over smallest non-empty one (inf when a class is empty)."""
    counts = np.asarray(counts)
    return float("inf") if counts.min() == 0 else float(counts.max() / counts.min())


@dataclass
class DuplicateReport:
    """Groups of identical images over all splits (byte-identical files or identical pixels)."""

    groups: int = 0
    redundant_images: int = 0
    within_split: dict[str, int] = field(default_factory=dict)
    across_splits: dict[str, int] = field(default_factory=dict)
    conflicting_groups: int = 0
    conflicting_images: int = 0
    examples: list[list[str]] = field(default_factory=list)


@dataclass
class DatasetStats:
    """What ``bfer data stats`` reports; :meth:`to_dict` has stable keys for ``--json``."""

    dataset: str
    format: str
    root: str
    class_names: list[str]
    counts: dict[str, list[int]]
    imbalance_ratio: dict[str, float]
    groups: dict[str, str]
    exact_duplicates: DuplicateReport
    pixel_duplicates: DuplicateReport
    near_blank: list[str]
    unreadable: list[str]
    image_size: int

    def to_dict(self) -> dict:
        return asdict(self)


def _duplicates(keys: list[bytes], splits: list[str], labels: list[int], sources: list[str]) -> DuplicateReport:
    members: dict[bytes, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        members[key].append(i)
    report = DuplicateReport()
    split_order = list(dict.fromkeys(splits))
    for group in (g for g in members.values() if len(g) > 1):
        report.groups += 1
        report.redundant_images += len(group) - 1
        group_splits = [splits[i] for i in group]
        for split in split_order:
            n = group_splits.count(split)
            if n > 1:
                report.within_split[split] = report.within_split.get(split, 0) + n - 1
        # each image of a later split that has a twin in an earlier one
        for later_pos, later in enumerate(split_order):
            for earlier in split_order[:later_pos]:
                if earlier in group_splits and later in group_splits:
                    key = f"{later}~{earlier}"
                    report.across_splits[key] = report.across_splits.get(key, 0) + group_splits.count(later)
        if len({labels[i] for i in group}) > 1:
            report.conflicting_groups += 1
            report.conflicting_images += len(group)
            if len(report.examples) < 5:
                report.examples.append([sources[i] for i in group])
    return report


def dataset_stats(
    dataset: FaceDataset,
    *,
    size: int = 48,
    head: float = 0.5,
    tail: float = 0.2,
    blank_std: float = 5.0,
    cache_dir: Path | None = None,
    strict: bool = False,
    progress: bool = True,
) -> DatasetStats:
    """Statistics of every split; duplicates and blanks are found on grey ``size`` px pixels
    (FER2013's native 48 px by default), built through the array cache."""
    splits = dataset.splits
    counts = {split: dataset.split(split).counts() for split in splits}
    reference = counts.get("train", next(iter(counts.values())))
    arrays: dict[str, FaceArrays] = {
        split: load_arrays(dataset, split, size, 1, cache_dir=cache_dir, strict=strict, progress=progress)
        for split in splits
    }
    keys_exact: list[bytes] = []
    keys_pixel: list[bytes] = []
    split_of: list[str] = []
    labels: list[int] = []
    sources: list[str] = []
    near_blank: list[str] = []
    for split, part in arrays.items():
        flat = part.images.reshape(len(part), -1)
        keys_exact.extend(part.content_hashes.tolist())
        keys_pixel.extend(hashlib.sha1(row.tobytes()).digest() for row in flat)
        stds = flat.std(axis=1, dtype=np.float32)
        near_blank.extend(part.sources[i] for i in np.flatnonzero(stds < blank_std))
        split_of.extend([split] * len(part))
        labels.extend(part.labels.tolist())
        sources.extend(part.sources)
    names = list(dataset.class_names)
    return DatasetStats(
        dataset=dataset.name,
        format=dataset.format,
        root=str(dataset.root),
        class_names=names,
        counts={split: c.tolist() for split, c in counts.items()},
        imbalance_ratio={split: imbalance_ratio(c) for split, c in counts.items()},
        groups=dict(zip(names, frequency_groups(reference, head, tail))),
        exact_duplicates=_duplicates(keys_exact, split_of, labels, sources),
        pixel_duplicates=_duplicates(keys_pixel, split_of, labels, sources),
        near_blank=near_blank,
        unreadable=[s for part in arrays.values() for s in part.skipped],
        image_size=size,
    )


def format_stats(stats: DatasetStats) -> str:
    """The human-readable table ``bfer data stats`` prints."""
    splits = list(stats.counts)
    width = max(len(n) for n in stats.class_names + ["class", "total"])
    lines = [
        f"{stats.dataset} ({stats.format}) at {stats.root}",
        "",
        f"{'class':<{width}}  " + "  ".join(f"{s:>8}" for s in splits) + "  group",
    ]
    for i, name in enumerate(stats.class_names):
        lines.append(
            f"{name:<{width}}  " + "  ".join(f"{stats.counts[s][i]:>8,}" for s in splits) + f"  {stats.groups[name]}"
        )
    lines.append(f"{'total':<{width}}  " + "  ".join(f"{sum(stats.counts[s]):>8,}" for s in splits))
    lines.append(f"{'max/min':<{width}}  " + "  ".join(f"{stats.imbalance_ratio[s]:>8.1f}" for s in splits))
    lines.append("")
    for title, report in (
        ("byte-identical files", stats.exact_duplicates),
        (f"pixel-identical at {stats.image_size} px", stats.pixel_duplicates),
    ):
        within = ", ".join(f"{k} {v}" for k, v in report.within_split.items()) or "none"
        across = (
            ", ".join(f"{k.replace('~', ' with a twin in ')} {v}" for k, v in report.across_splits.items()) or "none"
        )
        lines.append(
            f"duplicates, {title}: {report.groups} groups ({report.redundant_images} redundant images); "
            f"within splits: {within}; across splits: {across}; "
            f"conflicting labels: {report.conflicting_groups} groups ({report.conflicting_images} images)"
        )
    lines.append(
        f"near-blank images: {len(stats.near_blank)}" + (f" (e.g. {stats.near_blank[0]})" if stats.near_blank else "")
    )
    if stats.unreadable:
        lines.append(f"unreadable images skipped: {len(stats.unreadable)} (e.g. {stats.unreadable[0]})")
    return "\n".join(lines)


def plot_counts(stats: DatasetStats, path: Path) -> Path:
    """Bar chart of class counts per split, coloured by head / medium / tail, saved as PNG."""
    from matplotlib.figure import Figure  # no pyplot: the caller's matplotlib backend and state stay untouched

    splits = list(stats.counts)
    x = np.arange(len(stats.class_names))
    width = 0.8 / len(splits)
    fig = Figure(figsize=(1.2 * len(x) + 2, 4.5))
    ax = fig.subplots()
    for k, split in enumerate(splits):
        bars = ax.bar(x + (k - (len(splits) - 1) / 2) * width, stats.counts[split], width, label=split)
        ax.bar_label(bars, fmt="{:,.0f}", fontsize=7)
    ax.set_xticks(x, [f"{n}\n({stats.groups[n]})" for n in stats.class_names])
    ax.set_ylabel("images")
    ratios = ", ".join(f"{s} {r:.1f}" for s, r in stats.imbalance_ratio.items())
    ax.set_title(f"{stats.dataset}: class counts (max/min: {ratios})")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
