"""The style mapper: ``Analysis`` + styles -> one :class:`~mvgen.framespec.FrameSpec` per output frame.

A pure, deterministic function (:func:`map_frames`). Frame ``i`` is shown at ``start_s + i / fps``.
The soft genre profile is interpolated to frame times and smoothed, so the look changes
continuously as the mix changes; the genre styles are blended only as far as the model is sure the
music is within its classes, and the rest of the weight goes to the neutral ``other`` style; beats
drive a pulse that peaks on the frame nearest each beat (stronger on downbeats); drops land with a
burst and a flash.
"""

from __future__ import annotations

import zlib

import numpy as np

from mvgen.analysis import Analysis
from mvgen.framespec import FrameSpec
from mvgen.genres import OUT_OF_SCOPE, smooth_over_time
from mvgen.styles import style_keys

#: Pulse height on the frame nearest a downbeat and on other beats.
DOWNBEAT_PULSE = 1.0
BEAT_PULSE = 0.75
#: Section energy by label; build-ups ramp from the first to the second value.
SECTION_ENERGY = {"intro": 0.35, "build-up": (0.35, 0.9), "drop": 1.0, "breakdown": 0.25, "outro": 0.3}


def frame_times(duration_s: float, fps: float, start_s: float = 0.0, end_s: float | None = None) -> np.ndarray:
    """Display times (s) of the frames covering ``[start_s, end_s)``: ``start_s + i / fps``, shape ``(N,)``."""
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    end_s = duration_s if end_s is None else min(end_s, duration_s)
    if not 0.0 <= start_s < end_s:
        raise ValueError(f"start_s must be in [0, end_s), got start_s={start_s}, end_s={end_s}")
    n = int(round((end_s - start_s) * fps))
    return start_s + np.arange(max(n, 1)) / fps


def genre_weights_at(analysis: Analysis, times_s: np.ndarray, smooth_s: float = 2.0, labels=None) -> np.ndarray:
    """Style weights at each time, shape ``(N, len(labels))``, rows summing to 1.

    ``labels`` are the style keys (default: the 8 HouseX-v2 classes and ``other``; a
    :class:`~mvgen.styles.StyleTable`'s ``labels``). Each class gets its profile share times the
    window's in-scope confidence, and :data:`~mvgen.genres.OUT_OF_SCOPE` the rest, so an unsure model
    fades to the neutral style. The profile is linearly interpolated between its windows and smoothed
    with a Gaussian of ``smooth_s`` seconds (standard deviation); without a profile every frame is
    ``other``.
    """
    labels = list(style_keys() if labels is None else labels)
    if OUT_OF_SCOPE not in labels:
        raise ValueError(f"labels must include {OUT_OF_SCOPE!r} (the neutral style), got {labels}")
    profile = analysis.genre_profile
    if profile is None or not profile.times_s:
        weights = np.zeros((len(times_s), len(labels)))
        weights[:, labels.index(OUT_OF_SCOPE)] = 1.0
        return weights
    scoped_labels, t, scoped = profile.scoped()
    missing = [g for g in scoped_labels if g not in labels]
    if missing:
        raise ValueError(f"no style for the class {missing[0]!r} of the analysis's model (styles: {', '.join(labels)}); load the styles with that model's classes")
    p = np.zeros((len(t), len(labels)))
    p[:, [labels.index(g) for g in scoped_labels]] = scoped
    if smooth_s > 0 and len(t) > 1:
        step = float(np.median(np.diff(t)))
        sigma = smooth_s / step
        radius = int(np.ceil(3 * sigma))
        kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        p = smooth_over_time(p, kernel / kernel.sum())
    weights = np.stack([np.interp(times_s, t, p[:, j]) for j in range(p.shape[1])], axis=1)
    weights = np.clip(weights, 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def beat_pulse(times_s: np.ndarray, fps: float, beats_s: np.ndarray, downbeats_s: np.ndarray, decay_s: float = 0.12) -> np.ndarray:
    """Pulse in [0, 1] per frame, shape ``(N,)``: the frame nearest each beat gets the peak
    (:data:`DOWNBEAT_PULSE` or :data:`BEAT_PULSE`), later frames decay with time constant ``decay_s``."""
    pulse = np.zeros(len(times_s))
    if len(beats_s) == 0 or len(times_s) == 0:
        return pulse
    start_s = times_s[0]
    beat_frames = np.round((np.asarray(beats_s) - start_s) * fps).astype(int)
    is_down = np.isin(np.round(np.asarray(beats_s), 4), np.round(np.asarray(downbeats_s), 4))
    peaks = np.where(is_down, DOWNBEAT_PULSE, BEAT_PULSE)
    frames = np.arange(len(times_s))
    last = np.searchsorted(beat_frames, frames, side="right") - 1
    valid = last >= 0
    elapsed_s = (frames[valid] - beat_frames[last[valid]]) / fps
    pulse[valid] = peaks[last[valid]] * np.exp(-elapsed_s / decay_s)
    return pulse


def _phase(times_s: np.ndarray, marks_s: np.ndarray, period_s: float) -> np.ndarray:
    """Position in [0, 1) of each time between consecutive marks (extrapolated with ``period_s``)."""
    if len(marks_s) == 0:
        return np.mod(times_s / period_s, 1.0)
    marks = np.concatenate([[marks_s[0] - period_s * k for k in range(int(marks_s[0] / period_s) + 2, 0, -1)], marks_s, [marks_s[-1] + period_s]])
    i = np.clip(np.searchsorted(marks, times_s, side="right") - 1, 0, len(marks) - 2)
    span = marks[i + 1] - marks[i]
    return np.clip((times_s - marks[i]) / np.maximum(span, 1e-9), 0.0, 0.999999)


def _seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode()) & 0x7FFFFFFF


