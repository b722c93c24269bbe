"""Per-frame audio features that drive the picture: the modulation sources of the styles.

The analysis computes them once per track (:func:`compute_audio_features`, on the analysis frame
grid of :mod:`mvgen.features`, 11.6 ms) and stores them in ``Analysis.audio_features`` as an
:class:`AudioFeatures`: every series normalized per track to [0, 1], quantized to 8 bits and
zlib-compressed, so a 3-minute track adds tens of kilobytes to the cached JSON. The mapper asks for
them at any frame rate with :meth:`AudioFeatures.at_frames`.

Sources (:data:`FEATURES`):
    loudness  short-term loudness (a 400 ms window, as EBU R128's momentary loudness)
    sub, low, mid, high, air
              band energies: < 60 Hz, 60-250 Hz, 250 Hz-2 kHz, 2-8 kHz, > 8 kHz
    kick, snare, hats
              onset strength of the kick, the snare or clap, and the hi-hats: the percussive part
              (harmonic/percussive separation) of the spectral flux in each instrument's bands
    tension   build-up tension: rising high-band noise (risers) and snare-roll density
    lead      lead presence: the harmonic share of the energy above the bass
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
#: Layout of :attr:`AudioFeatures.data`; bump when the encoding or a feature's definition changes.
FEATURES_VERSION = 1
_LEVELS = 255  # 8-bit quantization of values in [0, 1]


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
    zlib-compressed uint8 series (value ``v`` in [0, 1] stored as ``round(255 v)``).
    """

    model_config = ConfigDict(frozen=True)

    version: int = FEATURES_VERSION
    hop_s: float = Field(gt=0)
    n_frames: int = Field(ge=0)
    data: dict[str, str]

    @model_validator(mode="after")
    def _names(self) -> "AudioFeatures":
        missing = [name for name in FEATURES if name not in self.data]
        if missing:
            raise ValueError(f"audio features lack {', '.join(missing)} (version {self.version} has {', '.join(FEATURES)})")
        return self

    @classmethod
    def from_arrays(cls, hop_s: float, arrays: Mapping[str, np.ndarray]) -> "AudioFeatures":
        """Encode float series (each shape ``(T,)``, values clipped to [0, 1]) for every name of :data:`FEATURES`."""
        lengths = {name: len(arrays[name]) for name in FEATURES}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"every feature needs the same number of frames, got {lengths}")
        data = {}
        for name in FEATURES:
            q = np.round(np.clip(np.nan_to_num(np.asarray(arrays[name], dtype=np.float64)), 0.0, 1.0) * _LEVELS).astype(np.uint8)
            data[name] = base64.b64encode(zlib.compress(q.tobytes(), 6)).decode("ascii")
        return cls(hop_s=float(hop_s), n_frames=lengths[FEATURES[0]], data=data)

    def array(self, name: str) -> np.ndarray:
        """One feature series, shape ``(n_frames,)`` float32 in [0, 1]."""
        if name not in self.data:
            raise KeyError(f"unknown audio feature {name!r} (allowed: {', '.join(FEATURES)})")
        q = np.frombuffer(zlib.decompress(base64.b64decode(self.data[name])), dtype=np.uint8)
        return q.astype(np.float32) / _LEVELS

    def at_frames(self, times_s: np.ndarray, fps: float) -> FrameAudio:
        """Every feature at output frames shown at ``times_s`` (shape ``(N,)``, s) at ``fps``.

        Frame ``k`` stands for ``[times_s[k] - 0.5 / fps, times_s[k] + 0.5 / fps)`` (an event at time
        ``t`` belongs to the frame nearest ``t``): impulsive features (:data:`IMPULSIVE`) take the
        maximum of the feature frames centred in that span (at least the nearest one), the others
        are interpolated linearly at ``times_s``. Times outside the track read 0.
        """
        times_s = np.asarray(times_s, dtype=np.float64)
        values = np.zeros((len(times_s), len(FEATURES)), dtype=np.float32)
        if self.n_frames == 0 or len(times_s) == 0:
            return FrameAudio(FEATURES, values)
        grid_s = np.arange(self.n_frames) * self.hop_s
        half = 0.5 / fps
        lo = np.searchsorted(grid_s, times_s - half, side="left")
        hi = np.searchsorted(grid_s, times_s + half, side="left")
        nearest = np.clip(np.round(times_s / self.hop_s).astype(np.int64), 0, self.n_frames - 1)
        inside = (times_s >= -half) & (times_s < self.n_frames * self.hop_s + half)
        for j, name in enumerate(FEATURES):
            series = self.array(name)
            if name in IMPULSIVE:
                # max over [lo, hi): a running maximum via reduceat, with the nearest frame as floor
                col = series[nearest].copy()
                spans = hi > lo
                if np.any(spans):
                    starts = np.minimum(lo[spans], self.n_frames - 1)
                    ends = np.minimum(hi[spans], self.n_frames)
                    col[spans] = np.maximum(col[spans], [series[a:b].max() if b > a else 0.0 for a, b in zip(starts, ends)])
            else:
                col = np.interp(times_s, grid_s, series, left=0.0, right=0.0).astype(np.float32)
            values[:, j] = np.where(inside, col, 0.0)
        return FrameAudio(FEATURES, values)
