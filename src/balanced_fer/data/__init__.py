"""Reading FER datasets: readers per format, dataset specs, the array cache and statistics."""

from .cache import FaceArrays, load_arrays
from .dataset import MAX_PIXELS, FaceDataset, Sample, decode_bytes, read_image
from .formats import FORMATS
from .spec import detect_format, open_dataset, parse_spec

__all__ = [
    "MAX_PIXELS",
    "FORMATS",
    "FaceArrays",
    "FaceDataset",
    "Sample",
    "decode_bytes",
    "detect_format",
    "load_arrays",
    "open_dataset",
    "parse_spec",
    "read_image",
]
