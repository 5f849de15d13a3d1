"""End to end: bfer train / evaluate on tiny data, exact resume after SIGKILL, 2-process DDP on CPU."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from balanced_fer.cli import main
from balanced_fer.models import load_checkpoint
from balanced_fer.training.trainer import curves_figure, runs_bf16_natively
from helpers import write_toy_recipe

COUNTS = {"happy": 48, "sad": 24, "fear": 8}


@pytest.fixture(scope="module")
def toy_recipe(tmp_path_factory) -> Path:
    return write_toy_recipe(tmp_path_factory.mktemp("toy"), "toy", COUNTS, schedule={"epochs": 4, "warmup_epochs": 0.5})


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BFER_CACHE_DIR", str(tmp_path / "cache"))


def train_args(recipe: Path, out: Path, *overrides: str) -> list[str]:
    """``train RECIPE --out OUT --no-progress --set ...`` for main() or a subprocess."""
    return ["train", str(recipe), "--out", str(out), "--no-progress", *(a for o in overrides for a in ("--set", o))]


def cli(*args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "balanced_fer.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def weights(path: Path) -> dict[str, torch.Tensor]:
    tensors, _ = load_checkpoint(path)
    return {k: v for k, v in tensors.items() if k.startswith("model.")}


def test_train_then_evaluate(toy_recipe, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*train_args(toy_recipe, out, "decouple.method=crt"), "--json", str(tmp_path / "summary.json")]) == 0
    for name in (
        "best.safetensors",
        "last.safetensors",
        "final.safetensors",
        "metrics.jsonl",
        "curves.png",
        "recipe.yaml",
        "eval/val.json",
        "eval/val.md",
        "eval/val_confusion.png",
    ):
        assert (out / name).is_file(), name
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4] and rows[-1]["train_loss"] < rows[0]["train_loss"]
    _, description = load_checkpoint(out / "final.safetensors")
    assert description.class_names == ("happiness", "sadness", "fear") and description.provenance.decoupled == "crt"
    assert description.preprocessing.input_size == 20 and description.recipe["name"] == "toy"
    assert description.trained_prior_weight == 0.0  # cRT refits the head under class-balanced sampling
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["validation"]["accuracy"] > 0.5  # the toy classes are easy to tell apart
    report = tmp_path / "eval.json"
    spec = yaml.safe_load(toy_recipe.read_text())["data"]["train"]
    assert (
        main(
            [
                "evaluate",
                str(out / "final.safetensors"),
                spec,
                "--split",
                "val",
                "--tta",
                "flip",
                "--json",
                str(report),
                "--out",
                str(tmp_path / "eval"),
                "--no-progress",
            ]
        )
        == 0
    )
    figures = json.loads(report.read_text())
    assert figures["num_samples"] == 4 + 8 + 16 and 0 <= figures["mean_class_accuracy"] <= 1
    assert "mean class accuracy" in capsys.readouterr().out
    lws = tmp_path / "lws.safetensors"
    assert (
        main(
            [
                "decouple",
                str(out / "final.safetensors"),
                "--method",
                "lws",
                "--epochs",
                "2",
                "--post-hoc-tau",
                "-0.5",
                "--out",
                str(lws),
                "--json",
                str(tmp_path / "lws.json"),
                "--no-progress",
            ]
        )
        == 0
    )
    decoupled = load_checkpoint(lws)[1]
    assert (
        decoupled.provenance.decoupled == "lws" and json.loads((tmp_path / "lws.json").read_text())["num_samples"] == 28
    )
    assert decoupled.post_hoc_tau == -0.5  # stored for scoring: half the training prior put back
    printed = json.loads((tmp_path / "lws.json").read_text())  # through what prediction runs, with that tau
    assert decoupled.figures["accuracy"] == pytest.approx(printed["accuracy"], abs=1e-9)
    assert decoupled.figures["mean_class_accuracy"] == pytest.approx(printed["mean_class_accuracy"], abs=1e-9)
    assert decoupled.recipe["decouple"] == {**decoupled.recipe["decouple"], "method": "lws", "epochs": 2}
    assert main(["models", "vgg*"]) == 0 and "vgg_compact_s" in capsys.readouterr().out
    assert main(["models", "nothing*"]) == 0 and "none matches 'nothing*'" in capsys.readouterr().out
    # a second run into the same folder would overwrite work: refused
    assert main(train_args(toy_recipe, out)) == 2


def test_the_console_shows_one_line_per_epoch_and_nothing_with_quiet(toy_recipe, tmp_path):
    talk = cli(*train_args(toy_recipe, tmp_path / "talk", "schedule.epochs=2", "eval.select_metric=accuracy"))
    quiet = cli("-q", *train_args(toy_recipe, tmp_path / "quiet", "schedule.epochs=1"))
    lines = [line for line in talk.communicate()[0].splitlines() if line.startswith("bfer: toy epoch")]
    assert talk.returncode == 0 and len(lines) == 2, lines
    assert lines[0].startswith("bfer: toy epoch 1/2 (") and "val accuracy" in lines[0] and "MCA" in lines[0]
    assert "worst class " in lines[1] and "best so far: epoch " in lines[1] and "(accuracy " in lines[1]
    output = quiet.communicate()[0]
    assert quiet.returncode == 0 and "bfer: toy epoch" not in output


def test_resume_after_sigkill_gives_the_uninterrupted_weights(toy_recipe, tmp_path):
    """With a moving average of the weights on, so that its state is resumed too."""
    straight = cli(*train_args(toy_recipe, tmp_path / "a", "optim.ema=0.9"))
    assert straight.wait(timeout=300) == 0, straight.stdout.read()
    killed = cli(*train_args(toy_recipe, tmp_path / "b", "optim.ema=0.9"))
    metrics = tmp_path / "b" / "metrics.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and (not metrics.exists() or len(metrics.read_text().splitlines()) < 2):
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert len(metrics.read_text().splitlines()) < 4, "the run finished before it could be killed"
    partial = tmp_path / "b" / ".best.safetensors.k1ll3d"  # what a kill during save_checkpoint leaves
    partial.write_bytes(b"half a checkpoint")
    resumed = cli(*train_args(toy_recipe, tmp_path / "b", "optim.ema=0.9"), "--resume")
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    assert "resuming" in output
    assert not partial.exists() and f"removed {partial}" in output
    a, b = (load_checkpoint(tmp_path / run / "last.safetensors")[0] for run in ("a", "b"))
    kept = [k for k in a if k.startswith(("model.", "ema."))]
    assert any(k.startswith("ema.") for k in kept) and a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in kept)
    assert [json.loads(r)["epoch"] for r in metrics.read_text().splitlines()] == [1, 2, 3, 4]


@pytest.mark.skipif(not runs_bf16_natively(torch.device("cpu")), reason="this CPU has no native bf16")
def test_amp_trains_in_bf16_on_a_cpu_that_runs_it_natively(toy_recipe, tmp_path):
    runs = {}
    for amp in ("true", "false"):
        assert main(train_args(toy_recipe, tmp_path / amp, f"amp={amp}", "schedule.epochs=2")) == 0
        rows = [json.loads(line) for line in (tmp_path / amp / "metrics.jsonl").read_text().splitlines()]
        assert rows[-1]["train_loss"] < rows[0]["train_loss"], amp
        runs[amp] = weights(tmp_path / amp / "last.safetensors")
    assert any(not torch.equal(runs["true"][k], runs["false"][k]) for k in runs["true"])  # bf16 rounding


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp_on_cpu(toy_recipe, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = tmp_path / "ddp"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(_free_port()),
            "-m",
            "balanced_fer.cli",
            *train_args(toy_recipe, out, "schedule.epochs=2"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "final.safetensors").is_file()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_curves_count_whole_epochs_on_the_x_axis():
    row = {"train_loss": 1.0, "val_accuracy": 0.5, "val_mean_class_accuracy": 0.4, "val_macro_f1": 0.3}
    figure = curves_figure([{"epoch": 1, **row}, {"epoch": 2, **row}], "two epochs")
    figure.canvas.draw()  # an Agg canvas of its own: ticks are placed
    for axes in figure.axes:
        ticks = [t for t in axes.get_xticks() if axes.get_xlim()[0] <= t <= axes.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_an_ema_of_the_weights_is_what_is_validated_and_saved(toy_recipe, tmp_path):
    out = tmp_path / "ema"
    assert main(train_args(toy_recipe, out, "optim.ema=0.9", "eval.select_metric=last")) == 0
    state, _ = load_checkpoint(out / "last.safetensors")
    final, _ = load_checkpoint(out / "final.safetensors")
    raw = {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
    averaged = {k[len("ema.module.") :]: v for k, v in state.items() if k.startswith("ema.module.")}
    weight = next(k for k in raw if k.endswith("weight") and raw[k].ndim == 4)
    assert torch.equal(final[weight], averaged[weight]) and not torch.equal(final[weight], raw[weight])
    assert main(train_args(toy_recipe, tmp_path / "bad", "optim.ema=1.0")) == 2
