"""balanced-fer: facial expression recognition that stays accurate on the rare expressions."""

from .data import load_arrays, open_dataset
from .labels import CANONICAL_CLASSES

__version__ = "0.1.0"
__all__ = ["CANONICAL_CLASSES", "__version__", "load_arrays", "open_dataset"]
