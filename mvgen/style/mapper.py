"""The style mapper: ``Analysis`` + styles -> one :class:`~mvgen.style.framespec.FrameSpec` per output frame.

A pure, deterministic function (:func:`map_frames`). Frame ``i`` is shown at ``start_s + i / fps``.
The soft genre profile is interpolated to frame times and smoothed, so the look changes
continuously as the mix changes; the genre styles are blended only as far as the model is sure the
music is within its classes, and the rest of the weight goes to the neutral ``other`` style; beats
drive a pulse that peaks on the frame nearest each beat (stronger on downbeats), and those frames
are flagged (``FrameSpec.on_beat``, ``on_downbeat``); drops land with a burst and a flash. Every
frame's seed follows the dominant style's ``seed_policy`` (per track, per section or per bar).

Modulation (``Style.modulate``): each frame reads the sources (:func:`modulation_sources`): the
analysis's audio features (:attr:`Analysis.audio_features`, resampled to the frames; 0 when the
analysis has none) and the grid sources (``beat`` and ``downbeat``: 1 on the frame nearest each
beat / downbeat; ``bar``: the bar phase, 0 -> 1 over each bar). The impulsive ones (kick, snare,
hats, beat, downbeat) peak on their event's frame and decay with :data:`IMPULSE_RELEASE_S`, so a hit
punches instead of flickering for one frame. The styles' matrices blend by the frame's genre weights
(``w @ M``, as palettes and motion), and each target moves by ``sum over sources of amount * source``
(:func:`modulation_offsets`), added to its unmodulated value:

    zoom (zoom factor), rotation (degrees), flash (0..1), speed (cycles per beat), density (0..1):
        added to the FrameSpec field, clamped to :data:`ZOOM_RANGE`, -, [0, 1], :data:`SPEED_RANGE`,
        :data:`DENSITY_RANGE`;
    drift: added to the drift amount (``motion.drift``, clamped to :data:`DRIFT_RANGE`) that scales
        the slow wander; shake: a shake of that many ``shake_on_kick`` units (``SHAKE_SCALE`` of the
        frame height each) in a new direction every frame, added to the kick shake;
    brightness: added to ``FrameSpec.brightness`` (a gain, 1 unmodulated; :data:`BRIGHTNESS_RANGE`);
    hue: ``FrameSpec.hue_shift_deg`` (degrees, 0 unmodulated);
    <motif>, <motif>.speed, <motif>.density: ``FrameSpec.motif_boost``, ``motif_speed``,
        ``motif_density`` (offsets the renderer adds for that motif; only motifs some style modulates);
    strength: ``FrameSpec.strength_offset`` (added to the diffusion strength);
    logo: ``FrameSpec.logo`` (the branding logo's pulse, 0 unmodulated; :data:`LOGO_RANGE`);
    prompt: per style, not blended: style k's prompt gain is ``1 + sum amount_k * source`` (clamped
        to :data:`PROMPT_GAIN_RANGE`) and ``FrameSpec.prompt_weights`` is ``genre_weights * gain``.

Where every source a target listens to is 0 the target is exactly its unmodulated value.

Loops (``loop=True``, the Spotify Canvas): the window is one period of a seamless loop. Its frames
are mapped as one cycle (at a frame rate stretched by less than half a frame per loop, so the
period is a whole number of frames), every event (beats, downbeats, the drop's burst, sections)
falls in the cycle as in the music, and what runs freely with time is made periodic instead of
cross-faded: the camera's rotation and drift follow :func:`~mvgen.style.framespec.loop_turns` of the loop phase, the
genre weights are their mean over the loop (no slow drift of the palette), the seed is the
loop's first (no new pattern at the wrap) and the modulation sources are periodic (levels such as
the loudness tilted so the loop's end meets its start, drum and beat envelopes released round the
loop: :func:`modulation_sources`); the renderer does the same for its own free motion
(``FrameSpec.loop_s`` and ``loop_phase``), so the frame after the last is the first.
"""

