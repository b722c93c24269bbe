"""What a genre classifier says about the windows of a track, independent of how it ran (torch or numpy).

Torch-free: the numpy inference (:mod:`mvgen.classify.cpu_classifier`) and the torch model
(:mod:`mvgen.classify.classifier`) share the window layout (:func:`plan_windows`), the calibration
(:func:`split_scope`) and the smoothing (:func:`smooth_profile`), so both give the same profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvgen.classify.checkpoints import ClassifierConfig
from mvgen.genres import smooth_over_time

#: Feature steps of context on each side of a chunk, covering the CNN's receptive field, so a
#: chunked pass equals one pass over the whole track.
CONTEXT_STEPS = 2


@dataclass(frozen=True)
class WindowPredictions:
    """What a classifier says about each window of a track.

    times_s: window centres (s), shape ``(W,)``.
    probabilities: calibrated class shares given the window is in scope, shape ``(W, labels)``, rows sum to 1.
    in_scope: calibrated probability that the window is within the model's classes, shape ``(W,)``.
      For a model without the out-of-scope outcome it is the largest class probability, the usual
      stand-in (maximum softmax probability), and says less.
    """

    times_s: np.ndarray
    probabilities: np.ndarray
    in_scope: np.ndarray


@dataclass(frozen=True)
class WindowChunk:
    """One chunk of a track's windows: windows ``[w0, w1)`` are computed from the audio of feature steps
    ``[s0, s1)`` (samples ``[s0 * step, s1 * step)``); window ``w`` is row ``w - s0`` of the chunk's output."""

    w0: int
    w1: int
    s0: int
    s1: int


@dataclass(frozen=True)
class WindowPlan:
    """How a track of ``n_samples`` is cut into windows and chunks (see :func:`plan_windows`).

    step_samples: samples per feature step; n_steps: feature steps of the (zero-padded) track;
    times_s: window centres (s), shape ``(W,)``; chunks: in order, covering every window once.
    """

    step_samples: int
    n_steps: int
    times_s: np.ndarray
    chunks: list[WindowChunk]

    @property
    def n_windows(self) -> int:
        return len(self.times_s)

    def chunk_audio(self, y: np.ndarray, chunk: WindowChunk) -> np.ndarray:
        """The samples of ``chunk`` (float32, contiguous), zero-padded past the end of ``y`` (a track shorter
        than one window gets one); only the chunk is copied, not the track."""
        a, b = chunk.s0 * self.step_samples, chunk.s1 * self.step_samples
        audio = np.ascontiguousarray(y[a:b], dtype=np.float32)
        return audio if len(audio) == b - a else np.pad(audio, (0, b - a - len(audio)))


