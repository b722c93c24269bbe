"""Deterministic, seeded synthetic music with exact ground truth: house and out-of-scope styles.

:func:`render` turns an :class:`Arrangement` (sections with a label, a bar count and a style blend)
into audio and a :class:`SynthTruth`: tempo, beat and downbeat times, sections, drops, a
per-frame style profile and every event (:class:`SynthEvents`: each drum hit; riser, lead and
bass spans). It supplies the analysis test fixtures and, through the fast :func:`render_clip`,
the training corpus of the sub-genre classifier.

The styles are the 8 house sub-genres of :data:`~mvgen.genres.GENRES` and the non-house
:data:`OTHER_STYLES` (drum & bass, hip hop, reggae, rock, ambient ...), the negative examples a
classifier needs to learn "none of these"; :data:`STYLES` is both, in that order.

Each style is a *recipe* of production traits (tempo range; drum pattern; kick pitch, weight and
attack; bass, lead and chord instruments and their patterns; hat pattern and swing; sidechain
depth; reverb depth) whose values are drawn per seed, so tracks of one style differ in sound
design. A section that blends styles renders every style's bass, lead, chords and grooves and mixes
them with the blend weights over one shared kick and snare grid (the dominant style's pattern),
whose sounds interpolate the recipes.

Every random draw comes from ``np.random.default_rng`` streams derived from ``seed`` (no global
state), so the same ``(arrangement, seed, sr)`` gives bit-identical audio. Kicks start exactly on
the samples of their grid positions (``round(t * sr)``; on every beat in house); chords change on
bar starts.

The package has these parts, each importing only the ones above it:

* :mod:`~mvgen.synth.recipes`: the data. Style lists and tempo ranges, the style recipes
  (``COMMON_RECIPE``, ``RECIPES``), scales, chord progressions, hat cells, bass motifs and chord
  rhythms; the seeded random streams (``rng_stream``) and the recipe draw (``draw_recipe``).
* :mod:`~mvgen.synth.patterns`: a style as drawn for one track (``DrawnStyle``): its values and its
  bass, lead and chord note patterns.
* :mod:`~mvgen.synth.dsp`: DSP building blocks: pitch, filters, oscillators, envelopes, drive, buses.
* :mod:`~mvgen.synth.instruments`: the instrument table (:data:`~mvgen.synth.instruments.INSTRUMENTS`,
  one function per instrument kind) and the drum sounds.
* :mod:`~mvgen.synth.arrangement`: the public models (:class:`SectionSpec`, :class:`Arrangement`,
  :class:`SynthTruth` ...), :func:`default_arrangement`, the timeline of a track and its ground truth.
* :mod:`~mvgen.synth.rendering`: tracks, sections, drums, grooves, build-up effects, reverb and
  master; :func:`render`, :func:`render_clip` and :func:`write_track`.

This module re-exports the public API; ``from mvgen import synth`` is the way to use it. The parts'
other public names are the building blocks they share with each other, not re-exported here.
"""

from __future__ import annotations

from mvgen.synth.arrangement import (
    BPM_RANGE,
    MAX_DURATION_S,
    PROFILE_HOP_S,
    SECTION_LABELS,
    Arrangement,
    GenreProfileTruth,
    SectionSpec,
    SectionTruth,
    SynthEvents,
    SynthTruth,
    default_arrangement,
)
from mvgen.synth.recipes import OTHER_STYLES, STYLES, TEMPO_RANGES_BPM, style_key
from mvgen.synth.rendering import SR_RANGE, render, render_clip, write_track

__all__ = [
    "OTHER_STYLES",
    "STYLES",
    "SECTION_LABELS",
    "TEMPO_RANGES_BPM",
    "SR_RANGE",
    "BPM_RANGE",
    "MAX_DURATION_S",
    "PROFILE_HOP_S",
    "SectionSpec",
    "Arrangement",
    "GenreProfileTruth",
    "SectionTruth",
    "SynthEvents",
    "SynthTruth",
    "default_arrangement",
    "style_key",
    "render",
    "render_clip",
    "write_track",
]
