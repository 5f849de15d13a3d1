"""Dataset readers, one module per published layout, all registered in :data:`FORMATS`."""

from . import affectnet, ckplus, fer2013, ferplus, folder, rafdb  # noqa: F401  (registration)
from .registry import FORMATS, DatasetFormat

DETECTION_ORDER = ("ferplus", "rafdb", "affectnet", "ckplus", "fer2013", "folder")
"""Most specific layout first; ``folder`` accepts any directory."""

__all__ = ["DETECTION_ORDER", "FORMATS", "DatasetFormat"]
