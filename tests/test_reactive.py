"""Per-frame audio features on synthetic tracks whose every event is known (mvgen.synth's truth)
and on band-limited and gain-ramped test signals."""

from functools import lru_cache

import numpy as np
import pytest

from mvgen import synth
from mvgen.features import HOP
from mvgen.analysis.reactive import FEATURES, AudioFeatures, compute_audio_features

SR = 22050
FPS = 30.0
#: The truth's hits of each drum feature.
DRUMS = {"kick": ("kicks",), "snare": ("claps", "snare_rolls", "extra_snares"), "hats": ("hats_closed", "hats_open")}
#: Off-grid snares (beats from the breakdown's start): a breakdown has neither kicks nor claps.
EXTRA_SNARES_BEATS = [0.4, 1.3, 2.7, 3.62, 5.15, 6.5, 7.9, 9.33, 10.6, 12.2, 13.75, 14.4]
# Decay (video frames) of the truth's event envelope, as the features' 50 ms release at 30 fps.
_DECAY_FRAMES = 1.5


@lru_cache(maxsize=8)
def _features(style: str, seed: int, extra_snares: bool = False):
    """The truth and the :class:`AudioFeatures` (small: compressed) of a synth track (22 bars), rendered once per run."""
    arrangement = synth.default_arrangement(style, seed, bars_scale=0.25)
    if extra_snares:
        sections = [s.model_copy(update={"extra_snares_beats": EXTRA_SNARES_BEATS}) if s.label == "breakdown" else s for s in arrangement.sections]
        arrangement = arrangement.model_copy(update={"sections": sections})
    y, truth = synth.render(arrangement, seed, sr=SR, stereo=False)
    return truth, compute_audio_features(y, SR)


def _render(style: str, seed: int, extra_snares: bool = False):
    truth, features = _features(style, seed, extra_snares)
    times_s = np.arange(int(truth.duration_s * FPS)) / FPS
    return truth, times_s, features.at_frames(times_s, FPS)


@pytest.fixture(scope="module")
def rave():
    """Future rave, 22 bars (41 s), with off-grid snares in the breakdown; features at 30 fps."""
    return _render("future_rave", 1, extra_snares=True)


@pytest.fixture(scope="module")
def bigroom():
    """Bigroom: a lead in the build-ups, drops and breakdown, none in the intro and outro."""
    return _render("bigroom", 3)


def _frame(times_s: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(times_s) * FPS).astype(int)


def _truth_envelope(times_s: np.ndarray, n: int) -> np.ndarray:
    """An impulse at each event's frame with a short exponential decay (the latest hit wins), shape ``(n,)``."""
    out = np.zeros(n)
    decay = np.exp(-np.arange(8) / _DECAY_FRAMES)
    for i in _frame(times_s):
        if 0 <= i < n:
            np.maximum(out[i : i + 8], decay[: n - i], out=out[i : i + 8])
    return out


def _peak_hit_rate(x: np.ndarray, times_s: np.ndarray, min_value: float = 0.1) -> float:
    """Share of events with a local maximum of ``x`` of at least ``min_value`` within one frame."""
    hits = 0
    for i in _frame(times_s):
        a, b = max(i - 1, 0), min(i + 2, len(x))
        j = a + int(np.argmax(x[a:b]))
        hits += x[j] >= min_value and x[j] >= x[max(j - 1, 0)] and x[j] >= x[min(j + 1, len(x) - 1)]
    return hits / len(times_s)


