"""Signal gates: is a stretch of audio silence, a steady tone, noise, speech or music?

A cheap rule-based check that runs before any music model (beat tracking, genre profile), so that
a test tone does not get a beat grid and a drop, and digital silence does not get a genre profile.
Entry point: :func:`signal_gate`; :func:`gate_spans` and :func:`dominant_kind` summarize it.

Each window (``window_s`` long, centred at ``times_s``) gets per-window features from the shared
:class:`~mvgen.features.FrameFeatures` (level, onset flux) plus one extra coarse STFT at two
resolutions (spectral peakiness, whitened flatness, spectral change), and is labelled by the rules
below, in this order: ``silence`` (level), ``tone`` (steady tones, sweeps, drones), ``noise``,
``speech`` and otherwise ``music``. Every rule is a conjunction of threshold tests; the soft
version (each test a logistic of its margin, a rule the minimum of its tests) gives
``music_likelihood = 1 - max(rule memberships)``, which is below 0.5 exactly where a rule fires.

How the thresholds were chosen: per-window features were measured (3 s windows every 0.743 s) on
:mod:`mvgen.training.negatives` (8 seeds of each kind, 12 s each), on synthetic tracks of all eight
sub-genres (``synth.default_arrangement(genre, seed, bars_scale=0.5)``, seeds 0 and 1: intros,
build-ups, drops, breakdowns and outros, 1740 windows) and on the ten real tracker-module tracks
of ``benchmarks/real_music.py`` (1497 windows). Each threshold sits in the gap between the
non-music kind it detects and music, nearer the music side only where the kind needs it; the
comment at each constant gives the measured ranges (min-max of the kind, 1st/99th percentile
or min/max of music). Measured accuracy is in the module's tests and the branch report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvgen.analysis.beats import beat_chroma
from mvgen.features import ANALYSIS_SR, FrameFeatures, frame_features

KINDS: tuple[str, ...] = ("silence", "tone", "noise", "speech", "music")
NON_MUSIC_KINDS: tuple[str, ...] = KINDS[:-1]
#: Default window length and hop (s); the hop matches the genre classifier's profile step.
WINDOW_S = 3.0
STEP_S = 0.743

# --- silence --------------------------------------------------------------------------------
#: A window whose mean power is below this (dBFS, 0 dB = full-scale sine) is silence. Hiss at
#: -66 dBFS and below is silence; the quietest music window measured was -29 dBFS (real) and the
#: quietest synthetic intro -23 dBFS, so fade-ins and quiet pads stay far above it.
SILENCE_DBFS = -60.0

# --- tone: steady tones, sweeps and drones ---------------------------------------------------
#: Fraction of the spectral energy in narrow peaks (>= PEAK_EXCESS_DB over the local mean of the
#: log spectrum). Tones, sweeps and drones: 0.97-1.0 except bright saws (0.89); music: 99 % below
#: 0.97, max 0.98. A dead-steady spectrum (low saws and squares: 0.74-0.9) needs only TONE_STEADY_PEAK_MIN.
TONE_PEAK_MIN = 0.95
TONE_STEADY_PEAK_MIN = 0.5
#: Spectral change (90th percentile over consecutive 93 ms frames of 1 - cosine similarity of
#: magnitude spectra) of a dead-steady spectrum: tones <= 0.001; music >= 0.145.
TONE_STEADY_CHANGE_MAX = 0.05
#: 95th percentile of the onset flux (``FrameFeatures.onset``) in the window: no onsets. Tones
#: 0.000 (bright saws 0.04: they pass as dead steady), sweeps <= 0.008, drones <= 0.011 (their
#: beating); music: 1st percentile 0.011 (synthetic pads), 0.027 (real). A tone with noise
#: 15-35 dB below it stays below 0.005.
TONE_FLUX_MAX = 0.013
#: Spectral change of a stationary sound: drones <= 0.26; music >= 0.145 but none of it with a peak
#: fraction above 0.95 and change below 0.7.
TONE_CHANGE_MAX = 0.3
#: ... or the short-frame peak fraction (23 ms frames follow a sweep): sweeps >= 0.994; music
#: 99 % below 0.955, max 0.976.
SWEEP_PEAK_MIN = 0.985

# --- noise ----------------------------------------------------------------------------------
#: Whitened spectral flatness (geometric / arithmetic mean of the power over its local mean;
#: 0.56 for any Gaussian noise, whatever its colour). Noise: 0.57-0.67; music: median 0.32
#: (synthetic) and 0.46 (real), max 0.59: the other noise tests separate that tail.
NOISE_FLATNESS_MIN = 0.55
#: Peak fraction (above): noise <= 0.92 (narrow low bands look peaky); tones are caught first.
NOISE_PEAK_MAX = 0.95
#: Onset-flux peakiness (95th percentile / median in the window): noise <= 2.9; drums make
#: music 2.1-30 and more, so this alone does not separate; with the others it does.
NOISE_PEAKINESS_MAX = 3.2
#: Pulse (highest autocorrelation of the onset flux at lags 0.28-1.1 s): noise <= 0.22.
NOISE_PULSE_MAX = 0.28
#: Standard deviation of the frame level (dB): noise 0.25-3.7 (narrow bands fluctuate most).
NOISE_LEVEL_STD_MAX = 4.5
#: Spectral change: noise 0.22-0.47.
NOISE_CHANGE_MAX = 0.5

# --- speech ---------------------------------------------------------------------------------
#: Fraction of frames more than GAP_DB below the window's 95th-percentile level (pauses between
#: syllables and words): speech mostly >= 0.05; music 99th percentile 0.17-0.20.
SPEECH_GAPS_MIN = 0.04
#: Pulse (above): speech mostly <= 0.35; music with vocal-like gaps has 0.39 and more.
SPEECH_PULSE_MAX = 0.36
#: Frame level standard deviation (dB): speech >= 7; music median 3-4.
SPEECH_LEVEL_STD_MIN = 7.0
#: Onset-flux peakiness: speech >= 8.5; music median 7-10.
SPEECH_PEAKINESS_MIN = 8.0
#: Share of the level envelope's modulation (0.5-20 Hz) at syllable rates 3-8 Hz: speech mostly >= 0.25.
SPEECH_SYLLABIC_MIN = 0.25
#: Short-frame peak fraction: speech <= 0.93; sparse tracker melodies with silent gaps, which
#: pass the other speech tests, are 0.92-0.96 (steady pitches) but fail the flux test.
SPEECH_SHORT_PEAK_MAX = 0.93
#: Spectral change: speech >= 0.5 (every syllable changes the spectrum).
SPEECH_CHANGE_MIN = 0.45
#: Onset flux (95th percentile): speech >= 0.079; those tracker melodies 0.054-0.077.
SPEECH_FLUX_MIN = 0.075

#: Onset-flux peakiness and gaps use these.
GAP_DB = 25.0
#: A spectral bin is part of a peak when it is this far (dB) above the mean log spectrum of its
#: +-PEAK_HALF_BINS neighbourhood; Gaussian noise exceeds 10 dB in about 1e-4 of its bins.
PEAK_EXCESS_DB = 10.0
PEAK_HALF_BINS = 8
#: Pulse lags (s): beats and half beats of 55-215 bpm.
PULSE_LAGS_S = (0.28, 1.1)

#: Soft margins (logistic widths) of each feature, for music_likelihood.
_WIDTHS = dict(level_db=2.0, peak=0.02, flux=0.003, change=0.04, short_peak=0.005, flatness=0.01, peakiness=0.4, pulse=0.04, level_std=1.0, gaps=0.01, syllabic=0.03)
_Test = tuple[str, str, float]
#: Per kind, alternatives (any may hold) of tests (all must hold): ``(feature, ">=" or "<=", threshold)``.
#: Kinds are tested in :data:`NON_MUSIC_KINDS` order; the first that holds wins.
RULES: dict[str, tuple[tuple[_Test, ...], ...]] = {
    "silence": ((("level_db", "<=", SILENCE_DBFS),),),
    "tone": (
        (("peak", ">=", TONE_STEADY_PEAK_MIN), ("change", "<=", TONE_STEADY_CHANGE_MAX)),
        (("peak", ">=", TONE_PEAK_MIN), ("flux", "<=", TONE_FLUX_MAX), ("steady_or_sweep", ">=", 0.0)),
    ),
    "noise": (
        (
            ("flatness", ">=", NOISE_FLATNESS_MIN),
            ("peak", "<=", NOISE_PEAK_MAX),
            ("peakiness", "<=", NOISE_PEAKINESS_MAX),
            ("pulse", "<=", NOISE_PULSE_MAX),
            ("level_std", "<=", NOISE_LEVEL_STD_MAX),
            ("change", "<=", NOISE_CHANGE_MAX),
        ),
    ),
    "speech": (
        (
            ("gaps", ">=", SPEECH_GAPS_MIN),
            ("pulse", "<=", SPEECH_PULSE_MAX),
            ("level_std", ">=", SPEECH_LEVEL_STD_MIN),
            ("peakiness", ">=", SPEECH_PEAKINESS_MIN),
            ("syllabic", ">=", SPEECH_SYLLABIC_MIN),
            ("short_peak", "<=", SPEECH_SHORT_PEAK_MAX),
            ("change", ">=", SPEECH_CHANGE_MIN),
            ("flux", ">=", SPEECH_FLUX_MIN),
        ),
    ),
}


@dataclass(frozen=True)
class SignalGate:
    """What kind of signal each window is.

    times_s: window centres (s), shape ``(W,)``; window_s: window length (s).
    kinds: one of :data:`KINDS` per window.
    music_likelihood: shape ``(W,)`` in [0, 1]; below 0.5 exactly where ``kinds`` is not music.
    features: the per-window features the rules test, name -> shape ``(W,)`` (for inspection).
    """

    times_s: np.ndarray
    window_s: float
    kinds: tuple[str, ...]
    music_likelihood: np.ndarray
    features: dict[str, np.ndarray]

    def fraction(self, kind: str) -> float:
        """Fraction of windows of ``kind`` (0 when there are no windows)."""
        return sum(k == kind for k in self.kinds) / len(self.kinds) if self.kinds else 0.0


def default_times(duration_s: float, window_s: float = WINDOW_S, step_s: float = STEP_S) -> np.ndarray:
    """Window centres every ``step_s`` with whole windows inside ``[0, duration_s]`` (one centred window if shorter)."""
    if duration_s <= window_s:
        return np.array([duration_s / 2.0])
    return np.arange(window_s / 2.0, duration_s - window_s / 2.0 + 1e-9, step_s)


#: Frames per block of :func:`_spectral_frames`: its spectra of a 1-hour mix at once would take 1 GB.
_SPECTRAL_BLOCK_FRAMES = 2048


def _spectral_frames(y: np.ndarray, n_fft: int, group: int, every: int) -> tuple[np.ndarray, ...]:
    """Hann frames of ``n_fft`` samples, ``group`` consecutive ones out of every ``every`` (to save time).

    Returns per analysed frame: centre (s, in samples), peak fraction, whitened flatness, energy and
    spectral change from the previous frame of its group (NaN for a group's first frame). Computed in
    blocks of :data:`_SPECTRAL_BLOCK_FRAMES` frames (whole groups), so memory does not grow with the track.
    """
    n_slots = len(y) // n_fft
    slots = np.arange(n_slots)
    slots = slots[(slots % every) < group]
    if len(slots) == 0:
        z = np.zeros(0)
        return z, z, z, z, z
    block = max(group, _SPECTRAL_BLOCK_FRAMES // group * group)  # a group never straddles two blocks
    parts = [_spectral_block(y, n_fft, slots[i : i + block]) for i in range(0, len(slots), block)]
    peak, flat, energy, change = (np.concatenate([part[j] for part in parts]) for j in range(4))
    return (slots + 0.5) * n_fft, peak, flat, energy, change


def _spectral_block(y: np.ndarray, n_fft: int, slots: np.ndarray) -> tuple[np.ndarray, ...]:
    """Peak fraction, whitened flatness, energy and spectral change of the frames ``slots`` (see :func:`_spectral_frames`)."""
    frames = y[slots[:, None] * n_fft + np.arange(n_fft)]
    spectrum = np.fft.rfft(frames * np.hanning(n_fft), axis=1)  # float64: faster than float32 in numpy 2
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32) + np.float32(1e-12)
    log_p = np.log(power)
    # Local mean of the log spectrum over +-PEAK_HALF_BINS bins, edge bins repeated at both ends.
    k = PEAK_HALF_BINS
    padded = np.pad(log_p, ((0, 0), (k + 1, k)), mode="edge")
    c = np.cumsum(padded, axis=1)  # float32: +-0.01 dB over a frame is plenty
    base = ((c[:, 2 * k + 1 :] - c[:, : -2 * k - 1]) / (2 * k + 1)).astype(np.float32)
    excess = log_p - base  # natural-log units
    energy = power.sum(axis=1, dtype=np.float64)
    peak = np.sum(power * (excess > np.float32(PEAK_EXCESS_DB * np.log(10) / 10)), axis=1, dtype=np.float64) / energy
    flat = np.exp(np.mean(excess, axis=1, dtype=np.float64)) / np.mean(np.exp(excess), axis=1, dtype=np.float64)
    mag = np.sqrt(power)
    mag /= np.linalg.norm(mag, axis=1, keepdims=True)
    change = np.full(len(slots), np.nan)
    follows = np.flatnonzero(np.diff(slots) == 1) + 1
    change[follows] = 1.0 - np.sum(mag[follows] * mag[follows - 1], axis=1)
    return peak, flat, energy, change


def _windows(n: int, length: int, starts: np.ndarray) -> np.ndarray:
    """Frame indices ``(W, length)`` of windows starting at ``starts``, shifted inside ``[0, n)``."""
    length = max(1, min(length, n))
    starts = np.clip(starts, 0, n - length)
    return starts[:, None] + np.arange(length)[None, :]


def _weighted(values: np.ndarray, energy: np.ndarray, idx: np.ndarray) -> np.ndarray:
    e = energy[idx]
    return np.sum(values[idx] * e, axis=1) / np.maximum(np.sum(e, axis=1), 1e-30)


def _window_features(y: np.ndarray, sr: int, features: FrameFeatures, times_s: np.ndarray, window_s: float) -> dict[str, np.ndarray]:
    hop_s = features.hop_s
    n_long = int(2 ** round(np.log2(0.093 * sr)))  # 2048 at 22050 Hz: resolves a 40 Hz harmonic comb
    n_short = n_long // 4  # 512 at 22050 Hz: a fast sweep stays within a bin or two
    # Half the long frames (pairs, for the spectral change) and a quarter of the short ones: the
    # statistics of a 3 s window need no more, and the gate stays a few percent of the analysis.
    lt, l_peak, l_flat, l_energy, l_change = _spectral_frames(y, n_long, group=2, every=4)
    st, s_peak, _, s_energy, _ = _spectral_frames(y, n_short, group=1, every=4)
    starts_s = times_s - window_s / 2.0
    out: dict[str, np.ndarray] = {}

    # Frame-level features (FrameFeatures: level and onset flux every hop_s).
    n = features.n_frames
    idx = _windows(n, int(round(window_s / hop_s)), np.round(starts_s / hop_s).astype(int))
    db = features.rms_db.astype(np.float64)[idx]
    on = features.onset.astype(np.float64)[idx]
    out["level_db"] = 10.0 * np.log10(np.maximum(np.mean(10.0 ** (db / 10.0), axis=1), 1e-10))
    p95 = np.percentile(on, 95, axis=1)
    out["flux"] = p95
    out["peakiness"] = p95 / np.maximum(np.median(on, axis=1), 1e-9)
    out["level_std"] = np.std(db, axis=1)
    out["gaps"] = np.mean(db < (np.percentile(db, 95, axis=1) - GAP_DB)[:, None], axis=1)
    length = idx.shape[1]
    x = on - on.mean(axis=1, keepdims=True)
    ac = np.fft.irfft(np.abs(np.fft.rfft(x, 2 * length, axis=1)) ** 2, axis=1)[:, :length]
    lag0, lag1 = int(round(PULSE_LAGS_S[0] / hop_s)), min(int(round(PULSE_LAGS_S[1] / hop_s)), length)
    out["pulse"] = np.max(ac[:, lag0:lag1], axis=1) / np.maximum(ac[:, 0], 1e-30) if lag1 > lag0 else np.zeros(len(times_s))
    env = 10.0 ** (db / 20.0)
    env = (env - env.mean(axis=1, keepdims=True)) * np.hanning(length)
    mod = np.abs(np.fft.rfft(env, axis=1)) ** 2
    freqs = np.fft.rfftfreq(length, hop_s)
    total = mod[:, (freqs >= 0.5) & (freqs <= 20.0)].sum(axis=1)
    out["syllabic"] = np.where(total > 0, mod[:, (freqs >= 3.0) & (freqs <= 8.0)].sum(axis=1) / np.maximum(total, 1e-30), 0.0)

    # Spectral features of the analysed long and short frames inside each window.
    def frame_windows(centres_samples: np.ndarray, step: float) -> np.ndarray:
        first = np.searchsorted(centres_samples / sr, starts_s)
        return _windows(len(centres_samples), max(1, int(round(window_s / step))), first)

    if len(lt) and len(st):
        li = frame_windows(lt, 2.0 * n_long / sr)
        si = frame_windows(st, 4.0 * n_short / sr)
        out["short_peak"] = _weighted(s_peak, s_energy, si)
        out["peak"] = np.maximum(_weighted(l_peak, l_energy, li), out["short_peak"])
        out["flatness"] = _weighted(l_flat, l_energy, li)
        out["change"] = np.nan_to_num(np.nanpercentile(l_change[li], 90, axis=1), nan=0.0) if np.isfinite(l_change).any() else np.zeros(len(times_s))
    else:  # shorter than one long frame: no spectral evidence, nothing is called a tone or noise
        for name in ("short_peak", "peak", "flatness", "change"):
            out[name] = np.zeros(len(times_s))
        out["change"] = np.ones(len(times_s))
    # A steady spectrum, or a sweep: margin > 0 when either holds.
    out["steady_or_sweep"] = np.maximum((TONE_CHANGE_MAX - out["change"]) / _WIDTHS["change"], (out["short_peak"] - SWEEP_PEAK_MIN) / _WIDTHS["short_peak"])
    return out


def _membership(feats: dict[str, np.ndarray], rule: tuple[tuple[_Test, ...], ...]) -> np.ndarray:
    """Soft truth of a rule: max over alternatives of the min over tests of a logistic of the scaled margin."""
    alternatives = []
    for tests in rule:
        memberships = []
        for name, op, threshold in tests:
            width = _WIDTHS.get(name, 1.0)
            margin = (feats[name] - threshold) if op == ">=" else (threshold - feats[name])
            memberships.append(1.0 / (1.0 + np.exp(-np.clip(margin / width, -50, 50))))
        alternatives.append(np.min(memberships, axis=0))
    return np.max(alternatives, axis=0)


def signal_gate(y: np.ndarray, sr: int = ANALYSIS_SR, times_s: np.ndarray | None = None, window_s: float = WINDOW_S, features: FrameFeatures | None = None) -> SignalGate:
    """Classify windows of mono audio ``y`` (shape ``(n,)``, float at ``sr`` Hz) as one of :data:`KINDS`.

    ``times_s``: window centres (s); default :func:`default_times` (every :data:`STEP_S`).
    ``features``: :func:`~mvgen.features.frame_features` of the same ``y`` and ``sr`` when the caller
    has them (the gate then costs one extra coarse STFT); computed otherwise.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"y must be mono with shape (n,), got shape {y.shape}")
    duration_s = len(y) / sr
    times = default_times(duration_s, window_s) if times_s is None else np.asarray(times_s, dtype=np.float64).reshape(-1)
    if features is None:
        features = frame_features(y, sr)
    feats = _window_features(y, sr, features, times, window_s)
    members = {kind: _membership(feats, rule) for kind, rule in RULES.items()}
    kinds = []
    for w in range(len(times)):
        kind = next((k for k in NON_MUSIC_KINDS if members[k][w] > 0.5), "music")
        kinds.append(kind)
    stacked = np.stack([members[k] for k in NON_MUSIC_KINDS]) if len(times) else np.zeros((len(NON_MUSIC_KINDS), 0))
    likelihood = np.clip(1.0 - stacked.max(axis=0), 0.0, 1.0)
    kinds, likelihood = _held_chords_are_music(y, sr, times, kinds, likelihood)
    return SignalGate(times_s=times, window_s=float(window_s), kinds=tuple(kinds), music_likelihood=likelihood, features=feats)


