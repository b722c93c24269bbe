"""`mvgen render` end to end: real frames, real encodes, probed output, beat sync, resume."""

import json
import subprocess

import numpy as np
import pytest

from mvgen import assemble
from mvgen.analysis import analyze
from mvgen.assemble import probe_video
from mvgen.audio import ffmpeg_exe, write_audio
from mvgen.render import RenderSettings, StaleWorkError, render_video
from tests.videos import gray_frames, interrupt_then_resume

FPS = 30.0


@pytest.fixture(scope="module")
def track(tmp_path_factory, synth_track):
    y, truth = synth_track(["future_house"], seed=21, bars_scale=0.25)
    path = tmp_path_factory.mktemp("render") / "track.wav"
    write_audio(path, y, 22050)
    return path


@pytest.mark.slow
def test_excerpt_is_frame_exact_and_synced(track, tmp_path):
    settings = RenderSettings(size=90, fps=FPS, start_s=4.0, end_s=14.0, chunk_frames=100)
    video = render_video(track, tmp_path / "v.mp4", settings)
    info = probe_video(video)
    assert (info["width"], info["height"], info["fps"]) == (160, 90, FPS)
    assert info["video_codec"] == "h264" and info["pix_fmt"] == "yuv420p" and info["audio_codec"] == "aac"
    assert info["colour"] == "tv, bt709"  # the renderer's own Y'CbCr, tagged, through concatenation and mux
    assert info["n_frames"] == 300
    assert abs(info["duration_s"] - 10.0) <= 1.0 / FPS + 0.01
    assert not (tmp_path / ".v.mp4.work").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]

    # Sync: around every beat the brightest frame is the beat's frame (within one frame).
    brightness = gray_frames(video, 160, 90).mean(axis=(1, 2))
    analysis = analyze(track)
    beats = [b for b in analysis.beats_s if 4.2 <= b <= 13.8]
    assert len(beats) >= 15
    for beat in beats:
        k = int(round((beat - 4.0) * FPS))
        peak = k - 3 + int(np.argmax(brightness[k - 3 : k + 4]))
        assert abs(peak - k) <= 1, (beat, brightness[k - 3 : k + 4])


@pytest.mark.slow
def test_resume_after_interruption_gives_the_same_video(track, tmp_path):
    settings = RenderSettings(size=64, fps=FPS, start_s=2.0, end_s=8.0, chunk_frames=50)
    whole = render_video(track, tmp_path / "whole.mp4", settings)

    resumed = interrupt_then_resume(track, tmp_path / "resumed.mp4", settings, after_frames=120)
    assert probe_video(resumed)["n_frames"] == probe_video(whole)["n_frames"] == 180
    np.testing.assert_array_equal(gray_frames(resumed, 114, 64), gray_frames(whole, 114, 64))


@pytest.mark.slow
def test_resume_refuses_work_made_otherwise(track, tmp_path, monkeypatch):
    """Chunks made with other settings, or by other encoder settings (an upgrade between the
    interruption and --resume), are never joined to new ones: stream copy needs them identical."""
    settings = RenderSettings(size=64, fps=FPS, end_s=4.0, chunk_frames=30)
    out = tmp_path / "v.mp4"

    def interrupt(done, total):
        if done >= 40:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_video(track, out, settings, on_progress=interrupt)
    with pytest.raises(StaleWorkError, match="other settings"):
        render_video(track, out, settings.model_copy(update={"seed": 1}), resume=True)
    monkeypatch.setattr(assemble, "VIDEO_CODEC", [*assemble.VIDEO_CODEC[:-len(assemble.COLOUR_TAGS)]])
    with pytest.raises(StaleWorkError, match="other settings"):
        render_video(track, out, settings, resume=True)
    monkeypatch.undo()
    assert probe_video(render_video(track, out, settings, resume=True))["n_frames"] == 120


@pytest.mark.slow
@pytest.mark.parametrize("aspect, size", [("9:16", (64, 114)), ("1:1", (64, 64))])
def test_aspect_presets(track, tmp_path, aspect, size):
    video = render_video(track, tmp_path / "a.mp4", RenderSettings(size=64, fps=15, aspect=aspect, end_s=2.0))
    info = probe_video(video)
    assert (info["width"], info["height"]) == size and info["n_frames"] == 30


@pytest.mark.slow
def test_teaser_is_around_the_first_drop(track, tmp_path):
    from mvgen.render import render_window

    analysis = analyze(track)
    settings = RenderSettings(size=64, fps=15, teaser_s=6.0)
    start, end = render_window(analysis, settings)
    assert end - start == pytest.approx(6.0)
    assert start <= analysis.drops[0].start_s <= end
    info = probe_video(render_video(track, tmp_path / "t.mp4", settings))
    assert info["n_frames"] == 90


@pytest.mark.slow
def test_cli_render_and_bad_input(track, tmp_path, run_cli):
    out = tmp_path / "cli.mp4"
    result = run_cli("render", track, "--out", out, "--size", "64", "--fps", "10", "--end", "3")
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout and probe_video(out)["n_frames"] == 30
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    failed = run_cli("render", bad)
    assert failed.returncode == 1 and failed.stderr.strip().splitlines() == [f"mvgen: error: {bad}: not a recognised audio file"]
    assert not list(tmp_path.glob("notes*.mp4"))


@pytest.mark.slow
def test_cli_ctrl_c_then_resume(track, tmp_path):
    """A real SIGINT to the process group (what a terminal's Ctrl-C sends) mid-render: exit 130,
    one line saying how to resume, no output file; --resume then finishes the same video."""
    import os
    import signal
    import sys
    import time

    out = tmp_path / "c.mp4"
    args = [sys.executable, "-m", "mvgen", "render", str(track), "-o", str(out), "--size", "64", "--fps", "30", "--no-compile"]
    manifest = tmp_path / ".c.mp4.work" / "manifest.json"
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads(manifest.read_text())["done"]:
                break  # a chunk is finished
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "mvgen: interrupted; run the same command with --resume to continue"
    assert not out.exists() and manifest.is_file()

    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    info = probe_video(out)
    duration_s = analyze(track).duration_s
    assert abs(info["n_frames"] - duration_s * 30) <= 1
    assert not manifest.parent.exists()
