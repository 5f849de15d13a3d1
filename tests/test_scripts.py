"""The helper scripts under scripts/ that carry data to a GPU machine."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_pack_round_trip_is_byte_identical_and_skips_named_files(tmp_path, capsys):
    gpu_pack = load_script("gpu_pack")
    source = tmp_path / "faces"
    files = {"train/angry/a.jpg": b"HEADERxyz", "train/happy/b.jpg": b"HEADER\x00\xff", "val/sad/c.jpg": b"HEADER"}
    for name, data in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    (source / "notes.csv").write_text("left out")
    archive = tmp_path / "pack" / "faces.npz"
    gpu_pack.pack(archive, source, {"notes.csv"})
    assert "6 shared bytes" in capsys.readouterr().out
    gpu_pack.unpack(archive, tmp_path / "back")
    back = {
        str(p.relative_to(tmp_path / "back")): p.read_bytes() for p in (tmp_path / "back").rglob("*") if p.is_file()
    }
    assert back == files


def test_fer2013_packed_fits_one_device_call_beside_the_tracked_files(shared_datasets, tmp_path, capsys):
    """The GPU route (docs/benchmarks.md, "The next loan, in one call") carries FER2013 train + val
    beside every tracked file; a call carries 64 MiB in all, so tracked files must leave it room."""
    gpu_pack = load_script("gpu_pack")
    tracked = gpu_pack.tracked_bytes(SCRIPTS)
    if tracked is None:
        pytest.skip("not a git checkout: no tracked files to weigh")
    archive = tmp_path / "fer2013.npz"
    gpu_pack.pack(archive, shared_datasets / "fer2013", {"fer2013_sample.csv"})
    capsys.readouterr()
    size = archive.stat().st_size
    assert tracked + size <= gpu_pack.CARRY_LIMIT, (
        f"tracked files {tracked / 2**20:.1f} MiB + packed FER2013 {size / 2**20:.1f} MiB exceed the 64 MiB a call carries"
    )
