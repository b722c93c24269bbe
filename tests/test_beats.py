"""Beat-grid fitting on drum patterns with exactly known beats."""

import mir_eval
import numpy as np
import pytest

from mvgen.analysis.beats import track_beats
from mvgen.features import frame_features
from tests.patterns import SR, four_on_the_floor, grid


def _track(y):
    return track_beats(frame_features(y, SR), len(y) / SR)


def _f_measure(reference, estimated):
    return mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.asarray(reference)), mir_eval.beat.trim_beats(np.asarray(estimated)))


@pytest.mark.parametrize("bpm", [100.0, 118.5, 126.0, 140.0, 150.2, 174.0, 180.0])
def test_fixed_tempo_grid_is_exact(bpm):
    reference = grid(bpm, 60.0, phase_s=0.37)
    result = _track(four_on_the_floor(reference, 60.0))
    assert result.tempo_bpm == pytest.approx(bpm, rel=5e-4)
    assert _f_measure(reference, result.beats_s) == 1.0
    # Every beat of the grid sits within 10 ms of the true kick.
    nearest = np.abs(result.beats_s[:, None] - reference[None, :]).min(axis=1)
    assert nearest.max() < 0.010


def test_follows_a_tempo_change():
    first = grid(124.0, 60.0, phase_s=0.2)
    second = first[-1] + 60.0 / 124.0 + np.arange(0, 60.0, 60.0 / 132.0)
    reference = np.concatenate([first, second[second < 119.9]])
    result = _track(four_on_the_floor(reference, 120.0))
    assert [round(s.bpm) for s in result.segments] == [124, 132]
    assert _f_measure(reference, result.beats_s) >= 0.95


def test_half_time_passage_keeps_the_grid():
    reference = grid(128.0, 90.0)
    # From 30 s to 60 s the kick plays only every other beat (half time).
    played = reference[(reference < 30.0) | (reference >= 60.0) | (np.arange(len(reference)) % 2 == 0)]
    result = _track(four_on_the_floor(played, 90.0, hats=False))
    assert result.tempo_bpm == pytest.approx(128.0, rel=1e-3)
    assert _f_measure(reference, result.beats_s) >= 0.95


def test_beatless_audio_has_no_beats():
    rng = np.random.default_rng(3)
    t = np.arange(30 * SR) / SR
    # A slowly swelling chord over soft noise: no pulse at all.
    y = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * (0.5 + 0.4 * np.sin(2 * np.pi * 0.05 * t))
    y = (0.2 * y + 0.02 * rng.standard_normal(len(t))).astype(np.float32)
    result = _track(y)
    assert result.tempo_bpm is None
    assert len(result.beats_s) == 0
    assert result.warnings


def test_no_grid_over_trailing_silence():
    reference = grid(125.0, 40.0)
    y = np.concatenate([four_on_the_floor(reference, 40.0), np.zeros(10 * SR, np.float32)])
    result = _track(y)
    assert result.beats_s.max() < 40.5


# --- beat phase from the kick, on synth tracks with grooves whose off-beat is louder than the kick


def _grid_f(synth_audio_truth, variant=None, level=1.0):
    from benchmarks.grooves import mix_variant

    audio, truth = synth_audio_truth
    if variant is not None:
        audio = mix_variant(audio, truth.beats_s, truth.downbeats_s, SR, variant, level)
    result = track_beats(frame_features(audio, SR), len(audio) / SR, audio)
    return result, _f_measure(truth.beats_s, result.beats_s)


@pytest.mark.parametrize("variant", ["offbeat_skank", "offbeat_bass", "offbeat_both"])
@pytest.mark.parametrize("genre,seed", [("tech_house", 1), ("deep_house", 3), ("bigroom", 6)])
def test_offbeat_louder_than_the_kick_keeps_the_phase(synth_track, genre, seed, variant):
    # A skank and/or sub-bass note on every off-beat, peaking as high as the whole mix: the
    # loudest pulse is half a beat off, the kick still marks the beat.
    result, f = _grid_f(synth_track(genre, seed=seed, bars_scale=0.15), variant)
    assert f >= 0.95


def test_without_the_audio_a_loud_skank_pulls_the_grid_off_the_beat(synth_track):
    # The failure the kick evidence fixes: from the onset envelopes alone the grid locks half a beat late.
    audio, truth = synth_track("tech_house", seed=1, bars_scale=0.15)
    from benchmarks.grooves import mix_variant

    y = mix_variant(audio, truth.beats_s, truth.downbeats_s, SR, "offbeat_skank")
    assert _f_measure(truth.beats_s, track_beats(frame_features(y, SR), len(y) / SR).beats_s) < 0.5


@pytest.mark.parametrize("style,seed", [("trap", 31), ("trap", 1), ("hip_hop", 2)])
def test_syncopated_kicks_leave_the_phase_to_the_snares(synth_track, style, seed):
    # Kicks between the beats as often as on them (and trap's off-beat 808s): the kick evidence
    # must abstain, or it pulls the grid onto the off-beat.
    result, f = _grid_f(synth_track(style, seed=seed, bars_scale=0.2))
    assert f >= 0.95


