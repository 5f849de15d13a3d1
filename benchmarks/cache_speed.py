"""Cache build and load times for FER2013 (28,709 train faces): writes benchmarks/results/cache_speed.json.

python benchmarks/cache_speed.py --data ../shared/datasets/fer2013
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from balanced_fer.data import load_arrays, open_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/fer2013")
    parser.add_argument("--split", default="train")
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cache_speed.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as cache_dir:
        start = time.perf_counter()
        dataset = open_dataset(args.data)
        arrays = load_arrays(dataset, args.split, args.size, cache_dir=Path(cache_dir), progress=False)
        build = time.perf_counter() - start
        loads = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            arrays = load_arrays(
                open_dataset(args.data), args.split, args.size, cache_dir=Path(cache_dir), progress=False
            )
            total = int(arrays.images.sum(dtype="uint64"))  # touch every pixel once
            loads.append(time.perf_counter() - start)
    result = {
        "dataset": args.data,
        "split": args.split,
        "faces": len(arrays),
        "size": args.size,
        "build_seconds": round(build, 3),
        "build_faces_per_second": round(len(arrays) / build),
        "load_seconds_median": round(statistics.median(loads), 3),
        "load_seconds_all": [round(t, 3) for t in loads],
        "pixel_checksum": total,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "note": "build = read the folders, decode, resize and write; load = read the folders, fingerprint "
        "every file, open the memory map and read every pixel.",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
