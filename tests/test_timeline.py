"""Genre timeline: per-section dominant sub-genres, the text view and the PNG, on hand-made analyses."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from mvgen.analysis.track import SignalSpan, Analysis, AudioSummary, Drop, GenreProfile, Section
from mvgen.genres import GENRES
from mvgen.style.colors import GENRE_COLORS, OUT_OF_SCOPE_COLOR
from mvgen.report.timeline import SectionGenres, format_timeline, section_genres
from mvgen.report.timeline_plot import plot_timeline

STEP_S = 0.5


def _vector(**shares: float) -> list[float]:
    return [shares.get(key, 0.0) for key in GENRES]


def _analysis(sections, blends=None, duration_s=180.0, bpm=128.0, drops=(), path="/music/Sunset Drive.wav", in_scope=lambda t: 1.0, signal=()) -> Analysis:
    """An analysis with ``sections`` [(start_s, end_s, label)] and a profile that is ``blends[i] = (start_s, vector)``
    from ``start_s`` on (frames every ``STEP_S`` s, centred); ``blends=None`` gives no profile."""
    beats_s = np.arange(0.0, duration_s, 60.0 / bpm) if bpm else np.array([])
    profile = None
    if blends is not None:
        times_s = np.arange(STEP_S / 2, duration_s, STEP_S)
        rows = [next(v for s, v in reversed(blends) if t >= s) for t in times_s]
        profile = GenreProfile(labels=list(GENRES), times_s=times_s.round(3).tolist(), probabilities=rows, in_scope=[in_scope(t) for t in times_s])
    return Analysis(
        audio=AudioSummary(path=path, content_hash="0" * 64, sr=44100, channels=2, duration_s=duration_s),
        duration_s=duration_s,
        tempo_bpm=bpm,
        beats_s=beats_s.round(4).tolist(),
        downbeats_s=beats_s[::4].round(4).tolist(),
        sections=[Section(start_s=s, end_s=e, label=label) for s, e, label in sections],
        drops=[Drop(start_s=s, end_s=e) for s, e in drops],
        genre_profile=profile,
        signal=[SignalSpan(start_s=a, end_s=b, kind=k) for a, b, k in signal],
    )


DEEP = _vector(deep_house=0.95, tech_house=0.05)
BLEND = _vector(future_house=0.7, bass_house=0.3)
BIG = _vector(bigroom=1.0)
SECTIONS = [(0.0, 60.0, "intro"), (60.0, 90.0, "build-up"), (90.0, 120.0, "drop"), (120.0, 180.0, "outro")]


@pytest.fixture(scope="module")
def track() -> Analysis:
    """3 minutes: deep house, then a 70/30 future/bass house blend from 1:00, bigroom from 2:00."""
    return _analysis(SECTIONS, [(0.0, DEEP), (60.0, BLEND), (120.0, BIG)], drops=[(90.0, 120.0)])


def test_section_genres_reads_the_blend(track):
    rows = section_genres(track)
    assert [(r.start_s, r.end_s, r.label) for r in rows] == SECTIONS
    assert all(isinstance(r, SectionGenres) for r in rows)
    assert [k for k, _ in rows[0].top] == ["deep_house"]  # tech house at 5% is under the 10% cut
    assert rows[0].top[0][1] == pytest.approx(0.95)
    for row in rows[1:3]:
        assert [k for k, _ in row.top] == ["future_house", "bass_house"]
        assert [share for _, share in row.top] == pytest.approx([0.7, 0.3])
    assert rows[3].top == [("bigroom", pytest.approx(1.0))]
    assert [k for k, _ in section_genres(track, min_share=0.01)[0].top] == ["deep_house", "tech_house"]


def test_section_spanning_a_change_gets_the_time_weighted_mean():
    analysis = _analysis([(0.0, 40.0, "intro"), (40.0, 80.0, "drop")], [(0.0, DEEP), (60.0, BIG)], duration_s=80.0)
    top = dict(section_genres(analysis)[1].top)
    assert top["deep_house"] == pytest.approx(0.5 * 0.95) and top["bigroom"] == pytest.approx(0.5)


def test_short_section_uses_the_nearest_frame_and_always_names_one_genre():
    # [59.95, 60.2) holds no frame centre (59.75, 60.25, ...); the one nearer its middle (60.25, bigroom) counts.
    analysis = _analysis([(0.0, 59.95, "intro"), (59.95, 60.2, "build-up"), (60.2, 90.0, "drop")], [(0.0, DEEP), (60.0, BIG)], duration_s=90.0)
    assert section_genres(analysis)[1].top == [("bigroom", pytest.approx(1.0))]
    flat = _analysis([(0.0, 30.0, "intro")], [(0.0, [1 / 8] * 8)], duration_s=30.0)
    top = section_genres(flat, min_share=0.5)[0].top
    assert len(top) == 1 and top[0][1] == pytest.approx(0.125)


def test_no_profile_gives_empty_tops():
    rows = section_genres(_analysis(SECTIONS))
    assert len(rows) == 4 and all(r.top == [] for r in rows)


def test_format_timeline(track):
    lines = format_timeline(track).splitlines()
    assert lines[0] == "/music/Sunset Drive.wav  3:00.0  128.0 bpm  1 drop"
    assert lines[1:] == [
        "0:00.0-1:00.0  intro     Deep House 95%",
        "1:00.0-1:30.0  build-up  Future House 70%  Bass House 30%",
        "1:30.0-2:00.0  drop      Future House 70%  Bass House 30%",
        "2:00.0-3:00.0  outro     Bigroom 100%",
        "whole track              Bigroom 33%  Deep House 32%  Future House 23%  Bass House 10%",
    ]


def test_format_timeline_without_profile_or_beat_aligns_long_times():
    analysis = _analysis([(0.0, 59.96, "intro"), (59.96, 700.0, "breakdown")], duration_s=700.0, bpm=None)
    lines = format_timeline(analysis).splitlines()
    assert lines[0].endswith("11:40.0  no steady beat  0 drops")
    assert "no genre profile" in lines[1]
    assert lines[2:] == [" 0:00.0-1:00.0  intro", "1:00.0-11:40.0  breakdown"]


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _rgb(path) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(str(path))[..., :3]


def _matches(pixels: np.ndarray, color: str, tol: float = 0.03) -> np.ndarray:
    return np.all(np.abs(pixels - np.asarray(to_rgb(color))) <= tol, axis=-1)


@pytest.fixture(scope="module")
def drawn(track, tmp_path_factory):
    """The 3-minute track drawn once at the default size, in a folder of its own."""
    folder = tmp_path_factory.mktemp("png")
    return plot_timeline(track, folder / "timeline.png")


def test_plot_writes_a_png_of_the_requested_size(track, drawn, tmp_path):
    assert _png_size(drawn) == (1600, 600)
    assert _rgb(drawn).shape == (600, 1600, 3)
    odd = plot_timeline(track, tmp_path / "sub" / "odd.png", width_px=1001, height_px=433)
    assert odd == tmp_path / "sub" / "odd.png" and _png_size(odd) == (1001, 433)
    assert sorted(os.listdir(tmp_path / "sub")) == ["odd.png"]  # no temporary file left behind
    assert sorted(os.listdir(drawn.parent)) == ["timeline.png"]


def test_stacked_area_colours_follow_the_profile(drawn):
    rgb = _rgb(drawn)
    height, width = rgb.shape[:2]
    # Columns inside the plot area, away from section lines: ~1:15 (70/30 future/bass house), ~2:35 (bigroom).
    blend_col, big_col = rgb[:, int(width * 0.39)], rgb[:, int(width * 0.75)]
    future, bass = _matches(blend_col, GENRE_COLORS["future_house"]), _matches(blend_col, GENRE_COLORS["bass_house"])
    big = _matches(big_col, GENRE_COLORS["bigroom"])
    area_px = big.sum()
    assert area_px > 0.5 * height  # the profile panel takes most of the picture
    assert future.sum() / area_px == pytest.approx(0.7, abs=0.02)
    assert bass.sum() / area_px == pytest.approx(0.3, abs=0.02)
    # Stacked in GENRES order from the bottom: future house below bass house.
    assert np.flatnonzero(future).min() > np.flatnonzero(bass).max() - 2
    # ~0:20, before the change at 1:00: deep house 95%.
    deep = _matches(rgb[:, int(width * 0.15)], GENRE_COLORS["deep_house"])
    assert deep.sum() / area_px == pytest.approx(0.95, abs=0.02)


def test_colours_are_distinct_and_cover_every_genre():
    assert set(GENRE_COLORS) == set(GENRES)
    rgb = np.array([to_rgb(GENRE_COLORS[g]) for g in GENRES])
    distance = np.abs(rgb[:, None] - rgb[None]).max(axis=-1) + np.eye(len(GENRES))
    assert distance.min() > 0.15


def test_plot_without_profile_draws_the_structure_only(tmp_path):
    analysis = _analysis(SECTIONS, None, drops=[(90.0, 120.0)])
    out = plot_timeline(analysis, tmp_path / "plain.png", width_px=800, height_px=300)
    assert _png_size(out) == (800, 300)
    rgb = _rgb(out)
    for key in GENRES:
        assert _matches(rgb, GENRE_COLORS[key], tol=0.02).sum() < 20, key
    assert os.listdir(tmp_path) == ["plain.png"]


def test_long_mix_with_many_beats_and_sections(tmp_path):
    duration_s = 3600.0
    bounds = np.arange(0.0, duration_s + 1, 45.0)
    labels = ["build-up", "drop", "breakdown"]
    sections = [(float(a), float(b), labels[i % 3]) for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]
    blends = [(t, _vector(**{GENRES[i % 8]: 0.6, GENRES[(i + 3) % 8]: 0.4})) for i, t in enumerate(range(0, 3600, 300))]
    analysis = _analysis(sections, blends, duration_s=duration_s, bpm=126.0)
    assert len(analysis.beats_s) > 7000
    out = plot_timeline(analysis, tmp_path / "mix.png")
    assert _png_size(out) == (1600, 600)


def test_failed_write_leaves_the_old_file_and_no_temp(track, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    target = tmp_path / "t.png"
    target.write_bytes(b"old")

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_timeline(track, target)
    assert os.listdir(tmp_path) == ["t.png"] and target.read_bytes() == b"old"


def test_written_file_gets_the_usual_mode(track, tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    out = plot_timeline(track, tmp_path / "m.png", width_px=640, height_px=320)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_too_small_picture_is_refused(track, tmp_path):
    with pytest.raises(ValueError, match="at least"):
        plot_timeline(track, tmp_path / "x.png", width_px=100, height_px=600)
    assert os.listdir(tmp_path) == []


def test_where_the_model_is_unsure_reads_and_draws_as_such(tmp_path):
    """From 1:30 the model is sure of nothing (speech, say): the text says so, the picture hatches it."""
    deep = _vector(deep_house=1.0)
    analysis = _analysis([(0.0, 90.0, "intro"), (90.0, 180.0, "breakdown")], blends=[(0.0, deep)], in_scope=lambda t: 1.0 if t < 90 else 0.0,
                         signal=[(0.0, 90.0, "music"), (90.0, 180.0, "speech")])
    lines = format_timeline(analysis).splitlines()
    assert lines[1] == "0:00.0-1:30.0  intro      Deep House 100%"
    assert lines[2] == "1:30.0-3:00.0  breakdown  outside the model's genres 100%"
    assert "not music: 1:30.0-3:00.0 speech" in lines
    rgb = _rgb(plot_timeline(analysis, tmp_path / "unsure.png"))
    width = rgb.shape[1]
    sure, unsure = rgb[:, int(width * 0.2)], rgb[:, int(width * 0.6)]
    assert _matches(sure, GENRE_COLORS["deep_house"]).sum() > 100 and not _matches(sure, OUT_OF_SCOPE_COLOR).any()
    # Hatched: the pale fill and the darker hatch lines both appear down the unsure column, and no genre colour.
    assert _matches(unsure, OUT_OF_SCOPE_COLOR, tol=0.05).sum() > 50 and not _matches(unsure, GENRE_COLORS["deep_house"]).any()
    hatch = np.abs(np.diff(unsure.mean(axis=1)[_matches(unsure, OUT_OF_SCOPE_COLOR, tol=0.3)])).max()
    assert hatch > 0.1


def test_clock_rounds_once_at_the_minute_edge():
    from mvgen.clock import format_clock
    from mvgen.style.colors import FALLBACK_COLORS, OUT_OF_SCOPE_COLOR, genre_color

    assert format_clock(59.996, 2) == "1:00.00"  # never 0:60.00
    assert format_clock(59.994, 2) == "0:59.99"
    assert format_clock(59.96) == "1:00.0" and format_clock(59.94) == "0:59.9"
    assert format_clock(59.6, 0) == "1:00" and format_clock(59.4, 0) == "0:59"
    assert format_clock(3600 + 65.31) == "61:05.3"  # minutes go on past the hour, as on a deck
    assert format_clock(-0.4) == "0:00.0"
    assert genre_color("other", 0) == OUT_OF_SCOPE_COLOR
    assert genre_color("afro_house", 1) == FALLBACK_COLORS[1]  # a class of the user's own



def test_text_summary_does_not_load_matplotlib():
    """`mvgen timeline` without --png prints the summary: importing it must not pull in matplotlib."""
    import subprocess
    import sys

    code = "import sys, mvgen.report.timeline; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
