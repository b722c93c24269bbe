"""Per-frame audio features that drive the picture: the modulation sources of the styles.

The analysis computes them once per track (:func:`compute_audio_features`, on the analysis frame
grid of :mod:`mvgen.features`, 11.6 ms) and stores them in ``Analysis.audio_features`` as an
:class:`AudioFeatures`: every series normalized per track to [0, 1], quantized to 8 bits and
zlib-compressed, so a 3-minute track adds tens of kilobytes to the cached JSON. The mapper asks for
them at any frame rate with :meth:`AudioFeatures.at_frames`.

Sources (:data:`FEATURES`):
    loudness  short-term loudness: K-weighted power (BS.1770) over a centred 400 ms window (as EBU
              R128's momentary loudness), 0 at 30 dB below the track's loud parts, 1 at them
    sub, low, mid, high, air
              band energies: < 60 Hz, 60-250 Hz, 250 Hz-2 kHz, 2-8 kHz, > 8 kHz, each 1 at its
              own loud level (but not for a band 30 dB under the track's level), 0 at 30 dB below
    kick, snare, hats
              onsets of the kick, the snare or clap (with its rolls and off-grid hits), and the
              hi-hats (closed and open). Snare and hats: the activations of the bundled drum model
              (:mod:`mvgen.analysis.drums`, a small CNN over a log-mel spectrogram trained on the synth's
              exact events), 0 under :data:`DRUM_ACTIVATION_FLOOR`, their peaks only, stored
              as single-frame hits that keep their time finer than the 11.6 ms grid
              (:attr:`AudioFeatures.offsets`): :meth:`AudioFeatures.at_frames` puts each on the
              video frame nearest the hit (not the one nearest its grid frame) and gives it a
              50 ms release there. The kick, and without the model (or
              without the audio) snare and hats too, from the hand-made path: the
              spectral flux of the percussive part (harmonic/percussive separation by median
              filtering, Fitzgerald 2010) in each instrument's band (80-200 Hz, 1-5 kHz,
              7-11 kHz), less what the lower instruments leak into it (measured per track, the
              kick's into the hats only where no hat plays around the kick); the kick reads 0
              below a higher floor (bass notes share its band); these onsets spread over a few
              frames and are stored with their 50 ms release on the grid
    tension   build-up tension: a steady rise of the high band (risers) or a snare roll's density
    lead      lead presence: the harmonic share of the power above the bass (250 Hz and up),
              times that harmonic part's level
The beat grid adds :data:`GRID_SOURCES` (beat, downbeat, bar phase), which the mapper derives from
the analysis's beats, not from this module.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mvgen.analysis.drums import DrumDetector, bundled_drum_detector
from mvgen.features import ANALYSIS_SR, DetailFrames, FrameFeatures, frame_features

#: The stored per-frame audio features, in this order (see the module docstring).
FEATURES: tuple[str, ...] = ("loudness", "sub", "low", "mid", "high", "air", "kick", "snare", "hats", "tension", "lead")
#: Features made of short events (onsets): resampled to output frames by the maximum over each
#: frame's span, so a hit between two frame times is never lost; the others are interpolated.
IMPULSIVE: tuple[str, ...] = ("kick", "snare", "hats")
#: Sources the mapper derives from the beat grid: a pulse on every beat, a pulse on every
#: downbeat, and the position in the bar (a ramp 0 -> 1 over each bar).
GRID_SOURCES: tuple[str, ...] = ("beat", "downbeat", "bar")
#: Every modulation source a style may name.
SOURCES: tuple[str, ...] = FEATURES + GRID_SOURCES
#: Layout of :attr:`AudioFeatures.data`; bump when the encoding or a feature's definition changes
#: (4: snare and hats from the drum model, the kick from the band flux; 5: the hits' sub-frame
#: times, :attr:`AudioFeatures.offsets`).
FEATURES_VERSION = 5
_LEVELS = 255  # 8-bit quantization of values in [0, 1]
#: Sub-frame hit offsets are stored as int8 steps of 1/OFFSET_STEPS of a frame, in [-0.5, 0.5]
#: frames: 1/254 of 11.6 ms (46 us) is far finer than a video frame needs.
OFFSET_STEPS = 254


@dataclass(frozen=True)
class FrameAudio:
    """The audio features at output frame times: ``values`` shape ``(N, len(names))`` in [0, 1]."""

    names: tuple[str, ...]
    values: np.ndarray

    def __getitem__(self, name: str) -> np.ndarray:
        """One feature at every frame, shape ``(N,)``."""
        try:
            return self.values[:, self.names.index(name)]
        except ValueError:
            raise KeyError(f"unknown audio feature {name!r} (allowed: {', '.join(self.names)})") from None


class AudioFeatures(BaseModel):
    """Per-frame audio features of a track, as stored in the analysis JSON.

    ``hop_s``: spacing of the feature frames (frame ``n`` is centred at ``n * hop_s``);
    ``n_frames``: frames per series; ``data``: for each name of :data:`FEATURES`, the base64 of the
    zlib-compressed uint8 series (value ``v`` in [0, 1] stored as ``round(255 v)``); ``offsets``: for
    impulsive features (:data:`IMPULSIVE`) that have them, where each hit lies within its peak frame,
    the base64 of the zlib-compressed int8 series ``round(OFFSET_STEPS * o)``: the hit of frame ``n``
    is at ``(n + o) * hop_s``, ``o`` in [-0.5, 0.5] (0 on the frames that are no hit's peak).
    """

    model_config = ConfigDict(frozen=True)

    version: int = FEATURES_VERSION
    hop_s: float = Field(gt=0)
    n_frames: int = Field(ge=0)
    data: dict[str, str]
    offsets: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> "AudioFeatures":
        missing = [name for name in FEATURES if name not in self.data]
        if missing:
            raise ValueError(f"audio features lack {', '.join(missing)} (version {self.version} has {', '.join(FEATURES)})")
        stray = [name for name in self.offsets if name not in IMPULSIVE]
        if stray:
            raise ValueError(f"sub-frame offsets for {', '.join(stray)}: only impulsive features have them ({', '.join(IMPULSIVE)})")
        return self

    @classmethod
    def from_arrays(cls, hop_s: float, arrays: Mapping[str, np.ndarray], offsets: Mapping[str, np.ndarray] | None = None) -> "AudioFeatures":
        """Encode float series (each shape ``(T,)``, values clipped to [0, 1]) for every name of :data:`FEATURES`;
        ``offsets``: for some of :data:`IMPULSIVE`, each frame's hit position (frames, shape ``(T,)``,
        clipped to [-0.5, 0.5]; see the class docstring)."""
        lengths = {name: len(arrays[name]) for name in FEATURES}
        lengths.update({f"{name} offsets": len(o) for name, o in (offsets or {}).items()})
        if len(set(lengths.values())) != 1:
            raise ValueError(f"every feature needs the same number of frames, got {lengths}")
        data = {}
        for name in FEATURES:
            q = np.round(np.clip(np.nan_to_num(np.asarray(arrays[name], dtype=np.float64)), 0.0, 1.0) * _LEVELS).astype(np.uint8)
            data[name] = base64.b64encode(zlib.compress(q.tobytes(), 6)).decode("ascii")
        packed = {}
        for name, o in (offsets or {}).items():
            q = np.round(np.clip(np.nan_to_num(np.asarray(o, dtype=np.float64)), -0.5, 0.5) * OFFSET_STEPS).astype(np.int8)
            packed[name] = base64.b64encode(zlib.compress(q.tobytes(), 6)).decode("ascii")
        return cls(hop_s=float(hop_s), n_frames=lengths[FEATURES[0]], data=data, offsets=packed)

    def array(self, name: str) -> np.ndarray:
        """One feature series, shape ``(n_frames,)`` float32 in [0, 1]."""
        if name not in self.data:
            raise KeyError(f"unknown audio feature {name!r} (allowed: {', '.join(FEATURES)})")
        q = np.frombuffer(zlib.decompress(base64.b64decode(self.data[name])), dtype=np.uint8)
        return q.astype(np.float32) / _LEVELS

    def hit_offsets(self, name: str) -> np.ndarray:
        """Where each frame's hit lies in it, frames (shape ``(n_frames,)`` float64 in [-0.5, 0.5]; zeros
        when ``name`` has no stored offsets)."""
        if name not in self.data:
            raise KeyError(f"unknown audio feature {name!r} (allowed: {', '.join(FEATURES)})")
        if name not in self.offsets:
            return np.zeros(self.n_frames)
        q = np.frombuffer(zlib.decompress(base64.b64decode(self.offsets[name])), dtype=np.int8)
        return q.astype(np.float64) / OFFSET_STEPS

    def at_frames(self, times_s: np.ndarray, fps: float) -> FrameAudio:
        """Every feature at output frames shown at ``times_s`` (shape ``(N,)``, s) at ``fps``.

        Frame ``k`` stands for ``[times_s[k] - 0.5 / fps, times_s[k] + 0.5 / fps)`` (an event at time
        ``t`` belongs to the frame nearest ``t``): impulsive features (:data:`IMPULSIVE`) take the
        maximum of the feature frames that fall in that span (the nearest one where none does), a
        hit's peak frame counted at the hit's own time (:meth:`hit_offsets`); those stored as
        single-frame hits (with offsets) then get their :data:`ONSET_RELEASE_S` release at
        ``times_s`` (ascending). The others are interpolated linearly at ``times_s``. Times outside
        the track read 0.
        """
        times_s = np.asarray(times_s, dtype=np.float64)
        values = np.zeros((len(times_s), len(FEATURES)), dtype=np.float32)
        if self.n_frames == 0 or len(times_s) == 0:
            return FrameAudio(FEATURES, values)
        grid_s = np.arange(self.n_frames) * self.hop_s
        half = 0.5 / fps
        nearest = np.clip(np.round(times_s / self.hop_s).astype(np.int64), 0, self.n_frames - 1)
        inside = (times_s >= -half) & (times_s < self.n_frames * self.hop_s + half)
        for j, name in enumerate(FEATURES):
            series = self.array(name)
            if name in IMPULSIVE:
                # Each frame at its hit's time: a hit 1 ms before a video frame's edge, whose grid
                # frame (up to 5.8 ms off) lies past it, belongs to the frame before. Offsets stay
                # within half a grid step, so the times keep their order.
                hit_s = np.maximum.accumulate(grid_s + self.hit_offsets(name) * self.hop_s)
                lo = np.searchsorted(hit_s, times_s - half, side="left")
                hi = np.searchsorted(hit_s, times_s + half, side="left")
                # the max over [lo, hi); the nearest frame where none falls in the span (above 86 fps),
                # not otherwise: a hit moved out of the span by its offset must not come back
                col = series[nearest].copy()
                spans = (hi > lo) & (lo < self.n_frames)
                if np.any(spans):
                    col[spans] = [series[a:b].max() for a, b in zip(lo[spans], np.minimum(hi[spans], self.n_frames))]
                if name in self.offsets:
                    # stored as single-frame hits, without a release: it is given at these times
                    col = release_at(col, times_s, ONSET_RELEASE_S, floor=0.5 / _LEVELS)
            else:
                col = np.interp(times_s, grid_s, series, left=0.0, right=0.0).astype(np.float32)
            values[:, j] = np.where(inside, col, 0.0)
        return FrameAudio(FEATURES, values)


# --------------------------------------------------------------------------------------------
# Computing the features from the analysis frames

#: Loudness: the window (s) of the short-term energy (EBU R128's momentary loudness), and the range
#: (dB) below the track's loud parts (:data:`LOUD_PERCENTILE`) mapped to [0, 1].
LOUDNESS_WINDOW_S = 0.4
LOUDNESS_RANGE_DB = 30.0
#: Percentile of a level over the audible frames that reads as full scale (1.0): the loud parts of
#: the track, not its single loudest frame.
LOUD_PERCENTILE = 95.0
#: Band energies: a band reads 1 at its own loud level, but never at less than this far below the
#: track's loud level (so a band that is nearly empty in a track stays near 0), and 0 at
#: :data:`BAND_RANGE_DB` below its full scale.
BAND_HEADROOM_DB = 30.0
BAND_RANGE_DB = 30.0
#: Frames quieter than this (dBFS, K-weighted) are silence: every feature reads 0 there.
SILENCE_DB = -70.0
#: Drum onsets: full scale is this percentile of the flux's local peaks above the noise floor;
#: the floor (read as 0) is this fraction of full scale (the flux of steady parts and of other
#: instruments' leakage into the band).
ONSET_PEAK_PERCENTILE = 95.0
ONSET_FLOOR = 0.15
#: The kick's floor is higher: bass notes share its band, and their onsets leave flux peaks of up
#: to 0.2-0.6 of a kick's (measured on synth tracks: the 99th percentile of the kick band's flux
#: peaks away from kicks), while the quietest kicks (a build-up's first, a third of full level)
#: still reach about half of full scale.
KICK_ONSET_FLOOR = 0.3
#: Leak of one drum band's onsets into another's (:func:`_unmix`): measured at the hits (peaks) of
#: the leaking instrument's onset of at least LEAK_MIN_SOURCE, if there are LEAK_MIN_HITS of them,
#: as this percentile of the ratio (hits of both instruments at once are the upper part).
LEAK_MIN_SOURCE = 0.5
LEAK_MIN_HITS = 8
LEAK_PERCENTILE = 40.0
#: The kick's leak into the hat band is measured at the kicks around which the hat band has no
#: onset of its own (none above LEAK_QUIET_ONSET within LEAK_QUIET_S either side, the hit's own
#: +-2 frames aside): there the flux at the kick is the leak alone. A 16th-note hat pattern puts a
#: hat on every kick (and one 0.12 s either side at 128 bpm), and a ratio taken at those kicks
#: would remove the hats with the leak; off-beat 8ths (0.23 s away) leave the kicks quiet.
LEAK_QUIET_S = 0.15
LEAK_QUIET_ONSET = 0.1
#: The drum model's activations (probability of an onset in the frame) read 0 up to the drum's
#: floor and 1 at DRUM_ACTIVATION_FULL. Groove percussion that sounds like a class (a rim shot like
#: a snare, a shaker like a hat) still gets activations of 0.4-0.55 from the model, and the snare
#: and hats must rest there (tests/test_follow_music.py, tests/test_reactive.py); the kick has no
#: such look-alike in the synth, and real kicks (which the model was not trained on) get lower
#: activations: on real music's beats the kick read a median of 0.07 with a floor of 0.6, 0.18 with
#: 0.35, 0.22 with 0.2 (benchmarks/bench_features.py --real-cache). Higher floors cost the hats a
#: little on synth tracks (Pearson r through the mapper at 30 fps, mean of 11 held-out tracks, with
#: the sub-frame hit times: 0.87 at 0.2 and 0.35, 0.86 at 0.5, 0.84 at 0.6).
DRUM_ACTIVATION_FLOOR = {"kick": 0.2, "snare": 0.6, "hats": 0.5}
DRUM_ACTIVATION_FULL = 1.0
#: Keep only each hit's peak frame of the activation (then the release envelope): the model's
#: activation spreads over the frames beside a hit (it was trained with targets there too), and the
#: release would stretch that into a longer blur than a hit's; peaks only raised the Pearson r of
#: all three drums by 0.02-0.05 on held-out synth tracks.
DRUM_PEAKS_ONLY = True
#: Release (s, time constant) of the drum onsets after each peak: a hit stays visible for a few
#: video frames instead of flashing for one. The onsets that spread over a few grid frames (the
#: band flux's) are stored with it on the grid: without it there the flux kick's Pearson r fell
#: from 0.87 to 0.86 (mean of 11 held-out synth tracks through the mapper at 30 fps; 0.84 to 0.82
#: on the end-to-end test's track). The model's single-frame hits are stored without it and get it
#: at the output times (AudioFeatures.at_frames): a release on the grid, then the maximum over a
#: video frame, holds the frame after a hit at 51-100 % of it (by where in its frame the hit lies)
#: instead of the release's 51 % at 30 fps; without it the hats' r rose from 0.83 to 0.86 (0.85 to
#: 0.89 on that track), the snare's from 0.94 to 0.95. (The mapper gives every impulsive source
#: this release again, mvgen.style.mapper.IMPULSE_RELEASE_S: on an envelope that already has it, a no-op.)
ONSET_RELEASE_S = 0.05
#: Tension: the window (s) over which the high band's rise (2 kHz and up) and the snare density are
#: measured; the steady rise (dB over the window, half of it in each half) that reads 1; snare hits
#: (peaks of the snare feature of at least TENSION_SNARE_HIT) per second that read 0 (a backbeat is
#: 1 to 2) and 1 (a roll of 16ths at 128 bpm is 8.5 per second).
TENSION_WINDOW_S = 2.0
TENSION_RISE_DB = 6.0
TENSION_SNARE_HIT = 0.3
TENSION_BACKBEAT_PER_S = 2.0
TENSION_ROLL_PER_S = 8.0
#: Smoothing (s) of tension and lead: slowly varying sources.
SLOW_SMOOTH_S = 0.5


def _moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving mean over ``width`` frames (edges averaged over what exists), same shape as ``x``."""
    if width <= 1 or len(x) == 0:
        return x.astype(np.float64)
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    i = np.arange(len(x))
    lo, hi = np.maximum(i - width // 2, 0), np.minimum(i - width // 2 + width, len(x))
    return (c[hi] - c[lo]) / (hi - lo)


def _db(power: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, 1e-12))


