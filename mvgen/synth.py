"""Deterministic, seeded synthetic music with exact ground truth: house and out-of-scope styles.

:func:`render` turns an :class:`Arrangement` (sections with a label, a bar count and a style blend)
into audio and a :class:`SynthTruth`: tempo, beat and downbeat times, sections, drops and a
per-frame style profile. It supplies the analysis test fixtures and, through the fast
:func:`render_clip`, the training corpus of the sub-genre classifier.

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
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, get_args

import numpy as np
import soundfile as sf
from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator
from scipy import signal

from mvgen.errors import MvgenError
from mvgen.genres import GENRES, genre_key

__all__ = [
    "OTHER_STYLES",
    "STYLES",
    "SECTION_LABELS",
    "TEMPO_RANGES_BPM",
    "SectionSpec",
    "Arrangement",
    "GenreProfileTruth",
    "SectionTruth",
    "SynthTruth",
    "default_arrangement",
    "style_key",
    "render",
    "render_clip",
    "write_track",
]

SectionLabel = Literal["intro", "build-up", "drop", "breakdown", "outro"]
SECTION_LABELS: tuple[str, ...] = get_args(SectionLabel)

#: Non-house styles: out-of-scope (negative) audio for the sub-genre classifier, which must learn
#: that music like this is none of the house sub-genres. Each is a recipe like the house ones.
OTHER_STYLES: tuple[str, ...] = (
    "drum_and_bass",
    "hardstyle",
    "hip_hop",
    "trap",
    "reggae",
    "dancehall",
    "rock",
    "ambient",
    "pop_ballad",
)

#: Every style the synth renders: the house sub-genres (in GENRES order), then OTHER_STYLES. The
#: order of the truth's profile vectors; house keep their GENRES index, so their random streams too.
STYLES: tuple[str, ...] = GENRES + OTHER_STYLES

#: Tempo range (bpm, inclusive) that an arrangement without a tempo draws from, by style. Ambient has
#: no beat; its tempo only sets the bar length, the time between chord changes (3.4-4.8 s).
TEMPO_RANGES_BPM: dict[str, tuple[int, int]] = {
    "progressive_house": (124, 128),
    "future_house": (124, 128),
    "bass_house": (124, 128),
    "tech_house": (124, 128),
    "deep_house": (118, 122),
    "bigroom": (126, 130),
    "future_rave": (126, 130),
    "slap_house": (120, 126),
    "drum_and_bass": (170, 175),
    "hardstyle": (148, 152),
    "hip_hop": (70, 95),
    "trap": (138, 142),
    "reggae": (70, 80),
    "dancehall": (90, 105),
    "rock": (100, 140),
    "ambient": (50, 70),
    "pop_ballad": (60, 80),
}

SR_RANGE = (8000, 192000)
BPM_RANGE = (40.0, 300.0)
MAX_DURATION_S = 900.0
#: Frame spacing (s) of :class:`GenreProfileTruth`.
PROFILE_HOP_S = 0.5
_STANDARD_BARS = {"intro": 16, "build-up": 8, "drop": 16, "breakdown": 16, "outro": 8}
_PEAK_DBFS = -1.0
_MASTER_DRIVE = 2.0  # tanh drive on the peak-normalized mix: about 6 dB of peak reduction
_TAIL_S = 1.0  # section buffers run on past the section end so kick tails and releases ring out
_MIN_BLEND_WEIGHT = 0.02  # blend partners below this are in the truth but not worth rendering


# --------------------------------------------------------------------------------------------
# Public models


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    if not (lo <= value <= hi) or not math.isfinite(value):
        raise ValueError(f"{name} must be in {lo:g}..{hi:g}, got {value}")


def _check_bpm(bpm: float | None) -> float | None:
    if bpm is not None:
        _check_range("bpm", bpm, *BPM_RANGE)
    return bpm


#: A tempo in bpm within BPM_RANGE, or None (drawn with the seed).
OptionalBpm = Annotated[float | None, AfterValidator(_check_bpm)]


def style_key(name: str) -> str:
    """Normalize a style name to its key in :data:`STYLES`: ``"hip-hop"``, ``"Drum and Bass"``, or a
    house sub-genre name as :func:`~mvgen.genres.genre_key` takes it (``"Future House"``, ``"Techno"``).

    Raises ``ValueError`` listing the valid keys when ``name`` is no style.
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in OTHER_STYLES:
        return key
    try:
        return genre_key(name)
    except ValueError:
        raise ValueError(f"unknown sub-genre or style {name!r}; valid: {', '.join(STYLES)}") from None


def _style_vector(weights: Mapping[str, float]) -> np.ndarray:
    """``{name: weight}`` as a probability vector over :data:`STYLES` (shape ``(17,)``, sums to 1).

    :func:`~mvgen.genres.weights_to_vector` over all styles: weights must be >= 0 with a positive sum.
    """
    vector = np.zeros(len(STYLES), dtype=np.float64)
    for name, weight in weights.items():
        if weight < 0:
            raise ValueError(f"weight of {name!r} must be >= 0, got {weight}")
        vector[STYLES.index(style_key(name))] += weight
    total = vector.sum()
    if total <= 0:
        raise ValueError("genre weights must have a positive sum")
    return vector / total


class SectionSpec(BaseModel):
    """One section: a label, a length in bars and a style blend (keys of :data:`STYLES`, weights normalized to sum 1).

    ``drums=False`` makes it beatless (pads only); so does an ambient-dominated blend.
    """

    label: SectionLabel
    bars: int
    genres: dict[str, float]
    bpm: OptionalBpm = None
    halftime: bool = False
    drums: bool = True

    @field_validator("bars")
    @classmethod
    def _bars(cls, bars: int) -> int:
        if bars < 1:
            raise ValueError(f"bars must be >= 1, got {bars}")
        return bars

    @field_validator("genres")
    @classmethod
    def _genres(cls, genres: dict[str, float]) -> dict[str, float]:
        vector = _style_vector(genres)
        return {g: float(w) for g, w in zip(STYLES, vector) if w > 0}


class Arrangement(BaseModel):
    """A track: its sections in order, a tempo and key (drawn with the seed when None), the metre."""

    sections: list[SectionSpec]
    bpm: OptionalBpm = None
    beats_per_bar: int = 4
    key: int | None = None

    @field_validator("sections")
    @classmethod
    def _sections(cls, sections: list[SectionSpec]) -> list[SectionSpec]:
        if not sections:
            raise ValueError("sections must not be empty")
        return sections

    @field_validator("beats_per_bar")
    @classmethod
    def _beats_per_bar(cls, beats_per_bar: int) -> int:
        _check_range("beats_per_bar", beats_per_bar, 2, 12)
        return beats_per_bar

    @field_validator("key")
    @classmethod
    def _key(cls, key: int | None) -> int | None:
        if key is not None:
            _check_range("key", key, 0, 11)
        return key

    @model_validator(mode="after")
    def _duration(self) -> Arrangement:
        if self.bpm is not None or all(s.bpm is not None for s in self.sections):
            total_s = sum(s.bars * self.beats_per_bar * 60.0 / (s.bpm or self.bpm) for s in self.sections)
            if total_s > MAX_DURATION_S:
                raise ValueError(f"arrangement is {total_s:.0f} s long; at most {MAX_DURATION_S:.0f} s")
        return self


class GenreProfileTruth(BaseModel):
    """Piecewise-constant style profile on a ``hop_s`` grid.

    ``times_s``: frame centres (s), shape ``(T,)``; ``probabilities``: shape ``(T, L)`` in the order of
    ``labels``, each row the blend of the section holding that frame (sums to 1). Rendered truths have
    ``labels = list(STYLES)``; truths written before the other styles (schema 1) have no ``labels``
    and 8 columns, which the default ``list(GENRES)`` reads. Use :meth:`vector_over` for fixed columns.
    """

    hop_s: float
    labels: list[str] = Field(default_factory=lambda: list(GENRES))
    times_s: list[float]
    probabilities: list[list[float]]

    def vector_over(self, labels: Sequence[str]) -> np.ndarray:
        """The probabilities re-indexed to ``labels``, shape ``(T, len(labels))`` float64.

        A label the profile lacks gets a zero column; a profile label not in ``labels`` is dropped,
        so over :data:`~mvgen.genres.GENRES` the rows of a house-only track still sum to 1 and those
        of a non-house style are all zero.
        """
        p = np.asarray(self.probabilities, dtype=np.float64).reshape(len(self.times_s), len(self.labels))
        out = np.zeros((len(p), len(labels)), dtype=np.float64)
        column = {label: j for j, label in enumerate(self.labels)}
        for i, label in enumerate(labels):
            if label in column:
                out[:, i] = p[:, column[label]]
        return out


class SectionTruth(BaseModel):
    """A section as rendered: ``[start_s, end_s)``, its label and normalized style weights."""

    start_s: float
    end_s: float
    label: str
    genres: dict[str, float]


class SynthTruth(BaseModel):
    """Ground truth of a rendered track; times in seconds from the first sample.

    ``beats_s`` are exact, the metre's beats whether or not a kick falls on them (in house every kick
    starts on sample ``round(beat_s * sr)``). Beatless sections (``drums=False``, or ambient) have no
    beats. ``downbeats_s`` are the beats that start a bar,
    ``drops`` the ``(start_s, end_s)`` of drop sections (adjacent ones merged), ``tempo_bpm`` the
    first section's tempo and ``arrangement`` the one rendered, with tempo and key filled in.
    """

    schema_version: int = 2  # 2: genre_profile has labels over STYLES (1: 8 GENRES columns)
    seed: int
    sr: int
    duration_s: float
    tempo_bpm: float
    beats_per_bar: int
    beats_s: list[float]
    downbeats_s: list[float]
    sections: list[SectionTruth]
    drops: list[tuple[float, float]]
    genre_profile: GenreProfileTruth
    arrangement: Arrangement


# --------------------------------------------------------------------------------------------
# Style recipes: (lo, hi) is drawn uniformly, [a, b, ...] is a choice, anything else is fixed.
# Levels are linear amplitudes before the section gains; Hz, s, ms, cents and beats as named.
# Only fixed values may be added to _COMMON: a drawn one would shift every house draw after it.

# Drum patterns: one character per 16th of a 4/4 bar, "x" a hit, "o" a ghost note (softer), "." a
# rest; tiled or cut to other metres like the note patterns (see _pattern_steps).
_FOUR_ON_THE_FLOOR = "x...x...x...x..."
_BACKBEAT = "....x.......x..."
_HIT_VELOCITY = {"x": 1.0, "o": 0.35}

_COMMON = dict(
    drums=True,  # False: the style has no beat at all (ambient): its sections are beatless
    kick_steps=_FOUR_ON_THE_FLOOR,
    snare_steps=_BACKBEAT,  # the clap, snare or rim of "clap"
    hat_fill="none",  # a _HAT_CELLS cell replacing the last beat of every second bar (trap rolls)
    bass_sound=None,  # instrument of the bass line when not the one named like its pattern ("bass")
    comp_rhythm="drawn",  # a _COMP_RHYTHMS name, or "drawn" for the house chord-hit patterns
    drone_level=0.0,  # a low drone under beatless pads (ambient)
    kick_tuned=False,
    kick_attack_ms=(0.2, 0.6),
    clap_hz=(1000.0, 1800.0),
    hat_hz=(7000.0, 9500.0),
    hat_level=(0.27, 0.39),
    hat_decay_s=(0.02, 0.04),
    swing=0.0,
    perc_level=(0.08, 0.2),
    bass_detune=(6.0, 14.0),
    bass_drive=(1.2, 2.0),
    lead="none",
    lead2="none",
    lead_level=(0.5, 0.65),
    lead_hz=(3000.0, 6000.0),
    lead_detune=(10.0, 25.0),
    comp="none",
    comp_level=(0.224, 0.308),
    comp_tones=3,
    pad="saw",
    pad_hz=(1200.0, 2500.0),
    pad_level=(0.2, 0.26),
    pad_detune=(5.0, 10.0),
    width=(0.5, 0.8),
    curve=(1.5, 2.5),
    mode=["minor"],
)

