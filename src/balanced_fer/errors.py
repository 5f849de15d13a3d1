"""Exceptions that the CLI turns into one clear line instead of a traceback."""


class BalancedFerError(Exception):
    """Base class of every error balanced-fer raises on purpose."""


class DatasetError(BalancedFerError):
    """A dataset cannot be read: missing folder, malformed file, unknown label."""


class ImageError(DatasetError):
    """One image cannot be decoded (missing, unreadable, truncated or empty)."""