def _level(db: np.ndarray, full_db: float, range_db: float) -> np.ndarray:
    """``db`` mapped linearly from ``full_db - range_db`` (0) to ``full_db`` (1), clipped."""
    return np.clip((db - (full_db - range_db)) / range_db, 0.0, 1.0)


def release_envelope(x: np.ndarray, step_s: float, release_s: float, floor: float = 0.0) -> np.ndarray:
    """Peak hold with an exponential release of an event series ``x`` (shape ``(N,)``, >= 0, one value
    every ``step_s`` seconds): ``env[n] = max(x[n], env[n - 1] * exp(-step_s / release_s))``, instant
    attack (the peak stays on the event's frame, at its height), then decay; values under ``floor``
    are 0. Used on the analysis grid here and on video frames by the mapper."""
    return release_at(x, np.arange(len(x)) * step_s, release_s, floor)


def release_at(x: np.ndarray, times_s: np.ndarray, release_s: float, floor: float = 0.0) -> np.ndarray:
    """:func:`release_envelope` of events ``x`` (shape ``(N,)``, >= 0) at ascending ``times_s`` (shape
    ``(N,)``, s, any spacing): ``env[n] = max(x[n], env[n - 1] * exp(-(t[n] - t[n - 1]) / release_s))``.
    Vectorized: in the log domain the recursion is a running maximum."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return x.copy()
    n = np.asarray(times_s, dtype=np.float64) / release_s  # the log decay from time 0
    with np.errstate(divide="ignore"):
        held = np.maximum.accumulate(np.log(np.maximum(x, 0.0)) + n) - n  # log of the decayed peak so far
    decayed = np.concatenate([[0.0], np.exp(held[:-1] - np.diff(n))])  # the previous envelope, decayed to this time
    env = np.maximum(x, decayed)
    env[env < floor] = 0.0
    return env


def _unmix(target: np.ndarray, source: np.ndarray, hop_s: float, quiet_only: bool = False) -> np.ndarray:
    """``target`` less the part of it that follows ``source`` (both onset strengths, shape ``(T,)``,
    on frames of ``hop_s`` seconds).

    The leak is measured on this track: the ratio ``target / source`` at the source's strong hits,
    its :data:`LEAK_PERCENTILE` (most hits of one instrument carry no hit of the other, so a low
    percentile is the leak alone, the rest are hits of both that must survive). With
    ``quiet_only`` it is measured only at the hits where the target band is quiet around them (its
    median there; see :data:`LEAK_QUIET_S`), and nothing is removed when fewer than
    :data:`LEAK_MIN_HITS` such hits exist: a leak that cannot be told from the target's own hits is
    not guessed.
    """
    # The bands' flux may peak a frame apart for one hit (a click before the body): each hit is
    # compared, and subtracted, as the maximum over the frame and its two neighbours.
    def spread(x: np.ndarray) -> np.ndarray:
        out = x.copy()
        np.maximum(out[1:], x[:-1], out=out[1:])
        np.maximum(out[:-1], x[1:], out=out[:-1])
        return out

    source_near = spread(source)
    inner = source[1:-1]
    hits = 1 + np.flatnonzero((inner >= LEAK_MIN_SOURCE) & (inner >= source[:-2]) & (inner > source[2:]))
    if quiet_only:
        # onsets of the target in [h - w, h - 3] or [h + 3, h + w], counted by a cumulative sum
        w, n = max(3, round(LEAK_QUIET_S / hop_s)), len(target)
        count = np.concatenate([[0], np.cumsum(target >= LEAK_QUIET_ONSET)])
        def onsets(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            a, b = np.clip(a, 0, n), np.clip(b, 0, n)
            return count[np.maximum(a, b)] - count[a]
        hits = hits[onsets(hits - w, hits - 2) + onsets(hits + 3, hits + w + 1) == 0]
    if len(hits) < LEAK_MIN_HITS:
        return target
    ratios = spread(target)[hits] / source[hits]
    ratio = float(np.median(ratios) if quiet_only else np.percentile(ratios, LEAK_PERCENTILE))
    return np.clip(target - ratio * source_near, 0.0, 1.0)


def _onset_strength(flux: np.ndarray, audible: np.ndarray, floor_share: float = ONSET_FLOOR) -> np.ndarray:
    """A drum band's flux scaled to [0, 1]: its typical hit (:data:`ONSET_PEAK_PERCENTILE` of the local
    peaks) reads about 1, the noise floor (``floor_share`` of that) 0."""
    x = np.where(audible, flux.astype(np.float64), 0.0)
    if len(x) < 3:
        return np.zeros_like(x)
    peaks = x[1:-1][(x[1:-1] >= x[:-2]) & (x[1:-1] > x[2:])]
    if len(peaks) == 0 or peaks.max() <= 0:
        return np.zeros_like(x)
    # The peaks are hits and small ripples; the hits are the upper group: take the percentile among
    # the peaks above a tenth of the largest ones, so ripples do not pull the scale down.
    top = float(np.percentile(peaks, 99.5))
    full = float(np.percentile(peaks[peaks > 0.1 * top], ONSET_PEAK_PERCENTILE))
    floor = floor_share * full
    return np.clip((x - floor) / max(full - floor, 1e-9), 0.0, 1.0)


def _flux_onsets(d: DetailFrames, audible: np.ndarray, hop_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hand-made kick, snare and hat onsets ``(T,)`` each, in [0, 1], from the band flux of the
    percussive part (without the drum model: it is missing, or the audio is not at hand)."""
    kick, snare, hats = (_onset_strength(flux, audible) for flux in (d.kick_flux, d.snare_flux, d.hats_flux))
    # A kick's click and driven overtones reach the clap band, and a kick's click and a clap's noise
    # the hat band; a clap has next to nothing in the kick band. So the kick is taken as it is, the
    # clap band loses what kicks leak into it, then the hat band what kicks and (the cleaned) claps
    # leak into it. The leak follows the kick's whole flux; only the stored kick has the higher floor.
    snare = _unmix(snare, kick, hop_s)
    hats = _unmix(_unmix(hats, kick, hop_s, quiet_only=True), snare, hop_s)
    return _flux_kick(d, audible), snare, hats


