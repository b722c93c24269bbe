"""Platform presets: every preset's output probed (ffprobe and ffmpeg alone agree), length caps,
size caps, the checks failing on files that break them, `mvgen formats list`, batch manifests.

The whole file: 34 s on this 2-core machine when quiet (renders of 90 frames at 64 px, so a render
is mostly fixed costs); several times that while other jobs share the cores."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess

import numpy as np
import pytest

from mvgen.analysis.track import Analysis, AudioSummary, Drop, analyze
from mvgen.media.assemble import ChunkWriter, mux, probe_media
from mvgen.media.audio import write_audio
from mvgen.media.ffmpeg import ffmpeg_exe
from mvgen.errors import MvgenError
from mvgen.delivery.formats import PRESETS, check_preset, encodings, get_preset, length_warning
from mvgen.settings import RenderSettings
from mvgen.workspace import default_output
from mvgen.pipeline import render_video
from mvgen.clips import clip_window
from tests.videos import audio_lag_samples

HAS_FFPROBE = shutil.which("ffprobe") is not None
#: Test renders keep the presets' encoding, length and audio but draw this short side (the picture check reports it).
TINY_PX = 64


def _span(window) -> tuple[float, float]:
    return window.start_s, window.end_s


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    """A 42 s synthetic house track as full-band 44.1 kHz stereo (what users upload; drops at 11.5 s and 30.7 s)."""
    from mvgen import synth

    arrangement = synth.default_arrangement(["future_house"], seed=21, bars_scale=0.25)
    audio, _ = synth.render(arrangement, seed=21, sr=44100, stereo=True)
    path = tmp_path_factory.mktemp("formats") / "track.wav"
    write_audio(path, np.asarray(audio, np.float32), 44100)
    return path


@pytest.fixture(scope="module")
def analysis(track):
    return analyze(track, use_cache=False)


def _probes(path):
    """The file probed with ffmpeg alone and, where there is one, with ffprobe; both must agree."""
    alone = probe_media(path, tool="ffmpeg")
    if HAS_FFPROBE:
        assert probe_media(path, tool="ffprobe") == alone
    return alone


def _check(path, preset, probe):
    checks = {c.name: c for c in check_preset(path, preset, probe)}
    # a tiny test render: the picture is the one thing that differs from the preset, and the check says so
    assert not checks.pop("picture").passed
    failed = [c for c in checks.values() if not c.passed]
    assert not failed, failed
    return checks


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_encodes_to_its_upload_spec(track, analysis, tmp_path, name):
    preset = PRESETS[name]
    settings = RenderSettings(format=name, size=TINY_PX, start_s=9.0, end_s=12.0, detail=0.5, compile=False)
    out = render_video(track, tmp_path / "v.mp4", settings, analysis=analysis)
    m = _probes(out)
    assert (m.width, m.height) == settings.frame_size() and settings.aspect == preset.aspect
    assert m.video_codec == "h264" and m.video_profile == "High" and m.pix_fmt == "yuv420p"
    assert m.n_frames == 90 and m.fps == preset.fps == 30.0
    assert m.gop_lengths == (15,) * 6 and m.closed_gops  # half the frame rate, every GOP
    assert m.max_b_frames == 2 and "BB" in m.picture_types
    assert m.faststart
    if preset.has_audio:
        assert (m.audio_codec, m.audio_profile, m.sample_rate_hz, m.channels) == ("aac", "LC", 48000, 2)
        assert 0.9 * preset.audio_kbps <= m.audio_bitrate_bps / 1000 <= 1.1 * preset.audio_kbps
        assert abs(m.audio_duration_s - 3.0) < 0.03
        # no edit list hides the encoder's priming: the audio is cut to match it, so the music stays on the frames
        assert abs(audio_lag_samples(out, track, 9.0)) <= 48  # 1 ms
    else:
        assert m.audio_codec is None and m.audio_packets == ()
    _check(out, preset, m)


def test_canvas_is_a_loop_of_whole_bars_from_the_drop_without_audio(track, analysis, tmp_path):
    settings = RenderSettings(format="canvas", size=TINY_PX, detail=0.5, compile=False)
    assert settings.loop and not settings.branding.overlay  # a seamless loop, no text or logo (Spotify's policy)
    start_s, end_s = _span(clip_window(analysis, settings))
    bar_s = 60.0 / analysis.tempo_bpm * analysis.beats_per_bar
    bars = (end_s - start_s) / bar_s
    assert 3.0 <= end_s - start_s <= 8.0 and bars == pytest.approx(round(bars), abs=0.01) and start_s <= analysis.drops[0].start_s < end_s
    out = render_video(track, tmp_path / "c.mp4", settings, analysis=analysis)
    m = _probes(out)
    n_frames = round((end_s - start_s) * settings.fps)
    assert m.n_frames == n_frames and m.duration_s == pytest.approx(n_frames / settings.fps, abs=0.01) and m.audio_codec is None
    checks = _check(out, PRESETS["canvas"], m)
    assert f"{n_frames / settings.fps:.3f} s" in checks["length"].why
    assert default_output(track, settings).name == "track-canvas.mp4"


def test_bundled_ffmpeg_encodes_the_same_spec(track, analysis, tmp_path, monkeypatch):
    """The imageio-ffmpeg wheel (ffmpeg 9, no ffprobe) encodes Canvas (no audio) to the spec, and its
    ffmpeg-only probe reads the same as Debian's ffprobe 5.1."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    monkeypatch.setenv("MVGEN_FFMPEG", imageio_ffmpeg.get_ffmpeg_exe())
    assert ffmpeg_exe() == imageio_ffmpeg.get_ffmpeg_exe()
    out = render_video(track, tmp_path / "c.mp4", RenderSettings(format="canvas", size=TINY_PX, start_s=9.0, end_s=12.0, detail=0.5, compile=False), analysis=analysis)
    m = _probes(out)
    assert m.gop_lengths == (15,) * 6 and m.closed_gops and m.max_b_frames == 2 and m.audio_codec is None and m.video_profile == "High"
    _check(out, PRESETS["canvas"], m)


