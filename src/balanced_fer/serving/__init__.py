"""The web service and page (``bfer serve``): FastAPI over :class:`~balanced_fer.inference.Recognizer`.

``create_app`` is imported on first use, so :class:`ServiceLimits` loads without the web extras.
"""

from .decode import ServiceLimits, UploadError, decode_upload, image_size

__all__ = ["ServiceLimits", "UploadError", "create_app", "decode_upload", "image_size"]


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
