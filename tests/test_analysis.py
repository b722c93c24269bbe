"""Analysis of synthetic house tracks with known tempo, beats, downbeats, sections and drops."""

import json

import mir_eval
import numpy as np
import pytest

from mvgen.analysis import track as analysis_module
from mvgen.analysis.track import SCHEMA_VERSION, Analysis, analyze, analyze_signal
from mvgen.genres import GENRES

SR = 22050


def _f(reference, estimated):
    return mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.asarray(reference, float)), mir_eval.beat.trim_beats(np.asarray(estimated, float)))


def _iou(truth, found, duration_s):
    t = np.arange(0, duration_s, 0.05)
    a = np.zeros(len(t), bool)
    b = np.zeros(len(t), bool)
    for s, e in truth:
        a |= (t >= s) & (t < e)
    for s, e in found:
        b |= (t >= s) & (t < e)
    return (a & b).sum() / max((a | b).sum(), 1)


@pytest.mark.parametrize("genre", GENRES)
def test_every_subgenre(genre, synth_track):
    y, truth = synth_track([genre], seed=GENRES.index(genre))
    result = analyze_signal(y, SR)
    assert result.tempo_bpm == pytest.approx(truth.tempo_bpm, rel=1e-3)
    assert _f(truth.beats_s, result.beats_s) >= 0.95
    assert _f(truth.downbeats_s, result.downbeats_s) >= 0.9
    found = [(d.start_s, d.end_s) for d in result.drops]
    assert _iou([tuple(d) for d in truth.drops], found, len(y) / SR) >= 0.7


def test_sections_follow_the_arrangement(synth_track):
    y, truth = synth_track(["deep_house", "future_house", "bigroom"], seed=11)
    result = analyze_signal(y, SR)
    labels = [s.label for s in result.sections]
    assert labels == [s.label for s in _merged(truth.sections)]
    bar_s = 60.0 / truth.tempo_bpm * truth.beats_per_bar
    for found, expected in zip(result.sections, _merged(truth.sections)):
        assert abs(found.start_s - expected.start_s) <= bar_s + 0.05


def _merged(sections):
    out = []
    for s in sections:
        if out and out[-1].label == s.label:
            out[-1] = out[-1].model_copy(update={"end_s": s.end_s})
        else:
            out.append(s)
    return out


@pytest.mark.parametrize("bpm", [100.0, 140.0, 174.0])
def test_tempi_outside_house(bpm, synth_track):
    y, truth = synth_track(["tech_house"], seed=5, bpm=bpm)
    result = analyze_signal(y, SR)
    assert result.tempo_bpm == pytest.approx(bpm, rel=1e-3)
    assert _f(truth.beats_s, result.beats_s) >= 0.95


def test_three_four_time(synth_track):
    y, truth = synth_track(["progressive_house"], seed=2, beats_per_bar=3)
    result = analyze_signal(y, SR)
    assert result.beats_per_bar == 3
    assert _f(truth.beats_s, result.beats_s) >= 0.95


def test_silence_and_short_clips_warn_but_do_not_crash():
    silent = analyze_signal(np.zeros(10 * SR, np.float32), SR)
    assert silent.tempo_bpm is None and silent.warnings
    short = analyze_signal(np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1, SR)
    assert any("2 s" in w for w in short.warnings)
    assert short.sections[-1].end_s == pytest.approx(1.0)


@pytest.mark.slow
def test_analyze_file_is_cached_and_round_trips(tmp_path, synth_track, monkeypatch):
    from mvgen.media.audio import write_audio

    y, truth = synth_track(["slap_house"], seed=4)
    path = tmp_path / "track.flac"
    write_audio(path, y, SR)
    first = analyze(path)
    assert first.schema_version == SCHEMA_VERSION and first.audio.duration_s == pytest.approx(len(y) / SR, abs=1e-3)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cached analysis should have been used")

    monkeypatch.setattr(analysis_module, "load_audio", no_decoding)
    second = analyze(path)
    assert second.model_dump() == first.model_dump()

    saved = first.save(tmp_path / "a.json")
    assert json.loads(saved.read_text())["schema_version"] == SCHEMA_VERSION
    assert Analysis.load(saved) == first
    with pytest.raises(AssertionError):
        analyze(path, use_cache=False)