def _at(x: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    return x[np.clip(_frame(times_s), 0, len(x) - 1)]


def _apart(times_s: np.ndarray, others_s: np.ndarray, gap_s: float = 0.05) -> np.ndarray:
    """The times farther than ``gap_s`` from every one of ``others_s``."""
    if len(others_s) == 0:
        return times_s
    return times_s[np.min(np.abs(times_s[:, None] - others_s[None, :]), axis=1) > gap_s]


@pytest.mark.parametrize("drum", DRUMS)
def test_each_drum_feature_peaks_on_its_own_hits(rave, drum):
    truth, times_s, frames = rave
    events = truth.events.times_s(*DRUMS[drum])
    x = frames[drum]
    assert len(events) > 40
    assert _peak_hit_rate(x, events) >= 0.9
    assert np.corrcoef(x, _truth_envelope(events, len(x)))[0, 1] >= 0.8


def test_drum_features_stay_quiet_on_the_other_drums(rave):
    truth, _, frames = rave
    ev = truth.events
    kicks, snares, hats = (ev.times_s(*DRUMS[d]) for d in DRUMS)
    snare_alone = _apart(_apart(snares, kicks), hats)
    kick_alone = _apart(_apart(kicks, snares), hats)
    assert len(snare_alone) > 20 and len(kick_alone) > 20
    assert np.percentile(_at(frames["kick"], snare_alone), 90) < 0.05  # no kick on claps and rolls
    assert np.percentile(_at(frames["snare"], kick_alone), 90) < 0.1  # no snare on kicks
    assert np.median(_at(frames["hats"], kick_alone)) < 0.2  # hats: weak leak from loud kicks at most
    assert np.median(_at(frames["snare"], _apart(_apart(hats, kicks), snares))) < 0.05  # no snare on hats


def test_kick_rests_away_from_kicks():
    """Bass notes share the kick's band: away from every kick (0.4 s and more) the kick feature is
    0 on most frames, and small where it is not (deep house: a rolling bass and congas)."""
    truth, times_s, frames = _render("deep_house", 7)
    kicks = truth.events.times_s("kicks")
    far = np.min(np.abs(times_s[:, None] - kicks[None, :]), axis=1) > 0.4
    assert far.sum() > 200
    assert np.mean(frames["kick"][far] == 0.0) >= 0.8 and np.percentile(frames["kick"][far], 99) < 0.2


def test_hats_on_kicks_keep_their_peaks():
    """A 16th-note hat pattern puts a hat on every kick: the kick's leak into the hat band cannot be
    measured there, and must not take those hats with it."""
    truth, _, frames = _render("tech_house", 7)
    kicks, hats = truth.events.times_s("kicks"), truth.events.times_s("hats_closed", "hats_open")
    on_kick = hats[np.min(np.abs(hats[:, None] - kicks[None, :]), axis=1) < 0.03]
    assert len(on_kick) > 40
    assert _peak_hit_rate(frames["hats"], on_kick) >= 0.7


def test_off_grid_snares_are_found_and_the_breakdown_has_no_kick(rave):
    truth, times_s, frames = rave
    breakdown = next(s for s in truth.sections if s.label == "breakdown")
    extra = truth.events.times_s("extra_snares")
    assert len(extra) == len(EXTRA_SNARES_BEATS)
    assert _peak_hit_rate(frames["snare"], extra, min_value=0.5) == 1.0
    inside = (times_s >= breakdown.start_s + 0.2) & (times_s < breakdown.end_s)  # after the drop's last kick has decayed
    assert np.percentile(frames["kick"][inside], 99) < 0.05
    # between the off-grid snares the snare feature rests
    far = inside & (np.min(np.abs(times_s[:, None] - extra[None, :]), axis=1) > 0.2)
    assert np.percentile(frames["snare"][far], 95) < 0.1


def test_no_snare_in_the_intro_before_its_claps(rave):
    truth, times_s, frames = rave
    claps = truth.events.times_s("claps")
    before = times_s < claps.min() - 0.1
    assert before.sum() > 60 and np.percentile(frames["snare"][before], 95) < 0.05


def test_tension_rises_through_build_ups_and_rests_in_the_breakdown(rave):
    truth, times_s, frames = rave
    tension = frames["tension"]

    def mean(a, b):
        return tension[(times_s >= a) & (times_s < b)].mean()

    breakdown = next(s for s in truth.sections if s.label == "breakdown")
    for build in (s for s in truth.sections if s.label == "build-up"):
        quarter = (build.end_s - build.start_s) / 4
        first, last = mean(build.start_s, build.start_s + quarter), mean(build.end_s - quarter, build.end_s)
        assert last > first + 0.4 and last > 0.6
        assert mean(build.start_s, build.end_s) > mean(breakdown.start_s, breakdown.end_s) + 0.2
    assert [tuple(r) for r in truth.events.risers] == [(s.start_s, s.end_s) for s in truth.sections if s.label == "build-up"]


def test_lead_is_higher_where_a_lead_plays(bigroom):
    truth, times_s, frames = bigroom
    playing = np.zeros(len(times_s), bool)
    for a, b in truth.events.leads:
        playing |= (times_s >= a) & (times_s < b)
    assert 0.3 < playing.mean() < 0.95
    assert frames["lead"][playing].mean() > frames["lead"][~playing].mean() + 0.2


def _features_of(y: np.ndarray) -> AudioFeatures:
    return compute_audio_features(y.astype(np.float32), SR)


def test_bands_respond_to_band_limited_signals():
    rng = np.random.default_rng(0)
    t = np.arange(4 * SR) / SR
    sine = _features_of(0.5 * np.sin(2 * np.pi * 40 * t))
    spectrum = np.fft.rfft(rng.standard_normal(len(t)))
    hz = np.fft.rfftfreq(len(t), 1 / SR)
    spectrum[(hz < 9000) | (hz > 10800)] = 0  # noise from 9 to 10.8 kHz (the analysis runs at 22.05 kHz)
    air = _features_of(0.3 * np.fft.irfft(spectrum, len(t)) / np.std(np.fft.irfft(spectrum, len(t))))
    middle = slice(20, -20)  # away from the STFT's edges
    assert np.median(sine.array("sub")[middle]) > 0.9 and np.max(sine.array("air")[middle]) < 0.05
    assert np.max(sine.array("mid")[middle]) < 0.05
    assert np.median(air.array("air")[middle]) > 0.9 and np.max(air.array("sub")[middle]) < 0.05
    assert np.max(air.array("low")[middle]) < 0.05


def test_loudness_follows_a_gain_ramp():
    """Noise rising by 24 dB over 8 s, after 1 s of silence: loudness reads 0 in the silence and
    rises steadily with the gain (monotonic up to the 8-bit quantization)."""
    rng = np.random.default_rng(1)
    n = 8 * SR
    ramp = rng.standard_normal(n) * 10 ** (np.linspace(-24, 0, n) / 20) * 0.3
    y = np.concatenate([np.zeros(SR), ramp])
    features = _features_of(y)
    times_s = np.arange(0.0, 9.0, 1 / FPS)
    loudness = features.at_frames(times_s, FPS)["loudness"]
    assert np.max(loudness[times_s < 0.7]) == 0.0
    rising = loudness[(times_s > 1.5) & (times_s < 8.7)]
    assert np.all(np.diff(rising) >= -1.5 / 255)
    assert rising[-1] > 0.9 and rising[0] < 0.4 and rising[-1] - rising[0] > 0.5


def test_silence_reads_zero_and_frames_follow_the_analysis_grid():
    features = _features_of(np.zeros(3 * SR))
    assert features.n_frames == 1 + 3 * SR // HOP and features.hop_s == pytest.approx(HOP / SR)
    assert all(features.array(name).max() == 0.0 for name in FEATURES)


@pytest.mark.parametrize("drum", ["snare", "hats"])
def test_drum_hits_keep_their_time_finer_than_the_analysis_grid(drum):
    """Each snare and hat peak stores where its hit lies inside its 11.6 ms frame: the refined times
    are nearer the truth's than the grid frames are, and fewer hits land on the video frame beside
    their own (a hit near a frame's edge whose grid frame lies past it)."""
    truth, features = _features("future_rave", 1, True)
    series, offsets = features.array(drum), features.hit_offsets(drum)
    # the hits: where the series rises (it holds single-frame hits); no offset where it is 0
    peaks = np.flatnonzero(series[1:] > series[:-1]) + 1
    assert np.all(np.abs(offsets) <= 0.5) and np.all(offsets[series == 0.0] == 0.0) and np.count_nonzero(offsets[peaks]) > 0.9 * len(peaks)
    grid_s = peaks * features.hop_s
    hit_s = (peaks + offsets[peaks]) * features.hop_s
    events = truth.events.times_s(*DRUMS[drum])
    match = np.argmin(np.abs(grid_s[None, :] - events[:, None]), axis=1)
    found = np.abs(grid_s[match] - events) < 0.03
    assert found.mean() > 0.9
    grid_err, hit_err = grid_s[match[found]] - events[found], hit_s[match[found]] - events[found]
    assert np.mean(np.abs(hit_err)) < 0.7 * np.mean(np.abs(grid_err))
    own = _frame(events[found])
    # (this track's offbeat hats sit near frame edges: 12 of 82 land beside their frame from the
    # grid, 9 with the refined times; snares 11 of 73 and 3)
    assert np.mean(_frame(hit_s[match[found]]) != own) < np.mean(_frame(grid_s[match[found]]) != own)


def test_a_hit_is_shown_on_the_video_frame_nearest_its_own_time():
    """A hit stored on the grid frame just past a video frame's edge, with an offset that puts it
    before the edge, is shown on the frame before; without the offset on the frame after."""
    hop_s, n = HOP / SR, 200
    # an edge between video frames m and m + 1 with a grid frame k 0.1-0.4 grid steps past it
    m = next(m for m in range(5, 60) if 0.1 < np.ceil((m + 0.5) / FPS / hop_s) - (m + 0.5) / FPS / hop_s < 0.4)
    k = int(np.ceil((m + 0.5) / FPS / hop_s))
    before_edge = (m + 0.5) / FPS / hop_s - k - 0.05  # grid frames from k to just before the edge, in (-0.5, 0)
    arrays = {name: np.zeros(n) for name in FEATURES}
    arrays["hats"][k] = 1.0
    times_s = np.arange(70) / FPS
    plain = AudioFeatures.from_arrays(hop_s, arrays)
    early = AudioFeatures.from_arrays(hop_s, arrays, {"hats": np.where(np.arange(n) == k, before_edge, 0.0)})
    # then the 50 ms release at 30 fps: 51 % one frame on
    plain_x, early_x = plain.at_frames(times_s, FPS)["hats"], early.at_frames(times_s, FPS)["hats"]
    assert np.flatnonzero(plain_x)[0] == m + 1 and plain_x[m + 1] == 1.0
    assert np.flatnonzero(early_x)[0] == m and early_x[m] == 1.0
    assert early_x[m + 1] == pytest.approx(np.exp(-1.0 / FPS / 0.05), abs=1e-6) and early_x[m + 2] < early_x[m + 1]
    # the release follows the times asked for, not a frame count: half a second on, nothing is left
    assert list(early.at_frames(np.array([m, m + 15]) / FPS, FPS)["hats"]) == [1.0, 0.0]
    # the offset survives the JSON round trip (to 1/254 of a frame), and only impulsive features have them
    again = AudioFeatures.model_validate_json(early.model_dump_json())
    assert again.hit_offsets("hats")[k] == pytest.approx(before_edge, abs=0.5 / 254) and not again.hit_offsets("kick").any()
    with pytest.raises(ValueError, match="only impulsive features"):
        AudioFeatures.from_arrays(hop_s, arrays, {"loudness": np.zeros(n)})
