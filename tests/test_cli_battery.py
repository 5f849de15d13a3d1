"""Generated hostile and unlucky command lines: each must end in one clear error line naming the
problem and exit code 2 (argparse's usage errors and BalancedFerError alike), never a traceback."""

import pytest

from balanced_fer.labels import CANONICAL_CLASSES
from helpers import EXAMPLES, run_cli, write_toy_faces

ASTRONAUT = str(EXAMPLES / "astronaut.jpg")

RANGE_FLAGS = {  # command line before the flag: {flag: bad values}; NaN and infinity pass float() itself
    ("predict", ASTRONAUT): {
        "--webcam": ["-1"],  # OpenCV crashed on a negative camera index
        "--every": ["0", "-1", "x", "1.5"],
        "--max-pixels": ["0", "-5", "many"],
        "--max-frames": ["0", "-2"],
        "--detection-threshold": ["nan", "1.5", "-0.1"],
        "--min-face-size": ["-1", "inf"],
        "--smoothing": ["1", "nan", "-0.5"],
    },
    ("data", "stats", "x"): {
        "--size": ["0", "7", "-48", "big"],
        "--peak-frames": ["0"],
        "--head": ["0", "nan", "2"],
        "--tail": ["-0.1"],
        "--blank-std": ["nan", "-1"],
    },
    ("data", "cache", "x"): {"--size": ["0", "3"], "--channels": ["2", "4", "x"]},
    ("data", "subsets", "x"): {"--k": ["0", "-3", "three"], "--max-upsample": ["0.5", "inf"], "--seed": ["-1"]},
    ("serve",): {
        "--port": ["99999", "-1", "http"],
        "--workers": ["0", "-1"],
        "--concurrency": ["0"],
        "--queue": ["-1"],
        "--max-batch": ["0"],
        "--max-pixels": ["0"],
        "--timeout": ["0", "nan", "inf"],
        "--max-upload-mb": ["0", "-1", "nan"],
    },
    ("export", "default", "out.onnx"): {"--faces": ["0", "-10"], "--opset": ["x"]},
    ("soft-targets", "x", "--teacher", "t.safetensors", "--out", "o.safetensors"): {
        "--device": ["gpu", "mps"],
        "--epochs": ["0", "x"],
        "--view-seed": ["-1"],
    },
    ("evaluate", "default", "x"): {"--post-hoc-tau": ["nan", "-inf", "x"]},
    ("decouple", "default", "--method", "crt", "--out", "x.safetensors"): {
        "--epochs": ["0"],
        "--lr": ["0", "nan"],
        "--tau": ["inf"],
        "--post-hoc-tau": ["nan"],
    },
}


def range_cases():
    for prefix, flags in RANGE_FLAGS.items():
        for flag, values in flags.items():
            for value in values:
                yield pytest.param(
                    [*prefix, flag, value], f"argument {flag}", id=f"{' '.join(prefix[:2])} {flag} {value}"
                )


@pytest.fixture(scope="module")
def junk(tmp_path_factory):
    """Files that are not what their names say."""
    root = tmp_path_factory.mktemp("junk")
    (root / "empty.safetensors").write_bytes(b"")
    (root / "text.safetensors").write_text("not a checkpoint")
    (root / "text.onnx").write_text("not a model")
    (root / "empty.onnx").write_bytes(b"")
    (root / "recipe.yaml").write_text("schedule: [unclosed\n")
    (root / "list.yaml").write_text("- 1\n- 2\n")
    (root / "prior.json").write_text("{not json")
    frequencies = ", ".join(f'"{name}": 1' for name in CANONICAL_CLASSES[1:7])
    (root / "nan_prior.json").write_text(f'{{"neutral": NaN, {frequencies}}}')  # json reads it; scores were NaN
    (root / "folder.safetensors").mkdir()
    (root / "empty").mkdir()
    write_toy_faces(root / "faces", {"happy": 4, "sad": 4}, size=48, splits=("val",))
    return root