_RECIPES: dict[str, dict] = {
    "deep_house": dict(
        kick_hz=(45.0, 52.0), kick_sweep_hz=(85.0, 120.0), kick_sweep_ms=(22.0, 35.0), kick_decay_s=(0.13, 0.18),
        kick_click=(0.0, 0.05), kick_attack_ms=(1.0, 2.5), kick_drive=(1.0, 1.3), kick_level=(0.8, 0.9),
        clap=["clap", "snap", "rim"], clap_decay_s=(0.1, 0.2), clap_level=(0.44, 0.616),
        hats=["offbeat+16", "offbeat+8"], swing=(0.12, 0.22), perc_level=(0.25, 0.45),
        bass="reese", bass_level=(0.5, 0.62), bass_hz=(220.0, 420.0), bass_detune=(12.0, 25.0), bass_drive=(1.0, 1.4),
        lead=["none", "none", "vocal"], lead_level=(0.25, 0.375),
        comp=["organ", "rhodes", "organ", "pad"], comp_level=(0.22, 0.28), comp_tones=[4, 5],
        pad="warm", pad_hz=(900.0, 1600.0), reverb=(0.32, 0.45), rt60_s=(2.0, 2.8),
        sidechain=(0.2, 0.35), release_beats=(0.45, 0.7), mode=["dorian", "minor"],
    ),
    "progressive_house": dict(
        kick_hz=(48.0, 56.0), kick_sweep_hz=(150.0, 210.0), kick_sweep_ms=(14.0, 22.0), kick_decay_s=(0.1, 0.14),
        kick_click=(0.12, 0.25), kick_drive=(1.2, 1.6), kick_level=(0.85, 0.95),
        clap=["clap", "clap+snare"], clap_decay_s=(0.15, 0.25), clap_level=(0.528, 0.66),
        hats=["offbeat", "offbeat+16"],
        bass="offbeat", bass_level=(0.38, 0.46), bass_hz=(350.0, 700.0),
        lead=["supersaw", "supersaw", "piano"], lead2=["none", "piano"], lead_level=(0.55, 0.7), lead_hz=(4000.0, 8000.0),
        comp=["pad"], comp_level=(0.224, 0.28), comp_tones=[3, 4],
        pad="saw", pad_hz=(1800.0, 3500.0), reverb=(0.32, 0.42), rt60_s=(2.5, 3.4),
        sidechain=(0.55, 0.72), release_beats=(0.75, 0.95), curve=(1.2, 1.8), width=(0.7, 1.0),
        mode=["major", "minor"],
    ),
    "future_house": dict(
        kick_hz=(50.0, 60.0), kick_sweep_hz=(200.0, 300.0), kick_sweep_ms=(9.0, 15.0), kick_decay_s=(0.08, 0.12),
        kick_click=(0.3, 0.5), kick_drive=(1.6, 2.5), kick_level=(0.85, 0.95),
        clap=["clap", "snap"], clap_decay_s=(0.1, 0.16), clap_level=(0.572, 0.704),
        hats=["offbeat", "offbeat+16", "8ths"],
        bass="future", bass_level=(0.4, 0.5), bass_hz=(500.0, 1000.0), fm_ratio=[1.41, 2.0, 3.5, 0.5],
        fm_index=(2.0, 5.0), bend_semis=(-12.0, -5.0),
        lead=["pluck"], lead_level=(0.5, 0.65), lead_hz=(5000.0, 9000.0), pluck_decay_s=(0.12, 0.25),
        comp=["none", "pluck"], comp_level=(0.14, 0.196),
        reverb=(0.16, 0.24), rt60_s=(1.2, 1.8), sidechain=(0.8, 0.92), release_beats=(0.5, 0.7), curve=(2.0, 3.0),
    ),
    "bass_house": dict(
        kick_hz=(48.0, 58.0), kick_sweep_hz=(220.0, 320.0), kick_sweep_ms=(9.0, 14.0), kick_decay_s=(0.09, 0.13),
        kick_click=(0.4, 0.6), kick_drive=(2.5, 4.0), kick_level=(0.9, 1.0),
        clap=["clap+snare", "snare", "clap"], clap_decay_s=(0.1, 0.16), clap_level=(0.66, 0.792),
        hats=["offbeat", "8ths"],
        bass="growl", bass_level=(0.36, 0.44), bass_hz=(400.0, 900.0), fm_ratio=[0.5, 1.0, 1.5, 2.0],
        fm_index=(3.0, 7.0), fold=(2.0, 4.0), bass_drive=(3.0, 5.0), wobble_beats=[0.5, 0.25, 1.0],
        comp="none", pad="dark", pad_hz=(500.0, 1000.0), pad_level=(0.18, 0.24),
        reverb=(0.03, 0.07), rt60_s=(0.6, 1.0), sidechain=(0.4, 0.6), release_beats=(0.3, 0.5),
    ),
    "tech_house": dict(
        kick_hz=(48.0, 56.0), kick_sweep_hz=(160.0, 230.0), kick_sweep_ms=(9.0, 14.0), kick_decay_s=(0.06, 0.09),
        kick_click=(0.2, 0.35), kick_drive=(1.5, 2.2), kick_level=(0.85, 0.95),
        clap=["clap", "rim", "snap"], clap_decay_s=(0.06, 0.12), clap_level=(0.528, 0.66),
        hats=["16ths", "offbeat+16"], swing=(0.1, 0.25), hat_level=(0.3, 0.42), hat_decay_s=(0.012, 0.025),
        perc_level=(0.7, 1.0),
        bass="rolling", bass_level=(0.42, 0.52), bass_hz=(300.0, 700.0), bass_decay_s=(0.06, 0.11),
        comp="none", pad="dark", pad_hz=(500.0, 900.0), pad_level=(0.16, 0.22),
        reverb=(0.03, 0.07), rt60_s=(0.5, 0.9), sidechain=(0.2, 0.35), release_beats=(0.3, 0.5),
    ),
    "bigroom": dict(
        kick_tuned=True, kick_sweep_hz=(260.0, 400.0), kick_sweep_ms=(7.0, 12.0), kick_decay_s=(0.28, 0.42),
        kick_click=(0.5, 0.7), kick_attack_ms=0.0, kick_drive=(2.2, 3.5), kick_level=(0.95, 1.0),
        clap=["clap+snare", "snare"], clap_decay_s=(0.18, 0.3), clap_level=(0.66, 0.792),
        hats=["offbeat"], hat_level=(0.24, 0.33),
        bass="sub", bass_level=(0.1, 0.16),
        lead=["brass"], lead_level=(0.65, 0.8), lead_hz=(6000.0, 9000.0), lead_detune=(8.0, 16.0),
        comp="none", pad="saw", pad_hz=(2000.0, 4000.0), reverb=(0.3, 0.42), rt60_s=(2.4, 3.4),
        sidechain=(0.55, 0.7), release_beats=(0.5, 0.8), roll_level=(1.3, 1.5), mode=["minor", "major"],
    ),
    "future_rave": dict(
        kick_hz=(46.0, 54.0), kick_sweep_hz=(200.0, 300.0), kick_sweep_ms=(10.0, 15.0), kick_decay_s=(0.1, 0.14),
        kick_click=(0.3, 0.5), kick_drive=(2.0, 3.0), kick_level=(0.9, 1.0),
        clap=["clap", "clap+snare"], clap_decay_s=(0.12, 0.2), clap_level=(0.572, 0.704),
        hats=["offbeat", "offbeat+16"],
        bass="offbeat", bass_level=(0.42, 0.5), bass_hz=(250.0, 500.0), bass_drive=(2.0, 3.0), bass_roll=True,
        lead=["stab"], lead_level=(0.45, 0.6), lead_hz=(1500.0, 3000.0), lead_detune=(20.0, 35.0),
        comp="none", pad="dark", pad_hz=(800.0, 1500.0), width=(0.9, 1.0),
        reverb=(0.2, 0.3), rt60_s=(1.5, 2.2), sidechain=(0.8, 0.92), release_beats=(0.5, 0.7), curve=(2.0, 3.0),
    ),
    "slap_house": dict(
        kick_hz=(42.0, 50.0), kick_sweep_hz=(120.0, 170.0), kick_sweep_ms=(18.0, 28.0), kick_decay_s=(0.15, 0.22),
        kick_click=(0.08, 0.18), kick_drive=(1.2, 1.7), kick_level=(0.75, 0.85),
        clap=["clap", "snap"], clap_decay_s=(0.08, 0.14), clap_level=(0.528, 0.66),
        hats=["offbeat", "8ths"], hat_decay_s=(0.012, 0.025),
        bass="slap", bass_level=(0.55, 0.65), bass_hz=(700.0, 1400.0), fm_index=(3.0, 6.0),
        slap_chirp=(3.0, 7.0), bass_decay_s=(0.1, 0.18),
        lead=["vocal", "pluck", "none"], lead_level=(0.35, 0.5), pluck_decay_s=(0.1, 0.2),
        comp=["pad", "none"], comp_level=(0.14, 0.196),
        pad="warm", pad_hz=(1000.0, 2000.0), reverb=(0.15, 0.22), rt60_s=(1.2, 1.8),
        sidechain=(0.5, 0.65), release_beats=(0.4, 0.6),
    ),
    # Out-of-scope styles (OTHER_STYLES): their own drum patterns, mostly without sidechain pumping.
    "drum_and_bass": dict(
        # A two-step break: kick on 1 and the "and" of 3, snare on 2 and 4 (a half-time feel at 170).
        kick_steps=["x.........x.....", "x.x.......x.....", "x.........xx...."],
        snare_steps=["....x.......x...", "....x..o....x..o", "....x.......x.o."],
        kick_hz=(50.0, 58.0), kick_sweep_hz=(180.0, 260.0), kick_sweep_ms=(8.0, 12.0), kick_decay_s=(0.06, 0.09),
        kick_click=(0.3, 0.5), kick_drive=(1.5, 2.5), kick_level=(0.85, 0.95),
        clap=["snare"], clap_decay_s=(0.1, 0.16), clap_hz=(1500.0, 2200.0), clap_level=(0.7, 0.8),
        hats=["16ths"], hat_level=(0.22, 0.3), hat_decay_s=(0.01, 0.02), perc_level=(0.04, 0.1),
        bass="reese", bass_level=(0.5, 0.6), bass_hz=(200.0, 400.0), bass_detune=(15.0, 30.0), bass_drive=(1.5, 2.5),
        lead=["none", "pluck"], lead_level=(0.3, 0.4), pluck_decay_s=(0.15, 0.3),
        comp=["pad", "none"], comp_level=(0.15, 0.2), pad="dark", pad_hz=(600.0, 1200.0),
        reverb=(0.15, 0.25), rt60_s=(1.5, 2.2), sidechain=(0.0, 0.15), release_beats=(0.3, 0.5),
    ),
    "hardstyle": dict(
        # Four on the floor with a long, heavily driven kick whose tail is tuned to the key.
        kick_tuned=True, kick_sweep_hz=(300.0, 450.0), kick_sweep_ms=(6.0, 10.0), kick_decay_s=(0.12, 0.18),
        kick_click=(0.5, 0.7), kick_attack_ms=0.0, kick_drive=(6.0, 10.0), kick_level=(0.95, 1.0),
        clap=["clap"], clap_decay_s=(0.12, 0.2), clap_level=(0.55, 0.65),
        hats=["offbeat"], hat_level=(0.2, 0.28),
        bass="reverse", bass_level=(0.4, 0.5), bass_hz=(250.0, 450.0), bass_drive=(3.0, 5.0),
        lead="screech", lead_level=(0.4, 0.5), lead_hz=(3000.0, 5000.0), fm_index=(3.0, 6.0),
        comp="none", pad="saw", pad_hz=(1500.0, 3000.0),
        reverb=(0.2, 0.3), rt60_s=(1.8, 2.6), sidechain=(0.3, 0.5), release_beats=(0.4, 0.6),
    ),
    "hip_hop": dict(
        # Boom-bap: kick on 1 and the "and" of 3 (never on 3 itself), snare on 2 and 4, swung hats.
        kick_steps=["x.........x.....", "x.........x..x..", "x......x..x....."],
        kick_hz=(50.0, 58.0), kick_sweep_hz=(120.0, 180.0), kick_sweep_ms=(15.0, 25.0), kick_decay_s=(0.12, 0.18),
        kick_click=(0.1, 0.2), kick_attack_ms=(0.5, 1.5), kick_drive=(1.3, 2.0), kick_level=(0.9, 1.0),
        clap=["snare", "clap+snare"], clap_decay_s=(0.12, 0.2), clap_level=(0.6, 0.7),
        hats=["16ths", "8ths"], swing=(0.15, 0.3), hat_level=(0.2, 0.3), hat_decay_s=(0.015, 0.03), perc_level=(0.0, 0.1),
        bass="boombap", bass_sound="rolling", bass_level=(0.45, 0.55), bass_hz=(200.0, 400.0), bass_decay_s=(0.25, 0.45),
        bass_drive=(1.0, 1.4),
        lead=["none", "vocal"], lead_level=(0.2, 0.3),
        comp=["rhodes", "piano"], comp_rhythm=["whole", "halves"], comp_level=(0.22, 0.3), comp_tones=[3, 4],
        pad="warm", pad_hz=(800.0, 1500.0), reverb=(0.1, 0.2), rt60_s=(1.0, 1.6),
        sidechain=0.0, release_beats=0.5, mode=["minor", "dorian"],
    ),
    "trap": dict(
        # Half time: sparse kicks, the clap on beat 3 only, 16th hats rolling into 32nds, a gliding 808.
        kick_steps=["x.........x.....", "x......x..x.....", "x.....x.........", "x..x......x....."],
        snare_steps="........x.......",
        kick_hz=(45.0, 55.0), kick_sweep_hz=(150.0, 220.0), kick_sweep_ms=(10.0, 15.0), kick_decay_s=(0.1, 0.15),
        kick_click=(0.2, 0.35), kick_drive=(1.5, 2.5), kick_level=(0.85, 0.95),
        clap=["clap", "clap+snare"], clap_decay_s=(0.12, 0.2), clap_level=(0.65, 0.75),
        hats=["16ths"], hat_fill="32nds", hat_level=(0.25, 0.32), hat_decay_s=(0.01, 0.02), perc_level=0.0,
        bass="808", bass_level=(0.55, 0.65), bass_decay_s=(0.6, 1.0), bass_drive=(1.5, 3.0), glide_s=(0.05, 0.1),
        lead=["pluck", "none", "vocal"], lead_level=(0.3, 0.4), pluck_decay_s=(0.2, 0.4),
        comp=["pad", "none"], comp_level=(0.14, 0.2), pad="dark", pad_hz=(600.0, 1200.0),
        reverb=(0.1, 0.2), rt60_s=(1.2, 2.0), sidechain=0.0, release_beats=0.5,
    ),
    "reggae": dict(
        # One drop: kick and rim/snare together on beat 3 only; a skank chop on every off-beat, louder
        # than the (soft) kick; a round bass that leaves the one empty.
        kick_steps="........x.......", snare_steps="........x.......",
        kick_hz=(55.0, 65.0), kick_sweep_hz=(120.0, 170.0), kick_sweep_ms=(15.0, 25.0), kick_decay_s=(0.12, 0.18),
        kick_click=(0.05, 0.12), kick_attack_ms=(0.5, 1.5), kick_drive=(1.0, 1.3), kick_level=(0.35, 0.45),
        clap=["rim", "snare"], clap_decay_s=(0.08, 0.14), clap_level=(0.4, 0.5),
        hats=["8ths"], hat_level=(0.15, 0.22), perc_level=(0.05, 0.15),
        bass="one_drop", bass_sound="rolling", bass_level=(0.6, 0.7), bass_hz=(250.0, 450.0), bass_decay_s=(0.3, 0.5),
        bass_drive=(1.0, 1.2),
        comp=["skank", "organ"], comp_rhythm="offbeats", comp_level=(0.9, 1.1),
        pad="warm", pad_hz=(900.0, 1600.0), reverb=(0.15, 0.25), rt60_s=(1.2, 1.8),
        sidechain=0.0, release_beats=0.5, mode=["major", "minor"],
    ),
    "dancehall": dict(
        # Dembow: kick on 1 and 3, snare on the 3-3-2 (tresillo) steps after them, off-beat chord stabs.
        kick_steps="x.......x.......", snare_steps="...x..x....x..x.",
        kick_hz=(50.0, 58.0), kick_sweep_hz=(150.0, 220.0), kick_sweep_ms=(10.0, 16.0), kick_decay_s=(0.1, 0.15),
        kick_click=(0.15, 0.3), kick_drive=(1.5, 2.2), kick_level=(0.85, 0.95),
        clap=["snare", "rim", "clap"], clap_decay_s=(0.08, 0.14), clap_level=(0.55, 0.65),
        hats=["8ths", "16ths"], hat_level=(0.2, 0.28), perc_level=(0.1, 0.2),
        bass="dembow", bass_sound="rolling", bass_level=(0.5, 0.6), bass_hz=(250.0, 450.0), bass_decay_s=(0.2, 0.35),
        lead=["none", "vocal"], lead_level=(0.25, 0.35),
        comp=["skank", "organ"], comp_rhythm="offbeats", comp_level=(0.3, 0.4),
        pad="warm", reverb=(0.1, 0.2), rt60_s=(1.0, 1.6), sidechain=0.0, release_beats=0.5,
    ),
    "rock": dict(
        # Backbeat: kick on 1 and 3, snare on 2 and 4, 8th hats; driven power chords over a bass in 8ths.
        kick_steps=["x.......x.......", "x.......x.x.....", "x......xx......."],
        kick_hz=(55.0, 65.0), kick_sweep_hz=(120.0, 170.0), kick_sweep_ms=(12.0, 20.0), kick_decay_s=(0.08, 0.12),
        kick_click=(0.2, 0.35), kick_attack_ms=(0.3, 0.8), kick_drive=(1.0, 1.4), kick_level=(0.85, 0.95),
        clap=["snare"], clap_decay_s=(0.12, 0.2), clap_hz=(1200.0, 2000.0), clap_level=(0.7, 0.8),
        hats=["8ths"], hat_hz=(5000.0, 7000.0), hat_level=(0.22, 0.3), hat_decay_s=(0.03, 0.06), perc_level=0.0,
        bass="roots8", bass_sound="rolling", bass_level=(0.45, 0.55), bass_hz=(400.0, 800.0), bass_decay_s=(0.15, 0.25),
        bass_drive=(1.5, 2.5),
        lead=["none", "vocal"], lead_level=(0.3, 0.4),
        comp="power", comp_rhythm=["eighths", "halves"], comp_level=(0.3, 0.4), comp_tones=1,
        comp_hz=(2500.0, 4500.0), comp_drive=(4.0, 8.0),
        pad="saw", reverb=(0.1, 0.18), rt60_s=(1.0, 1.5), sidechain=0.0, release_beats=0.5, mode=["minor", "major"],
    ),
    "ambient": dict(
        # No beat: pads and a drone under slow chords, drenched in a long reverb. The drum values only
        # matter where ambient is the minor partner of a blend with a beat.
        drums=False,
        kick_hz=(50.0, 56.0), kick_sweep_hz=(100.0, 140.0), kick_sweep_ms=(20.0, 30.0), kick_decay_s=(0.12, 0.18),
        kick_click=0.0, kick_drive=1.0, kick_level=(0.5, 0.6),
        clap=["snap"], clap_decay_s=(0.1, 0.2), clap_level=(0.2, 0.3),
        hats=["offbeat"], hat_level=0.0, perc_level=0.0,
        bass="none", bass_level=0.0, drone_level=(0.3, 0.4),
        comp="none", pad=["warm", "saw"], pad_hz=(600.0, 1400.0), pad_level=(0.25, 0.3), pad_detune=(8.0, 15.0),
        width=(0.8, 1.0), reverb=(0.5, 0.7), rt60_s=(3.5, 5.0), sidechain=0.0, release_beats=0.5,
        mode=["major", "dorian", "minor"],
    ),
    "pop_ballad": dict(
        # Slow backbeat played softly (kick on 1 and 3, a quiet clap on 2 and 4), piano chords, a sung lead.
        kick_steps="x.......x.......",
        kick_hz=(52.0, 60.0), kick_sweep_hz=(100.0, 150.0), kick_sweep_ms=(15.0, 25.0), kick_decay_s=(0.1, 0.15),
        kick_click=(0.02, 0.08), kick_attack_ms=(1.0, 2.5), kick_drive=(1.0, 1.2), kick_level=(0.45, 0.55),
        clap=["clap", "snap", "rim"], clap_decay_s=(0.1, 0.2), clap_level=(0.25, 0.35),
        hats=["8ths"], hat_level=(0.12, 0.18), perc_level=(0.04, 0.1),
        bass="ballad", bass_sound="sub", bass_level=(0.3, 0.4),
        lead="vocal", lead_level=(0.35, 0.45),
        comp="piano", comp_rhythm=["halves", "whole"], comp_level=(0.3, 0.4), comp_tones=[3, 4],
        pad="warm", reverb=(0.3, 0.4), rt60_s=(2.0, 2.8), sidechain=(0.0, 0.05), release_beats=0.5, mode=["major"],
    ),
}

