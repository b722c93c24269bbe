"""The mapper on hand-made analyses: beat pulses on the right frames, genre blends, drops, excerpts."""

import numpy as np
import pytest

from mvgen.analysis.track import Analysis, AudioSummary, Drop, GenreProfile, Section
from mvgen.genres import GENRES
from mvgen.style.mapper import DOWNBEAT_PULSE, BEAT_PULSE, map_frames
from mvgen.style.styles import SEED_POLICIES

FPS = 30.0


@pytest.fixture(scope="module")
def table():
    from mvgen.style.blend import StyleTable
    from mvgen.style.styles import load_styles

    return StyleTable.from_styles(load_styles())


def _table_with(policy):
    """The default styles, every one with seed policy ``policy``."""
    from mvgen.style.blend import StyleTable
    from mvgen.style.styles import load_styles

    styles = {k: s.model_copy(update={"diffusion": s.diffusion.model_copy(update={"seed_policy": policy})}) for k, s in load_styles().items()}
    return StyleTable.from_styles(styles)


def _analysis(profile=True, in_scope=None) -> Analysis:
    beats = [0.5 + 0.5 * k for k in range(60)]  # 120 bpm from 0.5 s to 30 s
    times = list(np.arange(0.0, 32.0, 0.5))
    probabilities = []
    for t in times:  # deep house until 15 s, then bigroom
        row = np.zeros(8)
        row[GENRES.index("deep_house" if t < 15 else "bigroom")] = 1.0
        probabilities.append(row.tolist())
    return Analysis(
        audio=AudioSummary(path="x.wav", content_hash="0", sr=44100, channels=2, duration_s=32.0),
        duration_s=32.0,
        tempo_bpm=120.0,
        beats_s=beats,
        downbeats_s=beats[::4],
        sections=[Section(start_s=0, end_s=12, label="intro"), Section(start_s=12, end_s=16, label="build-up"), Section(start_s=16, end_s=32, label="drop")],
        drops=[Drop(start_s=16.0, end_s=32.0)],
        genre_profile=GenreProfile(labels=list(GENRES), times_s=times, probabilities=probabilities,
                                   in_scope=[1.0] * len(times) if in_scope is None else [in_scope(t) for t in times]) if profile else None,
    )


def test_one_spec_per_frame_and_pulses_on_beats(table):
    analysis = _analysis()
    specs = map_frames(analysis, table, fps=FPS)
    assert len(specs) == 960 and [s.index for s in specs[:3]] == [0, 1, 2]
    assert specs[45].time_s == pytest.approx(1.5)
    pulse = np.array([s.beat_pulse for s in specs])
    for beat in analysis.beats_s:
        frame = int(round(beat * FPS))
        assert pulse[frame] == pytest.approx(DOWNBEAT_PULSE if beat in analysis.downbeats_s else BEAT_PULSE)
        assert pulse[frame] > pulse[frame - 1] and pulse[frame] > pulse[frame + 1]
    assert pulse[: int(0.5 * FPS)].max() == 0.0


def test_genre_blend_changes_continuously(table):
    specs = map_frames(analysis := _analysis(), table, fps=FPS)
    deep, big = GENRES.index("deep_house"), GENRES.index("bigroom")
    weights = np.array([s.genre_weights for s in specs])
    assert weights[int(5 * FPS), deep] > 0.99 and weights[int(25 * FPS), big] > 0.99
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    # Smoothed: the switch at 15 s takes several seconds, without jumps between frames.
    assert 0.2 < weights[int(15 * FPS), big] < 0.8
    assert np.abs(np.diff(weights[:, big])).max() < 0.05
    palettes = np.array([s.palette for s in specs])
    assert not np.allclose(palettes[int(5 * FPS)], palettes[int(25 * FPS)])
    assert analysis.genre_profile is not None