@pytest.mark.slow
def test_an_old_cached_analysis_is_recomputed(tmp_path, synth_track):
    """A cache entry of an older schema (an upgrade between two runs) is recomputed, never a crash."""
    from mvgen.media.audio import write_audio

    y, _ = synth_track(["deep_house"], seed=7)
    path = tmp_path / "track.wav"
    write_audio(path, y, SR)
    first = analyze(path)
    cached = analysis_module._cache_path(first.audio.content_hash, analysis_module._resolve_classifier(analysis_module.AnalysisOptions())[1], None)
    old = json.loads(cached.read_text())
    old["schema_version"] = 1
    del old["genre_profile"]["in_scope"], old["signal"]
    cached.write_text(json.dumps(old))
    again = analyze(path)
    assert again.genre_profile.in_scope == first.genre_profile.in_scope
    assert json.loads(cached.read_text())["schema_version"] == SCHEMA_VERSION


def test_non_music_is_beatless_and_outside_the_model(tmp_path):
    """A steady 100 Hz sine at 8 kHz and digital silence: no grid, no drop, and no genre the model claims."""
    import soundfile as sf

    sine = tmp_path / "sine.wav"
    t = np.arange(20 * 8000) / 8000
    sf.write(sine, 0.5 * np.sin(2 * np.pi * 100 * t), 8000)
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(30 * SR), SR)
    with pytest.warns(UserWarning, match="steady tone"):
        tone = analyze(sine)
    assert tone.tempo_bpm is None and tone.beats_s == [] and tone.drops == []
    assert [s.kind for s in tone.signal] == ["tone"]
    assert max(tone.genre_profile.in_scope) < 0.5
    with pytest.warns(UserWarning, match="silent"):
        quiet = analyze(silence)
    assert quiet.tempo_bpm is None and [s.kind for s in quiet.signal] == ["silence"]
    assert max(quiet.genre_profile.in_scope) == 0.0


def test_audio_features_survive_the_json_round_trip_and_old_caches_are_recomputed(tmp_path, synth_track):
    """The per-frame audio features are part of the cached analysis; a cache entry without them
    (written before they existed) is recomputed, not served."""
    from mvgen.media.audio import write_audio
    from mvgen.analysis.reactive import FEATURES

    y, _ = synth_track(["tech_house"], seed=2, bars_scale=0.25)
    path = tmp_path / "track.wav"
    write_audio(path, y, SR)
    first = analyze(path, genre_profile=False)
    features = first.audio_features
    assert features is not None and features.n_frames == 1 + len(y) // 256
    assert all(features.array(name).max() > 0.5 for name in FEATURES)  # every feature moves in a full track
    loaded = Analysis.load(first.save(tmp_path / "a.json"))
    assert loaded == first
    assert all(np.array_equal(loaded.audio_features.array(n), features.array(n)) for n in FEATURES)

    cached = analysis_module._cache_path(first.audio.content_hash, "noprofile", None)
    old = json.loads(cached.read_text())
    old["audio_features"] = None
    cached.write_text(json.dumps(old))
    again = analyze(path, genre_profile=False)
    assert again.audio_features == features
    assert json.loads(cached.read_text())["audio_features"] is not None


def test_silent_and_beatless_audio_still_get_features():
    silent = analyze_signal(np.zeros(5 * SR, np.float32), SR)
    assert silent.audio_features is not None and max(silent.audio_features.array("loudness")) == 0.0
    t = np.arange(6 * SR) / SR
    tone = analyze_signal((0.3 * np.sin(2 * np.pi * 40 * t)).astype(np.float32), SR)
    assert tone.tempo_bpm is None and np.median(tone.audio_features.array("sub")) > 0.9
