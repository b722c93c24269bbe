"""Windows of a track on its bar grid: :class:`ClipWindow`, the one rule for a loop, :func:`phrase_loop`, and which
times fall in given spans, :func:`in_spans`.

A loop is a few whole bars from the drop that play on endlessly: the Spotify Canvas
(:func:`mvgen.clips.loop_window`, 3-8 s) and the muted GIF or WebP preview beside a video
(:func:`mvgen.delivery.deliverables.loop_window_s`, 2-5 s) both take :func:`phrase_loop` with their own
length bounds. It cuts on the analysis's downbeats (not on a grid extrapolated from the tempo, which
drifts off the bars) and prefers :data:`LOOP_BARS`, whole phrases: a 4-bar phrase cut after 3 bars
jumps back at the wrap where the music would not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

#: Bar counts a loop prefers, longest first: phrases, so the music loops as it was written.
LOOP_BARS = (8, 4, 2, 1)
#: Tolerance (s) when comparing a window's length or ends with a bound (downbeats are stored to 0.1 ms).
WINDOW_TOLERANCE_S = 1e-3


@dataclass(frozen=True)
class ClipWindow:
    """A window ``[start_s, end_s)`` of a track (s from its start), picked for a clip or a loop.

    score: the picker's score (see :mod:`mvgen.clips`; 0 for a window not chosen among others);
    why: one line saying why, e.g. ``"first drop at 1:02, energy 0.93"``;
    n_bars: whole bars in the window (0 when it is not bar-aligned: no downbeats, or the whole track).
    """

    start_s: float
    end_s: float
    score: float
    why: str
    n_bars: int = 0

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


def in_spans(times_s: np.ndarray, spans_s: Iterable[tuple[float, float]]) -> np.ndarray:
    """Whether each of ``times_s`` (s) lies in one of the spans ``[start_s, end_s)``, shape ``(len(times_s),)``."""
    times_s = np.asarray(times_s)
    inside = np.zeros(len(times_s), dtype=bool)
    for start_s, end_s in spans_s:
        inside |= (times_s >= start_s) & (times_s < end_s)
    return inside


def phrase_loop(downbeats_s: Sequence[float], *, anchor_s: float, span_s: tuple[float, float], max_s: float, min_s: float, note: str) -> ClipWindow:
    """The loop starting on the downbeat nearest ``anchor_s`` (s; e.g. the first drop): the most bars
    whose length is within ``[min_s, max_s]`` seconds, a count of :data:`LOOP_BARS` (1, 2, 4 or 8)
    when one fits, else any whole number (4 bars at 128 bpm in 3-8 s: 7.5 s; 2 bars in 2-5 s: 3.75 s).

    Only downbeats within ``span_s = (start_s, end_s)`` (s, the part of the track the loop may take)
    count. With fewer than two of them, or no bar count that fits, the loop is ``max_s`` seconds from
    the anchor, moved back to end within the span (shorter when the span is). ``note`` says where
    the anchor is (``"first drop at 0:15"``); the window's ``why`` reads ``"4 bars (7.50 s) from the
    first drop at 0:15"``. ``n_bars`` is 0 for a window not on bars.
    """
    span_start, span_end = span_s
    downbeats = np.asarray(downbeats_s, dtype=np.float64)
    downbeats = downbeats[(downbeats >= span_start - WINDOW_TOLERANCE_S) & (downbeats <= span_end + WINDOW_TOLERANCE_S)]
    if len(downbeats) >= 2:
        i = int(np.argmin(np.abs(downbeats - anchor_s)))
        ends = downbeats[i + 1 :] - downbeats[i]
        # bar counts whose span fits [min_s, max_s], preferred counts first, then the longest
        fits = [n for n in range(1, len(ends) + 1) if min_s - WINDOW_TOLERANCE_S <= ends[n - 1] <= max_s + WINDOW_TOLERANCE_S]
        preferred = [n for n in fits if n in LOOP_BARS]
        if fits:
            n = max(preferred) if preferred else max(fits)
            start, end = float(downbeats[i]), float(downbeats[i + n])
            return ClipWindow(start, end, 0.0, f"{n} bar{'s' if n > 1 else ''} ({end - start:.2f} s) from the {note}", n)
    start = min(max(span_start, anchor_s), max(span_start, span_end - max_s))
    end = min(start + max_s, span_end)
    return ClipWindow(start, end, 0.0, f"{end - start:.2f} s (no bars to fit) from the {note}")
