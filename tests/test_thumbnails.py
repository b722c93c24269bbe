"""mvgen.delivery.deliverables: the thumbnail is the most striking frame near the drop; the loops are short, muted and endless."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from PIL import Image

from mvgen.analysis.track import Analysis, AudioSummary, Drop
from mvgen.media.assemble import ChunkWriter
from mvgen.media.ffmpeg import ffmpeg_exe
from mvgen.delivery.deliverables import (
    CANDIDATE_FPS, PREVIEW_LOOP_MAX_S, PREVIEW_LOOP_MIN_S, THUMBNAIL_MAX_BYTES, THUMBNAIL_SIZE_PX, animation_timing, best_thumbnail, decode_frames,
    drop_time_s, loop_preview, loop_window_s, striking_score, thumbnail_image,
)
from mvgen.errors import MvgenError

FPS = 10


def _dull(h, w, level=0.35):
    """A flat grey frame with a faint vertical gradient: no colour, little contrast, no detail."""
    ramp = np.linspace(level - 0.05, level + 0.05, h)[:, None, None]
    return np.broadcast_to(ramp * 255, (h, w, 3)).astype(np.uint8)


def _striking(h, w, cells=8):
    """Saturated colour bars crossed by a black-and-white checkerboard: colourful, contrasting, sharp."""
    bars = np.array([[255, 0, 0], [255, 255, 0], [0, 255, 0], [0, 255, 255], [0, 0, 255], [255, 0, 255]], np.uint8)
    frame = bars[(np.arange(w) * len(bars) // w)][None].repeat(h, axis=0).copy()
    yy, xx = np.mgrid[0:h, 0:w]
    checker = ((yy // (h // cells)) + (xx // (w // cells))) % 2 == 0
    frame[checker & (yy > h // 2)] = 0
    frame[checker & (yy <= h // 2) & (xx % 7 == 0)] = 255
    return frame


def _blown_out(h, w):
    """Nearly all white with a few pale stripes: bright, but washed out."""
    frame = np.full((h, w, 3), 252, np.uint8)
    frame[:, ::9] = (255, 200, 200)
    return frame


def _video(path, segments, width=320, height=180):
    """Encode ``segments`` [(seconds, frame)] with mvgen's own chunk writer; returns the path."""
    with ChunkWriter(path, width, height, FPS) as writer:
        for seconds, frame in segments:
            writer.write(np.repeat(frame[None], round(seconds * FPS), axis=0))
    return path


def _analysis(drop_s: float, tempo_bpm: float = 120.0, duration_s: float = 20.0) -> Analysis:
    """A 4/4 track at ``tempo_bpm`` whose bars run through its drop at ``drop_s``."""
    beat_s = 60.0 / tempo_bpm
    beats = np.arange(drop_s % (4 * beat_s), duration_s, beat_s)
    return Analysis(audio=AudioSummary(path="x.wav", content_hash="0", sr=44100, channels=2, duration_s=duration_s), duration_s=duration_s,
                    tempo_bpm=tempo_bpm, beats_s=beats.tolist(), downbeats_s=beats[::4].tolist(), drops=[Drop(start_s=drop_s, end_s=duration_s)])


