"""A label's own taxonomy, end to end: three classes the bundled model never heard (drum & bass,
hardstyle, reggae, made by ``mvgen synth``), a head-only model trained on them from the bundled
backbone, its held-out accuracy, and the new names in the analysis JSON, the timeline, the styles
and a render."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mvgen.media.audio import write_audio

CLASSES = ("drum_and_bass", "hardstyle", "reggae")
#: Seeds per class: training tracks and held-out tracks (other seeds, never seen in training).
TRAIN_SEEDS = range(8)
HELD_OUT_SEEDS = range(500, 504)
CLIP_S = 16.0
SR = 22050


def _write_clips(folder, rows, styles, seeds, label_of):
    from mvgen import synth

    for style in styles:
        for seed in seeds:
            audio, _ = synth.render_clip(style, seed=seed, sr=SR, duration_s=CLIP_S, label="drop")
            name = f"{style}-{seed}.wav"
            write_audio(folder / name, audio, SR)
            rows.append(f"{name},{label_of(style)}")


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """``labels.csv`` (hard labels; house tracks and noise as ``other``) and ``held_out.csv``."""
    from mvgen.training import negatives

    folder = tmp_path_factory.mktemp("catalogue")
    rows = ["path,label"]
    _write_clips(folder, rows, CLASSES, TRAIN_SEEDS, lambda style: style)
    _write_clips(folder, rows, ("tech_house", "bigroom", "deep_house"), range(3), lambda style: "other")
    for seed in range(3):
        write_audio(folder / f"noise-{seed}.wav", negatives.negative_clip("noise", seed, sr=SR, duration_s=CLIP_S), SR)
        rows.append(f"noise-{seed}.wav,other")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    held = ["path,label"]
    _write_clips(folder, held, CLASSES, HELD_OUT_SEEDS, lambda style: style)
    (folder / "held_out.csv").write_text("\n".join(held) + "\n")
    return folder


@pytest.fixture(scope="module")
def model(catalogue, tmp_path_factory):
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("model") / "mine"
    result = subprocess.run([sys.executable, "-m", "mvgen", "train", str(catalogue / "labels.csv"), "--out", str(out), "--from", "default",
                             "--head-only", "--no-negatives", "--cv", "3"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "3-fold cross-validation top-1" in result.stdout and "drum_and_bass, hardstyle, reggae (+ other)" in result.stdout
    return out


@pytest.mark.slow
def test_head_only_model_learns_new_classes(model, catalogue, run_cli, tmp_path):
    config = json.loads((model / "config.json").read_text())
    assert config["labels"] == list(CLASSES) and config["out_of_scope"] and config["temperature"] > 0
    report_path = tmp_path / "report.json"
    evaluated = run_cli("eval", catalogue / "held_out.csv", "--classifier", model, "--json", report_path)
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(report_path.read_text())
    assert report["labels"] == [*CLASSES, "other"] and report["n"] == len(CLASSES) * len(HELD_OUT_SEEDS) * 4
    assert report["top1_accuracy"] >= 0.9, report


@pytest.mark.slow
def test_new_names_in_analysis_timeline_styles_and_render(model, catalogue, run_cli, tmp_path):
    from mvgen.style.styles import load_style_file
    from tests.videos import rgb_frames

    track = catalogue / f"reggae-{HELD_OUT_SEEDS[0]}.wav"
    analysis_path = tmp_path / "a.json"
    analyzed = run_cli("analyze", track, "--classifier", model, "--json", analysis_path)
    assert analyzed.returncode == 0, analyzed.stderr
    profile = json.loads(analysis_path.read_text())["genre_profile"]
    assert profile["labels"] == list(CLASSES)
    shares = np.mean(profile["probabilities"], axis=0)
    assert CLASSES[int(np.argmax(shares))] == "reggae" and np.mean(profile["in_scope"]) > 0.5

    timeline = run_cli("timeline", track, "--classifier", model, "--png", tmp_path / "t.png")
    assert timeline.returncode == 0, timeline.stderr
    assert "Reggae" in timeline.stdout

    styles = tmp_path / "styles"
    init = run_cli("styles", "init", styles, "--classifier", model)
    assert init.returncode == 0, init.stderr
    assert sorted(p.name for p in styles.iterdir()) == sorted(f"{k}.yaml" for k in (*CLASSES, "other"))
    assert load_style_file(styles / "reggae.yaml")["genre"] == "reggae"
    # The label's reggae look: pure green light on black.
    (styles / "reggae.yaml").write_text("palette:\n  colors: ['#00ff00', '#00e000', '#00c000']\n  background: '#000000'\n")
    (styles / "bigroom.yaml").write_text("name: Big\n")
    refused = run_cli("render", track, "--classifier", model, "--styles", styles, "-o", tmp_path / "no.mp4")
    assert refused.returncode == 1 and "(allowed: drum_and_bass, hardstyle, reggae, other)" in refused.stderr
    (styles / "bigroom.yaml").unlink()

    video = tmp_path / "reggae.mp4"
    rendered = run_cli("render", track, "--classifier", model, "--styles", styles, "--start", "6", "--end", "8", "--size", "96", "--aspect", "1:1", "-o", video)
    assert rendered.returncode == 0, rendered.stderr
    frames = rgb_frames(video, 96, 96).astype(np.float64)
    red, green, blue = (frames[..., c].mean() for c in range(3))
    assert green > 2 * red and green > 2 * blue, (red, green, blue)
