"""Picking windows of a track: the best clip of a given length (``--clip``) and the seamless loop (Canvas).

Entry points: :func:`best_clip` (``--clip 15|30|60``, ``clips:`` in batch manifests and the old
``--teaser``) and :func:`loop_window` (``RenderSettings.loop``, the Spotify Canvas: the loop rule
of :func:`mvgen.analysis.windows.phrase_loop`, which the GIF and WebP previews share). Both return a
:class:`~mvgen.analysis.windows.ClipWindow` whose in and out points are downbeats of the analysis,
so a cut lands on the first beat of a bar; a video of the window starts exactly on its in point and has
``round(length_s * fps)`` frames, so its end is within half a frame of the out point.

Lengths are whole numbers of bars, the largest that fits the requested seconds: platforms cap a
clip's length (a 60 s Shorts clip must not run 60.5 s), so a clip is never longer than asked. A
track without downbeats (beatless audio) gets exactly the requested seconds; a track shorter than
the request is taken whole.

Scoring (:func:`best_clip`): candidate windows start on every downbeat. "The drop first": windows
holding the first drop win over those holding only a later drop, which win over those without
one. Among them a window is scored ``DROP_WEIGHT * drop + ENERGY_WEIGHT * energy + NOVELTY_WEIGHT
* novelty``: ``drop`` (0.5..1) is highest when its drop lands :data:`DROP_AT` of the way into the
window (a short build-up leads into it, as the old teaser did); ``energy`` (0..1) the window's mean
loudness (the analysis's ``loudness`` feature, or the section energies of the mapper without
features); ``novelty`` (0..1) how many section changes it spans.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from mvgen.analysis.track import Analysis
from mvgen.analysis.windows import WINDOW_TOLERANCE_S, ClipWindow, phrase_loop
from mvgen.errors import MvgenError
from mvgen.style.framespec import FrameSpec
from mvgen.clock import format_clock
from mvgen.renderers.factory import procedural_renderer
from mvgen.settings import RenderSettings

#: Where in the window the first drop should land (fraction of its length): a quarter, so about a
#: quarter of the clip is the build-up leading into the drop and the rest is the drop itself.
DROP_AT = 0.25
#: Weights of the score's terms (see the module docstring): where the drop lands matters most.
DROP_WEIGHT = 2.0
ENERGY_WEIGHT = 1.0
NOVELTY_WEIGHT = 0.5
#: A window containing the drop scores at least this (landing at the window's very start or end),
#: and 1 when the drop lands at :data:`DROP_AT`.
DROP_CONTAINED = 0.5
#: A drop up to this long (s) before a window's start counts as in it: the analysis places drops and
#: downbeats independently, a few tens of ms apart, and a window starting on the drop's downbeat holds it.
DROP_SLACK_S = 0.05
#: Section changes inside a window for full novelty (two: e.g. build-up -> drop -> breakdown).
NOVELTY_CHANGES = 2
#: Seamless loops (Spotify Canvas): at most / at least this long (s), the Canvas's own limits.
LOOP_MAX_S = 8.0
LOOP_MIN_S = 3.0
#: Short side (pixels) of the small draft of a loop that :func:`calmest_cut` measures: enough to see
#: the picture's motion (rings, ribbons, the camera), a few percent of a 1080 px render's time.
LOOP_DRAFT_SIZE = 64


def check_length(length_s, name: str = "length_s") -> float:
    """``length_s`` as a float, or :class:`MvgenError` naming ``name`` and the value when it is not a positive finite number of seconds."""
    try:
        value = float(length_s)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(length_s, bool) or not math.isfinite(value) or value <= 0:
        raise MvgenError(f"{name} must be a positive number of seconds (e.g. 15, 30 or 60), got {length_s!r}")
    return value


def _downbeats(analysis: Analysis) -> np.ndarray:
    return np.asarray([d for d in analysis.downbeats_s if 0.0 <= d < analysis.duration_s], dtype=np.float64)


def _energy_curve(analysis: Analysis) -> tuple[np.ndarray, np.ndarray]:
    """``(times_s (T,), energy (T,) in [0, 1])``: the loudness feature, or without it the mapper's
    section levels (:data:`mvgen.style.mapper.SECTION_ENERGY`, a build-up at its ramp's mean) on a 0.1 s grid."""
    from mvgen.style.mapper import SECTION_ENERGY

    features = analysis.audio_features
    if features is not None and features.n_frames:
        loudness = features.array("loudness").astype(np.float64)
        return np.arange(len(loudness)) * features.hop_s, loudness
    times = np.arange(0.0, analysis.duration_s, 0.1)
    energy = np.full(len(times), 0.5)
    for section in analysis.sections:
        level = SECTION_ENERGY.get(section.label, 0.5)
        energy[(times >= section.start_s) & (times < section.end_s)] = float(np.mean(level))
    return times, energy


def _mean_between(times: np.ndarray, values: np.ndarray, start_s: float, end_s: float) -> float:
    """Mean of ``values`` (sampled at ``times``) over ``[start_s, end_s)``; the value at its middle when no sample falls inside."""
    if not len(times):
        return 0.0
    inside = (times >= start_s) & (times < end_s)
    return float(values[inside].mean()) if inside.any() else float(np.interp(0.5 * (start_s + end_s), times, values))


def _score(analysis: Analysis, start_s: float, end_s: float, curve) -> tuple[int, float, str]:
    """``(tier, score, why)`` of the window ``[start_s, end_s)``: tier 2 if it holds the first drop, 1 a
    later one, 0 none; the score and its reason (see the module docstring)."""
    length = end_s - start_s
    tier, drop_term, drop_note = 0, 0.0, "no drop"
    for k, drop in enumerate(analysis.drops):
        at = (drop.start_s - start_s) / length
        if not -DROP_SLACK_S / length <= at < 1.0:
            continue
        at = max(at, 0.0)
        closeness = max(0.0, 1.0 - abs(at - DROP_AT) / DROP_AT) if at <= DROP_AT else max(0.0, 1.0 - (at - DROP_AT) / (1.0 - DROP_AT))
        term = DROP_CONTAINED + (1.0 - DROP_CONTAINED) * closeness
        if (k == 0, term) > (tier == 2, drop_term):
            tier, drop_term, drop_note = (2 if k == 0 else 1), term, _drop_note(analysis, k)
    energy = _mean_between(*curve, start_s, end_s)
    changes = sum(start_s + WINDOW_TOLERANCE_S < s.start_s < end_s - WINDOW_TOLERANCE_S for s in analysis.sections)
    novelty = min(1.0, changes / NOVELTY_CHANGES)
    score = DROP_WEIGHT * drop_term + ENERGY_WEIGHT * energy + NOVELTY_WEIGHT * novelty
    return tier, score, f"{drop_note}, energy {energy:.2f}, {changes} section change{'s' if changes != 1 else ''}"


def _drop_note(analysis: Analysis, k: int) -> str:
    return f"{'first drop' if k == 0 else f'drop {k + 1}'} at {format_clock(analysis.drops[k].start_s, 0)}"


def best_clip(analysis: Analysis, length_s: float) -> ClipWindow:
    """The strongest window of at most ``length_s`` seconds: the drop first, then energy and novelty.

    In and out points are downbeats (the window is the largest whole number of bars <= ``length_s``);
    without downbeats, or when no whole bar fits, exactly ``length_s`` seconds are scored on a 0.5 s
    grid of starts; a track not longer than ``length_s`` is returned whole. Raises
    :class:`MvgenError` for a length that is not a positive number of seconds.
    """
    length_s = check_length(length_s)
    duration = analysis.duration_s
    curve = _energy_curve(analysis)
    if duration <= length_s + WINDOW_TOLERANCE_S:
        _, score, why = _score(analysis, 0.0, duration, curve)
        return ClipWindow(0.0, duration, score, f"the whole track ({duration:.1f} s <= {length_s:g} s); {why}")
    downbeats = _downbeats(analysis)
    candidates: list[tuple[float, float, int]] = []
    for i, start in enumerate(downbeats):
        # the most bars from this downbeat that fit; later downbeats end later, so the last that fits
        j = int(np.searchsorted(downbeats, start + length_s + WINDOW_TOLERANCE_S, side="right")) - 1
        if j > i:
            candidates.append((float(start), float(downbeats[j]), j - i))
    if candidates:
        # every candidate has the most bars any window of this track can have at its start; prefer the
        # longest (a window cut short by the track's end would otherwise win on a loud outro)
        most = max(n for _, _, n in candidates)
        candidates = [c for c in candidates if c[2] == most]
    else:
        starts = np.arange(0.0, duration - length_s + WINDOW_TOLERANCE_S, 0.5)
        candidates = [(float(s), float(s) + length_s, 0) for s in starts]
    best, best_key = None, None
    for start, end, n_bars in candidates:
        tier, score, why = _score(analysis, start, end, curve)
        if best is None or (tier, score) > (best_key[0], best_key[1] + 1e-9):
            best, best_key = ClipWindow(start, end, score, why, n_bars), (tier, score)
    return best


def loop_window(analysis: Analysis, max_s: float = LOOP_MAX_S, min_s: float = LOOP_MIN_S) -> ClipWindow:
    """The seamless loop (:func:`~mvgen.analysis.windows.phrase_loop`): the longest whole number of bars
    between ``min_s`` and ``max_s`` seconds starting on the first drop's downbeat (4 bars at 128 bpm:
    7.5 s), preferring :data:`~mvgen.analysis.windows.LOOP_BARS` (8, 4, 2 or 1 bars: phrases loop
    musically) over other counts.

    Without drops the loop starts on the downbeat that starts :func:`best_clip`'s window of
    ``max_s``; without downbeats it is ``max_s`` seconds from there. Raises :class:`MvgenError` for bad lengths or a
    track shorter than ``min_s``.
    """
    max_s, min_s = check_length(max_s, "max_s"), check_length(min_s, "min_s")
    if min_s > max_s:
        raise MvgenError(f"min_s ({min_s:g} s) must not be above max_s ({max_s:g} s)")
    if analysis.duration_s < min_s:
        raise MvgenError(f"the track is {analysis.duration_s:.1f} s long; a loop needs at least {min_s:g} s", analysis.audio.path)
    if analysis.drops:
        anchor, note = analysis.drops[0].start_s, _drop_note(analysis, 0)
    else:
        clip = best_clip(analysis, max_s)
        anchor, note = clip.start_s, f"no drop; the strongest {max_s:g} s from {format_clock(clip.start_s, 0)}"
    return phrase_loop(_downbeats(analysis), anchor_s=anchor, span_s=(0.0, analysis.duration_s), max_s=max_s, min_s=min_s, note=note)


#: A loop's cut (its first frame) is never where the drop's burst or a flash is above this: players
#: show the first frame as the still while the loop loads, and a white-out is a poor poster.
CUT_MAX_LIGHT = 0.1


def cut_candidates(specs: list[FrameSpec]) -> np.ndarray:
    """Which frames of a loop may open it: those without a drop burst or flash above :data:`CUT_MAX_LIGHT`."""
    return np.array([s.drop_burst <= CUT_MAX_LIGHT and s.flash <= CUT_MAX_LIGHT for s in specs], dtype=bool)


def calmest_cut(frames: np.ndarray, allowed: np.ndarray | None = None) -> int:
    """Index ``k`` of the frame of a loop where the picture changes least from frame ``k - 1`` (the
    last frame for ``k`` 0): the smallest mean absolute difference of neighbouring frames, ``frames``
    of shape ``(N, H, W, C)`` (any numeric type; a small draft of the loop, see :data:`LOOP_DRAFT_SIZE`),
    among the ``allowed`` frames (a boolean mask, e.g. :func:`cut_candidates`; None or none allowed: all).

    A loop shown from ``k`` cuts (last frame -> first) there: its seam is its calmest frame change
    rather than, say, the drop landing on its first downbeat (one of its largest), so a seamless
    loop's cut stays below the median change even with the encoder's noise added (the first frame
    of a video is coded on its own, the others from their neighbours).
    """
    frames = np.asarray(frames, dtype=np.float32)
    change = np.abs(frames - np.roll(frames, 1, axis=0)).mean(axis=tuple(range(1, frames.ndim)))
    if allowed is not None and np.any(allowed):  # only where the loop may open (see cut_candidates)
        change = np.where(allowed, change, np.inf)
    return int(np.argmin(change))


def rotate_loop(specs: list[FrameSpec], first: int) -> list[FrameSpec]:
    """The frames of a loop (``specs`` in loop order, as :func:`mvgen.style.mapper.map_frames` gives them with
    ``loop=True``) shown from ``first``, wrapping; ``index`` is renumbered to the position in the video."""
    first %= max(len(specs), 1)
    return [dataclasses.replace(spec, index=j) for j, spec in enumerate(specs[first:] + specs[:first])]


def clip_window(analysis: Analysis, settings: RenderSettings) -> ClipWindow:
    """The window of the video as a :class:`~mvgen.analysis.windows.ClipWindow`: a loop (``settings.loop``,
    :func:`~mvgen.clips.loop_window` of at most ``clip_s``, the format's cap or 8 s), the best clip
    (``clip_s``, :func:`~mvgen.clips.best_clip`) or the excerpt ``[start_s, end_s)``.
    A length-capped format (Shorts, X) renders the best clip of its cap from a longer track, and an
    excerpt with only a start is cut at the cap; a window shorter than a format's minimum is an error."""
    preset = settings.preset()
    cap_s = preset.max_duration_s if preset is not None else None
    excerpt = settings.start_s > 0 or settings.end_s is not None
    if settings.loop and not excerpt:  # a loop picks its bars, unless an excerpt is given (then that is looped)
        max_s = settings.clip_s or cap_s or LOOP_MAX_S
        window = loop_window(analysis, max_s=max_s, min_s=min(LOOP_MIN_S, max_s))
    elif settings.clip_s is not None:
        window = best_clip(analysis, settings.clip_s)
    else:
        end = analysis.duration_s if settings.end_s is None else min(settings.end_s, analysis.duration_s)
        if settings.start_s >= end:
            raise MvgenError(f"--start {settings.start_s:g} s is not before the end ({end:g} s)", analysis.audio.path)
        window = ClipWindow(settings.start_s, end, 0.0, "the excerpt asked for")
        if cap_s is not None and settings.end_s is None and end - settings.start_s > cap_s:
            window = best_clip(analysis, cap_s) if settings.start_s == 0 else ClipWindow(settings.start_s, settings.start_s + cap_s, 0.0, f"the {preset.name} format's {cap_s:g} s from the start asked for")
    if preset is not None and preset.min_duration_s is not None and window.end_s - window.start_s < preset.min_duration_s - 1e-6:
        raise MvgenError(f"the video would be {window.end_s - window.start_s:.2f} s; the {preset.name} format needs at least {preset.min_duration_s:g} s", analysis.audio.path)
    return window


def loop_draft(specs, settings: RenderSettings) -> np.ndarray:
    """The frames ``specs`` drawn small (short side :data:`~mvgen.clips.LOOP_DRAFT_SIZE`, half detail,
    the settings' aspect) by the procedural renderer: uint8 RGB, shape ``(N, H, W, 3)``, for
    :func:`~mvgen.clips.calmest_cut`."""
    width, height = settings.model_copy(update={"size": LOOP_DRAFT_SIZE}).frame_size()
    renderer = procedural_renderer(width, height, len(specs), detail=0.5, compile=False, beside_encoder=False)
    step = settings.batch_frames
    return np.concatenate([renderer.render(specs[i : i + step]).cpu().numpy() for i in range(0, len(specs), step)])
