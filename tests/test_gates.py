"""Signal gates (mvgen.analysis.gates) on the non-music generators (mvgen.training.negatives), synthetic house and analyze_signal.

Speech needs espeak-ng: those tests skip without it, unless MVGEN_REQUIRE_ESPEAK=1 (then they fail; .ci/run sets it,
after installing espeak-ng).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from mvgen.analysis import gates

from mvgen.training import negatives
from mvgen.errors import MvgenError

SR = 22050
EXPECTED = {"silence": "silence", "tone": "tone", "sweep": "tone", "drone": "tone", "noise": "noise", "speech": "speech"}
SEEDS = range(4)


@pytest.fixture(scope="module")
def espeak():
    if not negatives.espeak_available():
        if os.environ.get("MVGEN_REQUIRE_ESPEAK") == "1":
            pytest.fail("espeak-ng is required (apt-get install espeak-ng)")
        pytest.skip("no espeak-ng on this machine (apt-get install espeak-ng)")


def _fraction(kind: str, want: str) -> float:
    kinds = [k for seed in SEEDS for k in gates.signal_gate(negatives.negative_clip(kind, seed, SR, 8.0), SR).kinds]
    return sum(k == want for k in kinds) / len(kinds)


@pytest.mark.parametrize("kind", ["silence", "tone", "sweep", "drone", "noise"])
def test_steady_negatives_are_gated_as_their_kind(kind):
    need = 0.95 if kind == "drone" else 1.0
    assert _fraction(kind, EXPECTED[kind]) >= need


def test_speech_is_gated_as_speech(espeak):
    assert _fraction("speech", "speech") >= 0.95


@pytest.mark.parametrize("genre,seed", [("tech_house", 1), ("deep_house", 2), ("progressive_house", 3), ("big_room", 4)])
def test_synthetic_house_is_music_everywhere(synth_track, genre, seed):
    # bars_scale 0.25: every section (intro, build-up, drop, breakdown, outro) in a short track
    audio, _ = synth_track([genre], seed=seed, bars_scale=0.25, sr=SR)
    gate = gates.signal_gate(audio, SR)
    assert gate.fraction("music") == 1.0, gates.gate_spans(gate)
    assert np.all(gate.music_likelihood >= 0.5)


def test_a_held_chord_between_music_is_music_but_a_tone_after_it_is_not(synth_track):
    music, _ = synth_track(["tech_house"], seed=1, bars_scale=0.25, sr=SR)
    t = np.arange(int(12.0 * SR)) / SR
    chord = (0.2 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63))).astype(np.float32)  # A major, held 12 s
    head = music[: int(20 * SR)]
    held = gates.signal_gate(chord, SR)
    assert held.fraction("tone") == 1.0  # alone, a held chord is a steady tone
    y = np.concatenate([head, chord, head])
    gate = gates.signal_gate(y, SR)
    middle = (gate.times_s > 22.0) & (gate.times_s < 30.0)
    assert all(k == "music" for k, m in zip(gate.kinds, middle) if m) and np.all(gate.music_likelihood[middle] >= 0.5)
    tail = gates.signal_gate(np.concatenate([head, chord]), SR)  # after the music, nothing follows: a tone
    assert tail.kinds[-1] == "tone" and tail.music_likelihood[-1] < 0.5
    assert gates.HELD_CHORD_MAX_S < 60.0


def test_a_long_breakdown_of_moving_chords_is_music_but_a_long_held_tone_is_not(synth_track):
    # 64 s between music, longer than HELD_CHORD_MAX_S: a 32-bar breakdown at 120 bpm
    music, _ = synth_track(["tech_house"], seed=1, bars_scale=0.25, sr=SR)
    head = music[: int(20 * SR)]
    t = np.arange(int(16.0 * SR)) / SR

    def chord(freqs):
        return 0.2 * sum(np.sin(2 * np.pi * f * t) for f in freqs)

    a, f, g, e = (220.0, 277.18, 329.63), (174.61, 220.0, 261.63), (196.0, 246.94, 293.66), (164.81, 207.65, 246.94)
    fade = np.clip(np.minimum(t, t[-1] - t), 0.0, 1.0)  # each chord fades in and out over 1 s, crossfading into the next
    hop = len(t) - int(1.0 * SR)
    progression = np.zeros(hop * 4 + int(1.0 * SR))
    for k, c in enumerate((a, f, g, e)):
        progression[k * hop : k * hop + len(t)] += fade * chord(c)
    progression = progression.astype(np.float32)
    held = np.concatenate([chord(a)] * 4).astype(np.float32)
    assert gates.signal_gate(progression, SR).fraction("tone") == 1.0  # alone, the chords are steady tones
    for pad, is_music in ((progression, True), (held, False)):
        gate = gates.signal_gate(np.concatenate([head, pad, head]), SR)
        middle = (gate.times_s > 23.0) & (gate.times_s < 81.0)
        kinds = {k for k, m in zip(gate.kinds, middle) if m}
        assert kinds == ({"music"} if is_music else {"tone"}), gates.gate_spans(gate)
        assert np.all((gate.music_likelihood[middle] >= 0.5) == is_music)


def test_tone_with_a_little_noise_is_a_tone():
    rng = np.random.default_rng(5)
    y = negatives.negative_clip("tone", 7, SR, 8.0)
    y = y + rng.standard_normal(len(y)).astype(np.float32) * float(np.sqrt(np.mean(y**2))) * 0.05
    assert gates.signal_gate(y, SR).fraction("tone") == 1.0


def test_signal_gate_shapes_spans_and_given_times():
    y = np.concatenate([negatives.negative_clip("silence", 0, SR, 6.0), negatives.negative_clip("tone", 1, SR, 6.0)])
    times = np.array([1.5, 3.0, 9.0, 10.5])
    gate = gates.signal_gate(y, SR, times_s=times, window_s=3.0)
    assert gate.kinds == ("silence", "silence", "tone", "tone")
    assert gate.music_likelihood.shape == (4,) and np.all((gate.music_likelihood >= 0) & (gate.music_likelihood < 0.5))
    spans = gates.gate_spans(gate)
    assert [s[2] for s in spans] == ["silence", "tone"] and spans[0][0] == 0.0 and spans[0][1] == spans[1][0] == 6.0
    assert gates.dominant_kind(gate) == "silence"
    default = gates.signal_gate(y, SR)
    assert np.allclose(np.diff(default.times_s), gates.STEP_S) and default.times_s[0] == gates.WINDOW_S / 2
    assert gates.signal_gate(y[: SR], SR).kinds == ("silence",)  # shorter than a window: one window


def test_sine_at_8khz_gets_no_beats_and_no_drops():
    import soxr

    from mvgen.analysis.track import analyze_signal

    t = np.arange(20 * 8000) / 8000
    y = soxr.resample((0.5 * np.sin(2 * np.pi * 100 * t)).astype(np.float32), 8000, SR).astype(np.float32)
    fields = analyze_signal(y, SR)
    assert fields.tempo_bpm is None and not fields.drops and not fields.beats_s
    assert any("steady tone" in w for w in fields.warnings)


def test_track_beats_finds_no_pulse_in_a_tone_with_noise():
    from mvgen.analysis.beats import track_beats
    from mvgen.features import frame_features
    from mvgen.analysis.structure import drops_from_sections, find_sections

    rng = np.random.default_rng(0)
    t = np.arange(20 * SR) / SR
    y = (0.5 * np.sin(2 * np.pi * 100 * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    features = frame_features(y, SR)
    grid = track_beats(features, 20.0)
    assert grid.tempo_bpm is None and len(grid.beats_s) == 0
    assert drops_from_sections(find_sections(features, grid.beats_s, grid.beats_s, 20.0)) == []


def test_digital_silence_has_no_tempo():
    from mvgen.analysis.track import analyze_signal

    assert analyze_signal(np.zeros(30 * SR, np.float32), SR).tempo_bpm is None


def test_negative_clip_contract():
    for kind in ("silence", "tone", "sweep", "drone", "noise"):
        a = negatives.negative_clip(kind, 3, 16000, 1.5)
        assert a.dtype == np.float32 and a.shape == (24000,) and np.max(np.abs(a)) < 1.0
        assert np.array_equal(a, negatives.negative_clip(kind, 3, 16000, 1.5))
    assert not np.array_equal(negatives.negative_clip("noise", 1, SR, 1.0), negatives.negative_clip("noise", 2, SR, 1.0))
    with pytest.raises(ValueError, match="allowed: silence, tone"):
        negatives.negative_clip("whale", 0, SR, 1.0)


def test_speech_clip(espeak):
    a = negatives.negative_clip("speech", 0, 16000, 3.0)
    assert a.dtype == np.float32 and a.shape == (48000,) and np.sqrt(np.mean(a**2)) > 1e-3


def test_speech_without_espeak_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(negatives.shutil, "which", lambda name: None)
    with pytest.raises(MvgenError, match="espeak-ng is not installed"):
        negatives.negative_clip("speech", 0, SR, 1.0)
