"""Turning uploaded bytes into an RGB array, or into a 4xx reason: the service's only input path.

Two steps. :func:`image_size` reads only the header (Pillow, on the event loop: microseconds), so a
20000x20000 image, a PNG bomb or a request whose images hold too many pixels together is refused
before any pixel is decoded. :func:`decode_upload` then decodes the pixels in the model's worker pool
with the decoder files and datasets use (:func:`balanced_fer.data.decode_bytes`), so an upload and
``bfer predict`` on the same file see the same pixels (16-bit images scaled, EXIF orientation
applied); a truncated file fails instead of being padded with grey.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..data import MAX_PIXELS, decode_bytes
from ..errors import BalancedFerError, ImageError


@dataclass
class ServiceLimits:
    """What one request may ask of the service."""

    max_upload_bytes: int = 10 * 2**20  # per image
    max_pixels: int = MAX_PIXELS  # width x height of one request's images together, checked before decoding
    max_side: int = 32_768  # the longest side of one image (a panorama's), checked before decoding
    max_batch: int = 16  # images per /v1/predict/batch request
    timeout_s: float = 30.0  # a request waiting longer (queue + inference) gets 503
    max_concurrency: int = 1  # images analysed at once (one model per running image)
    max_queue: int = 64  # requests waiting beyond the running ones; more get 429
    body_timeout_s: float = 30.0  # a request body still arriving after this gets 408 (a stalled upload)
    max_connections: int = 256  # open connections per worker process; more get 503 from uvicorn
    keep_alive_s: float = 5.0  # an idle keep-alive connection is closed after this
    header_timeout_s: float = 10.0  # a connection whose request line and headers take longer is closed

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_pixels", "max_side", "max_batch", "max_concurrency", "max_connections"):
            if getattr(self, name) < 1:
                raise BalancedFerError(f"service limit {name} must be at least 1, got {getattr(self, name)}")
        timeouts = (self.timeout_s, self.body_timeout_s, self.keep_alive_s, self.header_timeout_s)
        if self.max_queue < 0 or not all(0 < t < math.inf for t in timeouts):  # a NaN timeout never fires
            raise BalancedFerError(
                f"service limits: max_queue must be >= 0 and the timeouts finite and > 0, got {self}"
            )

    @property
    def max_body_bytes(self) -> int:
        return self.max_batch * self.max_upload_bytes + 2**20  # multipart overhead


class UploadError(Exception):
    """A request the service refuses: HTTP ``status`` and a reason naming the upload."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def image_size(data: bytes, name: str, limits: ServiceLimits) -> tuple[int, int]:
    """Width and height from the image's header, refusing what the service will not decode."""
    if not data:
        raise UploadError(400, f"{name}: empty upload (0 bytes)")
    if len(data) > limits.max_upload_bytes:
        raise UploadError(413, f"{name}: {len(data):,} bytes exceed the limit of {limits.max_upload_bytes:,}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except UnidentifiedImageError:
        raise UploadError(
            415, f"{name}: not an image in a format the service reads (JPEG, PNG, WebP, BMP, TIFF, ...)"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(
            413, f"{name}: declares more pixels than the limit of {limits.max_pixels:,} (a decompression bomb?)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise UploadError(400, f"{name}: damaged image ({err})") from None
    if max(width, height) > limits.max_side:
        raise UploadError(413, f"{name}: {width}x{height} pixels: a side exceeds the limit of {limits.max_side:,}")
    if width * height > limits.max_pixels:
        raise UploadError(413, f"{name}: {width}x{height} pixels exceed the limit of {limits.max_pixels:,} pixels")
    return width, height


def decode_upload(data: bytes, name: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an upload whose header :func:`image_size` accepted."""
    try:
        return decode_bytes(data, name, 3)
    except ImageError:
        raise UploadError(400, f"{name}: damaged image (truncated, corrupt or not decodable)") from None