def test_drop_lands_with_burst_and_energy(table):
    specs = map_frames(_analysis(), table, fps=FPS)
    burst = np.array([s.drop_burst for s in specs])
    assert int(np.argmax(burst)) == int(16 * FPS) and burst[int(16 * FPS)] == pytest.approx(1.0)
    energy = np.array([s.energy for s in specs])
    assert energy[int(20 * FPS)] == 1.0 and energy[int(5 * FPS)] < 0.5
    assert energy[int(12.5 * FPS)] < energy[int(15.5 * FPS)]  # build-up rises
    flash = np.array([s.flash for s in specs])
    assert flash[int(16 * FPS)] > 0.3 and flash[int(8 * FPS)] == 0.0


def test_deterministic_excerpt_and_no_profile(table):
    analysis = _analysis()
    assert map_frames(analysis, table, fps=FPS) == map_frames(analysis, table, fps=FPS)
    excerpt = map_frames(analysis, table, fps=FPS, start_s=10.0, end_s=20.0)
    assert len(excerpt) == 300 and excerpt[0].time_s == pytest.approx(10.0)
    pulse = np.array([s.beat_pulse for s in excerpt])
    assert pulse[int(round((10.5 - 10.0) * FPS))] == pytest.approx(DOWNBEAT_PULSE)  # 10.5 s starts a bar
    assert pulse[int(round((11.0 - 10.0) * FPS))] == pytest.approx(BEAT_PULSE)
    plain = map_frames(_analysis(profile=False), table, fps=FPS)  # no model: the neutral style, nothing guessed
    assert all(s.genre_weights[-1] == 1.0 and s.genre_labels[-1] == "other" for s in plain)
    with pytest.raises(ValueError, match="fps"):
        map_frames(analysis, table, fps=0)


def test_genre_styles_go_only_as_far_as_the_confidence(table):
    """Deep house the model is sure of for 10 s, then unsure (in scope 0.2), then out of scope."""
    analysis = _analysis(in_scope=lambda t: 1.0 if t < 10 else 0.2 if t < 20 else 0.0)
    specs = map_frames(analysis, table, fps=FPS, smooth_s=0.5)
    weights = np.array([s.genre_weights for s in specs])
    assert specs[0].genre_labels == tuple(GENRES) + ("other",)
    deep, big, other = GENRES.index("deep_house"), GENRES.index("bigroom"), len(GENRES)
    assert weights[int(5 * FPS), deep] > 0.99
    assert weights[int(13 * FPS), deep] == pytest.approx(0.2, abs=0.02) and weights[int(13 * FPS), other] == pytest.approx(0.8, abs=0.02)
    assert weights[int(17 * FPS), big] == pytest.approx(0.2, abs=0.02)
    assert weights[int(28 * FPS), other] > 0.99 and weights[int(28 * FPS), big] < 0.01
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    # Out of scope, the look is the neutral style, but the audio still drives it.
    neutral = table.blend(np.eye(len(table.labels))[other])
    np.testing.assert_allclose(specs[int(28 * FPS)].palette, neutral.palette, atol=1e-3)
    pulse = np.array([s.beat_pulse for s in specs])
    assert pulse[int(round(28.5 * FPS))] > 0.5 and specs[int(28 * FPS)].energy == 1.0


@pytest.mark.parametrize("fps, start_s", [(30.0, 0.0), (30.0, 10.0), (23.976, 0.0), (7.0, 3.3)])
def test_beat_flags_sit_on_the_frame_nearest_each_beat(table, fps, start_s):
    analysis = _analysis()
    specs = map_frames(analysis, table, fps=fps, start_s=start_s)
    times = np.array([s.time_s for s in specs])

    def nearest(marks):
        # by hand: for every mark inside the frames' span, the frame whose time is closest to it
        inside = [m for m in marks if times[0] - 0.5 / fps <= m < times[-1] + 0.5 / fps]
        return sorted({int(np.argmin(np.abs(times - m))) for m in inside})

    assert list(np.flatnonzero([s.on_beat for s in specs])) == nearest(analysis.beats_s)
    assert list(np.flatnonzero([s.on_downbeat for s in specs])) == nearest(analysis.downbeats_s)
    assert len(nearest(analysis.downbeats_s)) > 3
    # the flags and the pulse agree: the pulse peaks on the flagged frames
    pulse = np.array([s.beat_pulse for s in specs])
    on = np.array([s.on_beat for s in specs])
    down = np.array([s.on_downbeat for s in specs])
    np.testing.assert_allclose(pulse[down], DOWNBEAT_PULSE)
    np.testing.assert_allclose(pulse[on & ~down], BEAT_PULSE)


