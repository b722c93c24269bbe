"""The synthetic house generator: determinism, exact ground truth, arrangement, sub-genre traits, inputs."""

import json
import re

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from mvgen import synth
from mvgen.errors import MvgenError
from mvgen.genres import GENRES, weights_to_vector
from tests import house_reference

SR = 22050


def _band(y, lo_hz, hi_hz, sr=SR):
    sos = signal.butter(4, [lo_hz, hi_hz], btype="bandpass", fs=sr, output="sos")
    return signal.sosfiltfilt(sos, y)


def _envelope(y, smooth_ms=3.0, sr=SR):
    k = max(1, int(smooth_ms / 1000 * sr))
    return np.convolve(np.abs(signal.hilbert(y)), np.ones(k) / k, mode="same")


def _rms_db(y):
    return 10 * np.log10(np.mean(np.square(y, dtype=np.float64)) + 1e-20)


def _span(y, start_s, end_s, sr=SR):
    return y[int(round(start_s * sr)) : int(round(end_s * sr))]


def _low_envelope(y, sr=SR):
    return _envelope(signal.sosfiltfilt(signal.butter(4, 400, fs=sr, output="sos"), y), 0.5, sr)


def _onset_ms(env, i, sr=SR, rise=0.3):
    """Where ``env`` first rises by ``rise`` of the way from its level before sample ``i`` to its peak after it (ms from ``i``)."""
    w, pre, post = int(0.03 * sr), int(0.003 * sr), int(0.05 * sr)
    base, peak = np.median(env[i - w : i - pre]), env[i : i + post].max()
    return (np.argmax(env[i - w : i + w] > base + rise * (peak - base)) - w) / sr * 1000


def _kick_offsets_ms(y, beats_s, sr=SR):
    """Low-band (< 400 Hz) onset near each beat, ms from the beat."""
    env = _low_envelope(y, sr)
    at = [int(round(b * sr)) for b in beats_s]
    return np.array([_onset_ms(env, i, sr) for i in at if int(0.03 * sr) <= i < len(y) - int(0.05 * sr)])


def _mean_kick_offset_ms(y, beats_s, sr=SR):
    """Onset of the low-band envelope averaged over the beats, which averages out the bass line."""
    env = _low_envelope(y, sr)
    w = int(0.06 * sr)
    at = [int(round(b * sr)) for b in beats_s if w <= b * sr < len(y) - w]
    return _onset_ms(np.mean([env[i - w : i + w] for i in at], axis=0), w, sr)


def _hit_strength(y, times_s, lo_hz, hi_hz, sr=SR):
    """Rise of band energy across each time (40 ms after minus 40 ms before), in units of the band's mean energy."""
    env = _envelope(_band(y, lo_hz, hi_hz, sr), 3.0, sr) ** 2
    w = int(0.04 * sr)
    at = [int(round(t * sr)) for t in times_s]
    return np.array([env[i : i + w].mean() - env[i - w : i].mean() for i in at]) / env.mean()


@pytest.fixture(scope="module")
def track():
    """Two parts: deep house, then a 70/30 future house / bass house blend; mono, 22.05 kHz."""
    arrangement = synth.default_arrangement(["deep_house", {"future_house": 0.7, "bass_house": 0.3}], seed=3, bars_scale=0.5)
    return synth.render(arrangement, seed=3, sr=SR, stereo=False)


def test_same_seed_same_audio_other_seed_other_sound():
    arrangement = synth.default_arrangement(["tech_house", "bigroom"], seed=5, bars_scale=0.25)
    a, truth_a = synth.render(arrangement, seed=5, sr=SR)
    b, truth_b = synth.render(arrangement, seed=5, sr=SR)
    assert a.dtype == np.float32 and a.ndim == 2 and a.shape[0] == 2
    assert np.array_equal(a, b) and truth_a == truth_b
    assert np.max(np.abs(a)) == pytest.approx(10 ** (-1 / 20), abs=0.01)
    c, _ = synth.render(arrangement, seed=6, sr=SR)
    assert not np.array_equal(a, c)

    # Same genre, tempo and key: the seed alone changes the sound design (kick, bass, lead, hats ...).
    fixed = synth.Arrangement(sections=[synth.SectionSpec(label="drop", bars=4, genres={"future_house": 1})], bpm=126, key=0)
    spectra = []
    for seed in range(3):
        y, _ = synth.render(fixed, seed=seed, sr=SR, stereo=False)
        f, p = signal.welch(y, SR, nperseg=4096)
        spectra.append(10 * np.log10(p[(f > 40) & (f < 8000)] + 1e-20))
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert np.mean(np.abs(spectra[i] - spectra[j])) > 1.0