def _long_analysis(duration_s: float, drop_s: float) -> Analysis:
    beats = np.arange(0.0, duration_s, 60.0 / 128.0)
    return Analysis(audio=AudioSummary(path="/music/long.wav", content_hash="0" * 64, sr=44100, channels=2, duration_s=duration_s),
                    duration_s=duration_s, tempo_bpm=128.0, beats_s=beats.round(4).tolist(), downbeats_s=beats[::4].round(4).tolist(),
                    drops=[Drop(start_s=drop_s, end_s=drop_s + 30.0)])


@pytest.mark.parametrize("name, length_s", [("shorts", 60.0), ("x", 140.0), ("canvas", 8.0), ("reels", 200.0), ("youtube", 200.0)])
def test_length_caps_take_a_window_with_the_drop(name, length_s):
    """A 200 s track at 128 bpm: the capped formats render a window of whole bars, the most that fit
    their cap (mvgen.clips), around the first drop (at 150 s); the others the whole track."""
    analysis = _long_analysis(200.0, 150.0)
    start_s, end_s = _span(clip_window(analysis, RenderSettings(format=name)))
    bar_s = 4 * 60.0 / 128.0
    assert length_s - bar_s < end_s - start_s <= length_s + 1e-6 and start_s <= 150.0 <= end_s
    if length_s < 200.0:
        assert (end_s - start_s) / bar_s == pytest.approx(round((end_s - start_s) / bar_s), abs=1e-3)


def test_an_excerpt_past_the_default_cap_is_warned_about():
    """A Short may run to 180 s when an excerpt asks for it, but over 60 s a Content ID claim blocks it: said."""
    shorts = PRESETS["shorts"]
    assert length_warning(shorts, 60.0) is None and length_warning(PRESETS["youtube"], 3000.0) is None
    warning = length_warning(shorts, 90.0)
    assert warning.startswith("90.0 s is over the shorts format's 60 s") and "Content ID" in warning