#: A run of "tone" windows at most this long (s) with music on both sides is a held chord of that music
#: (a breakdown's pad), not a test tone or a drone: it counts as music. On synthetic house with 32-bar
#: drumless breakdowns the pads read "tone" in runs of 0.7-2.3 s between chord changes, and up to 34 s
#: where a pad holds one chord; test tones and drones run the whole file, or its head or tail.
HELD_CHORD_MAX_S = 45.0
#: A longer such run is still music when its pitch moves (a chord progression under a lead, as in a
#: 32-bar breakdown of pads and keys, 64 s at 120 bpm): the chroma of a frame at each of its windows'
#: centres (:func:`~mvgen.analysis.beats.beat_chroma`) lies at a median cosine distance of at least this
#: from the run's mean chroma. Measured over 54-63 s: synthetic deep-house breakdowns 0.43; test tones
#: 0.000, drones 0.00-0.16 (beating partials), noise <= 0.03. Sweeps move (0.67-0.71): between music,
#: a sweep is a riser of that music.
PITCH_MOVE_MIN = 0.3


def _pitch_moves(y: np.ndarray, sr: int, times_s: np.ndarray) -> bool:
    """Whether the pitch of ``y`` moves over the windows centred at ``times_s`` (see :data:`PITCH_MOVE_MIN`)."""
    chroma = beat_chroma(y, sr, times_s)
    mean = chroma.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return norm > 0 and float(np.median(1.0 - chroma @ (mean / norm))) >= PITCH_MOVE_MIN


