"""Arrangements and ground truth: the public models, the timeline of a track and its truth.

:class:`SectionSpec` and :class:`Arrangement` describe a track; :func:`default_arrangement` builds the
standard one. :func:`resolve_arrangement` fills in the tempo and key drawn with the seed,
:func:`timeline` lays the sections out in time and samples (:class:`TimelineSection`), and
:func:`build_truth` turns that into a :class:`SynthTruth` with its :class:`GenreProfileTruth`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

import numpy as np
from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from mvgen.genres import GENRES
from mvgen.synth.recipes import RECIPES, STYLES, TEMPO_RANGES_BPM, rng_stream, style_vector

SectionLabel = Literal["intro", "build-up", "drop", "breakdown", "outro"]
SECTION_LABELS: tuple[str, ...] = get_args(SectionLabel)

BPM_RANGE = (40.0, 300.0)
MAX_DURATION_S = 900.0
#: Frame spacing (s) of :class:`GenreProfileTruth`.
PROFILE_HOP_S = 0.5
_STANDARD_BARS = {"intro": 16, "build-up": 8, "drop": 16, "breakdown": 16, "outro": 8}


# --------------------------------------------------------------------------------------------
# Public models


def check_range(name: str, value: float, lo: float, hi: float) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is finite and in ``lo..hi`` (inclusive)."""
    if not (lo <= value <= hi) or not math.isfinite(value):
        raise ValueError(f"{name} must be in {lo:g}..{hi:g}, got {value}")


def _check_bpm(bpm: float | None) -> float | None:
    if bpm is not None:
        check_range("bpm", bpm, *BPM_RANGE)
    return bpm


#: A tempo in bpm within BPM_RANGE, or None (drawn with the seed).
OptionalBpm = Annotated[float | None, AfterValidator(_check_bpm)]


class SectionSpec(BaseModel):
    """One section: a label, a length in bars and a style blend (keys of :data:`STYLES`, weights normalized to sum 1).

    ``drums=False`` makes it beatless (pads only); so does an ambient-dominated blend.
    ``extra_snares_beats``: more hits of the section's clap (snare, rim) sound at these positions,
    in beats from the section start (any real value in ``[0, bars * beats_per_bar)``, on or off the
    beat grid); played in sections with drums, breakdowns included, and recorded in the truth's
    :attr:`SynthEvents.extra_snares`.
    """

    label: SectionLabel
    bars: int
    genres: dict[str, float]
    bpm: OptionalBpm = None
    halftime: bool = False
    drums: bool = True
    extra_snares_beats: list[float] = []

    @field_validator("bars")
    @classmethod
    def _bars(cls, bars: int) -> int:
        if bars < 1:
            raise ValueError(f"bars must be >= 1, got {bars}")
        return bars

    @field_validator("extra_snares_beats")
    @classmethod
    def _extra_snares(cls, beats: list[float]) -> list[float]:
        bad = [b for b in beats if not (math.isfinite(b) and b >= 0)]
        if bad:
            raise ValueError(f"extra_snares_beats must be finite and >= 0, got {bad[0]}")
        return sorted(float(b) for b in beats)

    @field_validator("genres")
    @classmethod
    def _genres(cls, genres: dict[str, float]) -> dict[str, float]:
        vector = style_vector(genres)
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
        check_range("beats_per_bar", beats_per_bar, 2, 12)
        return beats_per_bar

    @field_validator("key")
    @classmethod
    def _key(cls, key: int | None) -> int | None:
        if key is not None:
            check_range("key", key, 0, 11)
        return key

    @model_validator(mode="after")
    def _extra_snares_inside(self) -> Arrangement:
        for i, spec in enumerate(self.sections):
            n_beats = spec.bars * self.beats_per_bar
            if spec.extra_snares_beats and spec.extra_snares_beats[-1] >= n_beats:
                raise ValueError(f"section {i}: extra_snares_beats must be < {n_beats} (bars * beats_per_bar), got {spec.extra_snares_beats[-1]}")
        return self

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


#: A drum hit: ``(time_s, level)``, the first sample of the sound (s from the track start) and its
#: mixing gain (hit velocity times the section's loudness; a full-velocity hit in a drop is about
#: the sound's level in the style recipe).
Hit = tuple[float, float]
#: A span ``(start_s, end_s)`` in seconds from the track start.
Span = tuple[float, float]


class SynthEvents(BaseModel):
    """Every event of a rendered track, as rendered (``(time_s, level)`` hits sorted by time; spans merged).

    Drum grid: ``kicks``; ``claps`` (the backbeat clap, snare, snap or rim of the style's ``clap``
    sound); ``snare_rolls`` (the build-up roll, the same sound, accelerating to 32nds);
    ``extra_snares`` (that sound at :attr:`SectionSpec.extra_snares_beats`). Grooves (one entry
    per style of a blend, so a blend's hats may appear twice a few ms apart when swings differ):
    ``hats_closed``, ``hats_open``, ``rims``, ``congas``, ``shakers``; ``crashes`` (drop phrases).
    Spans: ``risers`` (the build-up noise riser, rising over the span), ``leads`` (a lead melody
    plays), ``bass`` (a bass line plays).
    """

    kicks: list[Hit] = []
    claps: list[Hit] = []
    snare_rolls: list[Hit] = []
    extra_snares: list[Hit] = []
    hats_closed: list[Hit] = []
    hats_open: list[Hit] = []
    rims: list[Hit] = []
    congas: list[Hit] = []
    shakers: list[Hit] = []
    crashes: list[Hit] = []
    risers: list[Span] = []
    leads: list[Span] = []
    bass: list[Span] = []

    def times_s(self, *names: str) -> np.ndarray:
        """Sorted times (s) of the hits of the named kinds together, shape ``(N,)``."""
        return np.sort(np.array([t for name in names for t, _ in getattr(self, name)], dtype=np.float64))