def test_length_rules_of_excerpts():
    analysis = _long_analysis(200.0, 150.0)
    assert _span(clip_window(analysis, RenderSettings(format="shorts", start_s=30.0))) == (30.0, 90.0)  # cut at the cap
    assert _span(clip_window(analysis, RenderSettings(format="shorts", end_s=150.0))) == (0.0, 150.0)  # asked for: up to 180 s
    with pytest.raises(ValueError, match="190 s is longer than the shorts format allows"):
        RenderSettings(format="shorts", end_s=190.0)
    with pytest.raises(ValueError, match="2 s is shorter than the canvas format needs"):
        RenderSettings(format="canvas", clip_s=2.0)
    with pytest.raises(MvgenError, match="needs at least 3 s"):  # a loop of the canvas format
        _span(clip_window(_long_analysis(2.5, 1.0), RenderSettings(format="canvas")))


def test_a_size_cap_bounds_the_bitrate_even_on_noise(tmp_path):
    """Random noise is the worst case for the encoder: uncapped, 8 s of it far exceed a 120 kB cap; the
    bitrate the cap derives keeps it under, and a result over the cap is refused, not written."""
    preset = dataclasses.replace(PRESETS["canvas"], max_file_bytes=120_000)
    width, height, fps, n = 64, 114, 30.0, 240
    frames = np.random.default_rng(0).integers(0, 256, (n, height, width, 3), dtype=np.uint8)
    sizes = {}
    for capped in (False, True):
        video, audio, max_bytes = encodings(preset if capped else None, fps, n / fps, 1)
        assert (video.maxrate_kbps is not None) == capped
        with ChunkWriter(tmp_path / f"c{capped}.mp4", width, height, fps, encoding=video) as writer:
            writer.write(frames)
        out = mux([tmp_path / f"c{capped}.mp4"], "unused.wav", 0.0, n, fps, tmp_path / f"v{capped}.mp4", audio=None, max_bytes=max_bytes)
        sizes[capped] = out.stat().st_size
    assert sizes[False] > 3 * preset.max_file_bytes and sizes[True] <= preset.max_file_bytes, sizes
    with pytest.raises(MvgenError, match="over the format's cap of 1000 bytes"):
        mux([tmp_path / "cTrue.mp4"], "unused.wav", 0.0, n, fps, tmp_path / "over.mp4", audio=None, max_bytes=1000)
    assert not list(tmp_path.glob("*over*"))


def _lavfi(tmp_path, name, *x264):
    out = tmp_path / name
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=64x36:r=30:d=3", "-f", "lavfi", "-i", "sine=f=440:r=44100:d=3",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", *x264, "-c:a", "aac", "-b:a", "128k", "-ac", "1", str(out)], check=True)
    return out


def test_checks_fail_on_files_that_break_the_spec(tmp_path):
    """ffmpeg's defaults (GOP 250, up to 3 adaptive B-frames, mono 128k at 44.1 kHz, moov at the end)
    and an open GOP are caught, the same by both probes."""
    plain = _lavfi(tmp_path, "plain.mp4", "-profile:v", "main")
    m = _probes(plain)
    failed = {c.name for c in check_preset(plain, PRESETS["x"], m) if not c.passed}
    assert {"faststart", "video codec", "picture", "GOP", "audio", "audio bitrate"} <= failed
    assert m.gop_lengths == (90,) and m.channels == 1 and m.sample_rate_hz == 44100 and not m.faststart
    opened = _lavfi(tmp_path, "open.mp4", "-g", "15", "-bf", "3", "-b_strategy", "0", "-x264-params", "open-gop=1:scenecut=0")
    m = _probes(opened)
    assert not m.closed_gops and m.max_b_frames == 3
    failed = {c.name for c in check_preset(opened, PRESETS["x"], m) if not c.passed}
    assert {"GOP", "B-frames"} <= failed