def test_pulse_height_alone_does_not_tell_beat_frames(table):
    """At 30 fps the decayed pulse one frame after a downbeat is above a plain beat's peak: the flag is needed."""
    specs = map_frames(_analysis(), table, fps=30.0)
    after_downbeat = [k + 1 for k, s in enumerate(specs[:-1]) if s.on_downbeat]
    assert all(specs[k].beat_pulse >= BEAT_PULSE and not specs[k].on_beat for k in after_downbeat)


def _changes(specs) -> list[int]:
    seeds = np.array([s.seed for s in specs])
    return list(np.flatnonzero(np.diff(seeds)) + 1)


def test_per_track_seed_is_one_seed_for_the_whole_render():
    specs = map_frames(_analysis(), _table_with("per-track"), fps=FPS)
    assert len({s.seed for s in specs}) == 1
    assert map_frames(_analysis(), _table_with("per-track"), fps=FPS, seed=1)[0].seed != specs[0].seed


def test_per_section_seed_changes_at_section_starts():
    specs = map_frames(_analysis(), _table_with("per-section"), fps=FPS)
    assert _changes(specs) == [int(12 * FPS), int(16 * FPS)]  # build-up and drop start
    assert len({s.seed for s in specs}) == 3


def test_per_bar_seed_changes_on_downbeats_and_is_absolute():
    analysis = _analysis()
    specs = map_frames(analysis, _table_with("per-bar"), fps=FPS)
    downbeat_frames = [k for k, s in enumerate(specs) if s.on_downbeat]
    assert _changes(specs) == downbeat_frames == [int(round(d * FPS)) for d in analysis.downbeats_s]
    assert len({s.seed for s in specs}) == len(analysis.downbeats_s) + 1  # before the first downbeat, then one per bar
    # an excerpt gets the full render's seeds (resume, teasers): bars are counted from the track's start
    excerpt = map_frames(analysis, _table_with("per-bar"), fps=FPS, start_s=10.0, end_s=20.0)
    assert [s.seed for s in excerpt] == [s.seed for s in specs[300:600]]


def test_per_bar_without_downbeats_falls_back_to_sections():
    beatless = _analysis().model_copy(update={"beats_s": [], "downbeats_s": [], "tempo_bpm": None})
    specs = map_frames(beatless, _table_with("per-bar"), fps=FPS)
    assert _changes(specs) == [int(12 * FPS), int(16 * FPS)]


def test_the_dominant_style_decides_the_seed_policy(table):
    """Defaults: deep house is per-track, bigroom per-section; the analysis is deep house, then bigroom from 15 s."""
    policies = dict(zip(table.labels, table.seed_policies))
    assert policies["deep_house"] == "per-track" and policies["bigroom"] == "per-section"
    assert set(table.seed_policies) == set(SEED_POLICIES)
    specs = map_frames(_analysis(), table, fps=FPS)
    seed_at = {t: specs[int(t * FPS)].seed for t in (5, 11, 13, 20, 30)}
    assert seed_at[5] == seed_at[11] == seed_at[13]  # deep house: one seed across the section start at 12 s
    assert seed_at[20] == seed_at[30] != seed_at[13]  # bigroom: the drop section's seed