FILE_CASES = {  # id: (command line with {junk} for the folder, a fragment of the error)
    "evaluate a missing checkpoint": ("evaluate {junk}/missing.safetensors {junk}/faces", "checkpoint not found"),
    "evaluate an empty checkpoint": ("evaluate {junk}/empty.safetensors {junk}/faces", "not a safetensors checkpoint"),
    "evaluate a text checkpoint": ("evaluate {junk}/text.safetensors {junk}/faces", "not a safetensors checkpoint"),
    "evaluate a text onnx": ("evaluate {junk}/text.onnx {junk}/faces", "not a loadable ONNX model"),
    "evaluate an empty onnx": ("evaluate {junk}/empty.onnx {junk}/faces", "not a loadable ONNX model"),
    "evaluate a folder as checkpoint": ("evaluate {junk}/folder.safetensors {junk}/faces", "checkpoint not found"),
    "evaluate on a missing dataset": ("evaluate default {junk}/nothing-here", "no such file or folder"),
    "evaluate on an empty folder": ("evaluate default {junk}/empty", "no images found in class folders"),
    "export a missing checkpoint": ("export {junk}/missing.safetensors {junk}/o.onnx", "checkpoint not found"),
    "export a text checkpoint": ("export {junk}/text.safetensors {junk}/o.onnx", "not a safetensors checkpoint"),
    "export at an unknown opset": ("export default {junk}/o.onnx --opset 999", "cannot export at ONNX opset 999"),
    "int8 export at an old opset": (
        "export default {junk}/o.onnx --opset 11 --int8 {junk}/faces",
        "int8 exports need ONNX opset 13",
    ),
    "decouple without a method": ("decouple {junk}/text.safetensors --out {junk}/d.safetensors", "--method"),
    "decouple a text checkpoint": (
        "decouple {junk}/text.safetensors --method crt --out {junk}/d.safetensors",
        "not a safetensors",
    ),
    "calibrate a text checkpoint": (
        "calibrate {junk}/text.safetensors --out {junk}/c.safetensors",
        "not a safetensors",
    ),
    "soft targets into a folder": (
        "soft-targets {junk}/faces --teacher default --out {junk}/folder.safetensors",
        "is a folder; give a file name",
    ),
    "calibrate where nothing can be written": (
        "calibrate default --out /proc/bfer/c.safetensors",
        "cannot create files in /proc",
    ),
    "export below a file": (
        "export default {junk}/text.safetensors/o.onnx",
        "text.safetensors is a file, not a folder",
    ),
    "evaluate into a file": ("evaluate default {junk}/faces --out {junk}/text.safetensors", "give a folder name"),
    "stats JSON into a folder": ("data stats {junk}/faces --json {junk}/folder.safetensors", "is a folder"),
    "predict with a missing model": (f"predict {ASTRONAUT} --model {{junk}}/missing.onnx", "not a loadable ONNX"),
    "predict with a text model": (f"predict {ASTRONAUT} --model {{junk}}/text.safetensors", "not a safetensors"),
    "predict with an unknown name": (f"predict {ASTRONAUT} --model nonsense", "no shipped model named"),
    "predict with a missing detector": (
        f"predict {ASTRONAUT} --detector {{junk}}/none.tflite",
        "detector model not found",
    ),
    "predict with a broken prior": (f"predict {ASTRONAUT} --prior {{junk}}/prior.json", "prior.json"),
    "predict with a NaN prior": (
        f"predict {ASTRONAUT} --prior {{junk}}/nan_prior.json",
        "positive finite number",
    ),
    "predict an empty folder": ("predict {junk}/empty", "no images in"),
    "predict nothing": ("predict", "give image or video paths"),
    "train a missing recipe": ("train {junk}/missing.yaml", "recipe file not found"),
    "train broken YAML": ("train {junk}/recipe.yaml", "recipe.yaml:2:1: not valid YAML (expected ',' or ']'"),
    "train a list": ("train {junk}/list.yaml", "a recipe is a mapping"),
    "train with a bad override": ("train {junk}/missing.yaml --set nonsense", "recipe file not found"),
    "soft targets from votes that are not votes": (
        "soft-targets {junk}/faces --votes {junk}/faces --out {junk}/st.safetensors",
        "--votes needs a dataset with vote distributions, such as FER+",
    ),
    "soft targets on the views of a missing recipe": (
        "soft-targets {junk}/faces --teacher default --views {junk}/missing.yaml --out {junk}/st.safetensors",
        "recipe file not found",
    ),
    "soft targets with view epochs but no views": (
        "soft-targets {junk}/faces --teacher default --epochs 3 --out {junk}/st.safetensors",
        "--epochs and --view-seed choose views: give --views RECIPE",
    ),
    "soft targets with a view seed but no views": (
        "soft-targets {junk}/faces --teacher default --view-seed 0 --out {junk}/st.safetensors",
        "--epochs and --view-seed choose views: give --views RECIPE",
    ),
    "soft targets of votes on views": (
        "soft-targets {junk}/faces --votes {junk}/faces --views {junk}/recipe.yaml --out {junk}/st.safetensors",
        "--views is for teachers that score every face",
    ),
    "stats of a missing dataset": ("data stats {junk}/nothing-here", "no such file or folder"),
    "stats of an empty folder": ("data stats {junk}/empty", "no images found in class folders"),
    "stats of a text file": ("data stats {junk}/list.yaml", "cannot tell the dataset format"),
    "stats with tail above head": ("data stats {junk}/faces --head 0.1 --tail 0.5", "need 0 < tail <= head <= 1"),
    "subsets of a missing dataset": ("data subsets {junk}/nothing-here", "no such file or folder"),
    "cache of a missing dataset": ("data cache {junk}/nothing-here", "no such file or folder"),
    "serve a text model": ("serve --model {junk}/text.onnx", "not a loadable ONNX model"),
    "serve a missing prior": ("serve --prior {junk}/missing.json", "cannot serve"),
    "serve a broken detector": ("serve --detector {junk}/text.onnx", "cannot serve"),
}


@pytest.mark.parametrize(("args", "message"), list(range_cases()))
def test_out_of_range_and_non_numeric_flags(args, message, capsys):
    assert_one_error_line(args, message, capsys)


@pytest.mark.parametrize("case", FILE_CASES)
def test_missing_empty_and_foreign_files(case, junk, capsys):
    line, message = FILE_CASES[case]
    assert_one_error_line(line.format(junk=junk).split() + no_progress(line), message, capsys)


def no_progress(line: str) -> list[str]:
    takes_it = line.split()[0] in ("evaluate", "export", "decouple", "calibrate", "predict", "train")
    return ["--no-progress"] if takes_it or line.startswith(("data stats", "data cache")) else []


def assert_one_error_line(args: list[str], message: str, capsys) -> None:
    code, out, err = run_cli(args, capsys)  # argparse errors: usage, then its one error line
    last = err.strip().splitlines()[-1] if err.strip() else ""
    assert code == 2, (args, code, err)
    assert "error:" in last and message in err, (args, err)
    assert "Traceback" not in out + err, (args, err)


def test_the_battery_is_large_enough():
    assert len(list(range_cases())) + len(FILE_CASES) >= 60
