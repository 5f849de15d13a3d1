import json

from balanced_fer.cli import main


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
    assert payload["full"][payload["class_names"].index("disgust")] == 436
    assert all(s["counts"][payload["class_names"].index("disgust")] == 3 * 436 for s in payload["subsets"])
    assert "subset 2" in capsys.readouterr().out
