import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from balanced_fer.cli import main
from helpers import EXAMPLES, run_cli
from loadtest import png


def test_data_stats_on_real_fer2013(shared_datasets, cache_dir, tmp_path, capsys):
    chart, out = tmp_path / "chart.png", tmp_path / "stats.json"
    code = main(
        [
            "data",
            "stats",
            str(shared_datasets / "fer2013"),
            "--cache-dir",
            str(cache_dir),
            "--chart",
            str(chart),
            "--json",
            str(out),
            "--no-progress",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "happiness     7,215" in printed and "disgust         436" in printed
    assert chart.is_file() and json.loads(out.read_text())["counts"]["val"][1] == 895


def test_data_stats_on_ferplus_with_label_mode(shared_datasets, cache_dir, tmp_path, capsys):
    code = main(
        [
            "data",
            "stats",
            f"ferplus:{shared_datasets / 'ferplus'}",
            "--cache-dir",
            str(cache_dir),
            "--chart",
            str(tmp_path / "c.png"),
            "--no-progress",
        ]
    )
    assert code == 0 and "neutral       7,485" in capsys.readouterr().out


def test_data_cache_and_formats(tmp_path, capsys):
    from helpers import write_face

    write_face(tmp_path / "faces" / "happy" / "a.png", 0)
    out = tmp_path / "timing.json"
    assert (
        main(
            [
                "data",
                "cache",
                str(tmp_path / "faces"),
                "--cache-dir",
                str(tmp_path / "c"),
                "--json",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["all"]["faces"] == 1
    assert main(["data", "formats"]) == 0
    assert "ferplus" in capsys.readouterr().out


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["data", "stats", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"bfer: error: {tmp_path / 'missing'}: no such file or folder"
    (tmp_path / "faces" / "elated").mkdir(parents=True)
    assert main(["data", "stats", str(tmp_path / "faces")]) == 2
    assert "--class-map" in capsys.readouterr().err


def test_data_subsets(shared_datasets, tmp_path, capsys):
    out = tmp_path / "subsets.json"
    assert main(["data", "subsets", str(shared_datasets / "fer2013"), "--k", "2", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    disgust, happiness = payload["class_names"].index("disgust"), payload["class_names"].index("happiness")
    assert payload["full"][disgust] == 436
    assert all(s["counts"][disgust] == 436 and s["counts"][happiness] == 1443 for s in payload["subsets"])  # d 1, 5
    assert payload["overlap"][0][0] == 1 and payload["overlap"][0][1] < 0.3
    assert "share of subset i's faces also in subset j" in capsys.readouterr().out
    args = ["data", "subsets", str(shared_datasets / "fer2013"), "--k", "2", "--json", str(out), "--divisors", "none"]
    assert main(args) == 0
    assert all(s["counts"][disgust] == 3 * 436 for s in json.loads(out.read_text())["subsets"])  # median target
    assert main(args[:-1] + ["5,x"]) == 2
    assert "--divisors '5,x': expected auto, none or numbers" in capsys.readouterr().err


ASTRONAUT = str(EXAMPLES / "astronaut.jpg")
BAD_ARGUMENTS = {
    "--every 0": (["predict", ASTRONAUT, "--every", "0"], "argument --every: must be at least 1, got 0"),
    "--every x": (["predict", ASTRONAUT, "--every", "x"], "argument --every: invalid integer value: 'x'"),
    "--max-pixels 0": (["predict", ASTRONAUT, "--max-pixels", "0"], "argument --max-pixels: must be at least 1"),
    "stats --size 0": (["data", "stats", "x", "--size", "0"], "argument --size: must be at least 8, got 0"),
    "cache --size 7": (["data", "cache", "x", "--size", "7"], "argument --size: must be at least 8, got 7"),
    "serve --port 99999": (["serve", "--port", "99999"], "argument --port: must be from 0 to 65535, got 99999"),
    "serve --port -1": (["serve", "--port", "-1"], "argument --port: must be from 0 to 65535, got -1"),
    "missing path": (["predict", "/nonexistent/photo.jpg"], "/nonexistent/photo.jpg: no such file or folder"),
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS)
def test_bad_arguments_get_one_line_and_exit_code_2(case, capsys):
    args, message = BAD_ARGUMENTS[case]
    code, out, err = run_cli(args, capsys)
    assert code == 2 and message in err and "Traceback" not in err + out


def test_soft_targets_devices_are_the_recipes():
    from balanced_fer.cli import build_parser
    from balanced_fer.training.recipe import DEVICES

    commands = next(a for a in build_parser()._actions if a.dest == "command")
    (device,) = [a for a in commands.choices["soft-targets"]._actions if a.dest == "device"]
    assert tuple(device.choices) == DEVICES


def test_bad_output_paths_and_special_files_get_one_line(tmp_path, capsys):
    (tmp_path / "annotated").write_text("a file, not a folder")
    os.mkfifo(tmp_path / "fifo.jpg")  # reading it would block for ever
    (tmp_path / "empty").mkdir()
    unwritable = "/proc/no-such-dir/out.json"
    cases = [
        (["predict", ASTRONAUT, "--annotate", str(tmp_path / "annotated")], "annotated is a file; give a folder name"),
        (["predict", ASTRONAUT, "--out", unwritable], "cannot create files in /proc"),
        (["predict", str(tmp_path / "fifo.jpg")], "fifo.jpg: not a regular file or folder"),
        (["predict", str(tmp_path / "empty")], "no images in"),
    ]
    for args, message in cases:
        code, out, err = run_cli([*args, "--no-progress"], capsys)
        assert code == 2 and message in err and "Traceback" not in err + out, (args, err)


def test_a_folder_with_a_fifo_and_a_pixel_bomb_is_read_around_them(tmp_path, capsys, caplog):
    shutil.copy(ASTRONAUT, tmp_path / "astronaut.jpg")
    os.mkfifo(tmp_path / "fifo.jpg")
    (tmp_path / "huge.png").write_bytes(png(20_000, 20_000))  # 390 KB that decode to 1.2 GB
    code, out, err = run_cli(["predict", str(tmp_path), "--no-progress"], capsys)
    records = {Path(json.loads(line)["path"]).name: json.loads(line) for line in out.splitlines()}
    assert code == 0 and set(records) == {"astronaut.jpg", "huge.png"}
    assert len(records["astronaut.jpg"]["faces"]) == 1
    assert "declares more pixels than the limit of 40,000,000" in records["huge.png"]["error"]
    assert "fifo.jpg (not a regular file)" in caplog.text and "1 of 2 images could not be read" in caplog.text
    code, out, _ = run_cli(
        ["predict", str(tmp_path / "astronaut.jpg"), "--max-pixels", "1000", "--no-progress"], capsys
    )
    assert "512x512 pixels exceed the limit of 1,000" in json.loads(out)["error"]


def test_stats_json_to_an_unwritable_path_is_one_line(shared_datasets, cache_dir, tmp_path, capsys):
    args = [
        "data",
        "stats",
        str(shared_datasets / "fer2013" / "fer2013_sample.csv"),
        "--chart",
        str(tmp_path / "c.png"),
    ]
    code, out, err = run_cli(
        [*args, "--json", "/proc/no-such-dir/s.json", "--cache-dir", str(cache_dir), "--no-progress"], capsys
    )
    assert code == 2 and "--json: cannot create files in /proc" in err and "Traceback" not in err


def test_progress_bars_only_on_a_terminal_and_never_when_quiet(tmp_path, capsys, monkeypatch):
    import sys

    from helpers import write_toy_faces

    faces = write_toy_faces(tmp_path / "faces", {"happy": 4, "sad": 4}, size=24, splits=("train",))

    def cache(*flags: str) -> str:
        assert main([*flags, "data", "cache", str(faces), "--cache-dir", str(tmp_path / "c"), "--rebuild"]) == 0
        return capsys.readouterr().err

    assert "\r" not in cache()  # stderr is a pipe or a log file here: no carriage returns filling it
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert "\r" in cache()  # a person at a terminal sees the bar
    assert "\r" not in cache("-q")


def test_a_reader_that_goes_away_stops_predict_quietly(tmp_path):
    import subprocess
    import sys

    for i in range(40):
        (tmp_path / f"{i}.jpg").write_bytes((EXAMPLES / "astronaut.jpg").read_bytes())
    command = (
        f"{sys.executable} -m balanced_fer.cli predict {tmp_path} --no-detect --batch-size 2 --format csv | head -1"
    )
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("path,") and done.stderr == "" and done.returncode == 141


def test_a_video_that_is_not_one_is_one_error_line(tmp_path):
    import subprocess
    import sys

    (tmp_path / "clip.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    command = [sys.executable, "-m", "balanced_fer.cli", "predict", str(tmp_path / "clip.mp4"), "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)  # FFmpeg logged its own line first
    assert (
        done.returncode == 2 and done.stderr == f"bfer: error: {tmp_path / 'clip.mp4'}: cannot be opened as a video\n"
    )


def test_an_image_opencv_cannot_decode_gets_only_bfers_lines(tmp_path):
    import subprocess
    import sys

    tiff = tmp_path / "float.tiff"
    assert cv2.imwrite(str(tiff), np.zeros((8, 8), np.float32))  # OpenCV writes it, warns that it cannot read it
    command = [sys.executable, "-m", "balanced_fer.cli", "predict", str(tiff), "--format", "text", "--no-progress"]
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_LOG_LEVEL"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and "not a readable image" in done.stdout
    assert done.stderr == "bfer: warning: 1 of 1 images could not be read (their records carry the error)\n"