from __future__ import annotations

import dataclasses
import zlib
from typing import NamedTuple

import numpy as np

from mvgen.analysis.track import Analysis
from mvgen.style.framespec import MOTIFS, FrameSpec, loop_turns
from mvgen.genres import OUT_OF_SCOPE, smooth_over_time
from mvgen.analysis import reactive
from mvgen.analysis.reactive import FEATURES, IMPULSIVE, SOURCES
from mvgen.style.styles import TARGETS, style_keys

#: Pulse height on the frame nearest a downbeat and on other beats.
DOWNBEAT_PULSE = 1.0
BEAT_PULSE = 0.75
#: Section energy by label; build-ups ramp from the first to the second value.
SECTION_ENERGY = {"intro": 0.35, "build-up": (0.35, 0.9), "drop": 1.0, "breakdown": 0.25, "outro": 0.3}
#: Time constant (s) of the pulse's decay after each beat: gone well before the next beat at any
#: dance tempo (a beat is 0.33-0.6 s at 100-180 bpm).
PULSE_DECAY_S = 0.12
#: Beat length (s) assumed when the analysis found no steady beat (120 bpm): only the slow camera
#: moves (rotation, drift) use it then, as there are no beats to pulse on.
BEATLESS_BEAT_S = 0.5

# Camera. Offsets are fractions of the frame height; each is scaled by the blended style's motion
# field (0..1) and its reactivity, so these constants are the size of a full-strength effect.
#: Kick shake at ``shake_on_kick`` 1 on a full-energy downbeat: 2 % of the frame height, enough to
#: feel the kick without blurring the picture.
SHAKE_SCALE = 0.02
#: The beat zoom scales with the section's energy from this share (energy 0) to all of it (energy 1),
#: so calm parts still breathe on the beat and drops punch.
ZOOM_ENERGY_FLOOR = 0.5
#: Drift at ``drift`` 1: the sideways and the up-and-down amplitude (a slow wander, wider than high)...
DRIFT_AMPLITUDE_X = 0.08
DRIFT_AMPLITUDE_Y = 0.05
#: ...and periods in bars. 16 bars is a phrase; 11 is prime to it, so the path (a Lissajous figure)
#: does not repeat for 176 bars and never visibly loops.
DRIFT_PERIOD_X_BARS = 16
DRIFT_PERIOD_Y_BARS = 11
#: A drop's burst decays with a time constant of this many bars.
BURST_DECAY_BARS = 0.5
#: The drop flash is ``burst ** FLASH_SHARPNESS``: the same start, decaying this many times faster
#: (a time constant of 1/16 bar), a flash rather than a fade.
FLASH_SHARPNESS = 8
#: In drops, the strobe lights on every other beat while the pulse is above this: the beat's own
#: frame, and after a downbeat (peak 1.0) the next ~40 ms too (0.12 s * ln(1 / 0.7)).
STROBE_PULSE_THRESHOLD = 0.7


# Modulation (see the module docstring).
#: Release time constant (s) of the impulsive sources' envelope: a hit is at full height on its
#: frame and decays by e every 50 ms (at 30 fps: 51 % on the next frame, 13 % three frames on), a
#: punch of ~0.1 s that ends well before the next 16th note at 128 bpm (0.117 s) and keeps the
#: modulated value's Pearson correlation with a one-frame event track at ~0.86 at 30 fps.
IMPULSE_RELEASE_S = 0.05
#: Below this the envelope is 0 (less than one 8-bit step of the stored features, 1/255), so a
#: target is exactly still again ~0.35 s after the last hit instead of creeping for seconds.
IMPULSE_FLOOR = 1e-3
#: Sources given the release envelope: the drum onsets and the grid pulses.
ENVELOPED_SOURCES: tuple[str, ...] = IMPULSIVE + ("beat", "downbeat")
#: Clamps of modulated values. Zoom factor: from half (wide) to 3x; drift amount (motion.drift
#: units); brightness gain; speed (cycles per beat, the procedural renderer's limit); density; the
#: prompt gain of a style. Unmodulated values always lie inside them.
ZOOM_RANGE = (0.5, 3.0)
DRIFT_RANGE = (0.0, 2.0)
BRIGHTNESS_RANGE = (0.0, 3.0)
SPEED_RANGE = (0.0, 4.0)
DENSITY_RANGE = (0.0, 1.0)
PROMPT_GAIN_RANGE = (0.0, 3.0)
#: The logo pulse (``FrameSpec.logo``, an offset on a gain of 1): from hidden (-1) to three times as bright.
LOGO_RANGE = (-1.0, 2.0)
_T = {name: j for j, name in enumerate(TARGETS)}


