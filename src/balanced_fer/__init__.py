"""balanced-fer: facial expression recognition that stays accurate on the rare expressions."""

from .data import load_arrays, open_dataset
from .labels import CANONICAL_CLASSES

__version__ = "0.1.0"
__all__ = ["CANONICAL_CLASSES", "Recognizer", "__version__", "load_arrays", "open_dataset"]


def __getattr__(name: str):
    if name == "Recognizer":  # imported on first use: torch is not loaded by `import balanced_fer`
        from .inference import Recognizer

        return Recognizer
    raise AttributeError(f"module 'balanced_fer' has no attribute {name!r}")
