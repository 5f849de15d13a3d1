import json

import pytest

from balanced_fer.cli import main
from balanced_fer.errors import BalancedFerError
from balanced_fer.models import load_checkpoint
from helpers import random_checkpoint, write_toy_faces


def test_calibration_lowers_validation_nll_and_is_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("BFER_CACHE_DIR", str(tmp_path / "cache"))
    write_toy_faces(tmp_path / "faces", {"happy": 12, "sad": 12, "fear": 6}, size=24, splits=("val",))
    path = random_checkpoint(tmp_path / "m.safetensors", classes=["happiness", "sadness", "fear"], size=24)
    out, report = tmp_path / "calibrated.safetensors", tmp_path / "calibration.json"
    assert (
        main(
            ["calibrate", str(path), str(tmp_path / "faces"), "--out", str(out), "--json", str(report), "--no-progress"]
        )
        == 0
    )
    figures = json.loads(report.read_text())
    assert figures["after"]["nll"] <= figures["before"]["nll"] + 1e-6
    assert load_checkpoint(out)[1].calibration.temperature == pytest.approx(figures["temperature"])
    assert main(["evaluate", str(out), str(tmp_path / "faces"), "--prior", "uniform", "--no-progress"]) == 0
    with pytest.raises(BalancedFerError, match="never on a test split"):
        from balanced_fer.data import open_dataset
        from balanced_fer.inference.calibrate import calibrate_checkpoint

        calibrate_checkpoint(path, out, open_dataset(tmp_path / "faces"), "test")