def test_truth_matches_the_audio_and_the_arrangement(track):
    y, truth = track
    arrangement = truth.arrangement
    assert truth.duration_s == len(y) / SR and truth.sr == SR and truth.tempo_bpm == arrangement.bpm
    beats, downbeats = np.array(truth.beats_s), np.array(truth.downbeats_s)
    assert np.all(np.abs(np.diff(beats) - 60.0 / truth.tempo_bpm) < 1.0 / SR)
    assert np.array_equal(downbeats, beats[:: truth.beats_per_bar])
    assert len(beats) == sum(s.bars for s in arrangement.sections) * truth.beats_per_bar

    sections = truth.sections
    assert sections[0].start_s == 0.0 and sections[-1].end_s == truth.duration_s
    assert all(a.end_s == b.start_s for a, b in zip(sections, sections[1:]))
    assert [s.label for s in sections] == ["intro", "build-up", "drop", "breakdown", "build-up", "drop", "outro"]
    assert sections[0].genres == {"deep_house": 1.0} and sections[-1].genres == pytest.approx({"future_house": 0.7, "bass_house": 0.3})
    assert all(s.start_s in downbeats for s in sections)  # sections start on bar lines
    assert [tuple(d) for d in truth.drops] == [(s.start_s, s.end_s) for s in sections if s.label == "drop"]

    profile = truth.genre_profile
    probabilities = np.array(profile.probabilities)
    assert profile.labels == list(synth.STYLES) and probabilities.shape == (len(profile.times_s), len(synth.STYLES))
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert 0 < profile.times_s[0] and profile.times_s[-1] < truth.duration_s
    house = profile.vector_over(GENRES)  # a house-only track: the 8 house columns hold everything
    assert house.shape == (len(profile.times_s), len(GENRES)) and np.allclose(house.sum(axis=1), 1.0)
    for t, row in zip(profile.times_s, house):
        section = next(s for s in sections if s.start_s <= t < s.end_s)
        assert np.allclose(row, weights_to_vector(section.genres))

    assert synth.SynthTruth.model_validate_json(truth.model_dump_json()) == truth


def test_drops_are_the_loudest_sections(track):
    y, truth = track
    level = [(s.label, _rms_db(_span(y, s.start_s, s.end_s))) for s in truth.sections]
    drops = [db for label, db in level if label == "drop"]
    others = [db for label, db in level if label != "drop"]
    breakdowns = [db for label, db in level if label == "breakdown"]
    assert min(drops) > max(others) + 3.0
    assert min(drops) > max(breakdowns) + 6.0


@pytest.mark.parametrize("genre", GENRES)
def test_kicks_start_on_the_true_beats(genre):
    y, truth = synth.render_clip({genre: 1.0}, seed=GENRES.index(genre), sr=SR, duration_s=6.0)
    assert abs(_mean_kick_offset_ms(y, truth.beats_s)) <= 2.0


def test_tempo_ranges_differ_by_subgenre():
    deep = [synth.default_arrangement(["deep_house"], seed=s).bpm for s in range(20)]
    bigroom = [synth.default_arrangement(["bigroom"], seed=s).bpm for s in range(20)]
    assert all(118 <= bpm <= 122 for bpm in deep) and all(126 <= bpm <= 130 for bpm in bigroom)
    assert len(set(deep)) > 1 and len(set(bigroom)) > 1
    _, truth = synth.render_clip({"slap_house": 1.0}, seed=1, sr=SR, duration_s=2.0)
    assert 120 <= truth.tempo_bpm <= 126


def _clips(genre, seeds=(0, 1, 2), duration_s=8.0):
    return [synth.render_clip({genre: 1.0}, seed=s, sr=SR, duration_s=duration_s) for s in seeds]


def _kick_tail_db(y, truth):
    """Kick-band (35-90 Hz) level 150-250 ms after the beats relative to 10-60 ms after."""
    env = _envelope(_band(y, 35, 90), 5.0)
    beats = [b for b in truth.beats_s if b + 0.3 < truth.duration_s]
    early = np.mean([env[int((b + 0.01) * SR) : int((b + 0.06) * SR)].mean() for b in beats])
    late = np.mean([env[int((b + 0.15) * SR) : int((b + 0.25) * SR)].mean() for b in beats])
    return 20 * np.log10(late / early)


def test_bigroom_kick_has_a_long_tonal_tail_and_tech_house_a_tight_one():
    bigroom = [_kick_tail_db(*clip) for clip in _clips("bigroom")]
    tech = [_kick_tail_db(*clip) for clip in _clips("tech_house")]
    assert min(bigroom) > max(tech) + 3.0


def _spectral_flatness(y, lo_hz, hi_hz):
    f, _, s = signal.stft(y, SR, nperseg=2048)
    power = np.abs(s[(f >= lo_hz) & (f <= hi_hz)]) ** 2 + 1e-12
    return float(np.median(np.exp(np.mean(np.log(power), axis=0)) / np.mean(power, axis=0)))


