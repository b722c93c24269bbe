"""Colours from the cover art: a palette by k-means in CIELAB, and the styles tinted with it.

``mvgen render --cover ART --palette-from-cover`` makes the video wear the release's colours:
:func:`cover_palette` finds the artwork's :data:`PALETTE_COLOURS` main colours, and
:func:`tint_table` puts them into every style of the per-frame blending table
(:class:`~mvgen.style.blend.StyleTable`) while each style keeps its motion, motifs and modulation.

Why CIELAB: k-means minimises Euclidean distances, and in Lab a distance of about 2.3 is one just
noticeable difference anywhere in the colour space, so the clusters are colours a person would
tell apart (in sRGB, dark blues crowd together and greens spread out).

The tint, a designer's choice: each style's palette colours are ranked by lightness (L*) and the
cover's colours, ranked the same way, take their places, so the role a style gives its light and
dark colours survives while every hue comes from the release. Emissive motifs in a colour darker
than :data:`MIN_PALETTE_L` barely show over the background, so such colours are lifted to it
(same hue and chroma). The background takes the hue of the cover's darkest colour at the style's
own background lightness, so the contrast of the motifs against it is the style's.
"""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np

from mvgen.style.colors import lab_to_linear, lab_to_srgb, linear_to_srgb, srgb_to_lab
from mvgen.errors import MvgenError
from mvgen.media.images import open_image

#: Colours in a cover palette (the length of every style palette, :data:`mvgen.style.blend.PALETTE_SIZE`).
PALETTE_COLOURS = 5
#: The artwork is reduced to at most this many pixels on its long side before clustering: enough
#: for the main colours (a 3000 px cover has 9 million pixels, most of them repeats) and fast.
ANALYSIS_SIZE_PX = 128
#: Seed of the k-means initialisation: the same cover always gives the same palette.
KMEANS_SEED = 0
#: k-means restarts; the best (lowest inertia) is kept.
KMEANS_RESTARTS = 4
#: Pixels whose alpha is below this (0-255) are transparent padding, not part of the artwork.
MIN_ALPHA = 128
#: Lightness (L*, 0-100) below which a palette colour is lifted when tinting (see the module doc).
MIN_PALETTE_L = 35.0


@dataclasses.dataclass(frozen=True)
class CoverPalette:
    """The main colours of a cover, largest cluster first.

    ``colours``: :data:`PALETTE_COLOURS` sRGB triples in [0, 1]; ``shares``: the fraction of the
    artwork's pixels each stands for (summing to 1 over the distinct colours). A cover with fewer
    distinct colours than the palette has (a two-colour design, a tiny or flat image) repeats its
    colours in the same order, the repeats with share 0, so every style still gets
    :data:`PALETTE_COLOURS` colours, all of them the release's.
    """

    colours: tuple[tuple[float, float, float], ...]
    shares: tuple[float, ...]

    @property
    def lab(self) -> np.ndarray:
        """The colours in CIELAB, ``(PALETTE_COLOURS, 3)``."""
        return srgb_to_lab(np.array(self.colours))

    def hex(self) -> list[str]:
        """The colours as ``#rrggbb`` strings (for reports and the preview page)."""
        return ["#" + "".join(f"{round(c * 255):02x}" for c in rgb) for rgb in self.colours]


def cover_pixels(path: str | os.PathLike, max_side_px: int = ANALYSIS_SIZE_PX) -> np.ndarray:
    """The artwork's opaque pixels as sRGB floats in [0, 1], shape ``(N, 3)``, from the image reduced
    to at most ``max_side_px`` on its long side by nearest-neighbour sampling: a uniform subsample of
    its pixels, so the colours keep their proportions (an averaging filter would add mixtures of
    neighbouring colours that the artwork does not show in flat areas).
    Greyscale, palette and alpha images are read as RGB; transparent pixels are left out."""
    from PIL import Image

    rgba = open_image(path).convert("RGBA")
    scale = max_side_px / max(rgba.size)
    if scale < 1.0:
        rgba = rgba.resize((max(1, round(rgba.width * scale)), max(1, round(rgba.height * scale))), Image.Resampling.NEAREST)
    pixels = np.asarray(rgba, dtype=np.float64).reshape(-1, 4)
    opaque = pixels[pixels[:, 3] >= MIN_ALPHA, :3] / 255.0
    if len(opaque) == 0:
        raise MvgenError("the cover image is fully transparent: no colours to take", path)
    return opaque


