"""The genre timeline of a track as text: which sub-genres dominate each section.

This is what a DJ or a label marketer looks at: :func:`section_genres` averages the soft genre
profile of an :class:`~mvgen.analysis.track.Analysis` over every section and :func:`format_timeline` prints
one line per section. The picture (a PNG with the profile as a stacked area under the structure) is
:func:`mvgen.report.timeline_plot.plot_timeline`, apart so that the text needs no matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvgen.analysis.track import Analysis
from mvgen.clock import format_clock
from mvgen.genres import display_name


@dataclass(frozen=True)
class SectionGenres:
    """A section ``[start_s, end_s)`` with its dominant sub-genres: ``(key, share 0..1)``, highest first."""

    start_s: float
    end_s: float
    label: str
    top: list[tuple[str, float]]


def profile_arrays(analysis: Analysis) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """``(labels, times_s (T,), shares (T, L))`` of :meth:`GenreProfile.scoped` (the model's classes and
    ``other``, where it is unsure), or None without a profile."""
    profile = analysis.genre_profile
    if profile is None or not profile.times_s:
        return None
    return profile.scoped()


def _top_shares(labels: list[str], mean: np.ndarray, min_share: float) -> list[tuple[str, float]]:
    """``(key, share)`` of ``mean`` (shape ``(L,)``) at or above ``min_share``, highest first, at least one."""
    order = sorted(range(len(labels)), key=lambda j: (-mean[j], j))
    top = [(labels[j], float(mean[j])) for j in order if mean[j] >= min_share - 1e-9]
    return top or [(labels[order[0]], float(mean[order[0]]))]


def _span_mean(times_s: np.ndarray, probabilities: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """Mean profile row over frames in ``[start_s, end_s)``; the frame nearest the span when none falls inside."""
    inside = (times_s >= start_s) & (times_s < end_s)
    if inside.any():
        return probabilities[inside].mean(axis=0)
    middle_s = 0.5 * (start_s + end_s)
    return probabilities[int(np.argmin(np.abs(times_s - middle_s)))]


def section_genres(analysis: Analysis, min_share: float = 0.10) -> list[SectionGenres]:
    """The dominant sub-genres of every section of ``analysis``, in section order.

    A section's profile is the mean over the frames whose time falls in ``[start_s, end_s)`` (the
    frame nearest the section when none does). ``top`` lists the genres with a share >= ``min_share``
    (0..1), highest first, and always at least the leading one; it is empty without a genre profile.
    """
    arrays = profile_arrays(analysis)
    result = []
    for section in analysis.sections:
        top: list[tuple[str, float]] = []
        if arrays is not None:
            labels, times_s, probabilities = arrays
            top = _top_shares(labels, _span_mean(times_s, probabilities, section.start_s, section.end_s), min_share)
        result.append(SectionGenres(start_s=section.start_s, end_s=section.end_s, label=section.label, top=top))
    return result


#: A track summary names the top class only when the track is in scope at least this likely; below it
#: the summary says the track is outside the model's genres (the profile's ``other``).
TRACK_SCOPE_MIN = 0.5


def track_genre_lines(analysis: Analysis) -> list[str]:
    """One line per track of the file (one for a single track, one per track of a DJ mix): its span, its
    genre as a whole and how sure the model is (``0:00-3:15  Deep House 79% (in scope 80%)``, or
    ``outside the model's genres (in scope 12%)``); empty without a genre profile."""
    profile = analysis.genre_profile
    if profile is None or not profile.tracks:
        return []
    lines = []
    for t in profile.tracks:
        if t.in_scope >= TRACK_SCOPE_MIN:
            genre = f"{display_name(t.label)} {t.confidence:.0%}"
        else:
            genre = "outside the model's genres"
        span = f"{format_clock(t.start_s)}-{format_clock(t.end_s)}  " if len(profile.tracks) > 1 else ""
        lines.append(f"{span}{genre} (in scope {t.in_scope:.0%})")
    return lines


def _fmt_shares(top: list[tuple[str, float]]) -> str:
    return "  ".join(f"{display_name(key)} {share * 100:.0f}%" for key, share in top)


def format_timeline(analysis: Analysis) -> str:
    """The genre timeline as plain text: a header (file, duration, tempo), one line per section
    (``m:ss.s-m:ss.s  label  Genre NN%  ...``), and the whole track's blend. No trailing newline."""
    tempo = "no steady beat" if analysis.tempo_bpm is None else f"{analysis.tempo_bpm:.1f} bpm"
    drops = len(analysis.drops)
    lines = [f"{analysis.audio.path}  {format_clock(analysis.duration_s)}  {tempo}  {drops} drop{'s' if drops != 1 else ''}"]
    arrays = profile_arrays(analysis)
    if arrays is None:
        lines.append("(no genre profile: analyze with a classifier to see the sub-genres)")
    rows = section_genres(analysis)
    if not rows:
        lines.append("(no sections)")
    spans = [f"{format_clock(r.start_s)}-{format_clock(r.end_s)}" for r in rows]
    span_width = max((len(s) for s in spans), default=0)
    label_width = max([len(r.label) for r in rows] + [len("whole track") - span_width - 2 if arrays else 0])
    for span, row in zip(spans, rows):
        lines.append(f"{span:>{span_width}}  {row.label:<{label_width}}  {_fmt_shares(row.top)}".rstrip())
    if arrays is not None and rows:
        labels, _, probabilities = arrays
        lines.append(f"{'whole track':<{span_width + 2 + label_width}}  {_fmt_shares(_top_shares(labels, probabilities.mean(axis=0), 0.10))}")
    tracks = track_genre_lines(analysis)
    if tracks:
        lines.append(("genre: " if len(tracks) == 1 else f"{len(tracks)} tracks:\n  ") + "\n  ".join(tracks))
    not_music = [f"{format_clock(s.start_s)}-{format_clock(s.end_s)} {s.kind}" for s in analysis.signal if s.kind != "music"]
    if not_music:
        lines.append("not music: " + ", ".join(not_music))
    return "\n".join(lines)