def map_frames(
    analysis: Analysis,
    styles,
    fps: float = 30.0,
    start_s: float = 0.0,
    end_s: float | None = None,
    smooth_s: float = 2.0,
    seed: int = 0,
) -> list[FrameSpec]:
    """One :class:`FrameSpec` per frame of ``[start_s, end_s)`` at ``fps``.

    ``styles``: a :class:`mvgen.styles.StyleTable` (anything with ``labels`` and ``blend(weights
    (K,))`` returning a blended style), built for the analysis's model classes. Deterministic: the
    same inputs give the same frames.
    """
    times = frame_times(analysis.duration_s, fps, start_s, end_s)
    style_labels = tuple(styles.labels)
    weights = genre_weights_at(analysis, times, smooth_s, style_labels)
    beats = np.asarray(analysis.beats_s, dtype=np.float64)
    downbeats = np.asarray(analysis.downbeats_s, dtype=np.float64)
    beat_s = 60.0 / analysis.tempo_bpm if analysis.tempo_bpm else 0.5
    bar_s = beat_s * analysis.beats_per_bar
    pulse = beat_pulse(times, fps, beats, downbeats)
    beat_phase = _phase(times, beats, beat_s)
    bar_phase = _phase(times, downbeats, bar_s)

    sections = analysis.sections or []
    starts = np.array([s.start_s for s in sections]) if sections else np.array([0.0])
    section_index = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, max(len(sections) - 1, 0))
    energy = np.full(len(times), 0.5)
    labels = []
    for k, t in enumerate(times):
        section = sections[section_index[k]] if sections else None
        label = section.label if section else "intro"
        labels.append(label)
        level = SECTION_ENERGY.get(label, 0.5)
        if isinstance(level, tuple):
            progress = (t - section.start_s) / max(section.end_s - section.start_s, 1e-9)
            level = level[0] + (level[1] - level[0]) * np.clip(progress, 0.0, 1.0)
        energy[k] = level

    burst = np.zeros(len(times))
    for drop in analysis.drops:
        frame = int(round((drop.start_s - times[0]) * fps))
        later = np.arange(len(times)) - frame
        burst = np.maximum(burst, np.where(later >= 0, np.exp(-later / (fps * bar_s / 2)), 0.0))

    in_drop = np.array([label == "drop" for label in labels])
    frame_index = np.round((times - times[0]) * fps).astype(int)
    specs = []
    for k, t in enumerate(times):
        blended = styles.blend(weights[k])
        motion = blended.motion
        react = motion.reactivity
        beat_number = int(np.searchsorted(beats, t + 0.5 / fps, side="right")) if len(beats) else int(t / beat_s)
        rng = np.random.default_rng(_seed(seed, "beat", beat_number))
        angle = rng.uniform(0, 2 * np.pi)
        kick = pulse[k] ** 2 * energy[k]
        shake = motion.shake_on_kick * react * kick * 0.02
        strobe = motion.strobe * react * in_drop[k] * (pulse[k] > 0.7) * (beat_number % 2 == 0)
        specs.append(
            FrameSpec(
                index=int(frame_index[k]),
                time_s=float(t),
                genre_weights=tuple(float(w) for w in weights[k]),
                genre_labels=style_labels,
                palette=tuple(tuple(float(c) for c in rgb) for rgb in blended.palette),
                background=tuple(float(c) for c in blended.background),
                section=labels[k],
                beat_pulse=float(pulse[k]),
                beat_phase=float(beat_phase[k]),
                bar_phase=float(bar_phase[k]),
                energy=float(energy[k]),
                drop_burst=float(burst[k]),
                zoom=float(1.0 + motion.zoom_per_beat * react * pulse[k] * (0.5 + 0.5 * energy[k])),
                rotation_deg=float(motion.rotation_deg_per_bar * react * t / bar_s),
                drift_x=float(motion.drift * 0.08 * np.sin(2 * np.pi * t / (16 * bar_s) + seed)),
                drift_y=float(motion.drift * 0.05 * np.sin(2 * np.pi * t / (11 * bar_s) + 2 * seed)),
                shake_x=float(shake * np.cos(angle)),
                shake_y=float(shake * np.sin(angle)),
                flash=float(np.clip(motion.flash_on_drop * react * burst[k] ** 8 + strobe, 0.0, 1.0)),
                motif_weights=dict(blended.motif_weights),
                speed=float(blended.speed),
                density=float(blended.density),
                seed=_seed(seed, "section", int(section_index[k])),
                strength_range=tuple(float(v) for v in blended.strength),
            )
        )
    return specs