_SCALES = {
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "major": (0, 2, 4, 5, 7, 9, 11),
}
# Chord roots as scale degrees (0-based), one chord per bar.
_PROGRESSIONS = {
    "minor": ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6), (0, 5, 3, 4), (0, 3, 6, 2)),
    "dorian": ((0, 3, 0, 3), (0, 6, 3, 4), (0, 1, 3, 0), (0, 5, 3, 6)),
    "major": ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (3, 4, 5, 0)),
}

# Hat cells for one beat: (16th step, open hat, velocity).
_HAT_CELLS = {
    "offbeat": ((2, True, 1.0),),
    "offbeat+16": ((0, False, 0.35), (1, False, 0.5), (2, True, 1.0), (3, False, 0.5)),
    "offbeat+8": ((0, False, 0.45), (2, True, 1.0)),
    "8ths": ((0, False, 0.55), (2, False, 1.0)),
    "16ths": ((0, False, 0.65), (1, False, 0.45), (2, False, 1.0), (3, False, 0.5)),
    "32nds": tuple((k / 2, False, 0.5 + 0.5 * k / 7) for k in range(8)),  # a trap roll, swelling over the beat
}


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent generator for one purpose (``stream``) of one seed."""
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def _draw(recipe: Mapping, rng: np.random.Generator) -> dict:
    out = {}
    for name, value in recipe.items():
        if isinstance(value, tuple):
            out[name] = float(rng.uniform(*value))
        elif isinstance(value, list):
            out[name] = value[int(rng.integers(len(value)))]
        else:
            out[name] = value
    return out


# --------------------------------------------------------------------------------------------
# Patterns: a note is (16th step in the bar, length in 16ths, pitch, velocity, bend semitones).
# Bass pitch is semitones above the chord root; lead pitch is a chord-tone index (-1: whole chord).
# Patterns are written for a 16-step bar and tiled or cut to other metres (see _tile).

Note = tuple[float, float, int, float, float]

# One-bar bass motifs of the other styles, one drawn per bar: (16th step, length in 16ths, semitones
# above the chord root[, glide: semitones away from the pitch that the note slides in from]).
_BASS_MOTIFS: dict[str, tuple[tuple[tuple, ...], ...]] = {
    "none": ((),),
    "roots8": (  # rock: the root in 8ths, now and then an octave or a fifth at the end of the bar
        tuple((s, 1.6, 0) for s in range(0, 16, 2)),
        tuple((s, 1.6, 12 if s == 14 else 0) for s in range(0, 16, 2)),
        tuple((s, 1.6, 7 if s >= 12 else 0) for s in range(0, 16, 2)),
    ),
    "one_drop": (  # reggae: rests on the one, lands with the kick on three
        ((2, 2, 0), (6, 2, 0), (8, 3, 7), (12, 3, 12)),
        ((3, 3, 0), (8, 4, 0), (12, 2, 7), (14, 2, 12)),
        ((6, 2, 0), (8, 6, 0), (14, 2, 7)),
    ),
    "boombap": (  # hip hop: with the kicks on 1 and the "and" of 3
        ((0, 6, 0), (10, 4, 0)),
        ((0, 3, 0), (10, 3, 0), (13, 3, 7)),
        ((0, 7, 0), (10, 5, 12)),
    ),
    "808": (  # trap: long booms, some sliding up an octave or down from a fifth
        ((0, 8, 0), (10, 6, 0)),
        ((0, 6, 0), (7, 3, 0, 7), (10, 6, 12, -12)),
        ((0, 10, 0), (10, 6, 0, 5)),
    ),
    "dembow": (  # dancehall: the 3-3-2 of the snare, doubled low
        ((0, 3, 0), (3, 3, 0), (6, 2, 7), (8, 3, 0), (11, 3, 0), (14, 2, 7)),
        ((0, 6, 0), (8, 3, 0), (11, 5, 0)),
    ),
    "reverse": (tuple((s, 1.5, 0) for s in (2, 6, 10, 14)),),  # hardstyle: swelling up to just before every kick
    "ballad": (((0, 15, 0),), ((0, 7, 0), (8, 7, 7)), ((0, 11, 0), (12, 4, 7))),
}

# Fixed chord-hit rhythms of the other styles (recipe "comp_rhythm"): onsets (16th steps), length (16ths).
_COMP_RHYTHMS: dict[str, tuple[tuple[int, ...], float]] = {
    "offbeats": ((2, 6, 10, 14), 1.0),  # the reggae / dancehall skank: a short chop on every off-beat
    "eighths": (tuple(range(0, 16, 2)), 1.5),  # rock chugging
    "halves": ((0, 8), 7.5),
    "whole": ((0,), 15.5),
}


def _bass_pattern(kind: str, q: dict, rng: np.random.Generator) -> list[list[Note]]:
    """Two bars of bass notes for a bass ``kind``."""
    def per_beat(cells: Sequence[Sequence[tuple]], p_empty: float = 0.0) -> list[Note]:
        bar = []
        for beat in range(4):
            if beat and rng.random() < p_empty:
                continue
            for cell in cells[int(rng.integers(len(cells)))]:
                step, length, semis = cell[:3]
                bend = cell[3] if len(cell) > 3 else 0.0
                bar.append((4 * beat + step, length, semis, 1.0, bend))
        return bar

    if kind == "reese":
        motifs = (((0, 7, 0), (10, 5, 0)), ((2, 5, 0), (8, 6, 0), (14, 2, 12)), ((0, 3, 0), (3, 3, 0), (8, 7, 0)), ((2, 6, 0), (10, 6, 0)))
        bars = [[(s, n, p, 1.0, 0.0) for s, n, p in motifs[int(rng.integers(len(motifs)))]] for _ in range(2)]
    elif kind == "offbeat":
        cells = [((2, 1.6, 0),)]
        if q.get("bass_roll"):
            cells += [((2, 1, 0), (3, 1, 0)), ((1, 1, 0), (2, 1, 0), (3, 1, 0))]
        bars = [per_beat(cells) for _ in range(2)]
    elif kind == "future":
        b = q["bend_semis"]
        cells = [((2, 2, 0),), ((2, 1, 0), (3, 1, 12, b)), ((1, 1, 0), (2, 2, 12, b)), ((2, 1, 12, b), (3, 1, 0)), ((0, 1, 0), (2, 2, 12, b / 2))]
        bars = [per_beat(cells) for _ in range(2)]
    elif kind == "growl":
        # Stabs right after the kick (the 16th or 8th after it), with a call-and-response gap.
        cells = [((1, 1.5, 0),), ((2, 2, 0),), ((1, 1, 0), (2, 1.5, 0)), ((2, 1, 0), (3, 1, 12)), ((1, 3, -12),)]
        bars = [per_beat(cells, p_empty=0.25) for _ in range(2)]
    elif kind == "rolling":
        bars = []
        for _ in range(2):
            bar = []
            for beat in range(4):
                steps = [s for s in (1, 2, 3) if rng.random() < 0.65] or [2]
                bar += [(4 * beat + s, 0.8, int(rng.choice([0, 0, 0, 12, 7])), 1.0, 0.0) for s in steps]
            bars.append(bar)
    elif kind == "sub":
        motifs = (((14, 2, 0),), ((2, 2, 0), (10, 2, 0)), ((6, 2, 0), (14, 2, 0)))
        bars = [[(s, n, p, 1.0, 0.0) for s, n, p in motifs[int(rng.integers(len(motifs)))]]] * 2
    elif kind == "slap":
        cells = [((2, 1.5, 0), (3, 1, 12)), ((0, 1, 0), (2, 1.5, 12)), ((1, 1, 0), (2, 1, 12), (3, 1, 0)), ((2, 2, 12),), ((0, 1.5, 0), (3, 1, 12))]
        bars = [per_beat(cells) for _ in range(2)]
    elif kind in _BASS_MOTIFS:
        motifs = _BASS_MOTIFS[kind]
        bars = [[(s, n, p, 1.0, float(glide[0]) if glide else 0.0) for s, n, p, *glide in motifs[int(rng.integers(len(motifs)))]] for _ in range(2)]
    else:
        raise AssertionError(kind)
    return bars


def _rhythm(rng: np.random.Generator, grid: int, n_min: int, n_max: int) -> list[int]:
    """Sorted onsets on a ``grid``-step lattice of a 16-step bar, always including step 0."""
    slots = list(range(grid, 16, grid))
    k = int(rng.integers(n_min, n_max + 1)) - 1
    return [0] + sorted(int(s) for s in rng.choice(slots, size=min(k, len(slots)), replace=False))


def _lead_pattern(kind: str, rng: np.random.Generator) -> list[list[Note]]:
    """Two bars of lead notes (pitch = chord-tone index, -1 = whole chord)."""
    if kind == "none":
        return [[], []]
    riffs = ("x..x..x...x.x...", "x.x..x..x.x.x...", "x..x..x.x..x.x..", "x..x...x..x.x...")
    if kind in ("brass", "stab"):
        riff = riffs[int(rng.integers(len(riffs)))]
        onsets = [i for i, c in enumerate(riff) if c == "x"]
        bars = []
        for _ in range(2):
            pitches = [-1] * len(onsets) if kind == "stab" else [int(rng.choice([0, 0, 3, 3, 2, 4])) for _ in onsets]
            bars.append([(s, float(rng.choice([1.0, 1.5, 2.0])), p, 1.0 if i == 0 else 0.85, 0.0) for i, (s, p) in enumerate(zip(onsets, pitches))])
        return bars
    grid, n_min, n_max, legato = {
        "supersaw": (2, 4, 6, True), "piano": (2, 6, 8, False), "pluck": (1, 5, 8, False), "vocal": (2, 2, 4, False), "screech": (2, 4, 7, True),
    }[kind]
    bars = []
    tone = int(rng.integers(2, 5))
    for _ in range(2):
        onsets = _rhythm(rng, grid, n_min, n_max)
        bar = []
        for i, s in enumerate(onsets):
            nxt = onsets[i + 1] if i + 1 < len(onsets) else 16
            length = (nxt - s) * 0.9 if legato else float(rng.choice([1.0, 1.5, 2.0] if kind != "vocal" else [1.0, 2.0, 3.0]))
            tone = int(np.clip(tone + rng.choice([-2, -1, 0, 1, 1, 2]), 0, 7))
            bar.append((s, min(length, nxt - s), tone, float(rng.uniform(0.8, 1.0)), 0.0))
        bars.append(bar)
    return bars


def _comp_pattern(kind: str, rhythm: str, rng: np.random.Generator) -> list[list[Note]]:
    """One bar (repeated) of chord hits; pads hold the whole bar, a named ``rhythm`` (_COMP_RHYTHMS) is fixed."""
    if kind == "none":
        return [[], []]
    if kind == "pad":
        return [[(0, 16, -1, 1.0, 0.0)]] * 2
    if rhythm != "drawn":
        onsets, length = _COMP_RHYTHMS[rhythm]
        return [[(s, length, -1, 1.0, 0.0) for s in onsets]] * 2
    sets = ((2, 6, 10, 14), (3, 6, 11), (0, 3, 6, 10), (2, 7, 10, 13))
    onsets = sets[int(rng.integers(len(sets)))]
    length = float(rng.uniform(1.5, 2.5))
    return [[(s, length, -1, 1.0, 0.0) for s in onsets]] * 2


def _tile(bar: Sequence[Note], steps_per_bar: int) -> list[Note]:
    """Repeat or cut a 16-step bar pattern to ``steps_per_bar`` steps (other metres)."""
    out = []
    for offset in range(0, steps_per_bar, 16):
        out += [(s + offset, min(n, steps_per_bar - s - offset), p, v, b) for s, n, p, v, b in bar if s + offset < steps_per_bar]
    return out


@dataclass
class _Style:
    """One style's drawn production choices for one track."""

    genre: str
    q: dict
    bass: list[list[Note]]
    lead: list[list[Note]]
    comp: list[list[Note]]
    rims: list[int]    # 16th steps of rimshots in a bar
    congas: list[int]

    @classmethod
    def draw(cls, genre: str, seed: int) -> _Style:
        rng = _rng(seed, 2, STYLES.index(genre))
        q = _draw({**_COMMON, **_RECIPES[genre]}, rng)
        q["drawbars"] = rng.uniform(0.1, 1.0, 7)  # organ registration
        rims = sorted(int(s) for s in rng.choice([3, 6, 7, 10, 11, 14, 15], size=int(rng.integers(2, 5)), replace=False))
        congas = sorted(int(s) for s in rng.choice([2, 5, 9, 12, 13], size=int(rng.integers(1, 4)), replace=False))
        return cls(genre, q, _bass_pattern(q["bass"], q, rng), _lead_pattern(q["lead"], rng), _comp_pattern(q["comp"], q["comp_rhythm"], rng), rims, congas)