def test_bass_house_growls_where_deep_house_is_warm():
    """Distorted, wavefolded bass stabs make the 100-1000 Hz band noise-like; a lowpassed reese stays tonal."""
    bass = np.mean([_spectral_flatness(y, 100, 1000) for y, _ in _clips("bass_house")])
    deep = np.mean([_spectral_flatness(y, 100, 1000) for y, _ in _clips("deep_house")])
    assert bass > 2.0 * deep


def _peakiness(y):
    """Share of 500-4000 Hz energy in the strongest 2 % of frequency bins (tonal leads concentrate it)."""
    f, _, s = signal.stft(y, SR, nperseg=2048)
    power = np.sort(np.abs(s[(f >= 500) & (f <= 4000)]) ** 2, axis=0)[::-1]
    top = max(1, len(power) // 50)
    return float(np.median(power[:top].sum(axis=0) / (power.sum(axis=0) + 1e-20)))


def test_tech_house_has_little_tonal_lead_next_to_progressive_house():
    tech = np.mean([_peakiness(y) for y, _ in _clips("tech_house")])
    progressive = np.mean([_peakiness(y) for y, _ in _clips("progressive_house")])
    assert progressive > tech + 0.1


def _off_beat_bass_onsets(y, truth):
    """Bass-band (90-400 Hz) onset strength on the 16ths between beats, relative to its average."""
    env = _envelope(_band(y, 90, 400), 3.0)
    flux = np.maximum(np.diff(env, prepend=env[0]), 0.0)
    sixteenth_s = 60.0 / truth.tempo_bpm / 4
    window = (int(0.005 * SR), int(0.02 * SR))
    beats = [b for b in truth.beats_s if b > 0.05 and b + 4 * sixteenth_s < truth.duration_s]
    on_16ths = [flux[int((b + k * sixteenth_s) * SR) - window[0] : int((b + k * sixteenth_s) * SR) + window[1]].sum() for b in beats for k in (1, 2, 3)]
    return np.mean(on_16ths) / (flux.mean() * sum(window))


def test_slap_house_bass_bounces_between_the_kicks():
    slap = np.mean([_off_beat_bass_onsets(*clip) for clip in _clips("slap_house")])
    deep = np.mean([_off_beat_bass_onsets(*clip) for clip in _clips("deep_house")])
    assert slap > deep + 0.25


def test_future_rave_stabs_are_wide():
    y, _ = synth.render(
        synth.Arrangement(sections=[synth.SectionSpec(label="drop", bars=4, genres={"future_rave": 1})], bpm=128), seed=2, sr=SR
    )
    mid, side = (y[0] + y[1]) / 2, (y[0] - y[1]) / 2
    assert _rms_db(side) > _rms_db(mid) - 20.0


def test_blends_mix_both_subgenres_and_accept_display_names():
    sections = [synth.SectionSpec(label="drop", bars=4, genres={"Future House": 7, "Bass House": 3})]
    blend, truth = synth.render(synth.Arrangement(sections=sections, bpm=126, key=2), seed=4, sr=SR, stereo=False)
    assert truth.sections[0].genres == pytest.approx({"future_house": 0.7, "bass_house": 0.3})
    assert np.allclose(truth.genre_profile.vector_over(GENRES)[0], weights_to_vector({"future_house": 0.7, "bass_house": 0.3}))
    pure_sections = [synth.SectionSpec(label="drop", bars=4, genres={"future_house": 1})]
    pure, _ = synth.render(synth.Arrangement(sections=pure_sections, bpm=126, key=2), seed=4, sr=SR, stereo=False)
    assert blend.shape == pure.shape and not np.allclose(blend, pure, atol=1e-3)


def _drop(bars, **fields):
    return synth.SectionSpec(label="drop", bars=bars, genres={"tech_house": 1.0}, **fields)


def test_halftime_section_kicks_on_one_and_claps_on_three():
    y, truth = synth.render(synth.Arrangement(sections=[_drop(4, halftime=True)], bpm=124, key=0), seed=1, sr=SR, stereo=False)
    beats = np.array(truth.beats_s)
    assert len(beats) == 16  # the grid keeps every beat
    position = np.arange(len(beats)) % 4
    inner = (beats > 0.05) & (beats < truth.duration_s - 0.1)
    kick = _hit_strength(y, beats[inner], 35, 150)
    assert kick[position[inner] == 0].min() > 3.0 and kick[position[inner] != 0].max() < 1.0
    clap = _hit_strength(y, beats[inner], 1000, 5000)
    assert clap[position[inner] == 2].min() > 3.0 and clap[position[inner] != 2].max() < 1.0


def test_three_four_time():
    arrangement = synth.Arrangement(sections=[_drop(6)], bpm=120, key=5, beats_per_bar=3)
    y, truth = synth.render(arrangement, seed=2, sr=SR, stereo=False)
    beats = np.array(truth.beats_s)
    assert truth.beats_per_bar == 3 and len(beats) == 18
    assert np.array_equal(np.array(truth.downbeats_s), beats[::3])
    assert np.all(np.abs(_kick_offsets_ms(y, beats)) <= 2.0)
    clap = _hit_strength(y, beats[1:-1], 1000, 5000)
    position = np.arange(1, len(beats) - 1) % 3
    assert clap[position == 1].min() > 3.0 and clap[position != 1].max() < 1.0  # one clap a bar, on beat 2


def test_beatless_sections_have_no_beats_and_no_kicks():
    pads = synth.SectionSpec(label="intro", bars=4, genres={"deep_house": 1.0}, drums=False)
    y, truth = synth.render(synth.Arrangement(sections=[pads, _drop(4)], bpm=120, key=0), seed=3, sr=SR, stereo=False)
    boundary = truth.sections[1].start_s
    assert truth.beats_s[0] == boundary and len(truth.beats_s) == 16
    assert _rms_db(_span(y, 0.5, boundary)) > -40.0  # pads, not silence
    grid = boundary - 60.0 / 120 * np.arange(1, 15)
    assert np.abs(_hit_strength(y, grid, 35, 150)).max() < 0.5
    assert _hit_strength(y, np.array(truth.beats_s[1:-1]), 35, 150).min() > 2.0

    silent_drums, beatless = synth.render(synth.Arrangement(sections=[pads], bpm=120), seed=3, sr=SR, stereo=False)
    assert beatless.beats_s == [] and beatless.downbeats_s == [] and len(silent_drums) == round(8.0 * SR)


def test_tempo_change_between_sections():
    arrangement = synth.Arrangement(sections=[_drop(4), _drop(4, bpm=100.0)], bpm=124, key=0)
    y, truth = synth.render(arrangement, seed=4, sr=SR, stereo=False)
    beats = np.array(truth.beats_s)
    change_s = 16 * 60.0 / 124
    assert truth.tempo_bpm == 124 and truth.sections[1].start_s == pytest.approx(change_s)
    assert np.allclose(np.diff(beats[:17]), 60.0 / 124) and np.allclose(np.diff(beats[16:]), 0.6)
    assert [tuple(d) for d in truth.drops] == [(0.0, truth.duration_s)]  # adjacent drops merge
    assert np.all(np.abs(_kick_offsets_ms(y, beats)) <= 2.0)


def test_default_arrangement_layouts():
    one = synth.default_arrangement("progressive_house", seed=0)
    assert [(s.label, s.bars) for s in one.sections] == [
        ("intro", 16), ("build-up", 8), ("drop", 16), ("breakdown", 16), ("build-up", 8), ("drop", 16), ("outro", 8),
    ]
    assert 124 <= one.bpm <= 128 and 0 <= one.key <= 11
    three = synth.default_arrangement(["deep_house", "future_house", "bigroom"], seed=0, bars_scale=0.25)
    assert [next(iter(s.genres)) for s in three.sections] == ["deep_house"] * 2 + ["future_house"] + ["bigroom"] * 4
    assert [s.bars for s in three.sections] == [4, 2, 4, 4, 2, 4, 2]
    blend = synth.default_arrangement({"future_house": 1, "bass_house": 1}, seed=0)
    assert all(s.genres == {"future_house": 0.5, "bass_house": 0.5} for s in blend.sections)


def test_render_clip_is_a_short_mono_section():
    y, truth = synth.render_clip({"future_rave": 0.6, "tech_house": 0.4}, seed=9, duration_s=5.0, label="build-up")
    assert y.shape == (5 * 22050,) and y.dtype == np.float32 and np.max(np.abs(y)) <= 1.0
    assert truth.duration_s == 5.0 and [s.label for s in truth.sections] == ["build-up"]
    assert truth.sections[0].end_s == 5.0 and max(truth.beats_s) < 5.0 and truth.drops == []
    assert 126 <= truth.tempo_bpm <= 130  # the dominant sub-genre's range


def test_write_track_round_trips(tmp_path):
    y, truth = synth.render(synth.Arrangement(sections=[_drop(2)], bpm=125), seed=0, sr=SR)
    sidecar = synth.write_track(tmp_path / "t.flac", y, truth)
    assert sidecar == tmp_path / "t.json"
    data, sr = sf.read(tmp_path / "t.flac", dtype="float32")
    assert sr == SR and data.shape == (y.shape[1], 2) and np.allclose(data.T, y, atol=1e-4)
    assert synth.SynthTruth.model_validate(json.loads(sidecar.read_text())) == truth
    with pytest.raises(MvgenError, match=re.escape(str(tmp_path / "t.mp3"))):
        synth.write_track(tmp_path / "t.mp3", y, truth)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.flac", "t.json"]  # no sidecar, no temporary files
    with pytest.raises(MvgenError, match=re.escape(str(tmp_path / "missing"))):
        synth.write_track(tmp_path / "missing" / "t.wav", y, truth)


_STANDARD = synth.default_arrangement(["bigroom"], seed=0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: synth.render_clip({"deep_house": 1}, seed=0, sr=5), "sr must be in 8000..192000, got 5"),
        (lambda: synth.render_clip({"deep_house": 1}, seed=-1), "seed must be a non-negative integer"),
        (lambda: synth.render_clip({"trance": 1}, seed=0), "unknown sub-genre or style 'trance'; valid: progressive_house"),
        (lambda: synth.render_clip({"deep_house": 1}, seed=0, duration_s=0), "duration_s must be in"),
        (lambda: synth.render_clip({"deep_house": 1}, seed=0, label="chorus"), "label must be one of"),
        (lambda: synth.SectionSpec(label="drop", bars=0, genres={"bigroom": 1}), "bars must be >= 1, got 0"),
        (lambda: synth.SectionSpec(label="chorus", bars=4, genres={"bigroom": 1}), "label"),
        (lambda: synth.SectionSpec(label="drop", bars=4, genres={"bigroom": -1}), "weight of 'bigroom' must be >= 0"),
        (lambda: synth.SectionSpec(label="drop", bars=4, genres={"bigroom": 1}, bpm=5), "bpm must be in 40..300, got 5"),
        (lambda: synth.Arrangement(sections=[]), "sections must not be empty"),
        (lambda: synth.Arrangement(sections=_STANDARD.sections, beats_per_bar=1), "beats_per_bar must be in 2..12"),
        (lambda: synth.Arrangement(sections=_STANDARD.sections, key=12), "key must be in 0..11"),
        (lambda: synth.Arrangement(sections=[_drop(2000)], bpm=120), "at most 900 s"),
        (lambda: synth.default_arrangement(["bigroom"], seed=0, bars_scale=0), "bars_scale must be in"),
        (lambda: synth.default_arrangement([], seed=0), "genres must give 1..7 parts"),
        # model_copy skips validation, so render validates again.
        (lambda: synth.render(_STANDARD.model_copy(update={"bpm": 5.0}), seed=0, sr=SR), "bpm must be in 40..300"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_parameter(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_unknown_instrument_is_a_value_error_listing_the_instruments():
    from mvgen.synth.instruments import INSTRUMENTS, play_note

    with pytest.raises(ValueError, match=re.escape(f"unknown instrument 'kazoo'; valid: {', '.join(INSTRUMENTS)}")):
        play_note("kazoo", {}, 110.0, 100, 80, SR, 1, 0.0, 0.5, 0.02)


def test_the_instrument_table_has_every_instrument_a_recipe_names_and_no_other():
    from mvgen.synth.instruments import INSTRUMENTS
    from mvgen.synth.recipes import COMMON_RECIPE, RECIPES

    named = {"drone"}  # under beatless pads
    for recipe in RECIPES.values():
        q = {**COMMON_RECIPE, **recipe}
        for part in ("lead", "lead2", "comp", "pad", "bass_sound" if q["bass_sound"] else "bass"):
            named |= set(q[part]) if isinstance(q[part], list) else {q[part]}
    assert named - {"none", "pad"} == set(INSTRUMENTS)  # comp "pad": chords on the style's pad


# --------------------------------------------------------------------------------------------
# Out-of-scope styles (synth.OTHER_STYLES)

_DRUMMED = tuple(s for s in synth.OTHER_STYLES if s != "ambient")


def test_styles_are_house_then_the_other_styles_each_with_a_tempo_range():
    assert synth.STYLES == GENRES + synth.OTHER_STYLES and len(set(synth.STYLES)) == 17
    assert set(synth.TEMPO_RANGES_BPM) == set(synth.STYLES)
    assert synth.style_key("Drum and Bass") == "drum_and_bass" and synth.style_key("hip-hop") == "hip_hop"
    assert synth.style_key("Techno") == "tech_house"  # house names still go through genres.genre_key


@pytest.mark.parametrize("style", synth.OTHER_STYLES)
def test_other_style_tempo_beats_and_truth(style):
    y, truth = synth.render_clip(style, seed=1, sr=SR, duration_s=6.0)
    lo, hi = synth.TEMPO_RANGES_BPM[style]
    assert y.shape == (6 * SR,) and lo <= truth.tempo_bpm <= hi and np.isfinite(y).all()
    beats = np.array(truth.beats_s)
    if style == "ambient":  # no drums, so no beat
        assert beats.size == 0 and truth.downbeats_s == []
    else:
        assert beats[0] == 0.0 and len(beats) == int(np.ceil(6.0 / (60.0 / truth.tempo_bpm) - 1e-9))
        assert np.all(np.abs(np.diff(beats) - 60.0 / truth.tempo_bpm) < 1.0 / SR)
        assert np.array_equal(np.array(truth.downbeats_s), beats[::4])
    profile = truth.genre_profile
    assert profile.labels == list(synth.STYLES)
    assert np.all(np.array(profile.probabilities)[:, synth.STYLES.index(style)] == 1.0)
    assert not profile.vector_over(GENRES).any()  # no house in it: an all-zero house target


def _step_strengths(y, truth, lo_hz, hi_hz):
    """Band hit strength (see _hit_strength) at each 16th step of the bar, averaged over the whole bars."""
    sixteenth_s = 60.0 / truth.tempo_bpm / 4
    bars = [b for b in truth.downbeats_s if b > 0.05 and b + 16 * sixteenth_s + 0.05 < truth.duration_s]
    return np.mean([_hit_strength(y, b + np.arange(16) * sixteenth_s, lo_hz, hi_hz) for b in bars], axis=0)


_KICK_BAND, _SNARE_BAND = (35, 150), (1000, 5000)
# Where the recipe puts the hits (16th steps of a bar, 4 a beat) and steps where no drum or bass may start.
_PLACEMENT = {
    "drum_and_bass": [(_KICK_BAND, (0, 10), (4, 8, 12)), (_SNARE_BAND, (4, 12), (0, 8))],
    "hip_hop": [(_KICK_BAND, (0, 10), (4, 8, 12)), (_SNARE_BAND, (4, 12), (8,))],  # the "and" of 3, not 3
    "trap": [(_SNARE_BAND, (8,), (4, 12))],  # half time: the clap on 3 only
    "reggae": [(_KICK_BAND, (8,), (0,))],  # one drop: nothing on the one
    "dancehall": [(_KICK_BAND, (0, 8), (4, 12)), (_SNARE_BAND, (6, 14), (4, 12))],
    "rock": [(_KICK_BAND, (0, 8), (4, 12)), (_SNARE_BAND, (4, 12), (8,))],
    "pop_ballad": [(_KICK_BAND, (0, 8), (4, 12)), (_SNARE_BAND, (4, 12), (8,))],
    "hardstyle": [(_KICK_BAND, (0, 4, 8, 12), (2, 6, 10, 14))],
}


@pytest.mark.parametrize("style", _PLACEMENT)
def test_drum_hits_are_where_the_recipe_puts_them(style):
    for seed in (0, 1):
        y, truth = synth.render_clip(style, seed=seed, sr=SR, duration_s=720.0 / synth.TEMPO_RANGES_BPM[style][0] + 0.1)  # 3 bars and a bit
        for band, on, off in _PLACEMENT[style]:
            strength = _step_strengths(y, truth, *band)
            assert strength[list(on)].min() > max(0.5, 2.5 * strength[list(off)].max()), (seed, band, strength.round(2))


@pytest.mark.parametrize("style", _DRUMMED)
def test_other_style_kicks_start_on_their_grid_steps(style):
    from mvgen.synth.patterns import DrawnStyle

    y, truth = synth.render_clip(style, seed=2, sr=SR, duration_s=6.0)
    sixteenth_s = 60.0 / truth.tempo_bpm / 4
    steps = [i for i, c in enumerate(DrawnStyle.draw(style, 2).q["kick_steps"]) if c != "."]
    kicks = [b + s * sixteenth_s for b in truth.downbeats_s for s in steps]
    assert abs(_mean_kick_offset_ms(y, kicks)) <= 2.0


def test_ambient_has_no_drums_and_a_steady_low_end():
    y, truth = synth.render_clip("ambient", seed=3, sr=SR, duration_s=8.0)
    assert truth.beats_s == [] and _rms_db(y) > -30.0  # pads and drone, not silence
    low = _envelope(_band(y, 35, 150), 50.0)[SR : -SR // 2]  # past the first swell
    assert low.std() / low.mean() < 0.25
    grid = np.arange(1, 8 * truth.tempo_bpm / 60.0 - 1) * 60.0 / truth.tempo_bpm  # where beats would be
    assert np.abs(_hit_strength(y, grid, 35, 150)).max() < 0.5
    assert np.abs(_hit_strength(y, grid, 1000, 5000)).max() < 0.5


def test_reggae_skank_is_the_loudest_thing_in_the_mids():
    """The off-beat chop is louder (300-3000 Hz) than the one drop on 3, whose kick is soft."""
    for seed in (0, 1):
        y, truth = synth.render_clip("reggae", seed=seed, sr=SR, duration_s=7.0)
        beat_s, mids = 60.0 / truth.tempo_bpm, _envelope(_band(y, 300, 3000))
        w = int(0.05 * SR)

        def level(times_s):
            return np.mean([mids[int(round(t * SR)) : int(round(t * SR)) + w].mean() for t in times_s if t + 0.06 < truth.duration_s])

        assert level([b + beat_s / 2 for b in truth.beats_s]) > 2.0 * level([d + 2 * beat_s for d in truth.downbeats_s])


@pytest.mark.parametrize("style", ["trap", "rock", "ambient"])
def test_other_styles_are_deterministic(style):
    a, truth_a = synth.render_clip(style, seed=4, sr=16000, duration_s=3.0)
    b, truth_b = synth.render_clip(style, seed=4, sr=16000, duration_s=3.0)
    assert np.array_equal(a, b) and truth_a == truth_b
    assert not np.array_equal(a, synth.render_clip(style, seed=5, sr=16000, duration_s=3.0)[0])


def test_blends_across_house_and_other_styles():
    # The dominant style's meter: drum & bass drums (and tempo) under a house partner ...
    y, truth = synth.render_clip({"drum_and_bass": 0.7, "deep_house": 0.3}, seed=1, sr=16000, duration_s=3.0)
    assert 170 <= truth.tempo_bpm <= 175 and truth.beats_s and np.isfinite(y).all()
    assert truth.genre_profile.vector_over(["deep_house", "drum_and_bass"])[0] == pytest.approx([0.3, 0.7])
    # ... and an ambient-dominated blend is beatless, while a house-dominated one keeps its beat.
    _, beatless = synth.render_clip({"ambient": 0.6, "tech_house": 0.4}, seed=1, sr=16000, duration_s=3.0)
    assert beatless.beats_s == []
    _, beat = synth.render_clip({"ambient": 0.4, "tech_house": 0.6}, seed=1, sr=16000, duration_s=3.0)
    assert beat.beats_s
    arrangement = synth.default_arrangement(["hip_hop", "future_house"], seed=2, bars_scale=0.125)
    assert 70 <= arrangement.bpm <= 95 and arrangement.sections[-1].genres == {"future_house": 1.0}
    y, truth = synth.render(arrangement, seed=2, sr=16000, stereo=True)
    assert y.shape[0] == 2 and len(truth.beats_s) == 4 * sum(s.bars for s in arrangement.sections)  # the meter goes on across styles


def test_schema_1_truth_still_loads_with_eight_house_columns():
    _, truth = synth.render_clip("bigroom", seed=0, sr=16000, duration_s=1.0)
    old = truth.model_dump(mode="json")
    old["schema_version"] = 1
    old["genre_profile"].pop("labels")
    old["genre_profile"]["probabilities"] = [row[: len(GENRES)] for row in old["genre_profile"]["probabilities"]]
    loaded = synth.SynthTruth.model_validate(old)
    assert loaded.genre_profile.labels == list(GENRES)
    assert np.array_equal(loaded.genre_profile.vector_over(GENRES), truth.genre_profile.vector_over(GENRES))
    assert np.array_equal(loaded.genre_profile.vector_over(["rock", "bigroom"])[:, 1], np.ones(len(truth.genre_profile.times_s)))


def test_house_sounds_and_random_streams_are_the_house_only_synths():
    """Adding styles changed no house random stream (drawn styles, event times and levels exactly)
    and no house sound (audio within float noise of the house-only synth's, block by block)."""
    from mvgen.synth.patterns import DrawnStyle

    reference = json.loads(house_reference.REFERENCE_PATH.read_text())
    drawn = house_reference.style_draws(GENRES)
    assert sorted(reference["styles"]) == sorted(f"{genre}@{seed}" for genre, seed in drawn)
    for genre, seed in drawn:
        style = house_reference.drawn_style(DrawnStyle.draw(genre, seed))
        expected = reference["styles"][f"{genre}@{seed}"]
        # traits added for the other styles are constants in the house recipes: they draw nothing
        assert {k: style["q"][k] for k in expected["q"]} == expected["q"], (genre, seed)
        assert {k: v for k, v in style.items() if k != "q"} == {k: v for k, v in expected.items() if k != "q"}, (genre, seed)
    for name, (audio, truth) in house_reference.render_all(synth).items():
        assert house_reference.truth_fields(truth) == reference["truths"][name], name
        difference = house_reference.sketch(audio) - np.asarray(reference["sketches"][name])
        assert house_reference.block_rms(difference).max() < house_reference.AUDIO_TOLERANCE_RMS, name


def test_trap_hats_roll_into_32nds_at_the_end_of_every_second_bar():
    y, truth = synth.render_clip("trap", seed=0, sr=SR, duration_s=7.0)
    hats = _envelope(signal.sosfiltfilt(signal.butter(4, 6000, btype="highpass", fs=SR, output="sos"), y), 1.0)
    beat_s = 60.0 / truth.tempo_bpm

    def onsets(beat):
        seg = hats[int(beat * beat_s * SR) : int((beat + 1) * beat_s * SR)]
        return len(signal.find_peaks(seg, prominence=0.3 * seg.max(), distance=int(0.02 * SR))[0])

    assert [onsets(b) for b in range(4, 8)] == [4, 4, 4, 8]  # bar 2: 16ths, then a beat of 32nds


def test_events_are_where_the_sounds_start(track):
    """The truth's kicks sit on the beats and start a rise of low-band energy, its hats one of
    high-band energy; claps are on 2 and 4, build-ups have a riser and lose the kick halfway."""
    y, truth = track
    events = truth.events
    beat_s = 60.0 / truth.tempo_bpm
    kicks = events.times_s("kicks")
    assert len(kicks) > 50 and np.all(np.min(np.abs(kicks[:, None] - np.array(truth.beats_s)[None, :]), axis=1) < 1.0 / SR)
    # build-ups drop the kick halfway, breakdowns have none
    for s in truth.sections:
        inside = kicks[(kicks >= s.start_s - 1.0 / SR) & (kicks < s.end_s - 1.0 / SR)]  # hit times are whole samples
        if s.label == "breakdown":
            assert len(inside) == 0
        if s.label == "build-up":
            assert inside.max() < (s.start_s + s.end_s) / 2
    claps, rolls = events.times_s("claps"), events.times_s("snare_rolls")
    assert len(claps) > 10 and len(rolls) > 10
    assert np.all(np.abs((claps - truth.sections[0].start_s) / beat_s % 2 - 1) < 1e-3)  # house: on 2 and 4
    drop = next(s for s in truth.sections if s.label == "drop")
    hats = events.times_s("hats_closed", "hats_open")
    in_drop = lambda t: t[(t > drop.start_s + 0.1) & (t < drop.end_s - 0.1)]  # noqa: E731
    assert np.median(_hit_strength(y, in_drop(kicks), 30, 120)) > 1.0
    assert np.median(_hit_strength(y, in_drop(hats), 7000, 10000)) > 0.5
    build = next(s for s in truth.sections if s.label == "build-up")
    assert [tuple(r) for r in events.risers][0] == pytest.approx((build.start_s, build.end_s))
    # deep house has a lead in the drop, the bass plays in the drop
    assert any(a <= drop.start_s + 1e-6 and b >= drop.end_s - 1e-6 for a, b in events.bass)


def test_extra_snares_off_the_grid_sound_and_are_recorded():
    beats = [0.37, 1.5, 2.91, 5.123, 6.6]
    spec = synth.SectionSpec(label="breakdown", bars=2, genres={"tech_house": 1}, extra_snares_beats=beats)
    arrangement = synth.Arrangement(sections=[spec], bpm=120, key=0)
    y, truth = synth.render(arrangement, seed=1, sr=SR, stereo=False)
    plain, _ = synth.render(arrangement.model_copy(update={"sections": [spec.model_copy(update={"extra_snares_beats": []})]}), seed=1, sr=SR, stereo=False)
    times = truth.events.times_s("extra_snares")
    assert times == pytest.approx(np.array(beats) * 0.5, abs=1.0 / SR)
    assert truth.events.claps == [] and truth.events.kicks == []  # a breakdown: no grid drums
    assert np.median(_hit_strength(y, times, 1000, 3000)) > 2.0 * max(np.median(_hit_strength(plain, times, 1000, 3000)), 0.1)
    with pytest.raises(ValueError, match="extra_snares_beats"):
        synth.Arrangement(sections=[spec.model_copy(update={"extra_snares_beats": [8.5]})], bpm=120, key=0)
    with pytest.raises(ValueError, match="extra_snares_beats"):
        synth.SectionSpec(label="drop", bars=1, genres={"tech_house": 1}, extra_snares_beats=[-1.0])


def test_schema_2_truth_without_events_still_loads():
    _, truth = synth.render_clip("bigroom", seed=0, sr=16000, duration_s=1.0)
    old = truth.model_dump(mode="json")
    old["schema_version"] = 2
    old.pop("events")
    for section in old["arrangement"]["sections"]:
        section.pop("extra_snares_beats")
    loaded = synth.SynthTruth.model_validate(old)
    assert loaded.events is None and truth.events is not None and len(truth.events.kicks) >= 1
