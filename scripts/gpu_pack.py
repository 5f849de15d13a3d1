"""Pack a dataset folder into one .npz small enough to carry to a GPU machine, and unpack it there
byte for byte. The bytes all files start with (FER2013's JPEGs share a 318-byte header) are stored
once: FER2013 train + val pack to 40 MiB instead of 49, which with the project's tracked files stays
under the 64 MiB a call carries.

    python scripts/gpu_pack.py .gpu/fer2013.npz ../shared/datasets/fer2013 --skip fer2013_sample.csv
    python3 scripts/gpu_pack.py --unpack .gpu/fer2013.npz .gpu/datasets/fer2013     # on the GPU machine
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np


def pack(out: Path, root: Path, skip: set[str]) -> None:
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.name not in skip)
    blobs = [p.read_bytes() for p in paths]
    prefix = os.path.commonprefix(blobs) if blobs else b""
    bodies = [b[len(prefix) :] for b in blobs]
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        out,
        prefix=np.frombuffer(prefix, np.uint8),
        data=np.frombuffer(b"".join(bodies), np.uint8),
        offsets=np.cumsum([0] + [len(b) for b in bodies]),
        paths=np.frombuffer("\n".join(str(p.relative_to(root)) for p in paths).encode(), np.uint8),
    )
    print(f"packed {len(paths):,} files ({len(prefix)} shared bytes) into {out.stat().st_size / 2**20:.1f} MiB: {out}")


def unpack(archive: Path, root: Path) -> None:
    z = np.load(archive)
    prefix, data, offsets = z["prefix"].tobytes(), z["data"], z["offsets"]
    paths = z["paths"].tobytes().decode().split("\n")
    for i, name in enumerate(paths):
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(prefix + data[offsets[i] : offsets[i + 1]].tobytes())
    print(f"unpacked {len(paths):,} files into {root}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("archive", type=Path, help="the .npz to write (or, with --unpack, to read)")
    parser.add_argument("folder", type=Path, help="the dataset folder to pack (or to unpack into)")
    parser.add_argument("--unpack", action="store_true", help="restore the files from the archive")
    parser.add_argument("--skip", nargs="*", default=[], help="file names to leave out")
    args = parser.parse_args()
    if args.unpack:
        unpack(args.archive, args.folder)
    else:
        pack(args.archive, args.folder, set(args.skip))


if __name__ == "__main__":
    main()
