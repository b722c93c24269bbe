"""Note patterns and the drawn style: the bass, lead and chord parts one style plays in one track.

:class:`DrawnStyle` draws a style's recipe (:mod:`mvgen.synth.recipes`) for a seed, with its two-bar
bass, lead and chord patterns and its percussion steps; :func:`blend_value` mixes a drawn value over
the styles of a blend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mvgen.synth.recipes import BASS_MOTIFS, COMMON_RECIPE, COMP_RHYTHMS, RECIPES, STYLES, draw_recipe, rng_stream

# --------------------------------------------------------------------------------------------
# Patterns: a note is (16th step in the bar, length in 16ths, pitch, velocity, bend semitones).
# Bass pitch is semitones above the chord root; lead pitch is a chord-tone index (-1: whole chord).
# Patterns are written for a 16-step bar and tiled or cut to other metres (see tile_bar).

Note = tuple[float, float, int, float, float]


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
    elif kind in BASS_MOTIFS:
        motifs = BASS_MOTIFS[kind]
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
    """One bar (repeated) of chord hits; pads hold the whole bar, a named ``rhythm`` (COMP_RHYTHMS) is fixed."""
    if kind == "none":
        return [[], []]
    if kind == "pad":
        return [[(0, 16, -1, 1.0, 0.0)]] * 2
    if rhythm != "drawn":
        onsets, length = COMP_RHYTHMS[rhythm]
        return [[(s, length, -1, 1.0, 0.0) for s in onsets]] * 2
    sets = ((2, 6, 10, 14), (3, 6, 11), (0, 3, 6, 10), (2, 7, 10, 13))
    onsets = sets[int(rng.integers(len(sets)))]
    length = float(rng.uniform(1.5, 2.5))
    return [[(s, length, -1, 1.0, 0.0) for s in onsets]] * 2


def tile_bar(bar: Sequence[Note], steps_per_bar: int) -> list[Note]:
    """Repeat or cut a 16-step bar pattern to ``steps_per_bar`` steps (other metres)."""
    out = []
    for offset in range(0, steps_per_bar, 16):
        out += [(s + offset, min(n, steps_per_bar - s - offset), p, v, b) for s, n, p, v, b in bar if s + offset < steps_per_bar]
    return out


@dataclass
class DrawnStyle:
    """One style's drawn production choices for one track."""

    genre: str
    q: dict
    bass: list[list[Note]]
    lead: list[list[Note]]
    comp: list[list[Note]]
    rims: list[int]    # 16th steps of rimshots in a bar
    congas: list[int]

    @classmethod
    def draw(cls, genre: str, seed: int) -> DrawnStyle:
        rng = rng_stream(seed, 2, STYLES.index(genre))
        q = draw_recipe({**COMMON_RECIPE, **RECIPES[genre]}, rng)
        q["drawbars"] = rng.uniform(0.1, 1.0, 7)  # organ registration
        rims = sorted(int(s) for s in rng.choice([3, 6, 7, 10, 11, 14, 15], size=int(rng.integers(2, 5)), replace=False))
        congas = sorted(int(s) for s in rng.choice([2, 5, 9, 12, 13], size=int(rng.integers(1, 4)), replace=False))
        return cls(genre, q, _bass_pattern(q["bass"], q, rng), _lead_pattern(q["lead"], rng), _comp_pattern(q["comp"], q["comp_rhythm"], rng), rims, congas)


def blend_value(styles: Sequence[DrawnStyle], weights: Sequence[float], name: str, *, log: bool = False) -> float:
    """Weighted mean of one drawn parameter (geometric for frequencies)."""
    values = np.array([s.q[name] for s in styles], dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    return float(np.exp(np.sum(w * np.log(values)))) if log else float(np.sum(w * values))