def release_envelope(x: np.ndarray, fps: float, release_s: float = IMPULSE_RELEASE_S, floor: float = IMPULSE_FLOOR) -> np.ndarray:
    """:func:`mvgen.analysis.reactive.release_envelope` of a per-frame event series ``x`` (shape ``(N,)``) at ``fps``."""
    return reactive.release_envelope(x, 1.0 / fps, release_s, floor)


def modulation_sources(analysis: Analysis, times_s: np.ndarray, fps: float, loop_s: float = 0.0) -> np.ndarray:
    """Every modulation source at the frames shown at ``times_s`` (s) at ``fps``: shape ``(N, len(SOURCES))``
    in [0, 1], columns in :data:`~mvgen.analysis.reactive.SOURCES` order.

    Audio features from ``analysis.audio_features`` (zeros when it has none), grid sources from its
    beats (``beat``: 1 on the frame nearest each beat, downbeats included; ``downbeat``; ``bar``: the
    bar phase); :data:`ENVELOPED_SOURCES` get :func:`release_envelope`.

    ``loop_s`` > 0: the frames are a seamless loop of that period starting at ``times_s[0]``
    (a whole number of frames at ``fps``, as :func:`map_frames` makes it), and every source is a
    periodic function of the loop phase (:func:`_loop_sources`): frame ``k`` and frame ``k + loop_s *
    fps`` read the same values, and the last frame flows into the first.
    """
    times_s = np.asarray(times_s, dtype=np.float64)
    if loop_s > 0 and len(times_s):
        return _loop_sources(analysis, times_s, fps, loop_s)
    values = _raw_sources(analysis, times_s, fps)
    for name in ENVELOPED_SOURCES:
        j = SOURCES.index(name)
        values[:, j] = release_envelope(values[:, j], fps)
    return values


def _raw_sources(analysis: Analysis, times_s: np.ndarray, fps: float) -> np.ndarray:
    """The sources of :func:`modulation_sources` at ``times_s`` before the release envelope, ``(N, len(SOURCES))``."""
    values = np.zeros((len(times_s), len(SOURCES)))
    features = getattr(analysis, "audio_features", None)
    if features is not None:
        audio = features.at_frames(times_s, fps)
        for name in FEATURES:
            values[:, SOURCES.index(name)] = audio[name]
    beats = np.asarray(analysis.beats_s, dtype=np.float64)
    downbeats = np.asarray(analysis.downbeats_s, dtype=np.float64)
    on_downbeat = mark_flags(times_s, fps, downbeats)
    values[:, SOURCES.index("beat")] = mark_flags(times_s, fps, beats) | on_downbeat
    values[:, SOURCES.index("downbeat")] = on_downbeat
    beat_s = 60.0 / analysis.tempo_bpm if analysis.tempo_bpm else BEATLESS_BEAT_S
    values[:, SOURCES.index("bar")] = _phase(times_s, downbeats, beat_s * analysis.beats_per_bar)
    return values


#: The sources read as levels (not events): in a loop they are tilted so its end meets its start.
LEVEL_SOURCES: tuple[str, ...] = tuple(name for name in FEATURES if name not in IMPULSIVE)


