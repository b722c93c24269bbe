"""Lyrics: LRC and SRT parsing, sidecar captions, and the burnt-in lines' timing on the renderer's frames."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mvgen.errors import MvgenError
from mvgen.brand.lyrics import LAST_LINE_S, LyricLine, lines_in_window, load_lyrics, parse_lrc, parse_srt, srt_text, vtt_text, write_captions

LRC = """[ar:Someone]
[ti:Something]
[length:03:20]
[offset:+250]
[00:01.50][00:09.25]Hold <00:01.90>on to the night
[00:03.00]We made it
[00:05.10]
[00:06.00]Out of the dark
"""


def test_lrc_lines_times_offset_tags_and_repeats():
    lines = parse_lrc(LRC)
    # offset +250 ms: every line 0.25 s earlier; tags ignored; word stamps removed; the chorus twice
    assert [(round(l.start_s, 3), round(l.end_s, 3), l.text) for l in lines] == [
        (1.25, 2.75, "Hold on to the night"),
        (2.75, 4.85, "We made it"),  # ends at the empty stamp: a pause
        (5.75, 9.0, "Out of the dark"),
        (9.0, 9.0 + LAST_LINE_S, "Hold on to the night"),  # the last line lasts LAST_LINE_S
    ]


def test_lrc_last_line_is_cut_at_the_track_end(tmp_path):
    path = tmp_path / "a.lrc"
    path.write_text("[00:01.00]one\n[00:10.00]two\n[00:20.00]after the end\n", encoding="utf-8")
    lines = load_lyrics(path, duration_s=12.0)
    assert [(l.start_s, l.end_s, l.text) for l in lines] == [(1.0, 10.0, "one"), (10.0, 12.0, "two")]


def test_srt_blocks_styling_and_multiline():
    text = "1\n00:00:01,000 --> 00:00:02,500\n<i>Hold on</i>\nto the night\n\n2\n00:00:03,000 --> 00:00:04,000 X1:0\n{\\an8}We made it\n"
    assert parse_srt(text) == (LyricLine(1.0, 2.5, "Hold on\nto the night"), LyricLine(3.0, 4.0, "We made it"))


@pytest.mark.parametrize(
    "name,content,where,problem",
    [
        ("a.lrc", "[00:01.00]fine\nno timestamp here\n", ":2", "not an LRC line"),
        ("a.lrc", "[00:75.00]too many seconds\n", ":1", "seconds must be below 60"),
        ("a.lrc", "[offset:soon]\n[00:01.00]x\n", ":1", "whole milliseconds"),
        ("a.lrc", "[ar:only tags]\n", "", "no timed lyric line"),
        ("a.srt", "1\n00:00:01,000 -> 00:00:02,000\nx\n", ":2", "expected 'hh:mm:ss,mmm --> hh:mm:ss,mmm'"),
        ("a.srt", "1\n00:00:03,000 --> 00:00:02,000\nx\n", ":2", "ends (2.000 s) before it starts"),
        ("a.srt", "one\n00:00:01,000 --> 00:00:02,000\nx\n", ":1", "expected a cue number"),
        ("a.txt", "[00:01.00]x\n", "", "must be an .lrc or .srt file"),
    ],
)
def test_bad_lyrics_are_one_error_naming_file_and_line(tmp_path, name, content, where, problem):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MvgenError) as info:
        load_lyrics(path)
    assert str(info.value).startswith(f"{path}{where}: ") and problem in str(info.value)


def test_missing_and_non_utf8_lyrics(tmp_path):
    with pytest.raises(MvgenError, match="lyrics file not found"):
        load_lyrics(tmp_path / "none.lrc")
    (tmp_path / "latin.lrc").write_bytes("[00:01.00]caf\xe9\n".encode("latin-1"))
    with pytest.raises(MvgenError, match=r"latin\.lrc: not UTF-8"):
        load_lyrics(tmp_path / "latin.lrc")


def test_sidecars_are_timed_from_the_excerpt_start(tmp_path):
    """An excerpt from 10 s to 20 s of the track: captions count from the video's start; lines are
    cut to the excerpt, and those outside it are left out."""
    lines = (LyricLine(5.0, 8.0, "before"), LyricLine(9.0, 11.5, "straddles the start"), LyricLine(12.25, 13.0, "rock & roll <3"), LyricLine(19.5, 24.0, "past the end"))
    video = tmp_path / "clip.mp4"
    srt, vtt = write_captions(lines, video, 10.0, 20.0)
    assert (srt, vtt) == (tmp_path / "clip.srt", tmp_path / "clip.vtt")
    assert srt.read_text(encoding="utf-8") == (
        "1\n00:00:00,000 --> 00:00:01,500\nstraddles the start\n\n"
        "2\n00:00:02,250 --> 00:00:03,000\nrock & roll <3\n\n"
        "3\n00:00:09,500 --> 00:00:10,000\npast the end\n"
    )
    assert vtt.read_text(encoding="utf-8") == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nstraddles the start\n\n"
        "00:00:02.250 --> 00:00:03.000\nrock &amp; roll &lt;3\n\n"
        "00:00:09.500 --> 00:00:10.000\npast the end\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.srt", "clip.vtt"]  # no temporary files left
    # what was written reads back as the same lines
    assert parse_srt(srt.read_text(encoding="utf-8")) == lines_in_window(lines, 10.0, 20.0)
    # a clip with no line in it gets no (empty) caption files, and stale ones of that name go
    assert write_captions(lines, video, 30.0, 40.0) is None and not srt.exists() and not vtt.exists()


def test_srt_and_vtt_round_hours():
    line = (LyricLine(3725.0049, 3726.5, "late"),)
    assert "01:02:05,005 --> 01:02:06,500" in srt_text(line) and "01:02:05.005 --> 01:02:06.500" in vtt_text(line)


# --------------------------------------------------------------------------- burnt in, on the frames

FPS = 30.0
START_S = 0.5  # the excerpt starts here: frame k shows START_S + k / FPS
#: line starts chosen off the frame grid; a pause, then two lines back to back
TIMED = "[00:01.23]first line\n[00:02.51]\n[00:03.01]second line\n[00:04.00]third one right after\n[00:05.00]\n"


@pytest.fixture(scope="module")
def excerpt(tmp_path_factory):
    """Frame specs of 6 s from START_S of a known beat grid (124 bpm, the default styles), and the
    procedural renderer's 9:16 frames of them (180x320, yuv420p, before encoding)."""
    from mvgen.style.mapper import map_frames
    from mvgen.settings import RenderSettings
    from mvgen.renderers.factory import procedural_renderer
    from mvgen.style.blend import StyleTable
    from mvgen.style.styles import load_styles
    from tests.test_modulation import _analysis

    specs = map_frames(_analysis(), StyleTable.from_styles(load_styles()), fps=FPS, start_s=START_S, end_s=START_S + 6.0, seed=0)
    settings = RenderSettings(size=180, aspect="9:16", fps=FPS, detail=0.5, compile=False)
    renderer = procedural_renderer(*settings.frame_size(), len(specs), detail=settings.detail, compile=settings.compile)
    frames = torch.cat([renderer.render(specs[b : b + 16], pix_fmt="yuv420p") for b in range(0, len(specs), 16)])
    return tmp_path_factory.mktemp("lyrics"), specs, frames, settings


