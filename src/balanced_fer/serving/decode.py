"""Turning uploaded bytes into an RGB array, or into a 4xx reason: the service's only input path.

Pillow reads the header first, so a 20000x20000 image or a PNG bomb is refused before any pixel is
decoded; a truncated file fails to load instead of being padded with grey.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import BalancedFerError


@dataclass
class ServiceLimits:
    """What one request may ask of the service."""

    max_upload_bytes: int = 10 * 2**20  # per image
    max_pixels: int = 40_000_000  # width x height, checked before decoding
    max_batch: int = 16  # images per /v1/predict/batch request
    timeout_s: float = 30.0  # a request waiting longer (queue + inference) gets 503
    max_concurrency: int = 1  # images analysed at once (one model per running image)
    max_queue: int = 64  # requests waiting beyond the running ones; more get 429

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_pixels", "max_batch", "max_concurrency"):
            if getattr(self, name) < 1:
                raise BalancedFerError(f"service limit {name} must be at least 1, got {getattr(self, name)}")
        if self.max_queue < 0 or self.timeout_s <= 0:
            raise BalancedFerError(f"service limits: max_queue must be >= 0 and timeout_s > 0, got {self}")

    @property
    def max_body_bytes(self) -> int:
        return self.max_batch * self.max_upload_bytes + 2**20  # multipart overhead


class UploadError(Exception):
    """A request the service refuses: HTTP ``status`` and a reason naming the upload."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def decode_image(data: bytes, name: str, limits: ServiceLimits) -> np.ndarray:
    """(H, W, 3) uint8 RGB, EXIF orientation applied; grey, palette, RGBA and 16-bit are converted."""
    if not data:
        raise UploadError(400, f"{name}: empty upload (0 bytes)")
    if len(data) > limits.max_upload_bytes:
        raise UploadError(413, f"{name}: {len(data):,} bytes exceed the limit of {limits.max_upload_bytes:,}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > limits.max_pixels:
                    raise UploadError(
                        413, f"{name}: {width}x{height} pixels exceed the limit of {limits.max_pixels:,} pixels"
                    )
                image.load()
                upright = ImageOps.exif_transpose(image)
                return np.asarray(upright.convert("RGB"))
    except UploadError:
        raise
    except UnidentifiedImageError:
        raise UploadError(
            415, f"{name}: not an image in a format the service reads (JPEG, PNG, WebP, BMP, ...)"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(
            413, f"{name}: declares more pixels than the limit of {limits.max_pixels:,} (a decompression bomb?)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise UploadError(400, f"{name}: damaged image ({err})") from None
