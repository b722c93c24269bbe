"""The tracks of a mix, and a genre profile that keeps a track's identity through its breakdowns.

Synthetic audio with known sections and known track changes: a house track whose 32-bar breakdown has
no drums at all, and a DJ mix of house, reggae and house with 8-second crossfades.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from mvgen import synth
from mvgen.analysis.mix import MIN_TRACK_S, drum_presence, optimal_partition
from mvgen.analysis.track import analyze
from mvgen.classify.predictions import WindowPredictions, track_genres, with_track_context
from mvgen.features import ANALYSIS_SR
from mvgen.report.timeline import format_timeline

SR = ANALYSIS_SR
CROSSFADE_S = 8.0


def _house_with_breakdown(genre: str, seed: int, breakdown_bars: int = 32, drop_bars: int = 16) -> tuple[np.ndarray, synth.SynthTruth]:
    """Intro 8, build-up 8, drop, a breakdown of pads and chords without drums, build-up 8, drop, outro 8 bars."""
    S, g = synth.SectionSpec, {genre: 1.0}
    sections = [S(label="intro", bars=8, genres=g), S(label="build-up", bars=8, genres=g), S(label="drop", bars=drop_bars, genres=g),
                S(label="breakdown", bars=breakdown_bars, genres=g, drums=False), S(label="build-up", bars=8, genres=g),
                S(label="drop", bars=drop_bars, genres=g), S(label="outro", bars=8, genres=g)]
    audio, truth = synth.render(synth.Arrangement(sections=sections), seed=seed, sr=SR, stereo=False)
    return np.asarray(audio, np.float32), truth


def _crossfade(tracks: list[np.ndarray]) -> tuple[np.ndarray, list[float]]:
    """Tracks back to back, each fading into the next over CROSSFADE_S; returns the mix and where each track starts (s)."""
    n = int(CROSSFADE_S * SR)
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    out, starts = tracks[0], [0.0]
    for y in tracks[1:]:
        starts.append((len(out) - n) / SR)
        out = np.concatenate([out[:-n], out[-n:] * (1 - ramp) + y[:n] * ramp, y[n:]])
    return out, starts


def _windows(profile, start_s: float, end_s: float) -> np.ndarray:
    times = np.asarray(profile.times_s)
    return (times >= start_s) & (times < end_s)


@pytest.fixture(scope="module")
def breakdown_track(tmp_path_factory):
    y, truth = _house_with_breakdown("progressive_house", seed=12)
    path = tmp_path_factory.mktemp("mix") / "breakdown.wav"
    sf.write(path, y, SR)
    return path, truth


def test_a_house_breakdown_without_drums_keeps_its_track_genre(breakdown_track, tmp_path):
    path, truth = breakdown_track
    analysis = analyze(path, cache_directory=tmp_path)
    profile = analysis.genre_profile
    assert [(t.start_s, t.end_s) for t in analysis.tracks] == [(0.0, pytest.approx(truth.duration_s, abs=0.01))]
    in_scope = np.asarray(profile.in_scope)
    assert np.mean(in_scope >= 0.5) >= 0.9
    breakdown = next(s for s in truth.sections if s.label == "breakdown")
    inside = _windows(profile, breakdown.start_s, breakdown.end_s)
    assert np.mean(in_scope[inside] >= 0.5) >= 0.9
    top = np.asarray(profile.probabilities)[inside].argmax(axis=1)
    assert np.mean(np.asarray(profile.labels)[top] == "progressive_house") >= 0.9
    # the track as a whole: its genre, sure of it
    (whole,) = profile.tracks
    assert whole.label == "progressive_house" and whole.in_scope >= 0.8
    assert any(line.startswith("genre: Progressive House") for line in format_timeline(analysis).splitlines())


def test_without_context_the_breakdown_reads_outside_the_genres(breakdown_track):
    """What the context is for: window by window, the model rejects the drumless breakdown."""
    from mvgen.analysis.track import genre_profile, load_genre_model
    from mvgen.classify.checkpoints import default_checkpoint
    from mvgen.media.audio import load_audio

    path, truth = breakdown_track
    y = load_audio(path, sr=SR)
    alone = genre_profile(y, load_genre_model(default_checkpoint()))
    breakdown = next(s for s in truth.sections if s.label == "breakdown")
    inside = _windows(alone, breakdown.start_s + 8.0, breakdown.end_s - 8.0)
    assert np.mean(np.asarray(alone.in_scope)[inside] < 0.5) >= 0.8
    assert alone.tracks == []


@pytest.fixture(scope="module")
def house_reggae_house(tmp_path_factory):
    first, truth_a = _house_with_breakdown("deep_house", seed=11, drop_bars=8)
    reggae, _ = synth.render(synth.default_arrangement("reggae", seed=21, bars_scale=0.6), seed=21, sr=SR, stereo=False)
    last, truth_c = _house_with_breakdown("tech_house", seed=13, drop_bars=8)
    y, starts = _crossfade([first, np.asarray(reggae, np.float32), last])
    path = tmp_path_factory.mktemp("mix") / "mix.wav"
    sf.write(path, y, SR)
    return path, starts, len(y) / SR, (truth_a, truth_c)


def test_a_mix_gets_one_span_sections_and_genre_per_track(house_reggae_house, tmp_path):
    path, starts, duration_s, (truth_a, truth_c) = house_reggae_house
    analysis = analyze(path, cache_directory=tmp_path)
    found = [t.start_s for t in analysis.tracks]
    assert len(found) == 3
    assert np.max(np.abs(np.asarray(found[1:]) - np.asarray(starts[1:]) - CROSSFADE_S / 2)) <= CROSSFADE_S
    profile = analysis.genre_profile
    in_scope = np.asarray(profile.in_scope)
    ends = [*starts[1:], duration_s]
    # the reggae part is out of scope (away from the crossfades); the house parts in scope, breakdowns included
    reggae = _windows(profile, starts[1] + CROSSFADE_S, ends[1] - CROSSFADE_S)
    assert np.mean(in_scope[reggae] < 0.5) >= 0.95
    for (start_s, end_s), truth in zip([(starts[0], ends[0]), (starts[2], ends[2])], (truth_a, truth_c)):
        house = _windows(profile, start_s + CROSSFADE_S, end_s - CROSSFADE_S)
        assert np.mean(in_scope[house] >= 0.5) >= 0.9
        breakdown = next(s for s in truth.sections if s.label == "breakdown")
        assert np.mean(in_scope[_windows(profile, start_s + breakdown.start_s, start_s + breakdown.end_s)] >= 0.5) >= 0.9
    assert [t.label for t in profile.tracks][0::2] == ["deep_house", "tech_house"]
    assert profile.tracks[1].in_scope < 0.5 and profile.tracks[0].in_scope >= 0.8 and profile.tracks[2].in_scope >= 0.8
    # each track has its own structure: a drop inside every house track, and an intro opening each track
    for track in analysis.tracks[0::2]:
        assert any(d.start_s >= track.start_s and d.end_s <= track.end_s + 0.01 for d in analysis.drops)
    assert all(any(abs(s.start_s - t.start_s) < 0.01 for s in analysis.sections) for t in analysis.tracks)
    text = format_timeline(analysis)
    assert "3 tracks:" in text and "outside the model's genres" in text


def test_optimal_partition_finds_the_change_and_ignores_unweighted_outliers():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.3, (40, 4)), rng.normal(2, 0.3, (40, 4))])
    weights = np.ones(80)
    assert optimal_partition(x, weights, penalty=20.0, min_size=10) == [0, 40]
    # a block of wild outliers with no weight (a breakdown without drums) does not split a run
    y = rng.normal(0, 0.3, (80, 4))
    y[30:50] += 10.0
    weights[30:50] = 0.0
    assert optimal_partition(y, weights, penalty=20.0, min_size=10) == [0]
    assert optimal_partition(y, np.ones(80), penalty=20.0, min_size=10) != [0]
    assert optimal_partition(x[:15], np.ones(15), penalty=0.0, min_size=10) == [0]  # too short to cut
    assert MIN_TRACK_S >= 60.0


def test_context_weighs_each_window_by_its_evidence():
    times = np.arange(6, dtype=float)
    own = np.array([[0.9, 0.1]] * 3 + [[0.2, 0.8]] * 3)
    predictions = WindowPredictions(times_s=times, probabilities=own, in_scope=np.array([0.95, 0.95, 0.95, 0.05, 0.05, 0.05]))
    evidence = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])  # drums in the first half, none after
    (track,) = track_genres(predictions, np.maximum(evidence, 0.05), [(0.0, 6.0)])
    assert track.in_scope > 0.85 and track.probabilities[0] > 0.85
    # a context longer than the track and no extra mass: every window without drums takes the track's pool
    combined = with_track_context(predictions, evidence, [track], weights=np.maximum(evidence, 0.05), context_s=1e6, track_mass=0.0)
    np.testing.assert_allclose(combined.in_scope[:3], 0.95)  # full evidence: the window's own verdict
    np.testing.assert_allclose(combined.in_scope[3:], track.in_scope)  # none: the track's
    assert (combined.probabilities[3:, 0] > 0.85).all()
    np.testing.assert_allclose(combined.probabilities.sum(axis=1), 1.0)


def test_drum_presence_reads_drums_not_pads(breakdown_track, tmp_path):
    path, truth = breakdown_track
    analysis = analyze(path, cache_directory=tmp_path, genre_profile=False)
    for section in truth.sections:
        presence = drum_presence(analysis.audio_features, np.array([(section.start_s + section.end_s) / 2]), 6.0)[0]
        if section.label == "breakdown":
            assert presence < 0.1
        elif section.label == "drop":
            assert presence > 0.8


def test_a_drumless_window_takes_the_genre_around_it_not_the_tracks_mean():
    """A medley (like the demo): genre A for 60 s, then genre B for 60 s, then an outro without drums."""
    times = np.arange(0.0, 130.0, 0.75)
    a, b = np.array([0.95, 0.05]), np.array([0.05, 0.95])
    probabilities = np.where((times < 60.0)[:, None], a, b)
    predictions = WindowPredictions(times_s=times, probabilities=probabilities, in_scope=np.where(times < 120.0, 0.95, 0.1))
    evidence = np.where(times < 120.0, 1.0, 0.0)
    tracks = track_genres(predictions, np.maximum(evidence, 0.05), [(0.0, 130.0)])
    assert 0.3 < tracks[0].probabilities[1] < 0.7  # the whole track is a blend
    local = with_track_context(predictions, evidence, tracks, weights=np.maximum(evidence, 0.05), context_s=15.0, track_mass=5.0)
    outro = times >= 120.0
    assert (local.probabilities[outro, 1] > 0.8).all() and (local.in_scope[outro] > 0.8).all()
    whole = with_track_context(predictions, evidence, tracks, weights=np.maximum(evidence, 0.05), context_s=1e6, track_mass=0.0)
    assert (whole.probabilities[outro, 1] < 0.7).all()  # the whole track's mean, without the neighbourhood


def test_a_build_up_the_model_doubts_takes_the_genre_around_it_even_with_drums(breakdown_track):
    """Snare rolls and risers play in every kind of dance music: a build-up's doubt counts for little
    (BUILD_UP_EVIDENCE), drums or not, so a build-up the model calls "other music" inside a house track keeps
    the track's genre, while the same windows in a drop keep their own verdict; a build-up the model is sure
    of keeps its own sub-genre. The model's window verdicts are given (on 12 s of the first drop: out of
    scope, or sure of another sub-genre; progressive house elsewhere); the drums are the track's."""
    from mvgen.analysis.track import BUILD_UP_EVIDENCE, Section, analyze_signal, genre_profile, load_genre_model
    from mvgen.classify.checkpoints import default_checkpoint
    from mvgen.media.audio import load_audio

    path, truth = breakdown_track
    y = load_audio(path, sr=SR)
    model = load_genre_model(default_checkpoint())
    signal = analyze_signal(y, SR)
    drop = next(s for s in truth.sections if s.label == "drop")
    start_s, end_s = drop.start_s + 4.0, drop.start_s + 16.0
    times = np.arange(model.config.window_s / 2, len(y) / SR - model.config.window_s / 2, model.config.step_s)
    doubted = (times >= start_s) & (times < end_s)
    probabilities = np.zeros((len(times), len(model.config.labels)))
    probabilities[:, list(model.config.labels).index("progressive_house")] = 1.0
    predictions = WindowPredictions(times_s=times, probabilities=probabilities, in_scope=np.where(doubted, 0.05, 0.95))

    def profile_with(label: str, predictions=predictions):
        sections = [Section(start_s=0.0, end_s=start_s, label="intro"), Section(start_s=start_s, end_s=end_s, label=label),
                    Section(start_s=end_s, end_s=len(y) / SR, label="drop")]
        return genre_profile(y, model, SR, predictions=predictions, signal=signal.model_copy(update={"sections": sections}))

    assert BUILD_UP_EVIDENCE < 0.5
    as_drop = profile_with("drop")
    inside = _windows(as_drop, start_s + 3.0, end_s - 3.0)
    assert np.mean(drum_presence(signal.audio_features, times[inside], model.config.window_s)) > 0.8  # drums play there
    assert (np.asarray(as_drop.in_scope)[inside] < 0.5).all()  # a drop's drums speak for it
    assert (np.asarray(profile_with("build-up").in_scope)[inside] >= 0.5).all()  # a build-up's hardly do
    bigroom = list(model.config.labels).index("bigroom")
    sure = probabilities.copy()
    sure[doubted] = np.eye(len(model.config.labels))[bigroom]
    sure_build_up = profile_with("build-up", WindowPredictions(times_s=times, probabilities=sure, in_scope=np.full(len(times), 0.95)))
    assert (np.asarray(sure_build_up.probabilities)[inside].argmax(axis=1) == bigroom).all()  # a sure build-up keeps its own
