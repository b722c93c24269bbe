"""Colours in one place: hex parsing, sRGB <-> linear conversion (styles and blending), sRGB <->
CIELAB conversion (the cover's palette, :mod:`mvgen.style.cover`, and the end card's accent colour), and
the chart colours that the timeline picture (:mod:`mvgen.report.timeline_plot`) and the preview page
(:mod:`mvgen.report.preview`) share, so a genre has the same colour wherever mvgen draws it.

Nothing here imports the style schema, the blending or matplotlib, so every one of those can use it.
"""

from __future__ import annotations

import numpy as np

from mvgen.genres import OUT_OF_SCOPE

# --------------------------------------------------------------------------- conversions


def hex_colour(value: str) -> str:
    """``"#rrggbb"`` or ``"#rgb"`` (any case, surrounding blanks allowed) -> ``"#rrggbb"`` in lower case.

    ValueError (a message pydantic shows as is) for anything else.
    """
    text = value.strip()
    digits = text[1:] if text.startswith("#") else ""
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    if len(digits) != 6 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(f"{value!r} is not a hex colour (allowed: '#rrggbb' or '#rgb')")
    return "#" + digits.lower()


def hex_to_rgb(colour: str) -> tuple[float, float, float]:
    """``"#rrggbb"`` -> sRGB floats in [0, 1]."""
    digits = hex_colour(colour)[1:]
    return tuple(int(digits[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] -> linear light (IEC 61966-2-1): blends are mixed in linear light so that a
    50/50 blend of two colours is as bright as the eye expects."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light -> sRGB in [0, 1] (clipped first), the inverse of :func:`srgb_to_linear`."""
    linear = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


# sRGB (IEC 61966-2-1) primaries to CIE XYZ, D65 white
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]])
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_DELTA = 6.0 / 29.0


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1], shape ``(..., 3)`` -> CIELAB (D65) ``(..., 3)``: L* in [0, 100], a* and b* about [-128, 127]."""
    xyz = srgb_to_linear(rgb) @ _RGB_TO_XYZ.T / _WHITE_D65
    f = np.where(xyz > _DELTA**3, np.cbrt(xyz), xyz / (3 * _DELTA**2) + 4.0 / 29.0)
    return np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], axis=-1)


def lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """CIELAB ``(..., 3)`` -> linear-light sRGB ``(..., 3)``, not clipped (out-of-gamut colours leave [0, 1])."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = np.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4.0 / 29.0)) * _WHITE_D65
    return xyz @ _XYZ_TO_RGB.T


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB ``(..., 3)`` -> sRGB in [0, 1] ``(..., 3)`` (clipped to the gamut in linear light)."""
    return linear_to_srgb(np.clip(lab_to_linear(lab), 0.0, 1.0))


# --------------------------------------------------------------------------- chart colours

#: One colour per sub-genre, the same in every picture and page mvgen draws (keys of :data:`~mvgen.genres.GENRES`).
GENRE_COLORS: dict[str, str] = {
    "progressive_house": "#3a9d5d",
    "future_house": "#29b3c6",
    "bass_house": "#6c43b8",
    "tech_house": "#8a6a4e",
    "deep_house": "#1f4e9a",
    "bigroom": "#e8572a",
    "future_rave": "#d2409b",
    "slap_house": "#f0b400",
}
#: Where the model is unsure (outside its genres): a pale grey, drawn hatched.
OUT_OF_SCOPE_COLOR = "#d9dbe0"
#: Matplotlib hatch of the out-of-scope layer, so "unsure" never reads as one more genre.
OUT_OF_SCOPE_HATCH = "////"
#: Band colours of the section labels; quiet tones so the genre colours stay the loudest thing.
SECTION_COLORS: dict[str, str] = {
    "intro": "#dfe3ea",
    "build-up": "#f6dfb8",
    "drop": "#2b2d3a",
    "breakdown": "#d3e9e4",
    "outro": "#e6e1ee",
}
#: Colour of drop markers (and of the drop section band).
DROP_COLOR = "#2b2d3a"
#: Colours of classes without an entry in :data:`GENRE_COLORS` (a user model's own), by class position.
FALLBACK_COLORS = ("#7f7f7f", "#bcbd22", "#17becf", "#9467bd", "#8c564b", "#e377c2")


def genre_color(key: str, index: int) -> str:
    """The colour of a class in every picture and page mvgen draws: :data:`GENRE_COLORS`, the
    out-of-scope grey, else a fallback by the class's position ``index``."""
    if key == OUT_OF_SCOPE:
        return OUT_OF_SCOPE_COLOR
    return GENRE_COLORS.get(key, FALLBACK_COLORS[index % len(FALLBACK_COLORS)])
