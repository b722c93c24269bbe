"""``FrameSpec``: everything a renderer needs to draw one output frame; :func:`loop_turns`, the periodic
motion of a loop that the mapper and the renderers both follow.

The mapper (:mod:`mvgen.style.mapper`) turns an ``Analysis`` plus styles into one ``FrameSpec`` per frame;
renderers (procedural or diffusion) draw them. Frame ``index`` is shown at ``index / fps`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Visual motifs the procedural renderer can draw (style files choose and weight them).
MOTIFS = ("tunnel", "lasers", "particles", "grid", "rings", "waves")


@dataclass(frozen=True)
class FrameSpec:
    """One frame. Units: seconds, degrees, fractions of the frame height for offsets; colours RGB in [0, 1].

    genre_weights: soft blend over the styles ``genre_labels`` (sums to 1), smoothed over time.
    genre_labels: the style keys, in the order of ``genre_weights``: the model's classes, then
      ``other`` (the neutral style, weighted by how unsure the model is).
    palette: 5 blended colours, ``((r, g, b), ...)``; background: the blended background colour.
    beat_pulse: 1.0 on the frame nearest a beat (downbeats), 0.75 on other beats, decaying to 0 before the next.
      Its height is for drawing; to ask "is this a beat frame?" use ``on_beat`` (the decayed pulse
      one frame after a downbeat can be above the height of a plain beat).
    on_beat: true on the frame nearest each beat (downbeats included); on_downbeat: true on the frame
      nearest each downbeat (the first beat of a bar).
    beat_phase, bar_phase: position within the current beat / bar, in [0, 1).
    energy: section energy in [0, 1] (drop 1.0, build-up rising, breakdown low).
    drop_burst: 1.0 on the frame where a drop lands, decaying over about a bar.
    zoom (>= 1), rotation_deg, drift_x, drift_y, shake_x, shake_y: camera, already scaled by the styles.
    flash: white flash / strobe amount in [0, 1].
    motif_weights: weight per motif in :data:`MOTIFS` (>= 0), blended from the styles.
    speed, density: procedural motion speed (cycles per beat) and density (0..1), blended.
    seed: seed for this frame's randomness; it changes as the dominant style's ``seed_policy`` says
      (never, at section starts, or on downbeats).
    strength_range: the blended styles' (min, max) diffusion denoising strength, in [0, 1].

    The styles' modulation matrices (``Style.modulate``, applied by the mapper) move the fields above
    (zoom, rotation_deg, drift_*, shake_*, flash, speed, density) and these, whose defaults leave
    the picture as it was:
    brightness: gain on the picture's light (1: unchanged; 0: black), hue_shift_deg: hue rotation (degrees)
      of the palette (procedural) or the picture (diffusion).
    motif_boost: per motif, an offset added to its drawn weight after the renderer's normalization of
      ``motif_weights`` (1: a motif at full weight); absent motifs: 0.
    motif_speed, motif_density: per motif, offsets added to ``speed`` (cycles per beat) and ``density``
      for that motif only; absent motifs: 0.
    strength_offset: added to the diffusion denoising strength the renderer derives from
      ``strength_range`` (the sum is clamped to [0, 1]).
    prompt_weights: per style of ``genre_labels``, the weight of its prompt in the blended prompt
      embedding (``genre_weights`` times each style's modulated prompt gain; not renormalized, so a
      gain above 1 emphasizes the prompt); empty: ``genre_weights``.
    logo: the branding logo's pulse (the ``logo`` modulation target): its coverage and brightness are
      scaled by ``1 + logo`` (0: as drawn; 0.25: a logo at rest at 80 % opacity turns fully opaque).

    A frame of a seamless loop (``RenderSettings.loop``) also has:
    loop_s: the loop's period (s; 0: not a loop); loop_phase: the frame's position in it, in [0, 1).
      A renderer evaluates whatever runs freely with ``time_s`` as a function of ``loop_phase``
      (a whole number of cycles per loop, see :func:`loop_turns`), so the frame after
      the last is the first.
    """

    index: int
    time_s: float
    genre_weights: tuple[float, ...]
    palette: tuple[tuple[float, float, float], ...]
    background: tuple[float, float, float]
    section: str
    beat_pulse: float = 0.0
    on_beat: bool = False
    on_downbeat: bool = False
    beat_phase: float = 0.0
    bar_phase: float = 0.0
    energy: float = 0.5
    drop_burst: float = 0.0
    zoom: float = 1.0
    rotation_deg: float = 0.0
    drift_x: float = 0.0
    drift_y: float = 0.0
    shake_x: float = 0.0
    shake_y: float = 0.0
    flash: float = 0.0
    motif_weights: dict[str, float] = field(default_factory=dict)
    speed: float = 0.25
    density: float = 0.5
    seed: int = 0
    strength_range: tuple[float, float] = (0.3, 0.7)
    genre_labels: tuple[str, ...] = ()
    brightness: float = 1.0
    hue_shift_deg: float = 0.0
    motif_boost: dict[str, float] = field(default_factory=dict)
    motif_speed: dict[str, float] = field(default_factory=dict)
    motif_density: dict[str, float] = field(default_factory=dict)
    strength_offset: float = 0.0
    prompt_weights: tuple[float, ...] = ()
    logo: float = 0.0
    loop_s: float = 0.0
    loop_phase: float = 0.0


def loop_turns(rate, phase, loop_s, *, sin=np.sin, round=np.round, where=np.where):
    """Cycles done by a motion running at ``rate`` cycles per second, made periodic over a loop of
    ``loop_s`` seconds, at loop phase ``phase`` in [0, 1) (arrays broadcast; ``loop_s`` > 0).

    The motion does a whole number of cycles per loop: the nearest to ``rate * loop_s`` (its speed
    changes by at most half a cycle per loop). When that is 0 (a slow drift, less than half a cycle
    per loop) it sways instead, ``rate * loop_s / (2 pi) * sin(2 pi phase)``: back and forth with
    the drift's own peak speed. Either way the value at phase 1 is the value at phase 0. The math
    functions default to numpy's; the procedural renderer passes torch's (the same formula on its
    tensors).
    """
    cycles = rate * loop_s
    whole = round(cycles)
    # Phase 1 is phase 0 exactly (not 2 pi N, whose sine and cosine differ from 0's in the last bit and, now
    # and then, round a pixel differently).
    phase = phase % 1.0
    return where(whole != 0, whole * phase, cycles / (2.0 * np.pi) * sin(2.0 * np.pi * phase))