def test_each_line_appears_and_leaves_on_its_frame(excerpt):
    """On each line's first frame (the first whose time >= its start) the lyrics band changes, and one
    frame before it does not: compared with the same frames without lyrics, before encoding."""
    from mvgen.brand.branding import Branding, build_overlay

    folder, specs, frames, settings = excerpt
    lrc = folder / "timed.lrc"
    lrc.write_text(TIMED, encoding="utf-8")
    width, height = settings.frame_size()
    overlay = build_overlay(Branding(lyrics=str(lrc)), width, height, settings.aspect)
    safe = overlay.layout.safe
    branded = frames.clone()
    for b in range(0, len(specs), 8):
        overlay.composite(branded[b : b + 8], specs[b : b + 8])
    changed = (branded != frames)[:, : width * height].view(-1, height, width).numpy()
    inside = np.zeros((height, width), bool)
    inside[safe.y0 : safe.y1, safe.x0 : safe.x1] = True
    assert changed.any() and not changed[:, ~inside].any()  # the lyrics stay in the safe zone
    drawn = changed.reshape(len(specs), -1)  # (frames, pixels): where the lyrics show
    shown = drawn.any(axis=1)

    def first_frame(time_s: float) -> int:
        return math.ceil((time_s - START_S) * FPS - 1e-9)

    # the lines' own frames, computed here from the timestamps
    first, second, third, pause1, pause2 = (first_frame(t) for t in (1.23, 3.01, 4.00, 2.51, 5.00))
    for k in (first, second):  # after a pause: nothing one frame before, text on the first frame
        assert shown[k] and not shown[k - 1], k
    assert shown[third - 1] and shown[third] and not np.array_equal(drawn[third - 1], drawn[third])  # back to back: the text changes
    for k in (pause1, pause2):  # a line leaves on the first frame at or after its end
        assert shown[k - 1] and not shown[k], k
    assert shown[first:pause1].all() and not shown[:first].any() and not shown[pause2:].any()
    # a line is the same pre-rasterized layer on all its frames: where it is opaque, white (luma code 235) whatever the picture under it
    layer = overlay.lyrics[1][1]
    box, opaque = layer.box, (layer.alpha == 1).numpy()
    assert opaque.sum() > 20
    region = branded[second:third, : width * height].view(-1, height, width)[:, box.y0 : box.y1, box.x0 : box.x1].numpy()
    assert (region[:, opaque] == 235).all()