@pytest.mark.parametrize("seed", [1, 2])
def test_rock_backbeat_is_on_the_beat(synth_track, seed):
    result, f = _grid_f(synth_track("rock", seed=seed, bars_scale=0.15))
    assert f >= 0.95


def test_reggae_skank_grid_lands_on_the_kick_grid(synth_track):
    # One drop at 70-80 bpm: the grid may take the 8th-note level (the tempo prior is centred on
    # 126 bpm), but every grid point must sit on the true beats or exactly between them, and the
    # true beats must all be found: the phase is right even when the metrical level is doubled.
    audio, truth = synth_track("reggae", seed=1, bars_scale=0.15)
    result, _ = _grid_f((audio, truth))
    beats = np.asarray(truth.beats_s)
    eighths = np.sort(np.concatenate([beats, beats[:-1] + np.diff(beats) / 2]))
    level = eighths if result.tempo_bpm > 1.5 * truth.tempo_bpm else beats
    assert _f_measure(level, result.beats_s) >= 0.95


def test_kick_strength_tells_a_kick_from_a_bass_note():
    from benchmarks.grooves import sub_bass

    from mvgen.analysis.beats import kick_strength, low_band
    from tests.patterns import add_at, kick

    # Kicks on the beats, equally loud sub-bass notes on the off-beats.
    beats = grid(124.0, 20.0, phase_s=0.5)
    y = np.zeros(20 * SR, np.float32)
    add_at(y, kick(SR), beats)
    add_at(y, (sub_bass(SR) * np.abs(kick(SR)).max() / np.abs(sub_bass(SR)).max()).astype(np.float32), beats + 30.0 / 124.0)
    low = low_band(y, SR)
    on, off = kick_strength(low, beats), kick_strength(low, beats + 30.0 / 124.0)
    assert np.median(on) > 4 * max(np.median(off), 1e-3)


# --- downbeats with misleading accents: the bar phase must still come out right


@pytest.mark.parametrize("variant,genre,seed", [("pickup", "tech_house", 11), ("chord_ahead", "tech_house", 12), ("accent_three", "bass_house", 13), ("chord_ahead", "deep_house", 22)])
def test_misleading_accents_keep_the_downbeats(synth_track, variant, genre, seed):
    from benchmarks.grooves import mix_variant

    from mvgen.analysis.beats import find_downbeats

    audio, truth = synth_track(genre, seed=seed, bars_scale=0.25)
    y = mix_variant(audio, truth.beats_s, truth.downbeats_s, SR, variant)
    features = frame_features(y, SR)
    grid_ = track_beats(features, len(y) / SR, y)
    assert _f_measure(truth.beats_s, grid_.beats_s) >= 0.95
    downbeats, beats_per_bar = find_downbeats(y, features, grid_.beats_s)
    assert beats_per_bar == 4
    assert _f_measure(truth.downbeats_s, downbeats) >= 0.9


# --- the metrical level (tempo octave) of styles whose beat the synth's truth defines


@pytest.mark.parametrize(
    "style,seed",
    [
        ("drum_and_bass", 2),  # 175 bpm: kick on 1 and the "and" of 3, snare on 2 and 4; not 87
        ("drum_and_bass", 4),
        ("trap", 2),  # 142 bpm with the clap on 3 only (half-time feel): the truth's beat is 142, not 71
        ("tech_house", 2),  # 128 bpm four on the floor: not 64
        ("hip_hop", 2),  # 91 bpm boom-bap with swung 16th hats: not 182
    ],
)
def test_tempo_octave_follows_the_truth(synth_track, style, seed):
    audio, truth = synth_track(style, seed=seed, bars_scale=0.25)
    result, f = _grid_f((audio, truth))
    assert result.tempo_bpm == pytest.approx(truth.tempo_bpm, rel=0.04)
    assert f >= 0.95


def test_a_mix_of_tracks_at_different_tempi_gets_a_grid_per_track(monkeypatch):
    """A long sequence of tracks (a DJ mix, an album side) is read block by block: each track's run
    of blocks gets its own grid. Scaled down: 3 tracks of 40 s at 100, 128 and 174 bpm, with the
    long-audio threshold at 60 s and 10 s blocks (the real ones: 10 minutes and 30 s)."""
    import mvgen.analysis.beats as beats

    parts, start = [], 0.0
    for bpm in (100.0, 128.0, 174.0):
        part = start + grid(bpm, 40.0, phase_s=0.11)
        parts.append(part)
        start = part[-1] + 60.0 / bpm
    reference = np.concatenate(parts)
    audio = four_on_the_floor(reference, start)
    monkeypatch.setattr(beats, "MIX_BLOCK_S", 10.0)
    monkeypatch.setattr(beats, "LONG_AUDIO_S", 1e9)  # read as one track: one tempo cannot serve all three
    assert _f_measure(reference, _track(audio).beats_s) < 0.9
    monkeypatch.setattr(beats, "LONG_AUDIO_S", 60.0)
    result = _track(audio)
    assert sorted({round(s.bpm) for s in result.segments}) == [100, 128, 174]
    for part in parts:
        inside = result.beats_s[(result.beats_s > part[0] - 0.1) & (result.beats_s < part[-1] + 0.1)]
        assert _f_measure(part, inside) >= 0.95