def _loop_sources(analysis: Analysis, times_s: np.ndarray, fps: float, loop_s: float) -> np.ndarray:
    """:func:`modulation_sources` of the loop of ``loop_s`` seconds from ``times_s[0]``, periodic: one
    period of ``n = round(loop_s * fps)`` frames is evaluated and frame ``k`` reads its row ``k mod n``.

    Within the period: the levels (:data:`LEVEL_SOURCES`: loudness, bands, tension, lead) lose the
    ramp ``phase * (v(end) - v(start))``, ``v(end)`` the music's value at the frame after the loop (its
    bar 5 for a 4-bar loop), so the loop's last frame leads into its first as the music leads into
    bar 5, the tilt being at most that difference; the events (drums, beats) keep their frames, and
    their release envelope runs round the loop (a hit on the last frames decays into the first ones,
    as the loop plays on). The grid is whole bars, so the bar phase is periodic already.
    """
    n = max(1, int(round(loop_s * fps)))
    period = times_s[0] + np.arange(n + 1) / fps  # one more: the frame after the loop, phase 1
    raw = _raw_sources(analysis, period, fps)
    phase = (np.arange(n) / n)[:, None]
    levels = [SOURCES.index(name) for name in LEVEL_SOURCES]
    # a loop cut at the track's end has no music after it (features read 0 there): its last frame stands in
    after = raw[n, levels] if period[n] < analysis.duration_s else raw[n - 1, levels]
    values = raw[:n].copy()
    values[:, levels] -= phase * (after - raw[0, levels])
    values[:, levels] = np.clip(values[:, levels], 0.0, 1.0)
    for name in ENVELOPED_SOURCES:
        j = SOURCES.index(name)
        values[:, j] = release_envelope(np.tile(values[:, j], 2), fps)[n:]  # the second lap: the first's tail wrapped in
    index = np.round((times_s - times_s[0]) * fps).astype(int) % n
    return values[index]


def modulation_offsets(weights: np.ndarray, sources: np.ndarray, modulation: np.ndarray) -> np.ndarray:
    """Per frame and target, ``sum_k w[k] sum_s source[s] * M[k, s, target]``: shape ``(N, len(TARGETS))``.

    ``weights``: (N, K) genre weights; ``sources``: (N, len(SOURCES)); ``modulation``: (K,
    len(SOURCES), len(TARGETS)) the styles' matrices (:attr:`~mvgen.style.blend.StyleTable.modulation`).
    The ``prompt`` column is per style (see :func:`map_frames`), not this blend.
    """
    return np.einsum("nk,ns,kst->nt", weights, sources, modulation, optimize=True)


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
    :class:`~mvgen.style.styles.StyleTable`'s ``labels``). Each class gets its profile share times the
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


def beat_pulse(times_s: np.ndarray, fps: float, beats_s: np.ndarray, downbeats_s: np.ndarray, decay_s: float = PULSE_DECAY_S) -> np.ndarray:
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


def nearest_frames(times_s: np.ndarray, fps: float, marks_s: np.ndarray) -> np.ndarray:
    """Frame index (into ``times_s``, which start at ``times_s[0]`` and step ``1 / fps``) nearest each
    mark, shape ``(len(marks_s),)``; marks before or after the frames give indices outside
    ``[0, len(times_s))``. The same rounding as :func:`beat_pulse`, so the flags and the pulse agree."""
    if len(times_s) == 0:
        return np.zeros(0, dtype=int)
    return np.round((np.asarray(marks_s, dtype=np.float64) - times_s[0]) * fps).astype(int)


def mark_flags(times_s: np.ndarray, fps: float, marks_s: np.ndarray) -> np.ndarray:
    """Boolean per frame, shape ``(N,)``: true on the frame nearest each of ``marks_s`` (beats, downbeats)."""
    flags = np.zeros(len(times_s), dtype=bool)
    frames = nearest_frames(times_s, fps, marks_s)
    flags[frames[(frames >= 0) & (frames < len(times_s))]] = True
    return flags


