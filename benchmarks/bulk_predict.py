"""Bulk prediction over many photo files with the shipped model: one process (all cores, or one
thread) against `--workers N` processes of one thread each. Writes benchmarks/results/bulk_predict.json.

    python benchmarks/bulk_predict.py [--images 240] [--workers 2]

The photos are the bundled examples (512 px, one face or none) copied under new names; each
configuration runs once after a warm-up run of the same size, through `predict_files` (decode,
detection, alignment, scoring: what `bfer predict` does).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from balanced_fer import Recognizer
from balanced_fer.doctor import cpu_description
from balanced_fer.inference.predict_files import predict_files

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=240)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bulk_predict.json")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    examples = sorted((ROOT / "examples").glob("*.jpg"))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for i in range(args.images):
            files.append(Path(folder) / f"{i:05d}.jpg")
            shutil.copy(examples[i % len(examples)], files[-1])
        configurations = [
            ("one process, default threads", None, 1),
            ("one process, 1 thread", 1, 1),
            (f"{args.workers} worker processes, 1 thread each", 1, args.workers),
        ]
        for name, threads, workers in configurations:
            recognizer = Recognizer(threads=threads)
            list(predict_files(recognizer, files[: max(workers * 64, 64)], workers=workers, progress=False))  # warm-up
            start = time.perf_counter()
            records = list(predict_files(recognizer, files, workers=workers, progress=False))
            seconds = time.perf_counter() - start
            rows.append({"run": name, "images": len(records), "seconds": round(seconds, 2)})
            rows[-1]["images_per_s"] = round(len(records) / seconds, 1)
            print(f"{name}: {rows[-1]['images_per_s']} images/s ({seconds:.1f} s)", flush=True)
    args.out.write_text(json.dumps({"cpu": cpu_description(), "cores": os.cpu_count(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