def test_the_thumbnail_is_the_most_striking_candidate(tmp_path, ffmpeg):
    h, w = 180, 320
    video = _video(tmp_path / "v.mp4", [(2.0, _dull(h, w)), (0.5, _blown_out(h, w)), (1.0, _dull(h, w, 0.1)), (0.5, _striking(h, w)), (2.0, _dull(h, w))])
    thumb = best_thumbnail(video, None, tmp_path / "thumb.jpg")  # no analysis: the whole video is searched
    times_s, frames = decode_frames(video, 0.0, 6.0, CANDIDATE_FPS)
    scores = [striking_score(f) for f in frames]
    assert thumb.time_s == pytest.approx(times_s[int(np.argmax(scores))]) and thumb.score == pytest.approx(max(scores))
    assert 3.5 - 1e-6 <= thumb.time_s < 4.0  # inside the striking half-second
    # the parts of the measure rank the made-up frames as intended
    assert striking_score(_striking(h, w)) > 0.8 > 0.2 > max(striking_score(_dull(h, w)), striking_score(_blown_out(h, w)), striking_score(_dull(h, w, 0.1)))
    with Image.open(thumb.path) as image:
        assert image.format == "JPEG" and image.size == THUMBNAIL_SIZE_PX
        pixels = np.asarray(image.convert("RGB").resize((w, h), Image.Resampling.BOX), np.float32)
    assert thumb.path.stat().st_size == thumb.size_bytes <= THUMBNAIL_MAX_BYTES
    assert np.abs(pixels - _striking(h, w)).mean() < 12  # it shows that frame (JPEG and H.264 losses aside)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_only_frames_after_the_drop_are_candidates(tmp_path):
    h, w = 180, 320
    video = _video(tmp_path / "v.mp4", [(1.0, _striking(h, w)), (2.0, _dull(h, w)), (1.0, _striking(h, w)[:, ::-1] // 2 + 40), (2.0, _dull(h, w))])
    anywhere = best_thumbnail(video, None, tmp_path / "a.jpg")
    assert anywhere.time_s < 1.0
    # the track's drop at 12 s; the video shows 10 s to 16 s of it: the drop is at video time 2 s
    after_drop = best_thumbnail(video, _analysis(drop_s=12.0), tmp_path / "b.jpg", window_s=(10.0, 16.0))
    assert 3.0 - 1e-6 <= after_drop.time_s < 4.0 and after_drop.score < anywhere.score
    # a video that starts inside the drop: searched from its start; one that shows no drop: searched whole
    assert drop_time_s(_analysis(drop_s=12.0), (13.0, 19.0)) == 0.0 and drop_time_s(_analysis(drop_s=12.0), (2.0, 8.0)) is None
    assert drop_time_s(_analysis(drop_s=12.0), None) == 12.0 and drop_time_s(None, None) is None


def test_a_vertical_frame_is_shown_whole_over_a_blurred_fill(tmp_path):
    h, w = 568, 320  # 9:16
    image = np.asarray(thumbnail_image(_striking(h, w)), np.float32)
    assert image.shape == (720, 1280, 3)
    fitted_w = round(w * 720 / h)
    left = (1280 - fitted_w) // 2
    centre = Image.fromarray(image[:, left : left + fitted_w].astype(np.uint8)).resize((w, h), Image.Resampling.BOX)
    assert np.abs(np.asarray(centre, np.float32) - _striking(h, w)).mean() < 20  # the whole frame, not cropped
    side = image[:, : left - 4]
    assert 10 < side.mean() < 200 and side.std() > 5  # filled with its blurred, darkened picture: not black bars, not empty


def test_thumbnail_input_checks(tmp_path):
    with pytest.raises(MvgenError, match="must end in .jpg"):
        best_thumbnail(tmp_path / "v.mp4", None, tmp_path / "t.png")
    with pytest.raises(MvgenError, match="no such file"):
        best_thumbnail(tmp_path / "v.mp4", None, tmp_path / "t.jpg")


@pytest.mark.parametrize("kind", ["gif", "webp"])
def test_loop_is_short_muted_and_endless(tmp_path, ffmpeg, kind):
    h, w = 180, 320
    colours = [_striking(h, w), _dull(h, w), _striking(h, w)[:, ::-1], _dull(h, w, 0.6)]
    # a video with sound: the loop has none
    silent = _video(tmp_path / "v.mp4", [(0.5, colours[k % 4]) for k in range(16)])
    video = tmp_path / "av.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(silent), "-f", "lavfi", "-i", "sine=frequency=440:duration=8",
                    "-c:v", "copy", "-c:a", "aac", "-shortest", str(video)], check=True)
    analysis = _analysis(drop_s=2.0, tempo_bpm=128.0)  # 4/4 at 128 bpm: a bar is 1.875 s; the most bars in 2-5 s are 2
    preview = loop_preview(video, tmp_path / f"loop.{kind}", analysis=analysis)
    assert preview.start_s == pytest.approx(2.0) and preview.length_s == pytest.approx(3.75)
    with Image.open(preview.path) as image:
        assert image.format == kind.upper() and image.size == (480, 270)
        assert (image.n_frames, preview.duration_s) == animation_timing(preview.path) and image.info.get("loop") == 0  # forever
        if kind == "gif":
            assert abs(image.n_frames - 3.75 * 12) <= 1  # (libwebp merges repeated frames: only its timing is checked)
        image.seek(0)
        first = np.asarray(image.convert("RGB").resize((w, h)), np.float32)
    # GIF times frames in hundredths of a second: 1/12 s is written as 0.08 s
    assert preview.duration_s == pytest.approx(3.75, abs=0.1 * 3.75 if kind == "gif" else 1 / 12)
    # the first frame is the one at the drop (video time 2.0 s: the fifth half-second, colours[0])
    assert np.abs(first - colours[0]).mean() < 30
    assert preview.size_bytes == preview.path.stat().st_size < 2_000_000
    header = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(preview.path)], capture_output=True, text=True).stderr
    assert "Video:" in header and "Audio:" not in header