def _blend(styles: Sequence[_Style], weights: Sequence[float], name: str, log: bool = False) -> float:
    """Weighted mean of one drawn parameter (geometric for frequencies)."""
    values = np.array([s.q[name] for s in styles], dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    return float(np.exp(np.sum(w * np.log(values)))) if log else float(np.sum(w * values))


# --------------------------------------------------------------------------------------------
# DSP building blocks. Audio is float32; a "bus" is (C, n) with row 0 = mid and row 1 = side
# (stereo only), turned into left/right at the very end.


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


@functools.lru_cache(maxsize=1024)
def _sos(kind: str, hz: float | tuple[float, float], sr: int, order: int) -> np.ndarray:
    nyq = 0.45 * sr
    if isinstance(hz, tuple):  # keep a band that runs past Nyquist (at low rates) a valid band
        hz = (min(hz[0], 0.8 * nyq), min(hz[1], nyq))
    else:
        hz = min(hz, nyq)
    return signal.butter(order, hz, btype=kind, fs=sr, output="sos")


def _filt(x: np.ndarray, kind: str, hz: float | tuple[float, float], sr: int, order: int = 2) -> np.ndarray:
    if kind == "lowpass" and hz >= 0.45 * sr:
        return x
    hz = tuple(round(h, 1) for h in hz) if isinstance(hz, tuple) else round(float(hz), 1)
    return signal.sosfilt(_sos(kind, hz, sr, order), x, axis=-1).astype(np.float32)


def _sweep(x: np.ndarray, cutoff_hz: np.ndarray, sr: int, kind: str = "lowpass", n_bands: int = 6) -> np.ndarray:
    """Time-varying filter (cutoff per sample, shape ``(n,)``) by cross-fading fixed filters.

    Fading between filters an octave or so apart sounds like a moving cutoff at a fraction of the
    cost of a per-sample filter, which numpy could only do in a Python loop.
    """
    lo, hi = float(cutoff_hz.min()), float(cutoff_hz.max())
    if hi / lo < 1.05:
        return _filt(x, kind, math.sqrt(lo * hi), sr)
    grid = np.geomspace(lo, hi, n_bands)
    pos = np.interp(np.log(cutoff_hz), np.log(grid), np.arange(n_bands)).astype(np.float32)
    out = np.zeros_like(x)
    for k, hz in enumerate(grid):
        w = np.clip(1.0 - np.abs(pos - k), 0.0, 1.0)
        if w.any():
            out += w * _filt(x, kind, float(hz), sr)
    return out


def _wave(phase: np.ndarray, shape: str) -> np.ndarray:
    """Naive oscillator of ``phase`` in cycles; our notes sit low enough that aliasing stays faint."""
    p = phase - np.floor(phase)
    if shape == "saw":
        return 2.0 * p - 1.0
    if shape == "tri":
        return 4.0 * np.abs(p - 0.5) - 1.0
    if shape == "square":
        return np.where(p < 0.5, 1.0, -1.0).astype(np.float32)
    return np.sin(2.0 * np.pi * p)


_GOLDEN = 0.6180339887


def _phase(f_hz: float, n: int, sr: int, bend: np.ndarray | None = None) -> np.ndarray:
    """Phase in cycles, shape ``(n,)`` float64; ``bend`` is a per-sample frequency ratio."""
    if bend is None:
        return np.arange(n, dtype=np.float64) * (f_hz / sr)
    return np.cumsum(f_hz * bend, dtype=np.float64) / sr


def _unison(phase: np.ndarray, detune_cents: float, voices: int, width: float, shape: str, channels: int) -> np.ndarray:
    """``voices`` detuned copies of an oscillator spread across the stereo field, shape ``(C, n)``."""
    cents = np.linspace(-detune_cents, detune_cents, voices) if voices > 1 else np.zeros(1)
    ratios = 2.0 ** (cents / 1200.0)
    # Voices start close in phase (like retriggered oscillators): spread evenly they would cancel the
    # fundamental outright until the detuning drifted them apart.
    offsets = (np.arange(voices) * _GOLDEN) % 1.0 * 0.2
    w = _wave((phase[None, :] * ratios[:, None] + offsets[:, None]).astype(np.float32), shape)
    # A louder centre voice keeps the chorus from cancelling whole notes as the voices drift apart.
    w *= np.where(np.abs(cents) < 1e-9, 2.0, 1.0).astype(np.float32)[:, None]
    mid = w.mean(axis=0)
    if channels == 1:
        return mid[None, :]
    # Neighbouring detunings go to opposite sides, the widest voices furthest out.
    pans = width * np.where(np.arange(voices) % 2 == 0, -1.0, 1.0) * np.abs(np.linspace(-1.0, 1.0, voices))
    return np.stack([mid, (pans[:, None] * w).mean(axis=0).astype(np.float32)])


def _env(n: int, gate: int, sr: int, attack_s: float, decay_s: float | None = None, sustain: float = 0.0) -> np.ndarray:
    """Amplitude envelope of ``n`` samples: attack, exponential decay to ``sustain``, linear release after ``gate``."""
    t = np.arange(n, dtype=np.float32) / sr
    env = np.minimum(1.0, t / attack_s) if attack_s > 0 else np.ones(n, np.float32)
    if decay_s is not None:
        env = env * (sustain + (1.0 - sustain) * np.exp(-t / decay_s))
    if n > gate:
        env[gate:] *= np.linspace(1.0, 0.0, n - gate, dtype=np.float32)
    return env.astype(np.float32)


def _filter_env(x: np.ndarray, sr: int, lo_hz: float, hi_hz: float, decay_s: float) -> np.ndarray:
    """A cutoff that falls from ``hi_hz`` to ``lo_hz``, as a fade between two filtered copies."""
    dark = _filt(x, "lowpass", lo_hz, sr)
    bright = _filt(x, "lowpass", hi_hz, sr)
    fade = np.exp(-np.arange(x.shape[-1], dtype=np.float32) / (decay_s * sr))
    return dark + (bright - dark) * fade


def _drive(x: np.ndarray, amount: float) -> np.ndarray:
    return (np.tanh(amount * x) / np.tanh(amount)).astype(np.float32)


def _mono(x: np.ndarray, channels: int) -> np.ndarray:
    """A centred mono signal as a bus of ``channels`` rows."""
    out = np.zeros((channels, x.shape[-1]), np.float32)
    out[0] = x
    return out


# --------------------------------------------------------------------------------------------
# Instruments: one note of ``n`` samples (gate + release) at ``f_hz``, as a bus (C, n).


def _note(kind: str, q: dict, f_hz: float, n: int, gate: int, sr: int, channels: int, bend_semis: float, beat_s: float, attack_s: float) -> np.ndarray:
    """Instrument ``kind`` with the style values ``q``; ``bend_semis`` glides into the pitch (future bass, 808),
    ``beat_s`` sets tempo-synced wobble (growl), ``attack_s`` the swell of pads (and drones)."""
    t = np.arange(n, dtype=np.float32) / sr
    if kind == "reese":
        ph = _phase(f_hz, n, sr)
        x = _unison(ph, q["bass_detune"], 4, 0.4, "saw", channels) * 0.7
        x[0] += 0.6 * _wave(ph.astype(np.float32), "sine")
        x = _drive(_filt(x, "lowpass", q["bass_hz"], sr, 4), q["bass_drive"])
        return x * _env(n, gate, sr, 0.008)
    if kind == "offbeat":
        ph = _phase(f_hz, n, sr)
        x = _unison(ph, q["bass_detune"], 3, 0.3, "saw", channels)
        x = _filter_env(x, sr, q["bass_hz"], q["bass_hz"] * 4, 0.06)
        x[0] += 0.5 * _wave(ph.astype(np.float32), "sine")
        return _drive(x, q["bass_drive"]) * _env(n, gate, sr, 0.003, 0.25, 0.6)
    if kind == "future":
        # Metallic FM with a fast pitch glide into the note (the "future" bend).
        bend = 2.0 ** (bend_semis / 12.0 * np.exp(-t / 0.045)) if bend_semis else None
        ph = _phase(f_hz, n, sr, bend).astype(np.float32)
        index = q["fm_index"] * np.exp(-t / 0.08) + 0.4
        fm = np.sin(2 * np.pi * ph + index * np.sin(2 * np.pi * q["fm_ratio"] * ph))
        x = _filter_env(fm + 0.5 * _wave(ph, "square"), sr, q["bass_hz"], q["bass_hz"] * 6, 0.05)
        x = _drive(x + 0.5 * np.sin(2 * np.pi * ph), q["bass_drive"])
        return _mono(x * _env(n, gate, sr, 0.002, 0.2, 0.5), channels)
    if kind == "growl":
        lfo_hz = 1.0 / (q["wobble_beats"] * beat_s)
        ph = _phase(f_hz, n, sr).astype(np.float32)
        index = q["fm_index"] * (0.6 + 0.4 * np.sin(2 * np.pi * lfo_hz * t))
        x = np.sin(2 * np.pi * ph + index * np.sin(2 * np.pi * q["fm_ratio"] * ph))
        x = np.sin(q["fold"] * (np.pi / 2) * x)  # wavefolder
        x = _drive(x + 0.3 * _wave(ph * 1.007, "saw"), q["bass_drive"])
        cutoff = q["bass_hz"] * (6.0 ** (0.5 - 0.5 * np.cos(2 * np.pi * lfo_hz * t)))
        x = _sweep(x, cutoff, sr, n_bands=4) + 0.5 * np.sin(2 * np.pi * ph)
        return _mono(x * _env(n, gate, sr, 0.002), channels)
    if kind == "rolling":
        ph = _phase(f_hz, n, sr).astype(np.float32)
        x = np.sin(2 * np.pi * ph) + 0.3 * _wave(ph, "tri")
        x = _filt(_drive(x, q["bass_drive"]), "lowpass", q["bass_hz"], sr)
        return _mono(x * _env(n, gate, sr, 0.001, q["bass_decay_s"], 0.0), channels)
    if kind == "sub":
        x = np.sin(2 * np.pi * _phase(f_hz, n, sr).astype(np.float32))
        return _mono(x * _env(n, gate, sr, 0.005), channels)
    if kind == "slap":
        # Plucky FM with a downward chirp at the attack: the "slap".
        bend = 2.0 ** (q["slap_chirp"] / 12.0 * np.exp(-t / 0.012))
        ph = _phase(f_hz, n, sr, bend).astype(np.float32)
        index = q["fm_index"] * np.exp(-t / 0.04) + 0.3
        x = np.sin(2 * np.pi * ph + index * np.sin(2 * np.pi * ph))
        x = _filter_env(x + 0.4 * _wave(ph, "saw"), sr, q["bass_hz"] * 0.5, q["bass_hz"] * 4, 0.04)
        x = _drive(x + 0.6 * np.sin(2 * np.pi * ph), 1.8)
        return _mono(x * _env(n, gate, sr, 0.001, q["bass_decay_s"], 0.0), channels)
    if kind == "supersaw":
        x = _unison(_phase(f_hz, n, sr), q["lead_detune"], 7, q["width"], "saw", channels)
        x = _filt(x, "lowpass", q["lead_hz"], sr)
        return x * _env(n, gate, sr, 0.006, 0.4, 0.75)
    if kind in ("piano", "pluck"):
        # Additive: upper partials die faster, which is what makes a piano or a pluck.
        n_partials = int(max(1, min(24 if kind == "pluck" else 14, 0.45 * sr / f_hz)))
        h = np.arange(1, n_partials + 1, dtype=np.float32)
        stretch = np.sqrt(1.0 + 0.0004 * h**2) if kind == "piano" else np.ones_like(h)
        amps = (1.0 / h**1.1) if kind == "piano" else (1.0 / h)
        rates = (1.5 + 0.9 * h) if kind == "piano" else (1.0 / q.get("pluck_decay_s", 0.2) + 4.0 * h)
        x = np.zeros(n, np.float32)
        for k in range(n_partials):
            x += amps[k] * np.exp(-rates[k] * t) * np.sin((2 * np.pi * f_hz * h[k] * stretch[k]) * t + k)
        x = x / np.sum(amps) * 2.0
        return _mono(x * _env(n, gate, sr, 0.002), channels)
    if kind == "brass":
        # Detuned saws with a small pitch scoop and a filter that opens on each stab.
        bend = 2.0 ** (-0.6 / 12.0 * np.exp(-t / 0.03))
        x = _unison(_phase(f_hz, n, sr, bend), q["lead_detune"], 5, q["width"] * 0.6, "saw", channels)
        x = _filter_env(x, sr, q["lead_hz"] * 0.3, q["lead_hz"], 0.12)
        return _drive(x, 1.5) * _env(n, gate, sr, 0.01, 0.3, 0.7)
    if kind == "stab":
        x = _unison(_phase(f_hz, n, sr), q["lead_detune"], 7, 1.0, "saw", channels)
        x = _drive(_filt(x, "lowpass", q["lead_hz"], sr), 2.0)
        return x * _env(n, gate, sr, 0.003, 0.15, 0.5)
    if kind == "vocal":
        # Vowel formants over a buzzy source: a vocal-chop-like timbre.
        formants = ((800, 1150, 2900), (400, 1700, 2600), (350, 600, 2700), (270, 2140, 2950))[int(f_hz) % 4]
        vib = 1.0 + 0.004 * np.sin(2 * np.pi * 5.5 * t)
        src = _wave(_phase(f_hz, n, sr, vib).astype(np.float32), "saw")
        x = sum(g * _filt(src, "bandpass", (0.85 * fc, 1.15 * fc), sr) for g, fc in zip((1.0, 0.6, 0.3), formants))
        return _mono(2.0 * x * _env(n, gate, sr, 0.01, 0.3, 0.6), channels)
    if kind == "organ":
        bars = q["drawbars"]
        ph = _phase(f_hz, n, sr).astype(np.float32)
        x = sum(a * np.sin(2 * np.pi * r * ph) for a, r in zip(bars, (0.5, 1, 2, 3, 4, 6, 8)) if r * f_hz < 0.45 * sr)
        x = x / np.sum(bars) * (1.0 + 0.15 * np.sin(2 * np.pi * 6.0 * t))  # Leslie-like tremolo
        return _mono(x * _env(n, gate, sr, 0.004), channels)
    if kind == "rhodes":
        ph = _phase(f_hz, n, sr).astype(np.float32)
        x = np.sin(2 * np.pi * ph + 1.5 * np.exp(-t / 0.25) * np.sin(2 * np.pi * ph))
        x = x + 0.25 * np.exp(-t / 0.04) * np.sin(2 * np.pi * 7.0 * ph) if 7 * f_hz < 0.45 * sr else x
        return _mono(x * _env(n, gate, sr, 0.002, 1.0, 0.3), channels)
    if kind == "808":
        # A long sine boom sliding into its pitch from ``bend_semis`` away, driven for audible harmonics.
        bend = 2.0 ** (bend_semis / 12.0 * np.exp(-t / q["glide_s"])) if bend_semis else None
        x = _drive(np.sin(2 * np.pi * _phase(f_hz, n, sr, bend).astype(np.float32)), q["bass_drive"])
        return _mono(x * _env(n, gate, sr, 0.002, q["bass_decay_s"], 0.0), channels)
    if kind == "reverse":
        # Hardstyle reverse bass: a driven tone swelling up over the off-beat (a kick tail played backwards).
        ph = _phase(f_hz, n, sr).astype(np.float32)
        x = _drive(_filt(np.sin(2 * np.pi * ph) + 0.6 * _wave(ph, "saw"), "lowpass", q["bass_hz"], sr), q["bass_drive"])
        return _mono(x * _env(n, gate, sr, gate / sr) ** 2, channels)
    if kind == "screech":
        # Hardstyle screech: hard-driven FM whose index wobbles (the lead "talks"), with a fast vibrato.
        ph = _phase(f_hz, n, sr, 1.0 + 0.01 * np.sin(2 * np.pi * 6.0 * t)).astype(np.float32)
        index = q["fm_index"] * (0.7 + 0.3 * np.sin(2 * np.pi * 3.0 * t))
        x = np.sin(2 * np.pi * ph + index * np.sin(2 * np.pi * 2.0 * ph)) + 0.5 * _wave(ph, "saw")
        x = _drive(_filt(x, "bandpass", (500.0, q["lead_hz"]), sr), 4.0)
        return _mono(x * _env(n, gate, sr, 0.005, 0.4, 0.8), channels)
    if kind == "skank":
        # A muted-guitar chop: bright detuned saws in the mid band, gone within a few tens of ms.
        x = _filt(_unison(_phase(f_hz, n, sr), 8.0, 3, 0.5, "saw", channels), "bandpass", (400.0, 3500.0), sr)
        return x * _env(n, gate, sr, 0.001, 0.06, 0.0)
    if kind == "power":
        # Distorted power chord: root, fifth and octave driven together (their intermodulation is the sound).
        ph = _phase(f_hz, n, sr)
        x = sum(_wave((ph * r).astype(np.float32), "saw") for r in (1.0, 1.4983, 2.003))
        x = _drive(_filt(x, "lowpass", q["comp_hz"], sr), q["comp_drive"])
        return _mono(x * _env(n, gate, sr, 0.003, 0.5, 0.7), channels)
    if kind == "drone":
        # An octave under the chord root with a faintly beating fifth; it swells in over ``attack_s``.
        ph = _phase(f_hz / 2, n, sr).astype(np.float32)
        x = np.sin(2 * np.pi * ph) + 0.3 * np.sin(2 * np.pi * 1.502 * ph) + 0.15 * _wave(2 * ph, "tri")
        return _mono(x * _env(n, gate, sr, attack_s), channels)
    if kind in ("saw", "warm", "dark"):
        # Pads: detuned and wide, swelling in over ``attack_s``; "dark" and "warm" are duller.
        shape = "saw" if kind != "warm" else "tri"
        x = _unison(_phase(f_hz, n, sr), q["pad_detune"], 5, q["width"], shape, channels)
        x = _filt(x, "lowpass", q["pad_hz"], sr)
        return x * _env(n, gate, sr, attack_s)
    raise AssertionError(kind)


# --------------------------------------------------------------------------------------------
# Drums: one hit as a mono array.


def _kick(k: dict, sr: int, beat_s: float, rng: np.random.Generator) -> np.ndarray:
    """Kick drum: pitch sweep to a body tone, click transient, drive. Starts at sample 0, ends within the beat."""
    n = int(min(0.03 + 5.0 * k["kick_decay_s"], 0.9 * beat_s) * sr)
    t = np.arange(n, dtype=np.float64) / sr
    f = k["kick_hz"] + (k["kick_sweep_hz"] - k["kick_hz"]) * np.exp(-t / (k["kick_sweep_ms"] / 1000.0))
    body = np.sin(2 * np.pi * np.cumsum(f) / sr).astype(np.float32)
    hold = np.minimum(1.0, np.exp(-(t - 0.02) / k["kick_decay_s"])).astype(np.float32)
    click = _filt(rng.standard_normal(n).astype(np.float32), "highpass", 1500.0, sr) * np.exp(-t / 0.002).astype(np.float32)
    x = _drive(body * hold + k["kick_click"] * click, k["kick_drive"])
    attack = max(1, int(k["kick_attack_ms"] / 1000.0 * sr))
    x[:attack] *= np.linspace(0.3 if attack > 1 else 1.0, 1.0, attack, dtype=np.float32)
    fade = n // 3  # drive keeps a long tail loud, so it is faded out before the next kick
    x[-fade:] *= np.cos(np.linspace(0.0, np.pi / 2, fade, dtype=np.float32)) ** 2
    return x


def _clap(kind: str, decay_s: float, hz: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Clap (a few noise bursts and a tail), snare, snap or rimshot. Starts at sample 0."""
    n = int((0.05 + 4.0 * decay_s) * sr)
    t = np.arange(n, dtype=np.float32) / sr
    noise = rng.standard_normal(n).astype(np.float32)
    if kind == "rim":
        x = (np.sin(2 * np.pi * 820 * t) + 0.6 * np.sin(2 * np.pi * 1690 * t)) * np.exp(-t / 0.008)
        return (x + 0.6 * _filt(noise, "highpass", 2000.0, sr) * np.exp(-t / 0.004)).astype(np.float32)
    if kind == "snap":
        return _filt(noise, "bandpass", (hz * 1.5, hz * 4), sr) * np.exp(-t / 0.03) * 1.4
    clap = np.exp(-t / decay_s) * 0.6
    for i in range(4):  # the hands of a clap do not meet at once
        s = t - i * 0.009
        clap = clap + np.where(s >= 0, np.exp(-np.maximum(s, 0) / 0.004), 0.0)
    x = _filt(noise * clap.astype(np.float32), "bandpass", (hz * 0.7, hz * 2.2), sr) * 1.6
    if kind in ("snare", "clap+snare"):
        tone = np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.06)
        snare = tone + _filt(noise, "highpass", 1800.0, sr) * np.exp(-t / (decay_s * 0.8))
        x = snare if kind == "snare" else 0.6 * x + 0.6 * snare
    return x.astype(np.float32)


def _hat(open_: bool, q: dict, sr: int, rng: np.random.Generator) -> np.ndarray:
    decay_s = q["hat_decay_s"] * (5.0 if open_ else 1.0)
    n = int(5 * decay_s * sr)
    x = _filt(rng.standard_normal(n).astype(np.float32), "highpass", q["hat_hz"], sr)
    return x * np.exp(-np.arange(n, dtype=np.float32) / (decay_s * sr))


def _perc_sounds(sr: int, key: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Shaker, rimshot and a conga tuned to the key (tonal percussion off-key would blur the harmony)."""
    t = np.arange(int(0.25 * sr), dtype=np.float32) / sr
    shaker = _filt(rng.standard_normal(len(t)).astype(np.float32), "bandpass", (5000.0, 9000.0), sr)
    shaker *= np.minimum(1.0, t / 0.008) * np.exp(-t / 0.035)
    conga_f = _hz(_register(key, 60)) * (1.0 + 0.3 * np.exp(-t / 0.01))
    conga = np.sin(2 * np.pi * np.cumsum(conga_f) / sr) * np.exp(-t / 0.07)
    return {"shaker": shaker.astype(np.float32), "conga": conga.astype(np.float32), "rim": _clap("rim", 0.02, 0.0, sr, rng)}


def _scatter(bus: np.ndarray, hit: np.ndarray, starts: Sequence[int], gains: Sequence[float], pans: Sequence[float] | None = None) -> None:
    """Add ``hit`` (mono) at each start sample into ``bus`` ((C, n), or (n,) for a send), clipped at its end."""
    bus = bus if bus.ndim == 2 else bus[None, :]
    n = bus.shape[1]
    for i, (s, g) in enumerate(zip(starts, gains)):
        if s >= n or s < 0:
            continue
        part = hit[: n - s]
        bus[0, s : s + len(part)] += g * part
        if pans is not None and bus.shape[0] > 1:
            bus[1, s : s + len(part)] += g * pans[i] * part


# --------------------------------------------------------------------------------------------
# Rendering


@dataclass
class _Span:
    """One section on the timeline: exact start time (s), first sample and length in samples.

    ``drums``: whether it has a beat (the spec's ``drums`` and its dominant style's recipe).
    """

    index: int
    spec: SectionSpec
    start_s: float
    end_s: float
    bpm: float
    start: int
    n: int
    beats_per_bar: int
    sr: int
    drums: bool

    @property
    def beat_s(self) -> float:
        return 60.0 / self.bpm

    @property
    def n_beats(self) -> int:
        return self.spec.bars * self.beats_per_bar

    def at(self, beat: float) -> int:
        """Sample (relative to the section start) of a position in beats from the section start."""
        return int(round((self.start_s + beat * self.beat_s) * self.sr)) - self.start


def _resolve(arrangement: Arrangement, seed: int) -> Arrangement:
    """Re-validate (model_copy skips validation) and fill the tempo and key drawn with the seed."""
    arrangement = Arrangement.model_validate(arrangement.model_dump())
    if arrangement.bpm is None or arrangement.key is None:
        bpm, key = _draw_bpm_key(arrangement.sections[0].genres, seed)
        arrangement = Arrangement.model_validate(
            {**arrangement.model_dump(), "bpm": arrangement.bpm if arrangement.bpm is not None else bpm, "key": arrangement.key if arrangement.key is not None else key}
        )
    return arrangement


def _dominant(genres: Mapping[str, float]) -> str:
    return STYLES[int(np.argmax(_style_vector(genres)))]


def _draw_bpm_key(genres: Mapping[str, float], seed: int) -> tuple[float, int]:
    """Tempo from the dominant style's range and a root pitch class, from the seed."""
    rng = _rng(seed, 0)
    lo, hi = TEMPO_RANGES_BPM[_dominant(genres)]
    return float(rng.integers(lo, hi + 1)), int(rng.integers(12))


def _timeline(arrangement: Arrangement, sr: int) -> list[_Span]:
    spans, start_s = [], 0.0
    for i, spec in enumerate(arrangement.sections):
        bpm = spec.bpm if spec.bpm is not None else arrangement.bpm
        end_s = start_s + spec.bars * arrangement.beats_per_bar * 60.0 / bpm
        start = int(round(start_s * sr))
        drums = spec.drums and _RECIPES[_dominant(spec.genres)].get("drums", True)
        spans.append(_Span(i, spec, start_s, end_s, bpm, start, int(round(end_s * sr)) - start, arrangement.beats_per_bar, sr, drums))
        start_s = end_s
    return spans


class _Track:
    """Everything shared by the sections of one render: harmony, styles, note caches."""

    def __init__(self, arrangement: Arrangement, seed: int, sr: int, channels: int):
        self.seed, self.sr, self.channels = seed, sr, channels
        self.key = arrangement.key
        used = {g for s in arrangement.sections for g in s.genres}
        self.styles = {g: _Style.draw(g, seed) for g in STYLES if g in used}
        dominant = _dominant(arrangement.sections[0].genres)
        rng = _rng(seed, 1)
        mode = _draw(dict(m=_RECIPES[dominant].get("mode", _COMMON["mode"])), rng)["m"]
        self.scale = _SCALES[mode]
        options = _PROGRESSIONS[mode]
        prog = list(options[int(rng.integers(len(options)))])
        if rng.random() < 0.5:  # an 8-bar progression: the second half ends differently
            prog = prog + prog[:3] + [int(rng.choice([d for d in range(7) if d != prog[3]]))]
        self.progression = prog
        self.rt60_s = self.styles[dominant].q["rt60_s"]
        self._notes: dict[tuple, np.ndarray] = {}

    def chord(self, bar: int, n_tones: int) -> list[int]:
        """Chord of a bar (from the section start) as semitones above the key root, stacked in thirds."""
        degree = self.progression[bar % len(self.progression)]
        return [self.scale[(degree + 2 * i) % 7] + 12 * ((degree + 2 * i) // 7) for i in range(n_tones)]

    def note(self, kind: str, style: _Style, midi: float, n: int, gate: int, bend: float, beat_s: float, attack_s: float) -> np.ndarray:
        """A cached rendered note; house music repeats, so most notes are rendered once."""
        key = (kind, style.genre, midi, n, gate, bend, beat_s if kind == "growl" else 0.0, attack_s)
        x = self._notes.get(key)
        if x is None:
            x = _note(kind, style.q, _hz(midi), n, gate, self.sr, self.channels, bend, beat_s, attack_s)
            self._notes[key] = x
        return x


def _register(pitch_class: int, low: int) -> int:
    """The MIDI note of a pitch class in the octave starting at ``low``."""
    return low + (pitch_class - low) % 12


def _play(track: _Track, span: _Span, bus: np.ndarray, style: _Style, kind: str, part: str, level: float, bars: range | None = None, n_tones: int = 3) -> None:
    """Render one part (``bass``, ``lead``, ``comp``, ``pad``) of a style over a section into ``bus``."""
    patterns = {"bass": style.bass, "lead": style.lead, "comp": style.comp, "pad": None}[part]
    steps = 4 * span.beats_per_bar
    release_s = {"pad": 0.5, "lead": 0.12}.get(part, 0.05)
    for bar in bars if bars is not None else range(span.spec.bars):
        chord = track.chord(bar, n_tones)
        root_pc = (track.key + chord[0]) % 12
        pattern = [(0, steps, -1, 1.0, 0.0)] if patterns is None else _tile(patterns[bar % 2], steps)
        for step, length, pitch, vel, bend in pattern:
            beat = bar * span.beats_per_bar + step / 4.0
            start = span.at(beat)
            gate = span.at(beat + length / 4.0) - start
            n = gate + int(release_s * track.sr)
            # Breakdown and beatless pads swell in; chords under a beat hit on the bar line.
            attack_s = min(0.4, gate / track.sr / 3) if part == "pad" else 0.02
            if part == "bass":
                notes = [_register(root_pc, 36 if kind == "slap" else 28) + pitch]
            elif pitch < 0:  # whole chord
                low = _register(root_pc, 48 if part != "lead" else 55)
                notes = [low + c - chord[0] for c in chord] + ([low + 12] if part == "lead" else [])
            else:
                triad = track.chord(bar, 3)
                low = _register(root_pc, 62)
                notes = [low + triad[pitch % 3] - triad[0] + 12 * (pitch // 3)]
            for midi in notes:
                x = track.note(kind, style, midi, n, gate, bend, span.beat_s, attack_s)
                end = min(start + n, bus.shape[1])
                if end > start:
                    bus[:, start:end] += (level * vel) * x[:, : end - start]


def _pump(n: int, kicks: Sequence[int], beat_n: float, depth: float, release_beats: float, curve: float) -> np.ndarray:
    """Sidechain gain, shape ``(n,)``: ducks by ``depth`` at every kick and recovers over ``release_beats``."""
    gain = np.ones(n, np.float32)
    length = max(2, int(release_beats * beat_n))
    x = np.arange(length, dtype=np.float32) / length
    shape = 1.0 - depth * (1.0 - x) ** curve
    shape[: min(length, 40)] = np.maximum(shape[: min(length, 40)], np.linspace(1.0, 0.0, min(length, 40)))  # no click
    for k in kicks:
        if 0 <= k < n:
            seg = gain[k : k + length]
            np.minimum(seg, shape[: len(seg)], out=seg)
    return gain


def _label_gain(label: str, n: int, n_section: int) -> np.ndarray | float:
    """Section loudness over ``n`` samples: drops full, intro, build-up and outro lower, breakdowns lowest."""
    if label == "drop":
        return 1.0
    if label in ("intro", "breakdown"):
        return 0.5
    x = np.minimum(np.arange(n, dtype=np.float32) / max(n_section, 1), 1.0)
    if label == "build-up":
        return 0.5 + 0.3 * x
    return 0.55 * np.clip(2.0 - 2.0 * x, 0.0, 1.0)  # outro: hold, then fade out over the second half


def _pattern_steps(pattern: str, steps_per_bar: int) -> list[tuple[int, float]]:
    """``(16th step, velocity)`` of the hits of a drum pattern string, tiled or cut to ``steps_per_bar``."""
    return [
        (offset + i, _HIT_VELOCITY[c])
        for offset in range(0, steps_per_bar, len(pattern))
        for i, c in enumerate(pattern)
        if c != "." and offset + i < steps_per_bar
    ]


Hits = list[tuple[float, float]]  # (position in beats from the section start, velocity)


def _drum_grid(span: _Span, q: Mapping) -> tuple[Hits, Hits]:
    """Kick and clap (snare, rim) hits of a section: one grid for every style of a blend, from the recipe
    ``q`` of the dominant one (house: four on the floor, the clap on 2 and 4)."""
    spec, bpb = span.spec, span.beats_per_bar
    if not span.drums or spec.label == "breakdown":
        return [], []
    if spec.halftime:  # any style: the kick on the one, the clap halfway through the bar
        kick_steps, clap_steps = [(0, 1.0)], [(4 * (bpb // 2), 1.0)]
    else:
        kick_steps, clap_steps = _pattern_steps(q["kick_steps"], 4 * bpb), _pattern_steps(q["snare_steps"], 4 * bpb)
    kicks = [(bar * bpb + step / 4, v) for bar in range(spec.bars) for step, v in kick_steps]
    claps = [(bar * bpb + step / 4, v) for bar in range(spec.bars) for step, v in clap_steps]
    # Build-ups lose the kick halfway and trade the clap for a snare roll; intros bring the clap in
    # halfway, outros drop it halfway.
    half = span.n_beats / 2
    if spec.label == "build-up":
        kicks, claps = [h for h in kicks if h[0] < half], []
    elif spec.label == "intro":
        claps = [h for h in claps if h[0] >= half]
    elif spec.label == "outro":
        claps = [h for h in claps if h[0] < half]
    return kicks, claps


def _music(track: _Track, span: _Span, style: _Style, n: int) -> np.ndarray:
    """Bass, lead, chords and pads of one style over a section, bus (C, n), before sidechain."""
    q, label, bars = style.q, span.spec.label, span.spec.bars
    first_half, second_half = range(0, max(1, bars // 2)), range(bars // 2, bars)
    part = np.zeros((track.channels, n), np.float32)
    bass = q["bass_sound"] or q["bass"]

    def play(kind: str, role: str, level: float, **kw) -> None:
        _play(track, span, part, style, kind, role, level, **kw)

    if not span.drums:
        play(q["pad"], "pad", q["pad_level"] * 1.3, n_tones=4)
        if q["drone_level"] > 0:
            play("drone", "pad", q["drone_level"], n_tones=1)
    elif label == "breakdown":
        play(q["pad"], "pad", q["pad_level"] * 2.0, n_tones=4)
        if q["lead"] != "none":
            play(q["lead"], "lead", q["lead_level"] * 1.2)
        else:  # without a lead, the bass comes back, filtered, under the pad
            low = np.zeros_like(part)
            _play(track, span, low, style, bass, "bass", q["bass_level"] * 0.5, bars=second_half)
            part += _filt(low, "lowpass", 350.0, track.sr)
        if q["comp"] not in ("none", "pad"):
            play(q["comp"], "comp", q["comp_level"] * 0.8, n_tones=q["comp_tones"])
    else:
        if label in ("intro", "outro", "drop"):
            play(bass, "bass", q["bass_level"], bars={"intro": second_half, "outro": first_half}.get(label))
        if label in ("build-up", "drop") and q["lead"] != "none":
            play(q["lead"], "lead", q["lead_level"])
            if q["lead2"] != "none":  # a second instrument doubling the melody
                play(q["lead2"], "lead", q["lead_level"] * 0.5)
        if q["comp"] != "none":
            play(q["pad"] if q["comp"] == "pad" else q["comp"], "comp", q["comp_level"], n_tones=q["comp_tones"])
        elif label in ("intro", "build-up"):
            play(q["pad"], "pad", q["pad_level"] * 0.6, n_tones=4)
    return part


def _render_section(track: _Track, span: _Span, mix: np.ndarray, send: np.ndarray) -> None:
    """Render one section into the track buses ``mix`` (C, n) and ``send`` (n,) (the reverb send)."""
    sr, spec, label = track.sr, span.spec, span.spec.label
    n = span.n + int(_TAIL_S * sr)
    rng = _rng(track.seed, 3, span.index)
    weights = {g: w for g, w in spec.genres.items() if w >= _MIN_BLEND_WEIGHT}
    styles = [track.styles[g] for g in weights]
    norm = math.sqrt(sum(w * w for w in weights.values()))
    amps = [w / norm for w in weights.values()]  # equal loudness for any blend
    lead_style = styles[int(np.argmax(amps))]
    kick_hits, clap_hits = _drum_grid(span, lead_style.q)
    kicks = [span.at(b) for b, _ in kick_hits]

    music = np.zeros((track.channels, n), np.float32)
    kit = np.zeros_like(music)
    wet = np.zeros(n, np.float32)
    for style, amp in zip(styles, amps):
        part = _music(track, span, style, n)
        if span.drums:  # sidechain; breakdowns pump gently on the silent beat
            pump_at = kicks or [span.at(b) for b in range(span.n_beats)]
            depth = style.q["sidechain"] * (1.0 if kicks else 0.35)
            if depth > 0:  # most non-house styles do not pump
                part *= _pump(n, pump_at, span.beat_s * sr, depth, style.q["release_beats"], style.q["curve"])
            _grooves(track, span, kit, style, amp, rng)
        music += amp * part
        wet += amp * style.q["reverb"] * part[0]

    # Filtered intro, filter opening through the build-up, closing at the end of the outro.
    sweep = {"intro": (250.0, 2500.0), "build-up": (400.0, 16000.0), "outro": (16000.0, 600.0)}.get(label)
    if sweep is not None and span.drums:
        x = np.minimum(np.arange(n, dtype=np.float32) / span.n, 1.0)
        x = {"build-up": x**2, "outro": np.clip(2.0 * x - 1.0, 0.0, 1.0)}.get(label, x)
        music = _sweep(music, sweep[0] * (sweep[1] / sweep[0]) ** x, sr)

    if span.drums:
        drum_rng = _rng(track.seed, 5, span.index)
        kick = {name: _blend(styles, amps, name, log=name.endswith("hz")) for name in _KICK_PARAMS}
        kick["kick_hz"] = _kick_hz(track, styles, amps)
        _scatter(kit, _kick(kick, sr, span.beat_s, drum_rng) * kick["kick_level"], kicks, [v for _, v in kick_hits])
        clap = _clap(lead_style.q["clap"], _blend(styles, amps, "clap_decay_s"), _blend(styles, amps, "clap_hz", log=True), sr, drum_rng)
        clap_at, clap_level, reverb = [span.at(b) for b, _ in clap_hits], _blend(styles, amps, "clap_level"), _blend(styles, amps, "reverb")
        _scatter(kit, clap, clap_at, [clap_level * v for _, v in clap_hits])
        _scatter(wet, clap, clap_at, [clap_level * v * reverb for _, v in clap_hits])
        if label == "build-up":
            _build_fx(track, span, kit, wet, clap, lead_style, rng)
        if label == "drop":  # a crash on the first downbeat of every 8-bar phrase
            crash = _filt(drum_rng.standard_normal(int(2.0 * sr)).astype(np.float32), "highpass", 4000.0, sr)
            crash *= np.exp(-np.arange(len(crash), dtype=np.float32) / (0.5 * sr))
            phrases = range(0, spec.bars, 8)
            _scatter(kit, crash, [span.at(bar * span.beats_per_bar) for bar in phrases], [0.25 if bar == 0 else 0.12 for bar in phrases])

    gain = _label_gain(label, n, span.n)
    end = min(span.start + n, mix.shape[1])
    mix[:, span.start : end] += ((music + kit) * gain)[:, : end - span.start]
    send[span.start : end] += (wet * gain)[: end - span.start]


_KICK_PARAMS = ("kick_sweep_hz", "kick_sweep_ms", "kick_decay_s", "kick_click", "kick_attack_ms", "kick_drive", "kick_level")


def _kick_hz(track: _Track, styles: Sequence[_Style], amps: Sequence[float]) -> float:
    """Kick body pitch: bigroom and hardstyle tune their long kick tail to the key root (F1..E2, 44-82 Hz), others draw it."""
    tuned = _hz(_register(track.key, 29))
    values = [tuned if s.q["kick_tuned"] else s.q["kick_hz"] for s in styles]
    w = np.asarray(amps) / np.sum(amps)
    return float(np.exp(np.sum(w * np.log(values))))


def _grooves(track: _Track, span: _Span, kit: np.ndarray, style: _Style, amp: float, rng: np.random.Generator) -> None:
    """Hats and percussion of one style over a section (swung 16ths where it swings), into ``kit``."""
    q, sr, bpb, label = style.q, track.sr, span.beats_per_bar, span.spec.label
    hat_rng = _rng(track.seed, 6, span.index, STYLES.index(style.genre))
    closed, open_ = _hat(False, q, sr, hat_rng), _hat(True, q, sr, hat_rng)
    perc = _perc_sounds(sr, track.key, hat_rng)
    n_beats = span.n_beats
    last = n_beats if label != "outro" else int(n_beats * 0.75)

    def step_sample(beat: int, step: float) -> int:
        swing = q["swing"] if int(step) % 2 == 1 else 0.0
        return span.at(beat + (step + swing) / 4.0)

    cells = _HAT_CELLS[q["hats"]]
    fill = _HAT_CELLS.get(q["hat_fill"])  # replaces the last beat of every second bar
    for is_open in (False, True):
        starts, gains, pans = [], [], []
        for beat in range(last):
            if label == "intro" and beat < n_beats // 4 and is_open:
                continue  # intros start on closed hats only
            for step, o, vel in fill if fill and beat % (2 * bpb) == 2 * bpb - 1 else cells:
                if o == is_open:
                    starts.append(step_sample(beat, step))
                    gains.append(amp * q["hat_level"] * vel * float(rng.uniform(0.85, 1.0)))
                    pans.append(0.3 * (1 if step % 2 else -1))
        _scatter(kit, open_ if is_open else closed, starts, gains, pans)

    level = amp * q["perc_level"] * (0.6 if label in ("intro", "outro") else 1.0)
    steps = 4 * bpb
    shakers = [step_sample(b, s) for b in range(last) for s in range(4)]
    _scatter(kit, perc["shaker"], shakers, [0.12 * level * (1.0 if i % 2 else 0.6) for i in range(len(shakers))], [0.5] * len(shakers))
    if q["perc_level"] >= 0.25:
        rims = [step_sample(bar * bpb + s // 4, s % 4) for bar in range(last // bpb) for s in style.rims if s < steps]
        _scatter(kit, perc["rim"], rims, [0.25 * level] * len(rims), [-0.4] * len(rims))
        congas = [step_sample(bar * bpb + s // 4, s % 4) for bar in range(last // bpb) for s in style.congas if s < steps]
        _scatter(kit, perc["conga"], congas, [0.3 * level] * len(congas), [0.4] * len(congas))


def _build_fx(track: _Track, span: _Span, kit: np.ndarray, send: np.ndarray, snare: np.ndarray, style: _Style, rng: np.random.Generator) -> None:
    """Snare roll accelerating from quarters to 32nds, and a rising filtered-noise riser."""
    sr, n_beats = track.sr, span.n_beats
    positions, beat = [], 0.0
    while beat < n_beats:
        x = beat / n_beats
        positions.append(beat)
        beat += 1.0 if x < 0.5 else 0.5 if x < 0.75 else 0.25 if x < 0.875 else 0.125
    roll = style.q.get("roll_level", 1.0) * 0.32
    starts = [span.at(b) for b in positions]
    gains = [roll * (0.25 + 0.75 * (b / n_beats) ** 1.5) for b in positions]
    _scatter(kit, snare, starts, gains)
    _scatter(send, snare, starts, [0.3 * g for g in gains])
    n = span.n
    x = np.arange(n, dtype=np.float32) / n
    noise = rng.standard_normal((kit.shape[0], n)).astype(np.float32)
    riser = _sweep(noise, 300.0 * (40.0 ** x), sr, kind="lowpass", n_bands=5) * (0.12 * x**2)
    kit[:, :n] += riser


def _reverb(send: np.ndarray, rt60_s: float, sr: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """Convolution reverb of the send bus, shape ``(C, n)``; convolved at <= 24 kHz (the tail is dark anyway)."""
    factor = math.ceil(sr / 24000)
    rate = sr // factor
    n_ir = int(min(rt60_s, 2.5) * rate)
    t = np.arange(n_ir, dtype=np.float32) / rate
    noise = rng.standard_normal((2, n_ir)).astype(np.float32)
    ir = _filt(_filt(noise, "lowpass", 5000.0, rate), "highpass", 200.0, rate) * np.exp(-6.9 * t / rt60_s)
    ir[:, : int(0.012 * rate)] = 0.0  # pre-delay
    ir /= np.sqrt(np.sum(ir[0] ** 2))
    bank = np.stack([(ir[0] + ir[1]) / 2, (ir[0] - ir[1]) / 2])[:channels]
    x = signal.resample_poly(send, 1, factor).astype(np.float32) if factor > 1 else send
    wet = np.stack([signal.oaconvolve(x, h)[: len(x)] for h in bank]).astype(np.float32)
    if factor > 1:
        wet = signal.resample_poly(wet, factor, 1, axis=1)[:, : len(send)].astype(np.float32)
    return wet


def _master(mid_side: np.ndarray) -> np.ndarray:
    """Mid[/side] bus to mono ``(1, n)`` or left/right ``(2, n)``, soft-clipped like a mastering limiter, peak at -1 dBFS."""
    out = mid_side if len(mid_side) == 1 else np.stack([mid_side[0] + mid_side[1], mid_side[0] - mid_side[1]])
    out = out / max(float(np.max(np.abs(out))), 1e-9)
    out = np.tanh(_MASTER_DRIVE * out)
    return (out * np.float32(10.0 ** (_PEAK_DBFS / 20.0) / max(float(np.max(np.abs(out))), 1e-9))).astype(np.float32)


def _render_audio(arrangement: Arrangement, seed: int, sr: int, channels: int, spans: list[_Span]) -> np.ndarray:
    """The mastered audio ``(C, n)`` of a resolved arrangement: mono (C = 1) or left/right (C = 2)."""
    track = _Track(arrangement, seed, sr, channels)
    n_total = spans[-1].start + spans[-1].n
    mix = np.zeros((channels, n_total + int(_TAIL_S * sr)), np.float32)
    send = np.zeros(mix.shape[1], np.float32)
    for span in spans:
        _render_section(track, span, mix, send)
    mix += 0.6 * _reverb(send, track.rt60_s, sr, channels, _rng(seed, 4))
    return _master(mix[:, :n_total])


def _truth(arrangement: Arrangement, seed: int, sr: int, spans: list[_Span], n: int) -> SynthTruth:
    """Ground truth of the first ``n`` samples of a resolved arrangement."""
    duration_s = n / sr
    beats, downbeats, sections = [], [], []
    for span in spans:
        if span.start_s >= duration_s:
            break
        if span.drums:
            for j in range(span.n_beats):
                t = span.start_s + j * span.beat_s
                if t < duration_s:
                    beats.append(t)
                    if j % span.beats_per_bar == 0:
                        downbeats.append(t)
        sections.append(SectionTruth(start_s=span.start_s, end_s=min(span.end_s, duration_s), label=span.spec.label, genres=dict(span.spec.genres)))
    sections[-1].end_s = duration_s
    drops: list[tuple[float, float]] = []
    for s in sections:
        if s.label == "drop":
            if drops and abs(drops[-1][1] - s.start_s) < 1e-9:
                drops[-1] = (drops[-1][0], s.end_s)
            else:
                drops.append((s.start_s, s.end_s))
    times = (np.arange(max(1, math.ceil(duration_s / PROFILE_HOP_S - 0.5))) + 0.5) * PROFILE_HOP_S  # centres inside the track
    starts = np.array([s.start_s for s in sections])
    vectors = np.stack([_style_vector(s.genres) for s in sections])
    probabilities = vectors[np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(sections) - 1)]
    return SynthTruth(
        seed=seed,
        sr=sr,
        duration_s=duration_s,
        tempo_bpm=spans[0].bpm,
        beats_per_bar=arrangement.beats_per_bar,
        beats_s=beats,
        downbeats_s=downbeats,
        sections=sections,
        drops=drops,
        genre_profile=GenreProfileTruth(hop_s=PROFILE_HOP_S, labels=list(STYLES), times_s=times.tolist(), probabilities=probabilities.tolist()),
        arrangement=arrangement,
    )


def _check_seed_sr(seed: int, sr: int) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(sr, (int, np.integer)) or not SR_RANGE[0] <= sr <= SR_RANGE[1]:
        raise ValueError(f"sr must be in {SR_RANGE[0]}..{SR_RANGE[1]}, got {sr}")


def render(arrangement: Arrangement, seed: int, sr: int = 44100, stereo: bool = True) -> tuple[np.ndarray, SynthTruth]:
    """Render an arrangement: float32 audio peaking at -1 dBFS, shape ``(2, n)`` (stereo) or ``(n,)``, and its truth.

    A ``bpm`` or ``key`` left as None is drawn with ``seed`` (tempo from the first section's
    dominant style's range); the truth's ``arrangement`` has them filled in.
    """
    _check_seed_sr(seed, sr)
    arrangement = _resolve(arrangement, seed)
    spans = _timeline(arrangement, sr)
    audio = _render_audio(arrangement, seed, sr, 2 if stereo else 1, spans)
    audio = audio if stereo else audio[0]
    return audio, _truth(arrangement, seed, sr, spans, audio.shape[-1])


def render_clip(genres: Mapping[str, float] | str, seed: int, sr: int = 22050, duration_s: float = 8.0, label: str = "drop") -> tuple[np.ndarray, SynthTruth]:
    """A short mono clip of one section (default a drop), shape ``(round(duration_s * sr),)``, for classifier training.

    ``genres`` is a blend ``{name: weight}`` or one name, of :data:`STYLES` (house sub-genres and the
    out-of-scope :data:`OTHER_STYLES`). The section starts on a downbeat at 0 s and
    is cut at ``duration_s`` (0.5..120 s); tempo and key are drawn with ``seed``.
    """
    _check_seed_sr(seed, sr)
    genres = {genres: 1.0} if isinstance(genres, str) else genres
    _check_range("duration_s", duration_s, 0.5, 120.0)
    if label not in SECTION_LABELS:
        raise ValueError(f"label must be one of {', '.join(SECTION_LABELS)}, got {label!r}")
    bpm, key = _draw_bpm_key(genres, seed)
    bars = math.ceil(duration_s / (4 * 60.0 / bpm))
    arrangement = Arrangement(sections=[SectionSpec(label=label, bars=bars, genres=dict(genres))], bpm=bpm, key=key)
    spans = _timeline(arrangement, sr)
    n = int(round(duration_s * sr))
    audio = _render_audio(arrangement, seed, sr, 1, spans)[0, :n]
    return audio, _truth(arrangement, seed, sr, spans, n)


_STANDARD_LABELS = ("intro", "build-up", "drop", "breakdown", "build-up", "drop", "outro")
# The standard arrangement's major parts (indices into _STANDARD_LABELS): lead-in, drop 1, breakdown and
# second build-up, drop 2 and outro.
_MAJOR_PARTS = ((0, 1), (2,), (3, 4), (5, 6))
_PART_LAYOUTS = {1: (0, 0, 0, 0), 2: (0, 0, 1, 1), 3: (0, 1, 2, 2), 4: (0, 1, 2, 3)}


def default_arrangement(genres: Sequence[str | Mapping[str, float]] | Mapping[str, float] | str, seed: int, bars_scale: float = 1.0) -> Arrangement:
    """The standard arrangement: intro 16, build-up 8, drop 16, breakdown 16, build-up 8, drop 16, outro 8 bars.

    ``genres`` is one blend for the whole track (a mapping or a single name), or a sequence of
    styles of :data:`STYLES` (names or blends), one per major part in order. The major parts are lead-in (intro
    and build-up), drop 1, breakdown (with the second build-up) and drop 2 (with the outro): two
    genres split the track before the breakdown, three give lead-in / drop 1 / the rest, four one
    part each, five to seven one section each in order. Bar counts are scaled by ``bars_scale``
    (0.05..16, at least 1 bar each); tempo and key are drawn with ``seed``.
    """
    _check_range("bars_scale", bars_scale, 0.05, 16.0)
    parts = [genres] if isinstance(genres, (str, Mapping)) else list(genres)
    if not 1 <= len(parts) <= len(_STANDARD_LABELS):
        raise ValueError(f"genres must give 1..{len(_STANDARD_LABELS)} parts, got {len(parts)}")
    blends = [{p: 1.0} if isinstance(p, str) else dict(p) for p in parts]
    for blend in blends:
        _style_vector(blend)  # names and weights are checked before anything is drawn
    if len(blends) in _PART_LAYOUTS:
        owner = [_PART_LAYOUTS[len(blends)][part] for part, sections in enumerate(_MAJOR_PARTS) for _ in sections]
    else:
        owner = [i * len(blends) // len(_STANDARD_LABELS) for i in range(len(_STANDARD_LABELS))]
    sections = [
        SectionSpec(label=label, bars=max(1, round(_STANDARD_BARS[label] * bars_scale)), genres=blends[o])
        for label, o in zip(_STANDARD_LABELS, owner)
    ]
    bpm, key = _draw_bpm_key(sections[0].genres, seed)
    return Arrangement(sections=sections, bpm=bpm, key=key)


_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}


def write_track(path: str | Path, audio: np.ndarray, truth: SynthTruth) -> Path:
    """Write ``audio`` ((n,) or (2, n), format from the suffix: .wav/.flac/.ogg) and its truth as ``path.with_suffix('.json')``.

    Returns the sidecar path. Raises :class:`MvgenError` naming the path when it cannot be written.
    """
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise MvgenError(f"unsupported audio format {path.suffix!r}; use one of {', '.join(_FORMATS)}", path)
    sidecar = path.with_suffix(".json")
    data = np.asarray(audio, dtype=np.float32)
    try:
        sf.write(path, data.T if data.ndim == 2 else data, truth.sr, format=fmt)
        sidecar.write_text(json.dumps(truth.model_dump(mode="json"), indent=1) + "\n")
    except (OSError, sf.LibsndfileError) as exc:
        raise MvgenError(f"cannot write: {exc}", path) from None
    return sidecar