def _held_chords_are_music(y: np.ndarray, sr: int, times: np.ndarray, kinds: list[str], likelihood: np.ndarray) -> tuple[list[str], np.ndarray]:
    """``kinds`` and ``likelihood`` with every "tone" run between music windows made music when it is short
    (:data:`HELD_CHORD_MAX_S`) or its pitch moves (:data:`PITCH_MOVE_MIN`) in ``y`` (mono, ``sr`` Hz); its
    likelihood becomes the lower of its two neighbours'."""
    kinds, likelihood = list(kinds), likelihood.copy()
    w, i = len(kinds), 0
    while i < w:
        if kinds[i] != "tone":
            i += 1
            continue
        j = i
        while j < w and kinds[j] == "tone":
            j += 1
        if i > 0 and j < w and kinds[i - 1] == "music" and kinds[j] == "music" and (times[j - 1] - times[i] <= HELD_CHORD_MAX_S or _pitch_moves(y, sr, times[i:j])):
            kinds[i:j] = ["music"] * (j - i)
            likelihood[i:j] = min(likelihood[i - 1], likelihood[j])
        i = j
    return kinds, likelihood


def gate_spans(gate: SignalGate) -> list[tuple[float, float, str]]:
    """Runs of consecutive windows of one kind as ``(start_s, end_s, kind)``.

    A run spans from its first window's centre minus half a step to its last window's centre plus
    half a step (the first run starts at its first window's start, the last ends at its last
    window's end), so adjacent runs meet.
    """
    times, kinds = gate.times_s, gate.kinds
    if not kinds:
        return []
    edges = np.concatenate([[times[0] - gate.window_s / 2.0], (times[1:] + times[:-1]) / 2.0, [times[-1] + gate.window_s / 2.0]])
    edges[0] = max(float(edges[0]), 0.0)
    spans: list[tuple[float, float, str]] = []
    start = 0
    for i in range(1, len(kinds) + 1):
        if i == len(kinds) or kinds[i] != kinds[start]:
            spans.append((float(edges[start]), float(edges[i]), kinds[start]))
            start = i
    return spans


def dominant_kind(gate: SignalGate, music_min_fraction: float = 0.1) -> str:
    """``"music"`` when at least ``music_min_fraction`` of the windows are music; otherwise the most common kind."""
    if not gate.kinds or gate.fraction("music") >= music_min_fraction:
        return "music"
    counts = {k: gate.kinds.count(k) for k in NON_MUSIC_KINDS}
    return max(counts, key=counts.get)
