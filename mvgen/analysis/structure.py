"""Sections (intro, build-up, drop, breakdown, outro) and drops, on the bar grid.

Dance music changes section on bar (usually phrase) boundaries, so boundaries are searched only at
downbeats: a novelty curve over bar-level features (loudness, low end, kick strength, brightness)
peaks where the music changes. Segments are then labelled by energy: drops are the loud sections
with kick and bass, build-ups rise into a drop, breakdowns sit between drops. The benchmark paper's
drop finder (:func:`loudness_drops`, RMS within 2 dB of the maximum for 15 s) is kept as a baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvgen.analysis.beats import interval_means, peak_near
from mvgen.features import FrameFeatures

SECTION_LABELS = ("intro", "build-up", "drop", "breakdown", "outro")
_MIN_SECTION_BARS = 4
_NOVELTY_BARS = 4
#: A drop is within this many dB of the loudest section, with kick and low end present,
#: and at least DROP_JUMP_DB louder than the section before it.
DROP_LOUDNESS_DB = 6.0
DROP_LOW_DB = 8.0
DROP_JUMP_DB = 2.0


@dataclass(frozen=True)
class SectionSpan:
    """One section: ``[start_s, end_s)`` with a label from :data:`SECTION_LABELS`."""

    start_s: float
    end_s: float
    label: str


def _power_mean_db(db: np.ndarray, hop_s: float, starts_s: np.ndarray, ends_s: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(interval_means(10.0 ** (db.astype(np.float64) / 10.0), hop_s, starts_s, ends_s), 1e-10))


def bar_grid(downbeats_s: np.ndarray, duration_s: float, fallback_bar_s: float = 2.0, *, start_s: float = 0.0) -> np.ndarray:
    """Bar boundaries (s) covering ``[start_s, duration_s]``: downbeats, or fixed blocks when there are none."""
    min_bar_s = 0.0
    if len(downbeats_s) >= 2:
        bar_s = float(np.median(np.diff(downbeats_s)))
        # The head and tail of the grid leave no sliver bar at either end (a downbeat 11 ms after the
        # start made a section 0:00.00-0:00.01): a bar under a quarter of the others joins its neighbour.
        min_bar_s = bar_s / 4
        edges = list(downbeats_s)
        # Extend the grid over the head and tail so every moment of the track is in some bar.
        head = np.arange(downbeats_s[0] - bar_s, start_s, -bar_s)[::-1]
        tail = np.arange(downbeats_s[-1] + bar_s, duration_s, bar_s)
        edges = np.concatenate([head, edges, tail])
    else:
        edges = np.arange(start_s, duration_s, fallback_bar_s)
    edges = edges[(edges > start_s + max(min_bar_s, 1e-6)) & (edges < duration_s - max(min_bar_s, 1e-6))]
    return np.concatenate([[start_s], edges, [duration_s]])


def bar_features(features: FrameFeatures, edges_s: np.ndarray, beats_s: np.ndarray) -> np.ndarray:
    """Bar-level features, shape ``(n_bars, 4)``: loudness dB, low-band dB, kick strength, brightness dB."""
    starts, ends = edges_s[:-1], edges_s[1:]
    loud = _power_mean_db(features.rms_db, features.hop_s, starts, ends)
    low = _power_mean_db(features.low_db, features.hop_s, starts, ends)
    high = _power_mean_db(features.high_db, features.hop_s, starts, ends)
    kick = np.zeros(len(starts))
    if len(beats_s):
        onset_low = features.onset_low.astype(np.float64)
        at_beats = peak_near(onset_low, features.hop_s, beats_s)
        # Kick strength: low-band onsets on the beats relative to the typical low-band flux.
        reference = np.percentile(at_beats, 90) if len(at_beats) else 1.0
        bar_of_beat = np.searchsorted(edges_s, beats_s, side="right") - 1
        valid = (bar_of_beat >= 0) & (bar_of_beat < len(starts))
        sums = np.bincount(bar_of_beat[valid], weights=at_beats[valid], minlength=len(starts))
        counts = np.bincount(bar_of_beat[valid], minlength=len(starts))
        kick = sums / np.maximum(counts, 1) / max(reference, 1e-9)
    return np.column_stack([loud, low, np.clip(kick, 0.0, 2.0), high - loud])


def _novelty(bars: np.ndarray, width: int = _NOVELTY_BARS) -> np.ndarray:
    """Change between the ``width`` bars before and after each bar boundary, shape ``(n_bars,)``."""
    scale = np.array([6.0, 6.0, 0.3, 6.0])  # dB-like columns vs the kick ratio
    z = bars / scale
    n = len(z)
    novelty = np.zeros(n)
    for b in range(1, n):
        before = z[max(0, b - width) : b].mean(axis=0)
        after = z[b : min(n, b + width)].mean(axis=0)
        novelty[b] = float(np.linalg.norm(after - before))
    return novelty


def segment_bars(bars: np.ndarray, threshold: float = 0.5) -> list[int]:
    """Indices of the bars that start a new section (always includes 0)."""
    novelty = _novelty(bars)
    order = np.argsort(-novelty)
    chosen: list[int] = []
    for b in order:
        if novelty[b] < threshold:
            break
        if b < 1 or b > len(bars) - 1:
            continue
        if all(abs(int(b) - c) >= _MIN_SECTION_BARS for c in chosen):
            chosen.append(int(b))
    return [0, *sorted(chosen)]


def label_segments(bars: np.ndarray, starts: list[int]) -> list[str]:
    """Label each segment (bars ``starts[i]`` to ``starts[i+1]``) with a :data:`SECTION_LABELS` entry."""
    bounds = [*starts, len(bars)]
    segs = [bars[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    loud = np.array([10 * np.log10(np.mean(10 ** (s[:, 0] / 10))) for s in segs])
    low = np.array([10 * np.log10(np.mean(10 ** (s[:, 1] / 10))) for s in segs])
    kick = np.array([s[:, 2].mean() for s in segs])
    length = np.array([len(s) for s in segs])
    long_enough = length >= _MIN_SECTION_BARS
    ref = long_enough if long_enough.any() else np.ones(len(segs), bool)
    full_energy = (low >= low[ref].max() - DROP_LOW_DB) & (kick >= 0.5 * max(kick[ref].max(), 1e-9)) & long_enough
    loud_enough = loud >= loud[ref].max() - DROP_LOUDNESS_DB
    # A drop lands: it is clearly louder than what precedes it (a build-up or breakdown), or it
    # continues a drop at the same level.
    is_drop = np.zeros(len(segs), bool)
    for i in np.flatnonzero(full_energy & loud_enough):
        lands = i == 0 or loud[i] >= loud[i - 1] + DROP_JUMP_DB
        continues = i > 0 and is_drop[i - 1] and loud[i] >= loud[i - 1] - 1.0
        is_drop[i] = lands or continues or loud[i] >= loud[ref].max() - 0.5
    drops = np.flatnonzero(is_drop)
    labels = []
    for i, seg in enumerate(segs):
        if is_drop[i]:
            labels.append("drop")
            continue
        next_is_drop = i + 1 < len(segs) and is_drop[i + 1]
        rising = len(seg) >= 2 and np.polyfit(np.arange(len(seg)), seg[:, 0] + seg[:, 3], 1)[0] > 0.15
        if next_is_drop and (rising or kick[i] < 0.5 * max(kick.max(), 1e-9)) and length[i] <= 16:
            labels.append("build-up")
        elif len(drops) == 0 or i < drops[0]:
            labels.append("intro")
        elif i > drops[-1]:
            labels.append("outro")
        else:
            labels.append("breakdown")
    return labels


def find_sections(features: FrameFeatures, beats_s: np.ndarray, downbeats_s: np.ndarray, duration_s: float, *, start_s: float = 0.0) -> list[SectionSpan]:
    """Sections covering ``[start_s, duration_s]`` (one track of a mix: pass its beats and downbeats only, and
    its loudness is judged against itself), adjacent sections with the same label merged."""
    edges = bar_grid(downbeats_s, duration_s, start_s=start_s)
    if len(edges) < 3:
        return [SectionSpan(start_s, duration_s, "intro")]
    bars = bar_features(features, edges, beats_s)
    starts = segment_bars(bars)
    labels = label_segments(bars, starts)
    bounds = [*starts, len(bars)]
    sections: list[SectionSpan] = []
    for label, a, b in zip(labels, bounds[:-1], bounds[1:]):
        start_s, end_s = float(edges[a]), float(edges[b])
        if sections and sections[-1].label == label:
            sections[-1] = SectionSpan(sections[-1].start_s, end_s, label)
        else:
            sections.append(SectionSpan(start_s, end_s, label))
    return sections


def drops_from_sections(sections: list[SectionSpan]) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of every drop section."""
    return [(s.start_s, s.end_s) for s in sections if s.label == "drop"]


def loudness_drops(features: FrameFeatures, within_db: float = 2.0, min_s: float = 15.0, skip_s: float = 15.0) -> list[tuple[float, float]]:
    """The benchmark paper's drop finder: smoothed RMS within ``within_db`` of its maximum for >= ``min_s``.

    Kept as the baseline that :func:`find_sections` is measured against (``benchmarks/``).
    """
    hop_s = features.hop_s
    power = 10.0 ** (features.rms_db.astype(np.float64) / 10.0)
    width = max(1, int(round(1.0 / hop_s)))
    smoothed = 10.0 * np.log10(np.maximum(np.convolve(power, np.ones(width) / width, mode="same"), 1e-10))
    skip = int(skip_s / hop_s)
    if len(smoothed) <= skip:
        return []
    loud = smoothed >= smoothed[skip:].max() - within_db
    loud[:skip] = False
    spans, start = [], None
    for i, flag in enumerate(np.append(loud, False)):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if (i - start) * hop_s >= min_s:
                spans.append((start * hop_s, i * hop_s))
            start = None
    return spans
