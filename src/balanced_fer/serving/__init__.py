"""The web service and page (``bfer serve``): FastAPI over :class:`~balanced_fer.inference.Recognizer`."""

from .app import create_app
from .decode import ServiceLimits, UploadError, decode_upload, image_size

__all__ = ["ServiceLimits", "UploadError", "create_app", "decode_upload", "image_size"]