class SynthTruth(BaseModel):
    """Ground truth of a rendered track; times in seconds from the first sample.

    ``beats_s`` are exact, the metre's beats whether or not a kick falls on them (in house every kick
    starts on sample ``round(beat_s * sr)``). Beatless sections (``drums=False``, or ambient) have no
    beats. ``downbeats_s`` are the beats that start a bar,
    ``drops`` the ``(start_s, end_s)`` of drop sections (adjacent ones merged), ``tempo_bpm`` the
    first section's tempo and ``arrangement`` the one rendered, with tempo and key filled in.
    ``events``: every drum hit and the riser, lead and bass spans (None in truths of schema < 3).
    """

    # 2: genre_profile has labels over STYLES (1: 8 GENRES columns); 3: events
    schema_version: int = 3
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
    events: SynthEvents | None = None


# --------------------------------------------------------------------------------------------
# Timeline: the sections laid out in time and samples


@dataclass
class TimelineSection:
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


def resolve_arrangement(arrangement: Arrangement, seed: int) -> Arrangement:
    """Re-validate (model_copy skips validation) and fill the tempo and key drawn with the seed."""
    arrangement = Arrangement.model_validate(arrangement.model_dump())
    if arrangement.bpm is None or arrangement.key is None:
        bpm, key = draw_bpm_key(arrangement.sections[0].genres, seed)
        arrangement = Arrangement.model_validate(
            {**arrangement.model_dump(), "bpm": arrangement.bpm if arrangement.bpm is not None else bpm, "key": arrangement.key if arrangement.key is not None else key}
        )
    return arrangement


def dominant_style(genres: Mapping[str, float]) -> str:
    """The key in :data:`STYLES` of the heaviest style of a blend ``{name: weight}`` (the first one on a tie)."""
    return STYLES[int(np.argmax(style_vector(genres)))]


def draw_bpm_key(genres: Mapping[str, float], seed: int) -> tuple[float, int]:
    """Tempo from the dominant style's range and a root pitch class, from the seed."""
    rng = rng_stream(seed, 0)
    lo, hi = TEMPO_RANGES_BPM[dominant_style(genres)]
    return float(rng.integers(lo, hi + 1)), int(rng.integers(12))


def timeline(arrangement: Arrangement, sr: int) -> list[TimelineSection]:
    """The sections of a resolved arrangement (tempo filled in) laid out back to back at ``sr`` Hz."""
    spans, start_s = [], 0.0
    for i, spec in enumerate(arrangement.sections):
        bpm = spec.bpm if spec.bpm is not None else arrangement.bpm
        end_s = start_s + spec.bars * arrangement.beats_per_bar * 60.0 / bpm
        start = int(round(start_s * sr))
        drums = spec.drums and RECIPES[dominant_style(spec.genres)].get("drums", True)
        spans.append(TimelineSection(i, spec, start_s, end_s, bpm, start, int(round(end_s * sr)) - start, arrangement.beats_per_bar, sr, drums))
        start_s = end_s
    return spans


# --------------------------------------------------------------------------------------------
# Ground truth


def build_truth(arrangement: Arrangement, seed: int, sr: int, spans: list[TimelineSection], n: int, events: SynthEvents | None = None) -> SynthTruth:
    """Ground truth of the first ``n`` samples of a resolved arrangement; ``events`` as rendered (cut at ``n``)."""
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
    vectors = np.stack([style_vector(s.genres) for s in sections])
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
        events=None if events is None else _cut_events(events, duration_s),
    )


def _cut_events(events: SynthEvents, duration_s: float) -> SynthEvents:
    """The events within the first ``duration_s`` seconds (spans cut there)."""
    cut = {}
    for name in SynthEvents.model_fields:
        items = getattr(events, name)
        if name in ("risers", "leads", "bass"):
            cut[name] = [(a, min(b, duration_s)) for a, b in items if a < duration_s]
        else:
            cut[name] = [(t, v) for t, v in items if t < duration_s]
    return SynthEvents(**cut)


# --------------------------------------------------------------------------------------------
# The standard arrangement

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
    check_range("bars_scale", bars_scale, 0.05, 16.0)
    parts = [genres] if isinstance(genres, (str, Mapping)) else list(genres)
    if not 1 <= len(parts) <= len(_STANDARD_LABELS):
        raise ValueError(f"genres must give 1..{len(_STANDARD_LABELS)} parts, got {len(parts)}")
    blends = [{p: 1.0} if isinstance(p, str) else dict(p) for p in parts]
    for blend in blends:
        style_vector(blend)  # names and weights are checked before anything is drawn
    if len(blends) in _PART_LAYOUTS:
        owner = [_PART_LAYOUTS[len(blends)][part] for part, sections in enumerate(_MAJOR_PARTS) for _ in sections]
    else:
        owner = [i * len(blends) // len(_STANDARD_LABELS) for i in range(len(_STANDARD_LABELS))]
    sections = [
        SectionSpec(label=label, bars=max(1, round(_STANDARD_BARS[label] * bars_scale)), genres=blends[o])
        for label, o in zip(_STANDARD_LABELS, owner)
    ]
    bpm, key = draw_bpm_key(sections[0].genres, seed)
    return Arrangement(sections=sections, bpm=bpm, key=key)