def frame_seeds(times_s: np.ndarray, fps: float, policies, section_index: np.ndarray, downbeats_s: np.ndarray, seed: int = 0) -> np.ndarray:
    """``FrameSpec.seed`` per frame, shape ``(N,)``, following each frame's seed policy (``policies``,
    one of :data:`~mvgen.style.styles.SEED_POLICIES` per frame: the dominant style's).

    ``per-track``: one seed for the whole track; ``per-section``: a new seed at each section start
    (``section_index``: the frame's section); ``per-bar``: a new seed on the frame nearest each
    downbeat (the ``on_downbeat`` frames), or per section when the track has no downbeats. Seeds
    depend on absolute positions (section and bar numbers from the track's start), so an excerpt or
    a resumed render gets the seeds of the full render.
    """
    downbeats = np.sort(np.asarray(downbeats_s, dtype=np.float64))
    # bar number of each frame: downbeats whose nearest frame is this one or earlier (those before the
    # excerpt count too, so numbers are absolute)
    bar_index = np.searchsorted(nearest_frames(times_s, fps, downbeats), np.arange(len(times_s)), side="right")
    seeds = np.empty(len(times_s), dtype=np.int64)
    for k, policy in enumerate(policies):
        if policy == "per-track":
            seeds[k] = _seed(seed, "track")
        elif policy == "per-bar" and len(downbeats):
            seeds[k] = _seed(seed, "bar", int(bar_index[k]))
        elif policy in ("per-section", "per-bar"):
            seeds[k] = _seed(seed, "section", int(section_index[k]))
        else:
            raise ValueError(f"unknown seed policy {policy!r} (allowed: per-track, per-section, per-bar)")
    return seeds


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
    loop: bool = False,
) -> list[FrameSpec]:
    """One :class:`FrameSpec` per frame of ``[start_s, end_s)`` at ``fps``.

    ``styles``: a :class:`mvgen.style.styles.StyleTable` (anything with ``labels`` and ``blend(weights
    (K,))`` returning a blended style), built for the analysis's model classes. Deterministic: the
    same inputs give the same frames.

    ``loop=True``: the window is one period of a seamless loop (whole bars, see the module
    docstring): the frame after the last is the first (:func:`mvgen.clips.rotate_loop` shows it from
    another frame).
    """
    # 1. the frames' clock: display times; a loop's frame rate stretched to a whole number of frames
    loop_s = 0.0
    if loop:
        fps, end_s, loop_s = _loop_clock(analysis, fps, start_s, end_s)
    times = frame_times(analysis.duration_s, fps, start_s, end_s)

    # 2. the mix: genre weights per frame (a loop's mean on every frame), each blended into one style
    style_labels = tuple(styles.labels)
    weights = genre_weights_at(analysis, times, smooth_s, style_labels)
    if loop_s:  # the loop's mean mix on every frame: no palette drift to jump back at the wrap
        weights = np.repeat(weights.mean(axis=0, keepdims=True), len(times), axis=0)
    blends = [styles.blend(w) for w in weights]

    # 3. the music at each frame: beats, sections and their energy, drop bursts
    music = _music_at_frames(analysis, times, fps, loop_s)

    # 4. seeds, by the dominant style's policy (duck-typed tables without one keep the per-section seeds of old)
    seeds = frame_seeds(times, fps, [getattr(b, "seed_policy", "per-section") for b in blends], music.section_index, music.downbeats, seed)
    if loop_s:  # one pattern for the whole loop: a new seed at the wrap would be a cut
        seeds[:] = seeds[0]

    # 5. modulation, for all frames at once
    modulation = _modulate(analysis, styles, weights, times, fps, loop_s)

    # 6. one FrameSpec per frame: the blended style's camera and lights on the music, plus the modulation
    return [_frame_spec(music, k, blends[k], weights[k], style_labels, modulation, int(seeds[k]), seed) for k in range(len(times))]


