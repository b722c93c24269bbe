"""The command line: one-line errors for bad input, analysis output, doctor."""

import json

import numpy as np
import pytest
import soundfile as sf


def _bad_inputs(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("these are my notes, not audio\n" * 50)
    image = tmp_path / "cover.wav"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.wav"
    sf.write(truncated, np.zeros(44100 * 3, np.float32) + 0.1, 44100)
    truncated.write_bytes(truncated.read_bytes()[: 44100 * 2])
    no_samples = tmp_path / "nosamples.wav"
    sf.write(no_samples, np.zeros((0,), np.float32), 44100)
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 50000, dtype=np.uint8).tobytes())
    return {
        "missing": tmp_path / "nope.wav",
        "directory": tmp_path,
        "empty": empty,
        "text": text,
        "image": image,
        "truncated": truncated,
        "no samples": no_samples,
        "corrupt": corrupt,
    }


@pytest.mark.slow
def test_bad_input_gives_one_line_error(tmp_path, run_cli):
    for problem, path in _bad_inputs(tmp_path).items():
        result = run_cli("analyze", path)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1, (problem, result.stderr)
        assert len(lines) == 1, (problem, result.stderr)
        assert lines[0].startswith(f"mvgen: error: {path}:"), (problem, lines[0])
        assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.slow
def test_analyze_prints_and_writes_json(tmp_path, run_cli, synth_track):
    from mvgen.media.audio import write_audio

    y, truth = synth_track(["future_house"], seed=8)
    path = tmp_path / "track.wav"
    write_audio(path, y, 22050)
    out = tmp_path / "analysis.json"
    result = run_cli("analyze", path, "--json", out)
    assert result.returncode == 0, result.stderr
    assert f"{truth.tempo_bpm:.2f} bpm" in result.stdout
    assert "drop" in result.stdout
    data = json.loads(out.read_text())
    assert data["tempo_bpm"] == pytest.approx(truth.tempo_bpm, rel=1e-3)
    assert len(data["beats_s"]) > 50


@pytest.mark.slow
def test_synth_writes_audio_and_truth(tmp_path, run_cli):
    out = tmp_path / "song.wav"
    result = run_cli("synth", out, "-g", "deep_house", "-g", "future_house=0.7,bass_house=0.3", "--seed", "3", "--bars-scale", "0.25", "--mono")
    assert result.returncode == 0, result.stderr
    info = sf.info(out)
    truth = json.loads(out.with_suffix(".json").read_text())
    assert info.channels == 1 and info.duration == pytest.approx(truth["duration_s"], abs=0.01)
    assert truth["beats_s"] and truth["sections"]
    bad = run_cli("synth", tmp_path / "x.wav", "-g", "trance")
    assert bad.returncode == 1 and "trance" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_doctor(run_cli):
    ok = run_cli("doctor")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for name in ("torch", "nnAudio", "diffusers", "cuda", "ffmpeg", "classifier", "cache"):
        assert name in ok.stdout
    broken = run_cli("doctor", env={"MVGEN_FFMPEG": "/nonexistent/ffmpeg"})
    assert broken.returncode == 1
    assert "ffmpeg" in broken.stderr
    no_model = run_cli("doctor", env={"MVGEN_MODELS_DIR": "/nonexistent"})
    assert no_model.returncode == 1 and "classifier" in no_model.stderr
    assert "MVGEN_MODELS_DIR" in no_model.stdout


@pytest.mark.parametrize(
    "args,flag",
    [
        (["--size", "10"], "size"), (["--fps", "0"], "fps"), (["--aspect", "3:2"], "aspect"), (["--start", "-1"], "start"),
        (["--end", "0"], "end"), (["--clip", "-3"], "clip"), (["--teaser", "-3"], "teaser"), (["--detail", "2"], "detail"),
        (["--renderer", "paint"], "renderer"), (["--diffusion-size", "5"], "diffusion-size"), (["--steps", "0"], "steps"),
        (["--method", "paint"], "method"), (["--end-card", "-1"], "end-card"), (["--palette-from-cover"], "palette-from-cover"),
        (["--loudness", "3"], "loudness"), (["--preview-loop", "mov"], "preview-loop"),
    ],
)
def test_a_bad_render_option_is_named_by_its_flag(tmp_path, args, flag):
    """Each bad value is one line naming the flag given (flag_name: the field's name, less its unit,
    hyphenated), before anything is read or written; a check across options is its message alone."""
    from typer.testing import CliRunner

    from mvgen.cli import app

    result = CliRunner(env={"MVGEN_DEBUG": None}).invoke(app, ["render", str(tmp_path / "t.wav"), *args])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith(f"mvgen: error: --{flag}: "), result.stderr
    assert list(tmp_path.iterdir()) == []


def test_render_option_clashes_are_one_line(tmp_path):
    from typer.testing import CliRunner

    from mvgen.cli import app

    runner = CliRunner(env={"MVGEN_DEBUG": None})
    for args, message in ((["--clip", "15", "--teaser", "30"], "--teaser 30 is the old name of --clip 15; give one of them"),
                          (["--teaser", "15", "--start", "2"], "a clip (clip_s, --clip) picks its own window; give it without start_s/end_s (--start/--end)"),
                          (["--end-card", "-1"], "--end-card: Input should be greater than or equal to 0")):
        result = runner.invoke(app, ["render", str(tmp_path / "t.wav"), *args])
        assert result.exit_code == 1 and result.stderr.strip().splitlines() == [f"mvgen: error: {message}"], result.stderr
