"""The common sample table every reader returns, and decoding of one face image."""

from __future__ import annotations

import hashlib
import io
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from ..errors import DatasetError, ImageError

MAX_PIXELS = 40_000_000  # width x height an image (a service request: its images together) may hold

SPLIT_ORDER = ("train", "val", "test", "all")
"""Canonical split names: FER2013 Training / PublicTest / PrivateTest become train / val / test."""


@dataclass(frozen=True, eq=False)
class Sample:
    """One labelled face.

    ``source`` names where the face comes from: an image file, or ``FILE:LINE`` for formats that
    embed pixels in a csv (then ``pixels`` holds the space-separated grey values, parsed lazily).
    ``box`` is an ``(x, y, w, h)`` face box to crop, ``soft_label`` a probability vector over the
    dataset's classes (FER+ ``probability`` mode).
    """

    source: str
    label: int
    split: str
    box: tuple[int, int, int, int] | None = None
    pixels: str | None = None
    soft_label: tuple[float, ...] | None = None

    def read_bytes(self) -> bytes:
        """The raw encoded content (file bytes, or the csv pixel string)."""
        if self.pixels is not None:
            return self.pixels.encode()
        try:
            return Path(self.source).read_bytes()
        except OSError as err:
            raise ImageError(f"{self.source}: cannot read file ({err.strerror or err})") from None

    def content_hash(self, data: bytes | None = None) -> str:
        """SHA-1 of the raw content: equal hashes mean byte-identical files."""
        return hashlib.sha1(self.read_bytes() if data is None else data).hexdigest()

    def decode(self, channels: int = 1, data: bytes | None = None) -> np.ndarray:
        """Decoded uint8 pixels, HxW (``channels=1``) or HxWx3 RGB, cropped to ``box``."""
        data = self.read_bytes() if data is None else data
        image = _decode_csv_pixels(self) if self.pixels is not None else decode_bytes(data, self.source, channels)
        if image.ndim == 2 and channels == 3:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        if self.box is not None:
            image = _crop(image, self.box, self.source)
        return image


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` resized to ``size`` x ``size`` (area interpolation when shrinking, bilinear otherwise)."""
    if image.shape[:2] == (size, size):
        return image
    shrink = image.shape[0] > size or image.shape[1] > size
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def read_image(path: str | Path, channels: int = 3, max_pixels: int | None = None) -> np.ndarray:
    """An image file as uint8 grey (HxW) or RGB (HxWx3), whatever its format, bit depth, alpha or
    EXIF orientation; an unreadable file, or one of more than ``max_pixels`` (read from its header,
    before decoding), is an :class:`ImageError` naming it."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a FIFO or device would block or never end
        raise ImageError(f"{path}: not a regular file")
    source = Sample(str(path), -1, "all")
    data = source.read_bytes()
    if max_pixels is not None:
        check_pixels(data, str(path), max_pixels)
    return source.decode(channels, data)


def check_pixels(data: bytes, source: str, max_pixels: int) -> None:
    """Refuse an image of more than ``max_pixels`` from its header, before decoding it (a 48 KB PNG can
    hold 20000x20000); a format Pillow does not know is left to the decoder to judge."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:  # beyond Pillow's own bound: certainly beyond ours
        raise ImageError(f"{source}: declares more pixels than the limit of {max_pixels:,} (--max-pixels)") from None
    except Exception:  # noqa: BLE001 - unknown or damaged: the decoder will say so
        return
    if width * height > max_pixels:
        raise ImageError(f"{source}: {width}x{height} pixels exceed the limit of {max_pixels:,} (--max-pixels)")


def decode_bytes(data: bytes, source: str, channels: int = 3) -> np.ndarray:
    """An encoded image (JPEG, PNG, WebP, BMP, TIFF, ...) as uint8 grey (HxW) or RGB (HxWx3): the one
    decoder of files, datasets and uploads; ``source`` names it in the :class:`ImageError`."""
    if not data:
        raise ImageError(f"{source}: file is empty")
    flag = cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR
    # imdecode applies EXIF orientation, drops alpha, scales 16-bit input to 8 bits, and returns
    # None for unreadable or truncated files.
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if image is None or image.size == 0:
        raise ImageError(f"{source}: not a readable image (corrupt, truncated or unknown format)")
    return image if channels == 1 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _decode_csv_pixels(sample: Sample) -> np.ndarray:
    assert sample.pixels is not None
    try:
        values = np.array(sample.pixels.split(), dtype=np.int64)
    except ValueError:
        raise ImageError(f"{sample.source}: pixels are not space-separated integers") from None
    side = int(round(len(values) ** 0.5))
    if side == 0 or side * side != len(values) or values.min() < 0 or values.max() > 255:
        raise ImageError(f"{sample.source}: expected a square image of 0-255 values, got {len(values)} values")
    return values.astype(np.uint8).reshape(side, side)


def _crop(image: np.ndarray, box: tuple[int, int, int, int], source: str) -> np.ndarray:
    x, y, w, h = box
    height, width = image.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0:
        raise ImageError(f"{source}: face box {box} lies outside the {width}x{height} image")
    return image[y0:y1, x0:x1]


@dataclass
class FaceDataset:
    """A dataset as read from disk: samples with label indices into ``class_names``."""

    name: str
    format: str
    root: Path
    class_names: tuple[str, ...]
    samples: list[Sample]
    options: dict[str, object] = field(default_factory=dict)

    @property
    def splits(self) -> list[str]:
        present = {s.split for s in self.samples}
        return [s for s in SPLIT_ORDER if s in present] + sorted(present - set(SPLIT_ORDER))

    def split(self, name: str) -> FaceDataset:
        """The samples of one split (``train``, ``val``, ``test`` or ``all``)."""
        if name == "all" and "all" not in self.splits:
            return self
        if name not in self.splits:
            raise DatasetError(
                f"{self.root}: no split {name!r} in this {self.format} dataset (available: {', '.join(self.splits)})"
            )
        return replace(self, samples=[s for s in self.samples if s.split == name])

    def counts(self) -> np.ndarray:
        """Number of samples per class, in ``class_names`` order."""
        counter = Counter(s.label for s in self.samples)
        return np.array([counter.get(i, 0) for i in range(len(self.class_names))], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.samples)