def cover_palette(path: str | os.PathLike, k: int = PALETTE_COLOURS) -> CoverPalette:
    """The ``k`` main colours of the image at ``path`` (see :class:`CoverPalette`): k-means in CIELAB
    (scikit-learn, seed :data:`KMEANS_SEED`), ordered by cluster size, largest first (ties: lighter first).

    Raises :class:`MvgenError` naming the file when it cannot be read; ``k`` must be >= 1.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    lab = srgb_to_lab(cover_pixels(path))
    # k-means needs at least k distinct points: a flat or few-colour cover gets as many clusters as it has colours
    distinct = np.unique(np.round(lab, 3), axis=0)
    n = min(k, len(distinct))
    if n == len(distinct):
        centres = distinct
        labels = np.argmin(((lab[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    else:
        from sklearn.cluster import KMeans

        with warnings.catch_warnings():
            # near-duplicate colours may converge to fewer clusters than asked: their shares show it
            warnings.simplefilter("ignore")
            model = KMeans(n_clusters=n, n_init=KMEANS_RESTARTS, random_state=KMEANS_SEED).fit(lab)
        centres, labels = model.cluster_centers_, model.labels_
    counts = np.bincount(labels, minlength=len(centres)).astype(np.float64)
    order = sorted(range(len(centres)), key=lambda i: (-counts[i], -centres[i][0]))
    colours = [tuple(float(c) for c in lab_to_srgb(centres[i])) for i in order]
    shares = [float(counts[i] / counts.sum()) for i in order]
    reps = [colours[i % len(colours)] for i in range(k)]
    return CoverPalette(colours=tuple(reps), shares=tuple(shares + [0.0] * (k - len(shares))))


def tint_palettes(palette_linear: np.ndarray, background_linear: np.ndarray, cover: CoverPalette) -> tuple[np.ndarray, np.ndarray]:
    """Styles' colours -> the cover's (see the module doc for the rule).

    ``palette_linear``: ``(K, P, 3)`` linear-light style palettes; ``background_linear``: ``(K, 3)``.
    Returns the tinted ``(palette_linear, background_linear)``, same shapes.
    """
    palette_linear = np.asarray(palette_linear, dtype=np.float64)
    background_linear = np.asarray(background_linear, dtype=np.float64)
    K, P, _ = palette_linear.shape
    cover_lab = cover.lab
    cover_lab[:, 0] = np.maximum(cover_lab[:, 0], MIN_PALETTE_L)
    by_lightness = cover_lab[np.argsort(cover_lab[:, 0], kind="stable")]
    # P cover colours ranked by lightness (a palette longer than the cover's cycles through it)
    ranked = by_lightness[np.round(np.linspace(0, len(by_lightness) - 1, P)).astype(int)] if P != len(by_lightness) else by_lightness
    style_lab = srgb_to_lab(linear_to_srgb(palette_linear))
    tinted = np.empty_like(style_lab)
    for s in range(K):
        ranks = np.argsort(np.argsort(style_lab[s, :, 0], kind="stable"), kind="stable")
        tinted[s] = ranked[ranks]
    darkest = srgb_to_lab(np.array(cover.colours))
    darkest = darkest[np.argmin(darkest[:, 0])]
    bg_lab = srgb_to_lab(linear_to_srgb(background_linear))
    # the style's background lightness, the darkest cover colour's hue; chroma scaled down with the
    # lightness (a dark colour cannot hold a light colour's chroma inside the gamut)
    chroma_scale = np.minimum(1.0, bg_lab[:, :1] / max(darkest[0], 1e-6))
    bg = np.concatenate([bg_lab[:, :1], darkest[None, 1:] * chroma_scale], axis=1)
    return np.clip(lab_to_linear(tinted), 0.0, 1.0), np.clip(lab_to_linear(bg), 0.0, 1.0)


def tint_table(table, cover: CoverPalette):
    """A copy of ``table`` (:class:`~mvgen.style.blend.StyleTable`) wearing the cover's colours
    (:func:`tint_palettes`); motion, motifs, speeds, seeds and modulation unchanged."""
    from mvgen.style.blend import StyleTable

    palette, background = tint_palettes(table.palette_linear, table.background_linear, cover)
    return StyleTable(
        labels=table.labels, palette_linear=palette, background_linear=background, motion=table.motion, motifs=table.motifs,
        speed=table.speed, density=table.density, strength=table.strength, seed_policies=table.seed_policies, modulation=table.modulation,
    )  # fmt: skip