def _flux_kick(d: DetailFrames, audible: np.ndarray) -> np.ndarray:
    """The stored kick ``(T,)`` in [0, 1]: the kick band's percussive flux above :data:`KICK_ONSET_FLOOR`."""
    return _onset_strength(d.kick_flux, audible, KICK_ONSET_FLOOR)


def _peak_offsets(x: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """Where each peak of ``x`` (shape ``(T,)`` or ``(T, C)``; ``peak`` the same shape, bool, never on the
    first or last frame) lies between its frame's neighbours, in frames (same shape; 0 off the
    peaks): the vertex of the parabola through the peak frame and its two neighbours (the sub-frame
    peak of an onset detection function, as in aubio or madmom), clipped to [-0.5, 0.5]."""
    out = np.zeros(x.shape)
    prev, mid, nxt = x[:-2][peak[1:-1]], x[1:-1][peak[1:-1]], x[2:][peak[1:-1]]
    curve = prev - 2.0 * mid + nxt  # <= 0 at a peak; a flat top (0) is the frame itself
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.where(curve < 0.0, 0.5 * (prev - nxt) / curve, 0.0)
    out[1:-1][peak[1:-1]] = np.clip(np.nan_to_num(vertex), -0.5, 0.5)
    return out


def _model_onsets(detector: DrumDetector, y: np.ndarray, n_frames: int, audible: np.ndarray, spectrogram: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The drum model's kick, snare and hat onsets, shape ``(T, 3)`` (:data:`mvgen.analysis.drums.DRUMS` order), in
    [0, 1]: the activations, 0 up to :data:`DRUM_ACTIVATION_FLOOR` and 1 from
    :data:`DRUM_ACTIVATION_FULL`, 0 in silent frames, only their local peaks with
    :data:`DRUM_PEAKS_ONLY`; and where each peak's hit lies in its frame (:func:`_peak_offsets` of
    the activation, frames, shape ``(T, 3)``, 0 off the peaks and without peaks only).

    The grid frame of a hit is up to half a frame (5.8 ms) off the hit, and at 30 fps one hit in
    nine then lands on the video frame beside its own; the activation's parabolic peak is nearer
    (error's standard deviation 1.7 ms for the snare, 2.5 ms for the hats, against 3.6 and 3.9 ms
    on the grid), and puts 3.5 % of the snares and 5.7 % of the hats there instead of 11 % and
    12 % (24 held-out synth tracks, benchmarks/bench_features.py --quality).
    """
    act = detector.activations(y, spectrogram=spectrogram)[:n_frames].astype(np.float64)
    if len(act) < n_frames:
        act = np.pad(act, ((0, n_frames - len(act)), (0, 0)))
    floor = np.array([DRUM_ACTIVATION_FLOOR[name] for name in detector.config.labels])
    scaled = np.clip((act - floor) / (DRUM_ACTIVATION_FULL - floor), 0.0, 1.0)
    scaled[~audible] = 0.0
    if DRUM_PEAKS_ONLY:
        # Only each hit's peak frame (see DRUM_PEAKS_ONLY).
        peak = np.zeros_like(scaled, dtype=bool)
        peak[1:-1] = (scaled[1:-1] >= scaled[:-2]) & (scaled[1:-1] > scaled[2:])
        # the parabola through the raw activation: the scaled one is cut flat at the floor
        return np.where(peak, scaled, 0.0), _peak_offsets(act, peak)
    return scaled, np.zeros_like(scaled)


def compute_audio_features(y: np.ndarray | None = None, sr: int = ANALYSIS_SR, *, features: FrameFeatures | None = None, drum_model: bool = True,
                           spectrogram: np.ndarray | None = None) -> AudioFeatures:
    """The :class:`AudioFeatures` of mono audio ``y`` (shape ``(n,)``, float32 at ``sr`` Hz), on the
    analysis frame grid, each normalized to [0, 1] for this track (see the module docstring).

    ``features``: :func:`~mvgen.features.frame_features` of ``y`` with ``detail=True`` when the caller
    has them (then ``y`` may be None); without their detail they are recomputed from ``y``.
    ``drum_model``: kick, snare and hats from the bundled drum model (:mod:`mvgen.analysis.drums`) when it is
    there and ``y`` is given at :data:`~mvgen.features.ANALYSIS_SR`; False (or no model, or no ``y``):
    from the band flux of the percussive part (the hand-made path, kept as the fallback and baseline).
    ``spectrogram``: the drum model's log-mel of ``y`` when the caller has it (the beat model hears the same).
    """
    if features is None or features.detail is None:
        if y is None:
            raise ValueError("compute_audio_features needs y, or features with their detail")
        features = frame_features(y, sr, detail=True)
    d, hop_s, n = features.detail, features.hop_s, features.n_frames
    if n == 0:
        return AudioFeatures.from_arrays(hop_s, {name: np.zeros(0) for name in FEATURES})
    k_db = _db(d.k_power.astype(np.float64))
    audible = k_db > SILENCE_DB
    out: dict[str, np.ndarray] = {}

    # Loudness: mean K-weighted power over a centred 400 ms window.
    loud_db = _db(_moving_mean(d.k_power, round(LOUDNESS_WINDOW_S / hop_s)))
    loud_audible = loud_db > SILENCE_DB
    full_db = float(np.percentile(loud_db[loud_audible], LOUD_PERCENTILE)) if loud_audible.any() else 0.0
    out["loudness"] = np.where(loud_audible, _level(loud_db, full_db, LOUDNESS_RANGE_DB), 0.0)

    # Band energies: full scale at the band's own loud level, but never lower than the track's loud
    # level less the headroom (a band a mix hardly uses stays near 0).
    band_names = ("sub", "low", "mid", "high", "air")
    for j, name in enumerate(band_names):
        db = _db(d.band_power[:, j].astype(np.float64))
        own = float(np.percentile(db[audible], LOUD_PERCENTILE)) if audible.any() else full_db
        out[name] = np.where(audible, _level(db, max(own, full_db - BAND_HEADROOM_DB), BAND_RANGE_DB), 0.0)

    detector = bundled_drum_detector() if drum_model and y is not None and sr == ANALYSIS_SR else None
    if detector is not None:
        # The model's snare and hats beat the band flux's by far (held out: peak rate 0.98 / 0.95
        # against 0.87 / 0.78), its kick only a little (Pearson r 0.93 against 0.87) while on real
        # music, whose kicks it never heard, it reads them at a third of the flux kick's level: the
        # kick stays the band flux's (benchmarks/bench_features.py --quality --real-cache).
        drums, where = _model_onsets(detector, y, n, audible, spectrogram)
        snare, hats = drums[:, 1], drums[:, 2]
        offsets = {"snare": where[:, 1], "hats": where[:, 2]} if DRUM_PEAKS_ONLY else {}
        kick = _flux_kick(d, audible)
    else:
        kick, snare, hats = _flux_onsets(d, audible, hop_s)
        offsets = {}
    # below half an 8-bit step the stored value is 0 anyway; the model's single-frame hits (those
    # with offsets) get their release at the output rate only (see ONSET_RELEASE_S)
    floor = 0.5 / _LEVELS
    for name, x in (("kick", kick), ("snare", snare), ("hats", hats)):
        out[name] = np.where(x >= floor, x, 0.0) if name in offsets else release_envelope(x, hop_s, ONSET_RELEASE_S, floor=floor)
    offsets = {name: np.where(out[name] > 0.0, o, 0.0) for name, o in offsets.items()}  # none for a hit stored as 0

    # Tension: the high band's rise over the last TENSION_WINDOW_S, plus the density of snare hits
    # beyond a backbeat's (a roll), both smoothed: a build-up's riser and roll, not single hits.
    window = max(1, round(TENSION_WINDOW_S / hop_s))
    high_db = _db(_moving_mean(d.band_power[:, 3] + d.band_power[:, 4], round(LOUDNESS_WINDOW_S / hop_s)))
    # A riser climbs through the whole window; a section change is one step: the smaller of the
    # rises over the window's two halves counts, so a step (one half) does not read as tension.
    def back(frames: int) -> np.ndarray:
        return high_db[np.maximum(np.arange(n) - frames, 0)]

    rise_db = np.minimum(high_db - back(window // 2), back(window // 2) - back(window))
    rise = np.clip(rise_db / (TENSION_RISE_DB / 2), 0.0, 1.0)
    snare = out["snare"]
    hits = np.zeros(n)
    hits[1:-1] = (snare[1:-1] >= TENSION_SNARE_HIT) & (snare[1:-1] >= snare[:-2]) & (snare[1:-1] > snare[2:])
    per_s = _moving_mean(hits, window) / hop_s
    roll = np.clip((per_s - TENSION_BACKBEAT_PER_S) / (TENSION_ROLL_PER_S - TENSION_BACKBEAT_PER_S), 0.0, 1.0)
    smooth = max(1, round(SLOW_SMOOTH_S / hop_s))
    out["tension"] = np.where(audible, _moving_mean(np.maximum(rise, roll), smooth), 0.0)

    # Lead: the harmonic share of the power above the bass, weighted by how loud that part is.
    harm, perc = d.harmonic_power.astype(np.float64), d.percussive_power.astype(np.float64)
    share = harm / np.maximum(harm + perc, 1e-12)
    above_db = _db(_moving_mean(harm, smooth))
    above_full = float(np.percentile(above_db[audible], LOUD_PERCENTILE)) if audible.any() else 0.0
    out["lead"] = np.where(audible, _moving_mean(share, smooth) * _level(above_db, above_full, BAND_RANGE_DB), 0.0)
    return AudioFeatures.from_arrays(hop_s, out, offsets)