def test_presets_and_settings():
    assert RenderSettings(format="instagram-feed").frame_size() == (1080, 1350)
    assert RenderSettings(format="canvas").frame_size() == (608, 1080)  # 9:16, 1080 px tall: Spotify's 720-1080
    assert RenderSettings(format="youtube-2160").frame_size() == (3840, 2160)
    assert RenderSettings(format="x").frame_size() == (1280, 720)
    assert RenderSettings(aspect="4:5", size=64).frame_size() == (64, 80)
    for name, preset in PRESETS.items():
        assert RenderSettings(format=name).frame_size() == (preset.width_px, preset.height_px)
        assert preset.gop_frames == 15
    assert not PRESETS["canvas"].has_audio and not PRESETS["canvas"].allows_text and PRESETS["canvas"].loop
    settings = RenderSettings(format="shorts", size=TINY_PX)
    assert RenderSettings.model_validate(settings.model_dump()) == settings  # a saved work manifest reads back
    assert default_output("/m/track.wav", settings).name == "track-shorts.mp4"
    with pytest.raises(ValueError, match=r"aspect 16:9 differs from the shorts format's 9:16"):
        RenderSettings(format="shorts", aspect="16:9")
    with pytest.raises(MvgenError, match=r"unknown format 'vine' \(formats: youtube, youtube-2160, shorts, reels, tiktok, instagram-feed, square, x, canvas\)"):
        get_preset("vine")
    # the size cap: Canvas's 8 MB over 8 s in one chunk leaves about 6.9 Mbit/s of video
    video, audio, max_bytes = encodings(PRESETS["canvas"], 30.0, 8.0, 1)
    assert audio is None and max_bytes == 8_000_000 and 6_000 < video.maxrate_kbps < 8_000_000 * 8 / 1000 / 8
    assert encodings(PRESETS["x"], 30.0, 140.0, 18)[0].maxrate_kbps < 25_000  # 512 MB bind at 140 s before X's 25 Mbit/s


def test_formats_list_and_unknown_format_on_the_command_line(tmp_path, run_cli):
    listed = run_cli("formats", "list", env={"COLUMNS": "300"})
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:] if line.strip() and line.split()[0] in PRESETS}
    assert set(rows) == set(PRESETS)
    assert "1080x1350 (4:5)" in rows["instagram-feed"] and "384 kbit/s" in rows["youtube"] and "max 8 Mbit/s" in rows["shorts"]
    assert "608x1080 (9:16)" in rows["canvas"] and "3-8 s" in rows["canvas"] and "none" in rows["canvas"] and "8 MB" in rows["canvas"]
    assert "0.5-140 s" in rows["x"] and "512 MB" in rows["x"]
    failed = run_cli("render", tmp_path / "t.wav", "--format", "vine")
    assert failed.returncode == 1 and failed.stderr.strip() == (
        "mvgen: error: --format: format 'vine' is not one of: youtube, youtube-2160, shorts, reels, tiktok, instagram-feed, square, x, canvas")
    clash = run_cli("render", tmp_path / "t.wav", "--format", "shorts", "--fps", "60")
    assert clash.returncode == 1 and "--fps: --format shorts sets it" in clash.stderr


def test_batch_manifests_name_presets(tmp_path):
    from mvgen.batch import load_manifest

    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "m.yaml").write_text('name: "{track}_{format}_{aspect}_{size}.mp4"\n'
                                     "formats:\n  wide: {size: 64}\n  short: {preset: shorts, size: 64}\n"
                                     "tracks:\n  - path: a.wav\n  - path: a.wav\n    formats: [canvas]\n    clips: [full]\n")
    _, jobs = load_manifest(tmp_path / "m.yaml")
    got = {os.path.basename(j.output): (j.settings.format, j.settings.frame_size()) for j in jobs}
    assert got == {"a_wide_16x9_64.mp4": (None, (114, 64)), "a_short_9x16_64.mp4": ("shorts", (64, 114)), "a_canvas_9x16_608.mp4": ("canvas", (608, 1080))}
    (tmp_path / "m.yaml").write_text("formats:\n  s: {preset: vine}\n  t: {preset: shorts, fps: 60}\nclips:\n  long: {length_s: 200}\n"
                                     "tracks:\n  - path: a.wav\n    formats: [canvas]\n    clips: [long]\n")
    with pytest.raises(MvgenError) as info:
        load_manifest(tmp_path / "m.yaml")
    lines = str(info.value).splitlines()
    assert any("formats.s: preset 'vine' is not one of: youtube," in line for line in lines), lines
    assert any("formats.t: fps 60.0 differs from the shorts format's 30.0" in line for line in lines), lines
    assert any("format canvas, clip long: 200 s is longer than the canvas format allows (8 s)" in line for line in lines), lines