def _loop_clock(analysis: Analysis, fps: float, start_s: float, end_s: float | None) -> tuple[float, float, float]:
    """``(fps, end_s, loop_s)`` of a loop over ``[start_s, end_s)``: the frame rate stretched so that the
    loop (``loop_s`` seconds, the window cut at the track's end) is a whole number of frames."""
    end = analysis.duration_s if end_s is None else min(end_s, analysis.duration_s)
    if not 0.0 <= start_s < end:
        raise ValueError(f"start_s must be in [0, end_s), got start_s={start_s}, end_s={end}")
    loop_s = end - start_s
    return max(1, int(round(loop_s * fps))) / loop_s, end, loop_s


@dataclasses.dataclass(frozen=True)
class _Music:
    """The music at each of ``N`` frames shown at ``times`` (s) at ``fps``, arrays of shape ``(N,)``
    (``beats``, ``downbeats``: the analysis's, s): what :func:`_frame_spec` draws on."""

    times: np.ndarray
    fps: float
    loop_s: float
    loop_phase: np.ndarray
    frame_index: np.ndarray
    beats: np.ndarray
    downbeats: np.ndarray
    beat_s: float
    bar_s: float
    pulse: np.ndarray
    on_beat: np.ndarray
    on_downbeat: np.ndarray
    beat_phase: np.ndarray
    bar_phase: np.ndarray
    section_index: np.ndarray
    labels: list[str]
    energy: np.ndarray
    in_drop: np.ndarray
    burst: np.ndarray


def _music_at_frames(analysis: Analysis, times: np.ndarray, fps: float, loop_s: float) -> _Music:
    """Beat pulse, flags and phases, section labels and energy (:func:`_section_energy`) and drop bursts
    (:func:`_drop_burst`) at the frames ``times``; a loop's phase (0 -> 1 over ``loop_s``, 0: no loop)."""
    beats = np.asarray(analysis.beats_s, dtype=np.float64)
    downbeats = np.asarray(analysis.downbeats_s, dtype=np.float64)
    beat_s = 60.0 / analysis.tempo_bpm if analysis.tempo_bpm else BEATLESS_BEAT_S
    bar_s = beat_s * analysis.beats_per_bar
    on_downbeat = mark_flags(times, fps, downbeats)
    section_index, labels, energy = _section_energy(analysis, times)
    return _Music(
        times=times,
        fps=fps,
        loop_s=loop_s,
        loop_phase=(times - times[0]) / loop_s if loop_s else np.zeros(len(times)),
        frame_index=np.round((times - times[0]) * fps).astype(int),
        beats=beats,
        downbeats=downbeats,
        beat_s=beat_s,
        bar_s=bar_s,
        pulse=beat_pulse(times, fps, beats, downbeats),
        on_beat=mark_flags(times, fps, beats) | on_downbeat,  # a downbeat is a beat
        on_downbeat=on_downbeat,
        beat_phase=_phase(times, beats, beat_s),
        bar_phase=_phase(times, downbeats, bar_s),
        section_index=section_index,
        labels=labels,
        energy=energy,
        in_drop=np.array([label == "drop" for label in labels]),
        burst=_drop_burst(analysis, times, fps, bar_s),
    )


