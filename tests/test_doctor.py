import json

import torch

from balanced_fer.doctor import cpu_description
from helpers import run_cli


def test_doctor_prints_versions_cpu_providers_models_and_the_cache(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    (cache / "sub").mkdir(parents=True)
    (cache / "sub" / "arrays.npy").write_bytes(b"0" * 2048)
    monkeypatch.setenv("BFER_CACHE_DIR", str(cache))
    code, out, _ = run_cli(["doctor", "--json", str(tmp_path / "doctor.json")], capsys)
    assert code == 0
    values = json.loads((tmp_path / "doctor.json").read_text())
    assert values["packages"]["torch"] == torch.__version__
    assert "CPUExecutionProvider" in values["onnxruntime_providers"]
    assert values["cache"] == {"path": str(cache), "files": 1, "megabytes": 0.0}
    assert values["cpu"]["flags"] == cpu_description()["flags"]
    for line in ("cpu flags", "onnxruntime", "CPUExecutionProvider", "model fer2013_compact_long", str(cache)):
        assert line in out, line
