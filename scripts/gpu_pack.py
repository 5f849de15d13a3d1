"""Pack a dataset folder into one .npz small enough to carry to a GPU machine, and unpack it there
byte for byte. The bytes all files start with (FER2013's JPEGs share a 328-byte header) are stored
once, and the file names compressed: FER2013 train + val pack to 38.7 MiB instead of 49 (JPEG data
compresses no further). A call carries 64 MiB in all, the project's tracked files included, so the
pack says what the trip would weigh and warns when it is over.

    python scripts/gpu_pack.py .gpu/fer2013.npz ../shared/datasets/fer2013 --skip fer2013_sample.csv
    python3 scripts/gpu_pack.py --unpack .gpu/fer2013.npz .gpu/datasets/fer2013     # on the GPU machine
"""

from __future__ import annotations

import argparse
import os
import subprocess
import zlib
from pathlib import Path

import numpy as np

CARRY_LIMIT = 64 * 2**20  # what one device call may carry: the tracked files and every carried path


def pack(out: Path, root: Path, skip: set[str]) -> None:
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.name not in skip)
    blobs = [p.read_bytes() for p in paths]
    prefix = os.path.commonprefix(blobs) if blobs else b""
    bodies = [b[len(prefix) :] for b in blobs]
    names = "\n".join(str(p.relative_to(root)) for p in paths).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        out,
        prefix=np.frombuffer(prefix, np.uint8),
        data=np.frombuffer(b"".join(bodies), np.uint8),
        lengths=np.array([len(b) for b in bodies], np.uint32),
        paths=np.frombuffer(zlib.compress(names, 9), np.uint8),
    )
    size = out.stat().st_size
    print(f"packed {len(paths):,} files ({len(prefix)} shared bytes) into {size / 2**20:.1f} MiB: {out}")
    tracked = tracked_bytes(out.parent)
    if tracked is not None:
        total = tracked + size
        verdict = "fits" if total <= CARRY_LIMIT else "is OVER the limit: carry less"
        print(f"with the {tracked / 2**20:.1f} MiB of tracked files a call carries {total / 2**20:.1f} MiB: {verdict}")


def tracked_bytes(folder: Path) -> int | None:
    """The size of the files git tracks in the repository holding ``folder`` (None outside one)."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, check=True)
        root = Path(top.stdout.decode().strip())
        listing = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    files = (root / os.fsdecode(name) for name in listing.split(b"\0") if name)
    return sum(f.stat().st_size for f in files if f.is_file())


def unpack(archive: Path, root: Path) -> None:
    z = np.load(archive)
    prefix, data = z["prefix"].tobytes(), z["data"]
    offsets = np.concatenate([[0], np.cumsum(z["lengths"], dtype=np.int64)])
    paths = zlib.decompress(z["paths"].tobytes()).decode().split("\n")
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