def _section_energy(analysis: Analysis, times: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
    """``(section_index (N,), labels [N], energy (N,))`` at ``times``: each frame's section (``intro``
    without sections) and its :data:`SECTION_ENERGY` (a build-up ramps over its length)."""
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
    return section_index, labels, energy


def _drop_burst(analysis: Analysis, times: np.ndarray, fps: float, bar_s: float) -> np.ndarray:
    """Drop burst per frame, shape ``(N,)``: 1 on the frame where a drop lands, decaying with a time
    constant of :data:`BURST_DECAY_BARS` bars of ``bar_s`` seconds (the largest of overlapping drops)."""
    burst = np.zeros(len(times))
    for drop in analysis.drops:
        frame = int(round((drop.start_s - times[0]) * fps))
        later = np.arange(len(times)) - frame
        burst = np.maximum(burst, np.where(later >= 0, np.exp(-later / (fps * bar_s * BURST_DECAY_BARS)), 0.0))
    return burst


class _Modulation(NamedTuple):
    """The styles' modulation at ``N`` frames: ``offsets`` ``(N, len(TARGETS))`` (:func:`modulation_offsets`),
    ``prompt_weights`` ``(N, K)`` or None when no style modulates its prompt, and the motifs whose
    boost, speed or density some style modulates."""

    offsets: np.ndarray
    prompt_weights: np.ndarray | None
    boosted: list[str]
    sped: list[str]
    densified: list[str]


def _modulate(analysis: Analysis, styles, weights: np.ndarray, times: np.ndarray, fps: float, loop_s: float = 0.0) -> _Modulation:
    """The modulation of the frames ``times`` with genre ``weights`` ``(N, K)`` (duck-typed tables
    without a matrix modulate nothing); a loop's (``loop_s`` > 0) is periodic (:func:`modulation_sources`)."""
    matrix = getattr(styles, "modulation", None)
    matrix = np.zeros((weights.shape[1], len(SOURCES), len(TARGETS))) if matrix is None else np.asarray(matrix, dtype=np.float64)
    used = np.any(matrix != 0.0, axis=(0, 1))  # (T,) targets some style modulates
    if used.any():
        sources = modulation_sources(analysis, times, fps, loop_s)
        offsets = modulation_offsets(weights, sources, matrix)
    else:
        sources, offsets = np.zeros((len(times), len(SOURCES))), np.zeros((len(times), len(TARGETS)))
    prompt_weights = None  # each style's gain, not blended
    if used[_T["prompt"]]:
        prompt_weights = weights * np.clip(1.0 + sources @ matrix[:, :, _T["prompt"]].T, *PROMPT_GAIN_RANGE)
    return _Modulation(
        offsets=offsets,
        prompt_weights=prompt_weights,
        boosted=[m for m in MOTIFS if used[_T[m]]],
        sped=[m for m in MOTIFS if used[_T[f"{m}.speed"]]],
        densified=[m for m in MOTIFS if used[_T[f"{m}.density"]]],
    )


def _free_motion(music: _Music, k: int, degrees_per_bar: float) -> tuple[float, float, float]:
    """``(rotation_deg, drift_phase_x, drift_phase_y)`` (radians) of frame ``k``: the camera's motion
    that runs freely with time, made periodic over a loop (:func:`~mvgen.style.framespec.loop_turns`)."""
    t, bar_s = music.times[k], music.bar_s
    if music.loop_s:
        start_s, phase, loop_s = music.times[0], music.loop_phase[k], music.loop_s
        rotation_rate = degrees_per_bar / bar_s  # degrees per second
        turned = rotation_rate * start_s + 360.0 * loop_turns(rotation_rate / 360.0, phase, loop_s)
        drift_phase_x, drift_phase_y = (2 * np.pi * (start_s / period + loop_turns(1.0 / period, phase, loop_s))
                                        for period in (DRIFT_PERIOD_X_BARS * bar_s, DRIFT_PERIOD_Y_BARS * bar_s))
        return turned, drift_phase_x, drift_phase_y
    return degrees_per_bar * t / bar_s, 2 * np.pi * t / (DRIFT_PERIOD_X_BARS * bar_s), 2 * np.pi * t / (DRIFT_PERIOD_Y_BARS * bar_s)


def _frame_spec(music: _Music, k: int, blended, weights: np.ndarray, style_labels: tuple[str, ...], modulation: _Modulation, frame_seed: int, seed: int) -> FrameSpec:
    """Frame ``k``: the ``blended`` style's look and camera (kick shake, strobe, beat zoom, free
    motion, drop flash) on the ``music``, moved by the ``modulation``; ``weights`` ``(K,)`` its mix."""
    t, fps, pulse, energy = music.times[k], music.fps, music.pulse[k], music.energy[k]
    motion = blended.motion
    react = motion.reactivity
    d = modulation.offsets[k]
    beats = music.beats
    beat_number = int(np.searchsorted(beats, t + 0.5 / fps, side="right")) if len(beats) else int(t / music.beat_s)
    rng = np.random.default_rng(_seed(seed, "beat", beat_number))
    angle = rng.uniform(0, 2 * np.pi)
    kick = pulse ** 2 * energy
    shake = motion.shake_on_kick * react * kick * SHAKE_SCALE
    shake_x, shake_y = shake * np.cos(angle), shake * np.sin(angle)
    if d[_T["shake"]]:  # a rumble: a new direction every frame
        extra = max(d[_T["shake"]], 0.0) * SHAKE_SCALE
        jitter = np.random.default_rng(_seed(seed, "shake", int(music.frame_index[k]) + int(round(music.times[0] * fps)))).uniform(0, 2 * np.pi)
        shake_x, shake_y = shake_x + extra * np.cos(jitter), shake_y + extra * np.sin(jitter)
    strobe = motion.strobe * react * music.in_drop[k] * (pulse > STROBE_PULSE_THRESHOLD) * (beat_number % 2 == 0)
    drift = np.clip(motion.drift + d[_T["drift"]], *DRIFT_RANGE)
    zoom = 1.0 + motion.zoom_per_beat * react * pulse * (ZOOM_ENERGY_FLOOR + (1.0 - ZOOM_ENERGY_FLOOR) * energy)
    turned, drift_phase_x, drift_phase_y = _free_motion(music, k, motion.rotation_deg_per_bar * react)
    prompt_weights = modulation.prompt_weights
    return FrameSpec(
        index=int(music.frame_index[k]),
        time_s=float(t),
        genre_weights=tuple(float(w) for w in weights),
        genre_labels=style_labels,
        palette=tuple(tuple(float(c) for c in rgb) for rgb in blended.palette),
        background=tuple(float(c) for c in blended.background),
        section=music.labels[k],
        beat_pulse=float(pulse),
        on_beat=bool(music.on_beat[k]),
        on_downbeat=bool(music.on_downbeat[k]),
        beat_phase=float(music.beat_phase[k]),
        bar_phase=float(music.bar_phase[k]),
        energy=float(energy),
        drop_burst=float(music.burst[k]),
        zoom=float(np.clip(zoom + d[_T["zoom"]], *ZOOM_RANGE)),
        rotation_deg=float(turned + d[_T["rotation"]]),
        drift_x=float(drift * DRIFT_AMPLITUDE_X * np.sin(drift_phase_x + seed)),
        drift_y=float(drift * DRIFT_AMPLITUDE_Y * np.sin(drift_phase_y + 2 * seed)),
        shake_x=float(shake_x),
        shake_y=float(shake_y),
        flash=float(np.clip(motion.flash_on_drop * react * music.burst[k] ** FLASH_SHARPNESS + strobe + d[_T["flash"]], 0.0, 1.0)),
        motif_weights=dict(blended.motif_weights),
        speed=float(np.clip(blended.speed + d[_T["speed"]], *SPEED_RANGE)),
        density=float(np.clip(blended.density + d[_T["density"]], *DENSITY_RANGE)),
        seed=frame_seed,
        strength_range=tuple(float(v) for v in blended.strength),
        brightness=float(np.clip(1.0 + d[_T["brightness"]], *BRIGHTNESS_RANGE)),
        hue_shift_deg=float(d[_T["hue"]]),
        motif_boost={m: float(d[_T[m]]) for m in modulation.boosted},
        motif_speed={m: float(d[_T[f"{m}.speed"]]) for m in modulation.sped},
        motif_density={m: float(d[_T[f"{m}.density"]]) for m in modulation.densified},
        strength_offset=float(d[_T["strength"]]),
        prompt_weights=() if prompt_weights is None else tuple(float(v) for v in prompt_weights[k]),
        logo=float(np.clip(d[_T["logo"]], *LOGO_RANGE)),
        loop_s=float(music.loop_s),
        loop_phase=float(music.loop_phase[k]),
    )
