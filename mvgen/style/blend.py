"""Blending the styles per frame: the renderer's hot path, apart from the schema and the YAML files.

:class:`StyleTable` turns validated :class:`~mvgen.style.styles.Style` objects into arrays once (one row
per style key, colours in linear light), and :meth:`StyleTable.blend` mixes them by a frame's soft
genre weights with a few matrix products, without building pydantic models per frame. The mapper
(:mod:`mvgen.style.mapper`) calls it once per output frame.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mvgen.style.colors import hex_to_rgb, linear_to_srgb, srgb_to_linear
from mvgen.style.framespec import MOTIFS
from mvgen.analysis.reactive import SOURCES
from mvgen.style.styles import MOTION_FIELDS, SEED_POLICIES, TARGETS, Motion, Style, style_keys

#: Number of palette colours every blended style has (style palettes are cycled to this length).
PALETTE_SIZE = 5


@dataclass(frozen=True)
class BlendedStyle:
    """The styles blended by genre weights. Colours are sRGB floats in [0, 1]."""

    palette: tuple[tuple[float, float, float], ...]
    background: tuple[float, float, float]
    motion: Motion
    motif_weights: dict[str, float]
    speed: float
    density: float
    strength: tuple[float, float]
    #: The seed policy of the dominant style (the largest weight; the first on a tie): a policy is a
    #: choice, not a quantity, so it is not mixed.
    seed_policy: str = "per-section"
    #: The blended modulation matrix, shape ``(len(SOURCES), len(TARGETS))`` (None: no modulation).
    modulation: np.ndarray | None = None


class StyleTable:
    """Styles as arrays (one row per key of ``labels``), for blending once per frame without pydantic."""

    def __init__(self, labels: Sequence[str], palette_linear: np.ndarray, background_linear: np.ndarray, motion: np.ndarray, motifs: np.ndarray, speed: np.ndarray, density: np.ndarray, strength: np.ndarray, seed_policies: Sequence[str] | None = None, modulation: np.ndarray | None = None):
        self.labels = tuple(labels)  # the row order: the model's classes, then "other"
        self.palette_linear = palette_linear  # (K, PALETTE_SIZE, 3)
        self.background_linear = background_linear  # (K, 3)
        self.motion = motion  # (K, len(MOTION_FIELDS))
        self.motifs = motifs  # (K, len(MOTIFS))
        self.speed = speed  # (K,)
        self.density = density  # (K,)
        self.strength = strength  # (K, 2)
        # (K,) one of SEED_POLICIES per style; per-section (the schema's default) when not given
        self.seed_policies = tuple(seed_policies) if seed_policies is not None else ("per-section",) * len(self.labels)
        unknown = sorted(set(self.seed_policies) - set(SEED_POLICIES))
        if unknown or len(self.seed_policies) != len(self.labels):
            raise ValueError(f"seed_policies must be one of {', '.join(SEED_POLICIES)} per style ({len(self.labels)}), got {list(self.seed_policies)}")
        # (K, len(SOURCES), len(TARGETS)): each style's modulation amounts (zeros where it has none)
        shape = (len(self.labels), len(SOURCES), len(TARGETS))
        self.modulation = np.zeros(shape) if modulation is None else np.asarray(modulation, dtype=np.float64)
        if self.modulation.shape != shape:
            raise ValueError(f"modulation must have shape {shape} (styles, sources, targets), got {self.modulation.shape}")

    @classmethod
    def from_styles(cls, styles: Mapping[str, Style]) -> StyleTable:
        """A table of ``styles`` in their mapping order (as :func:`~mvgen.style.styles.load_styles` returns them)."""
        if len(styles) < 1:
            raise ValueError("styles is empty")
        ordered = list(styles.values())
        palette = np.array([[hex_to_rgb(s.palette.colors[i % len(s.palette.colors)]) for i in range(PALETTE_SIZE)] for s in ordered])
        background = np.array([hex_to_rgb(s.palette.background) for s in ordered])
        return cls(
            labels=list(styles),
            palette_linear=srgb_to_linear(palette),
            background_linear=srgb_to_linear(background),
            motion=np.array([[getattr(s.motion, f) for f in MOTION_FIELDS] for s in ordered], dtype=np.float64),
            motifs=np.array([[s.procedural.motifs.get(m, 0.0) for m in MOTIFS] for s in ordered], dtype=np.float64),
            speed=np.array([s.procedural.speed for s in ordered], dtype=np.float64),
            density=np.array([s.procedural.density for s in ordered], dtype=np.float64),
            strength=np.array([s.diffusion.strength for s in ordered], dtype=np.float64),
            seed_policies=[s.diffusion.seed_policy for s in ordered],
            modulation=np.stack([modulation_matrix(s) for s in ordered]),
        )

    def blend(self, weights: Sequence[float] | np.ndarray) -> BlendedStyle:
        """Blend by ``weights`` (shape ``(K,)`` in ``labels`` order, >= 0, summing to 1)."""
        w = check_weights(weights, self.labels)
        palette = linear_to_srgb(np.tensordot(w, self.palette_linear, axes=1))
        background = linear_to_srgb(w @ self.background_linear)
        motion = w @ self.motion
        motifs = w @ self.motifs
        low, high = (w @ self.strength).tolist()
        return BlendedStyle(
            palette=tuple(tuple(rgb) for rgb in palette.tolist()),
            background=tuple(background.tolist()),
            motion=Motion.model_construct(**dict(zip(MOTION_FIELDS, motion.tolist()))),
            motif_weights=dict(zip(MOTIFS, motifs.tolist())),
            speed=float(w @ self.speed),
            density=float(w @ self.density),
            strength=(low, high),
            seed_policy=self.seed_policies[int(np.argmax(w))],
            modulation=np.tensordot(w, self.modulation, axes=1),
        )


def modulation_matrix(style: Style) -> np.ndarray:
    """A style's ``modulate`` table as an array, shape ``(len(SOURCES), len(TARGETS))``, zeros where it names nothing."""
    matrix = np.zeros((len(SOURCES), len(TARGETS)))
    for source, row in style.modulate.items():
        for target, amount in row.items():
            matrix[SOURCES.index(source), TARGETS.index(target)] = amount
    return matrix


def check_weights(weights: Sequence[float] | np.ndarray, labels: Sequence[str] = style_keys()) -> np.ndarray:
    """``weights`` as a float array of shape ``(len(labels),)``; ValueError unless >= 0 and summing to 1."""
    k = len(labels)
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"weights must be {k} numbers (one per style: {', '.join(labels)})") from None
    if w.shape != (k,):
        raise ValueError(f"weights must have shape ({k},) (one per style: {', '.join(labels)}), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or w.min() < -1e-9:
        raise ValueError(f"weights must be finite and >= 0, got {w.tolist()}")
    total = float(w.sum())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise ValueError(f"weights must sum to 1, got {total:g}")
    return w


def blend_styles(styles: Mapping[str, Style], weights: Sequence[float] | np.ndarray) -> BlendedStyle:
    """Blend ``styles`` (mapping order) by ``weights``; for per-frame use build a :class:`StyleTable` once."""
    return StyleTable.from_styles(styles).blend(weights)