def test_the_preview_loops_whole_phrases_as_the_canvas_does():
    """The preview takes the Canvas's loop rule (mvgen.analysis.windows.phrase_loop) with its own bounds: whole
    phrases (1, 2, 4 or 8 bars) from the drop's downbeat; never the 3 bars that 4 s rounds to at 160-180 bpm."""
    from mvgen.clips import loop_window

    for bpm, bars in ((128.0, 2), (120.0, 2), (174.0, 2), (160.0, 2), (100.0, 2), (90.0, 1)):
        analysis = _analysis(drop_s=8.0, tempo_bpm=bpm, duration_s=40.0)
        bar_s = 4 * 60.0 / bpm
        start_s, length_s = loop_window_s(analysis, None, 40.0)
        assert start_s == pytest.approx(8.0) and length_s == pytest.approx(bars * bar_s), (bpm, length_s / bar_s)
        assert PREVIEW_LOOP_MIN_S <= length_s <= PREVIEW_LOOP_MAX_S
        canvas = loop_window(analysis)  # the same downbeat, as many bars or more (3-8 s)
        assert canvas.start_s == pytest.approx(8.0) and canvas.n_bars in (2, 4) and canvas.length_s >= length_s
    # in video time, inside the video: a 15 s clip from 6 s shows the drop at 2 s; a clip after the drop loops from its start
    analysis = _analysis(drop_s=8.0, tempo_bpm=128.0, duration_s=40.0)
    assert loop_window_s(analysis, (6.125, 21.125), 15.0) == pytest.approx((1.875, 3.75))
    assert loop_window_s(analysis, (11.75, 26.75), 15.0) == pytest.approx((0.0, 3.75))
    # no bars: the longest allowed from the drop (else the start), moved back to end inside the video
    assert loop_window_s(None, None, 3.0) == pytest.approx((0.0, 3.0)) and loop_window_s(None, None, 30.0) == pytest.approx((0.0, PREVIEW_LOOP_MAX_S))
    beatless = analysis.model_copy(update={"beats_s": [], "downbeats_s": []})
    assert loop_window_s(beatless, None, 10.0) == pytest.approx((10.0 - PREVIEW_LOOP_MAX_S, PREVIEW_LOOP_MAX_S))


def test_loop_input_checks(tmp_path):
    with pytest.raises(MvgenError, match=r"one of \.gif, \.webp"):
        loop_preview(tmp_path / "v.mp4", tmp_path / "loop.mp4")
    with pytest.raises(MvgenError, match="width_px must be"):
        loop_preview(tmp_path / "v.mp4", tmp_path / "loop.gif", width_px=481)
