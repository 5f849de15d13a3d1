"""Helpers shared by tests: deterministic images on disk."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"  # the committed photos, with ATTRIBUTION.md


def write_face(path: Path, seed: int, size: int = 48, channels: int = 1) -> np.ndarray:
    """Write a deterministic textured image (PNG or JPEG by suffix) and return its pixels."""
    rng = np.random.default_rng(seed)
    shape = (size, size) if channels == 1 else (size, size, channels)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), pixels)
    return pixels


def write_toy_faces(root: Path, counts: dict[str, int], size: int = 24, splits=("train", "val")) -> Path:
    """A tiny learnable folder dataset: each class has its own brightness pattern plus noise."""
    rng = np.random.default_rng(0)
    patterns = {
        name: np.roll(np.linspace(40, 215, size)[None, :].repeat(size, 0), shift=i * size // len(counts), axis=i % 2)
        for i, name in enumerate(counts)
    }
    for split in splits:
        for name, count in counts.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for j in range(count if split == "train" else max(count // 3, 4)):
                image = np.clip(patterns[name] + rng.normal(0, 20, (size, size)), 0, 255).astype(np.uint8)
                cv2.imwrite(str(folder / f"{j:04d}.png"), image)
    return root


def write_toy_recipe(root: Path, name: str, counts: dict[str, int], **sections) -> Path:
    """Toy faces in ``root/faces`` and ``root/<name>.yaml``: a tiny vgg_compact_s recipe on them, with
    ``sections`` (``schedule={...}``, ``loss={...}``) added."""
    import yaml

    write_toy_faces(root / "faces", counts, size=24)
    recipe = {
        "name": name,
        "data": {"train": str(root / "faces"), "size": 24, "input_size": 20},
        "model": {"name": "vgg_compact_s"},
        "optim": {"lr": 0.05, "batch_size": 16},
        "eval": {"batch_size": 64},
        **sections,
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def random_checkpoint(
    path: Path,
    name: str = "vgg_compact_s",
    kwargs: dict | None = None,
    classes: list[str] | None = None,
    size: int = 48,
    tta: str = "none",
) -> Path:
    """An untrained but complete checkpoint (BatchNorm statistics from one random batch)."""
    import torch

    from balanced_fer.labels import SEVEN_CLASSES
    from balanced_fer.models import Architecture, ModelDescription, Preprocessing, create_model, save_checkpoint

    classes = classes or list(SEVEN_CLASSES)
    kwargs = kwargs or {}
    torch.manual_seed(0)
    model = create_model(name, num_classes=len(classes), in_chans=1, **kwargs)
    crop = size - 4
    model.train()
    model(torch.randn(8, 1, crop, crop))
    description = ModelDescription(
        architecture=Architecture(name, len(classes), 1, kwargs),
        class_names=tuple(classes),
        preprocessing=Preprocessing(size=size, input_size=crop),
        train_counts=tuple(10 * (i + 1) for i in range(len(classes))),
        tta=tta,
    )
    return save_checkpoint(path, model.state_dict(), description)


def frames_to_video(frames: list[np.ndarray], path: Path, fps: float = 10.0) -> Path:
    """Write RGB frames as an MP4."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@contextmanager
def running(app, **settings) -> Iterator[str]:
    """``app`` behind a real uvicorn (with ``settings``) on a free loopback port; yields its base URL."""
    import threading
    import time

    import pytest
    import uvicorn

    from loadtest import free_port

    port = free_port()
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **settings))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(10)


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of ``bfer ARGS`` in-process (argparse's usage
    errors, which exit, included)."""
    from balanced_fer.cli import main

    try:
        code = main(args)
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err