def plan_windows(n_samples: int, config: ClassifierConfig, chunk_steps: int = 256) -> WindowPlan:
    """Windows of ``config.window_s`` every ``config.step_s`` over a track of ``n_samples`` at ``config.sr``,
    processed in chunks of ``chunk_steps`` windows that overlap by a window plus :data:`CONTEXT_STEPS`
    on each side, so a 1-hour mix needs memory for one chunk only and gives the same result as one pass."""
    step = config.step_frames * config.hop_length
    k = config.window_steps
    n_steps = max(k, n_samples // step)
    n_windows = n_steps - k + 1
    chunks = []
    for w0 in range(0, n_windows, chunk_steps):
        w1 = min(n_windows, w0 + chunk_steps)
        chunks.append(WindowChunk(w0=w0, w1=w1, s0=max(0, w0 - CONTEXT_STEPS), s1=min(n_steps, w1 + k - 1 + CONTEXT_STEPS)))
    times_s = (np.arange(n_windows) * step + config.window_samples / 2) / config.sr
    return WindowPlan(step_samples=step, n_steps=n_steps, times_s=times_s, chunks=chunks)


def softmax(logits: np.ndarray, config: ClassifierConfig, *, axis: int = -1) -> np.ndarray:
    """Calibrated probabilities: softmax of ``logits / config.temperature`` over ``axis`` (the outputs axis)."""
    z = logits.astype(np.float32) / np.float32(config.temperature)
    z = np.exp(z - z.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def split_scope(probabilities: np.ndarray, config: ClassifierConfig) -> tuple[np.ndarray, np.ndarray]:
    """Output probabilities ``(N, outputs)`` -> class shares given in scope ``(N, labels)`` and ``in_scope (N,)``."""
    g = len(config.labels)
    classes = probabilities[:, :g]
    if config.out_of_scope:
        in_scope = 1.0 - probabilities[:, g]
        total = classes.sum(axis=1, keepdims=True)
        shares = np.divide(classes, total, out=np.full_like(classes, 1.0 / g), where=total > 1e-12)
        return shares, np.clip(in_scope, 0.0, 1.0)
    return classes, classes.max(axis=1)


def smooth_profile(predictions: WindowPredictions, step_s: float, *, smooth_s: float = 3.0) -> WindowPredictions:
    """Moving average of window predictions over ``smooth_s`` seconds (class rows renormalized).

    Single windows are noisy; a sub-genre blend changes over bars, not within one. The class shares
    are averaged weighted by each window's in-scope probability, so windows the model does not
    recognise do not pull the blend of their neighbours.
    """
    width = max(1, int(round(smooth_s / step_s)))
    if width == 1 or len(predictions.times_s) < 2:
        return predictions
    kernel = np.ones(width) / width
    in_scope = predictions.in_scope[:, None]
    weighted = smooth_over_time(predictions.probabilities * np.maximum(in_scope, 1e-6), kernel)
    return WindowPredictions(
        times_s=predictions.times_s,
        probabilities=weighted / weighted.sum(axis=1, keepdims=True),
        in_scope=smooth_over_time(in_scope, kernel)[:, 0],
    )


@dataclass(frozen=True)
class PooledGenre:
    """What a classifier says of one track of a file (a whole file, or one track of a mix), ``[start_s, end_s)``.

    probabilities: class shares given the track is in scope, shape ``(labels,)``, sums to 1.
    in_scope: calibrated probability that the track is within the model's classes.
    """

    start_s: float
    end_s: float
    probabilities: np.ndarray
    in_scope: float


def track_genres(predictions: WindowPredictions, evidence: np.ndarray, bounds_s: list[tuple[float, float]]) -> list[PooledGenre]:
    """The genre of each track ``bounds_s[k] = (start_s, end_s)``: its windows' predictions pooled, each window
    weighed by ``evidence`` (shape ``(W,)``, in (0, 1]: how much the window says about the genre; see
    :func:`with_track_context`); class shares also weighed by each window's in-scope probability."""
    out = []
    for start_s, end_s in bounds_s:
        inside = (predictions.times_s >= start_s) & (predictions.times_s < end_s)
        if not inside.any():  # a track shorter than one window step: its nearest window
            inside = np.zeros(len(predictions.times_s), dtype=bool)
            inside[int(np.argmin(np.abs(predictions.times_s - (start_s + end_s) / 2)))] = True
        w = evidence[inside]
        in_scope = float(np.sum(w * predictions.in_scope[inside]) / np.sum(w))
        shares = np.sum((w * predictions.in_scope[inside])[:, None] * predictions.probabilities[inside], axis=0)
        total = shares.sum()
        shares = shares / total if total > 1e-12 else np.full(predictions.probabilities.shape[1], 1.0 / predictions.probabilities.shape[1])
        out.append(PooledGenre(start_s=float(start_s), end_s=float(end_s), probabilities=shares, in_scope=in_scope))
    return out


def _local_priors(predictions: WindowPredictions, weights: np.ndarray, tracks: list[PooledGenre], track_of: np.ndarray,
                  context_s: float, track_mass: float) -> tuple[np.ndarray, np.ndarray]:
    """Per window, its neighbourhood's genre within its track: ``(in_scope (W,), shares (W, labels))``, the
    windows of the same track pooled with ``weights`` times a Gaussian of their distance (sigma ``context_s``),
    plus the whole track's pool counted as ``track_mass`` windows (what a long stretch without evidence falls
    back to)."""
    times = predictions.times_s
    step_s = float(np.median(np.diff(times))) if len(times) > 1 else context_s
    half = max(1, int(round(3.0 * context_s / step_s)))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * step_s / context_s) ** 2)

    def smooth(x: np.ndarray) -> np.ndarray:  # a centred convolution, the same length as x whatever the kernel's
        return np.convolve(x, kernel)[half : half + len(x)]

    in_prior = np.empty(len(times))
    share_prior = np.empty(predictions.probabilities.shape)
    for g, track in enumerate(tracks):
        idx = np.flatnonzero(track_of == g)
        if not len(idx):
            continue
        w, p = weights[idx], predictions.in_scope[idx]
        den = smooth(w) + track_mass
        in_prior[idx] = (smooth(w * p) + track_mass * track.in_scope) / den
        num = np.stack([smooth(w * p * predictions.probabilities[idx, c]) for c in range(predictions.probabilities.shape[1])], axis=1)
        num += track_mass * track.in_scope * track.probabilities
        total = num.sum(axis=1, keepdims=True)
        share_prior[idx] = np.divide(num, total, out=np.broadcast_to(track.probabilities, num.shape).astype(np.float64).copy(), where=total > 1e-12)
    return in_prior, share_prior


def with_track_context(predictions: WindowPredictions, evidence: np.ndarray, tracks: list[PooledGenre], *,
                       weights: np.ndarray, context_s: float, track_mass: float) -> WindowPredictions:
    """Each window's prediction combined with its context's: ``evidence[i]`` of the window's own, the rest the
    genre of the music around it in its track (:func:`_local_priors`: the track's windows pooled by ``weights``
    times a Gaussian of their distance, sigma ``context_s`` seconds, and the track's pool of :func:`track_genres`
    counted as ``track_mass`` windows; a ``context_s`` longer than the track and no mass give the track's pool).

    A window of pads and a piano says little about a genre by itself, and a classifier taught to reject
    ambient music rejects a house track's breakdown too; the rest of the track says a lot. ``evidence``
    (shape ``(W,)``, in [0, 1]) is how much the window can say for itself (the analysis gives its drum
    presence): a breakdown inherits its track's genre (in a track that changes genre, that of the music
    around it), while a window that has drums of other music keeps its own verdict.
    """
    starts = np.array([t.start_s for t in tracks])
    k = np.clip(np.searchsorted(starts, predictions.times_s, side="right") - 1, 0, len(tracks) - 1)
    e = np.clip(np.asarray(evidence, dtype=np.float64), 0.0, 1.0)
    context_in, context_shares = _local_priors(predictions, np.asarray(weights, np.float64), tracks, k, context_s, track_mass)
    in_scope = e * predictions.in_scope + (1.0 - e) * context_in
    shares = (e * predictions.in_scope)[:, None] * predictions.probabilities + ((1.0 - e) * context_in)[:, None] * context_shares
    total = shares.sum(axis=1, keepdims=True)
    shares = np.divide(shares, total, out=predictions.probabilities.astype(np.float64).copy(), where=total > 1e-12)
    return WindowPredictions(times_s=predictions.times_s, probabilities=shares, in_scope=np.clip(in_scope, 0.0, 1.0))
