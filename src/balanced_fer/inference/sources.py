"""Everything ``bfer predict`` reads, as one stream of records: images, folders, videos, a webcam."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..data import MAX_PIXELS
from ..errors import BalancedFerError
from . import FILE_BATCH
from .predict_files import image_files, predict_files
from .recognizer import Recognizer
from .tracking import FaceTracker
from .video import is_video, predict_video


def predict_sources(
    recognizer: Recognizer,
    paths: Sequence[str | Path] = (),
    *,
    webcam: int | None = None,
    detect: bool = True,
    annotate_dir: Path | None = None,
    smoothing: float = FaceTracker.smoothing,
    every: int = 1,
    max_frames: int | None = None,
    max_pixels: int = MAX_PIXELS,
    batch_size: int = FILE_BATCH,
    workers: int = 1,
    progress: bool = True,
) -> Iterator[dict]:
    """Records for ``paths`` (images, folders searched recursively, videos) and then webcam
    ``webcam``: one per image (``path``, ``faces``; see :func:`.predict_files.predict_files`), one per
    analysed video frame (``path``, ``frame``, ``time``, ``faces`` with ``track``; see
    :func:`.video.predict_video`). ``annotate_dir`` receives annotated copies (videos as
    ``<stem>.mp4``, the webcam as ``webcam.mp4``). Images go ``batch_size`` at a time, to ``workers``
    processes when more than one. Records come as they are made."""
    if not paths and webcam is None:
        raise BalancedFerError("give image or video paths, or a webcam (--webcam N)")
    if annotate_dir is not None and annotate_dir.exists() and not annotate_dir.is_dir():
        raise BalancedFerError(f"--annotate {annotate_dir}: exists and is not a folder")
    videos = [Path(p) for p in paths if is_video(Path(p))]
    images = [p for p in paths if not is_video(Path(p))]
    files = image_files(images) if images else []  # a missing file stops here, before any work
    streams: list[Iterator[dict]] = []
    if files:
        streams.append(
            predict_files(
                recognizer,
                files,
                detect=detect,
                annotate_dir=annotate_dir,
                progress=progress,
                max_pixels=max_pixels,
                batch_size=batch_size,
                workers=workers,
            )
        )
    for source in videos + ([webcam] if webcam is not None else []):
        stem = "webcam" if isinstance(source, int) else source.stem
        frames = predict_video(
            recognizer,
            source,
            smoothing=smoothing,
            every=every,
            annotate_path=annotate_dir / f"{stem}.mp4" if annotate_dir else None,
            max_frames=max_frames,
            progress=progress,
        )
        name = f"webcam:{source}" if isinstance(source, int) else str(source)
        streams.append({"path": name} | record for record in frames)
    return itertools.chain.from_iterable(streams)
