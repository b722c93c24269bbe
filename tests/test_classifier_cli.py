"""The user's path through the classifier: label a few tracks in a CSV, train, evaluate, analyze, timeline."""

import json

import numpy as np
import pytest

from mvgen.genres import GENRES


@pytest.fixture(scope="module")
def labelled(tmp_path_factory, synth_track):
    from mvgen.media.audio import write_audio

    folder = tmp_path_factory.mktemp("labelled")
    rows = ["path," + ",".join(GENRES) + ",drop_start_s,drop_end_s"]
    for i, genre in enumerate(["deep_house", "bigroom", "deep_house", "bigroom"]):
        y, truth = synth_track([genre], seed=40 + i, bars_scale=0.25)
        write_audio(folder / f"t{i}.wav", y, 22050)
        weights = ",".join("1" if g == genre else "0" for g in GENRES)
        start, end = truth.drops[0]
        rows.append(f"t{i}.wav,{weights},{start:.3f},{end:.3f}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.mark.slow
def test_train_eval_analyze_timeline(labelled, run_cli, tmp_path):
    out = tmp_path / "model"
    trained = run_cli("train", labelled / "labels.csv", "--out", out, "--epochs", "1", "--batch-size", "4", "--no-negatives")
    assert trained.returncode == 0, trained.stderr
    assert (out / "best" / "model.safetensors").is_file() and (out / "checkpoint" / "state.json").is_file()
    assert "epoch 1" in trained.stderr

    report_path = tmp_path / "report.json"
    evaluated = run_cli("eval", labelled / "labels.csv", "--model", out / "best", "--json", report_path)
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(report_path.read_text())
    assert report["n"] == 16  # 4 tracks x 1 drop x 4 clips
    assert 0.0 <= report["top1_accuracy"] <= 1.0 and len(report["confusion"]) == 9  # the classes and "other"
    assert report["labels"][-1] == "other" and 0.0 <= report["calibration_error"] <= 1.0

    analysis_path = tmp_path / "a.json"
    analyzed = run_cli("analyze", labelled / "t0.wav", "--model", out / "best", "--json", analysis_path)
    assert analyzed.returncode == 0, analyzed.stderr
    profile = json.loads(analysis_path.read_text())["genre_profile"]
    assert profile["labels"] == list(GENRES)
    np.testing.assert_allclose(np.sum(profile["probabilities"], axis=1), 1.0, atol=1e-3)
    assert len(profile["in_scope"]) == len(profile["times_s"]) and all(0.0 <= c <= 1.0 for c in profile["in_scope"])

    png = tmp_path / "t0.png"
    drawn = run_cli("timeline", labelled / "t0.wav", "--model", out / "best", "--png", png)
    assert drawn.returncode == 0, drawn.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "drop" in drawn.stdout


@pytest.mark.slow
def test_bad_labels_are_one_line_errors(tmp_path, run_cli):
    bad = tmp_path / "labels.csv"
    bad.write_text("missing.wav,1,0,0,0,0,0,0,0\n")
    result = run_cli("train", bad, "--out", tmp_path / "m")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"mvgen: error: {tmp_path / 'missing.wav'}: file not found"]
