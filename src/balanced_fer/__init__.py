"""balanced-fer: facial expression recognition that stays accurate on the rare expressions."""

from .data import load_arrays, open_dataset
from .labels import CANONICAL_CLASSES

__version__ = "0.1.0"
__all__ = ["CANONICAL_CLASSES", "Recognizer", "__version__", "load_arrays", "open_dataset", "train"]


def __getattr__(name: str):
    # imported on first use: torch is not loaded by `import balanced_fer`
    if name == "Recognizer":
        from .inference import Recognizer

        return Recognizer
    if name == "train":
        from .runs import train

        return train
    raise AttributeError(f"module 'balanced_fer' has no attribute {name!r}")
