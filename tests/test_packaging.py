"""What a wheel carries: every data file the package reads is declared as package data."""

import fnmatch
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "balanced_fer"


def test_every_data_file_of_the_package_is_declared():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "balanced_fer"
    ]
    data = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    ]
    missing = [name for name in data if not any(fnmatch.fnmatch(name, pattern) for pattern in declared)]
    assert data and not missing, f"not in [tool.setuptools.package-data]: {missing}"
