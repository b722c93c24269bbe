"""Branding of a render: who, what, which label, when; logo, cover art, font, end card, lyrics.

:class:`Branding` is the options model (``mvgen render --artist ... --logo ...``, and per track in
batch manifests). :meth:`Branding.check` reads every file it names before anything renders, so a
missing or unreadable logo, cover, font or lyrics file is one clear error up front; :func:`plan_overlay`
also lays everything out (fonts loaded, text and lyrics fitted) without drawing it.

The overlay drawn during the video (the end card is :mod:`mvgen.brand.endcard`'s):

* Layout (:func:`plan_layout`): inside the aspect's safe zone (:data:`SAFE_ZONES`: the box every
  phone platform leaves clear at 9:16, the broadcast title-safe area elsewhere), artist and title
  large and label and release date small at the bottom left, the logo at the top right, the lyrics
  centred between them. Sizes follow the frame's short side; text that does not fit is shrunk down
  to :data:`MIN_TEXT_PX_AT_1080`, then wrapped, never cut; white with a dark outline and a soft
  shadow, legible on any picture.
* Rasterized once per render (:func:`build_overlay`, from :func:`plan_overlay`'s plan): Pillow draws the text and the logo (SVG through resvg)
  at the output size, and each lyric line once; every layer is converted once to the encoder's
  BT.709 limited-range Y'CbCr at luma and chroma resolution, with its coverage, and cropped to
  where it draws (:class:`Layer`).
* Composited per frame on the renderer's device (:meth:`Overlay.composite`): an alpha blend of the
  layers into the yuv420p frames the renderer yields, in torch, before they go to the encoder.
  Blending in Y'CbCr equals blending in R'G'B', as the transform is affine. We do this rather than
  an ffmpeg overlay filter because frames stream to the encoder in chunks straight from the
  renderer (no filter graph there), the frames are already on the device, and it leaves every byte
  outside the overlay exactly as rendered. The logo pulses by a per-frame gain (``FrameSpec.logo``,
  the ``logo`` modulation target) applied to its pre-rasterized layer.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from mvgen.errors import MvgenError, check_input_file
from mvgen.brand.fonts import load_font, resolve_font
from mvgen.brand.lyrics import MAX_LYRICS_BYTES, LyricLine

if TYPE_CHECKING:
    from mvgen.style.framespec import FrameSpec

#: Default length of the end card (seconds) at the end of every output except Spotify Canvas.
END_CARD_S = 3.0
#: Default call to action on the end card.
CALL_TO_ACTION = "Out now"


class Branding(BaseModel):
    """What the video carries of the release. Every field is optional; an empty Branding draws nothing.

    ``logo``: PNG with alpha (or SVG); ``cover``: the release artwork (any image Pillow reads);
    ``font``: a .ttf/.otf file (None: :func:`mvgen.brand.fonts.default_font`); ``lyrics``: an .lrc or .srt file.
    ``end_card_s``: seconds of end card (0: none); ``palette_from_cover``: tint the styles with the cover's colours.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    artist: str | None = None
    title: str | None = None
    label: str | None = None
    release_date: str | None = Field(None, description="as it should read, e.g. '2026-12-04' or '4 December 2026'")
    logo: str | None = None
    cover: str | None = None
    font: str | None = None
    lyrics: str | None = None
    end_card_s: float = Field(END_CARD_S, ge=0, le=30)
    call_to_action: str = CALL_TO_ACTION
    palette_from_cover: bool = False
    overlay: bool = Field(True, description="draw the text, logo and lyrics over the video (False: formats that allow no text, e.g. Spotify Canvas)")

    @field_validator("palette_from_cover")
    @classmethod
    def _needs_a_cover(cls, wanted: bool, info: ValidationInfo) -> bool:
        # cover is declared above, so it is already in info.data
        if wanted and info.data.get("cover") is None:
            raise ValueError("needs a cover image (cover, --cover IMAGE): the release artwork whose colours the video takes")
        return wanted

    @property
    def has_text(self) -> bool:
        return any((self.artist, self.title, self.label, self.release_date))

    def file_digests(self) -> list[str | None]:
        """SHA-256 of the bytes of each file named (cover, logo, font, lyrics; None where none is):
        part of a render's work key, so a resumed render never joins chunks drawn from another
        version of the art, the logo, the font or the lyrics."""
        import hashlib

        return [None if path is None else hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in (self.cover, self.logo, self.font, self.lyrics)]

    def check(self) -> None:
        """Raise :class:`MvgenError` ("<file>: <problem>") for any named file that is missing, unreadable,
        of the wrong kind or over its limit (pictures: :data:`mvgen.media.images.MAX_IMAGE_PIXELS`; lyrics:
        :data:`mvgen.brand.lyrics.MAX_LYRICS_BYTES`, read in full by :func:`plan_overlay`)."""
        if self.font is not None:
            resolve_font(self.font)
        for path in (self.cover, self.logo):
            if path is not None:
                _check_image(Path(path))
        if self.lyrics is not None:
            check_input_file(self.lyrics, "lyrics file", max_bytes=MAX_LYRICS_BYTES)


def _check_image(path: Path) -> None:
    """Check that ``path`` is a picture Pillow decodes whole within the size limit, or an SVG file that
    parses and whose size is within it (it is drawn by resvg)."""
    from mvgen.media.images import open_image

    if path.suffix.lower() == ".svg":
        _check_svg(path)
        return
    open_image(path).close()


#: CSS pixels per unit of an SVG length (96 per inch), for the size an SVG declares.
SVG_UNIT_PX = {"": 1.0, "px": 1.0, "pt": 96 / 72, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4}
_SVG_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-z]*)\s*$")


def svg_size_px(root) -> tuple[float, float] | None:
    """The size (CSS pixels) an SVG root element declares, as resvg sizes it: its ``width`` and
    ``height`` (absolute units), else its ``viewBox``'s; None when it says neither (resvg then draws 100x100)."""
    view_box = [float(v) for v in re.split(r"[\s,]+", root.get("viewBox", "").strip()) if v] if root.get("viewBox") else []
    size = []
    for k, name in enumerate(("width", "height")):
        found = _SVG_LENGTH.match(root.get(name) or "")
        if found and found.group(2) in SVG_UNIT_PX:
            size.append(float(found.group(1)) * SVG_UNIT_PX[found.group(2)])
        elif len(view_box) == 4:
            size.append(view_box[2 + k])
        else:
            return None
    return size[0], size[1]


def _check_svg(path: Path) -> None:
    """Check that ``path`` is well-formed XML whose root is ``<svg>`` and whose declared size is within
    :data:`~mvgen.media.images.MAX_IMAGE_PIXELS`, without drawing it (resvg does, once per render, and
    aborts the whole process on a size it cannot allocate). Entity expansion ("billion laughs") is
    refused by expat's amplification limit."""
    from xml.etree import ElementTree

    from mvgen.media.images import image_size_problem

    check_input_file(path, "image file")
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError, ValueError) as exc:
        raise MvgenError(f"not a readable logo ({' '.join(str(exc).split())[:120]})", path) from None
    if root.tag.rsplit("}", 1)[-1] != "svg":
        raise MvgenError(f"not a readable logo (the root element is <{root.tag}>, not <svg>)", path)
    size = svg_size_px(root)
    problem = image_size_problem(math.ceil(size[0]), math.ceil(size[1])) if size is not None else None
    if problem is not None:
        raise MvgenError(f"{problem}, as its width and height (or viewBox) say; make them smaller", path)


# --------------------------------------------------------------------------- layout

#: Title-safe area of broadcast video: 90 % of the width and height, centred (SMPTE ST 2046-1:2009
#: "safe title" and EBU R 95 "graphics safe": 5 % margins on each side), for aspects without a platform rule.
TITLE_SAFE_MARGIN = 0.05
#: Phone 9:16: the box every platform (TikTok, Reels, Shorts) leaves clear at 1080x1920 (pixels),
#: free of the top bar (~14 %), the caption and buttons at the bottom (~35 %) and the right rail (~6 %).
VERTICAL_SAFE_PX = (65, 270, 910, 1250)
#: Text sizes as fractions of the frame's short side (the side a phone shows across its width, in
#: either orientation): artist, title, label + release date, lyrics; at 1080 px: 54, 70, 35 and 54 px.
ARTIST_SIZE = 0.05
TITLE_SIZE = 0.065
SMALL_SIZE = 0.032
LYRICS_SIZE = 0.05
#: Text is shrunk down to this many pixels per 1080 px of short side (then wrapped): 26 px at 1080
#: wide is ~1.5 mm of cap height on a 6.5 cm wide phone screen, about the smallest comfortable caption.
MIN_TEXT_PX_AT_1080 = 26
#: Each shrinking step multiplies the size by this (so a title fits with at most ~10 % slack).
SHRINK_STEP = 0.92
#: Text shrinks to no less than this share of its size (so a long title stays larger than the label
#: line) and never below :data:`MIN_TEXT_PX_AT_1080`; past that it wraps.
SHRINK_FLOOR = 0.75
#: Space between lines, as a fraction of the line's font size; between the blocks (logo, lyrics, text), of the short side.
LINE_GAP = 0.2
BLOCK_GAP = 0.02
#: The legibility outline (dark, around every glyph) as a fraction of the font size, and its opacity.
OUTLINE_WIDTH = 0.06
OUTLINE_ALPHA = 0.85
#: The soft drop shadow: offset (and blur radius) as a fraction of the short side, and its opacity.
SHADOW_OFFSET = 0.004
SHADOW_ALPHA = 0.55
#: The logo: at most this tall (fraction of the short side) and this wide (fraction of the safe zone's width).
LOGO_HEIGHT = 0.11
LOGO_MAX_WIDTH = 0.4
#: The logo's opacity at rest: a pulse (``FrameSpec.logo`` > 0, the ``logo`` modulation target) can raise it to 1.
LOGO_OPACITY = 0.8
#: Overlay pixels with less coverage than this cannot move an 8-bit code (0.5 / 255 of the largest
#: difference, 255, is under half a step): they are left out, so the frame is untouched there.
ALPHA_FLOOR = 0.5 / 255
#: Separator of label and release date on their shared line.
SMALL_SEPARATOR = "  ·  "


@dataclasses.dataclass(frozen=True)
class Box:
    """A rectangle in fractions of the frame: ``x0 < x1`` of the width, ``y0 < y1`` of the height."""

    x0: float
    y0: float
    x1: float
    y1: float

    def pixels(self, width: int, height: int) -> "PixelBox":
        """This box in a ``width`` x ``height`` frame, rounded inwards to even pixels (so the 4:2:0
        chroma samples it covers lie wholly inside it too)."""
        return PixelBox(2 * math.ceil(self.x0 * width / 2 - 1e-9), 2 * math.ceil(self.y0 * height / 2 - 1e-9),
                        2 * math.floor(self.x1 * width / 2 + 1e-9), 2 * math.floor(self.y1 * height / 2 + 1e-9))


@dataclasses.dataclass(frozen=True)
class PixelBox:
    """A rectangle in pixels: columns ``x0 <= x < x1``, rows ``y0 <= y < y1``."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def contains(self, other: "PixelBox") -> bool:
        return self.x0 <= other.x0 and self.y0 <= other.y0 and other.x1 <= self.x1 and other.y1 <= self.y1


TITLE_SAFE = Box(TITLE_SAFE_MARGIN, TITLE_SAFE_MARGIN, 1 - TITLE_SAFE_MARGIN, 1 - TITLE_SAFE_MARGIN)
#: Safe zone per aspect (fractions of the frame); aspects not listed use :data:`TITLE_SAFE`.
SAFE_ZONES: dict[str, Box] = {
    "9:16": Box(VERTICAL_SAFE_PX[0] / 1080, VERTICAL_SAFE_PX[1] / 1920, VERTICAL_SAFE_PX[2] / 1080, VERTICAL_SAFE_PX[3] / 1920),
    "16:9": TITLE_SAFE,
    "1:1": TITLE_SAFE,
    "4:5": TITLE_SAFE,
}


def safe_zone(aspect: str) -> Box:
    """The safe zone of ``aspect`` ("9:16", "16:9", ...): :data:`SAFE_ZONES`, else the title-safe area."""
    return SAFE_ZONES.get(aspect, TITLE_SAFE)


def _ratio(aspect: str) -> float:
    """Width over height of an aspect name "W:H"."""
    w, h = aspect.split(":")
    return float(w) / float(h)


def nearest_aspect(width_px: int, height_px: int) -> str:
    """The :data:`SAFE_ZONES` aspect whose width/height ratio is nearest a ``width_px`` x ``height_px``
    frame's, by the ratios' logarithms (so 2:1 is as far from 1:1 as 1:2 is)."""
    if width_px < 1 or height_px < 1:
        raise ValueError(f"width_px and height_px must be >= 1, got {width_px}x{height_px}")
    return min(SAFE_ZONES, key=lambda aspect: abs(math.log(width_px / height_px / _ratio(aspect))))


def frame_safe_zone(width_px: int, height_px: int, aspect: str | None = None) -> PixelBox:
    """The safe zone of a ``width_px`` x ``height_px`` frame in pixels (rounded inwards to even
    pixels, :meth:`Box.pixels`): that of ``aspect`` when the caller knows it, else that of the
    aspect nearest the frame's ratio (:func:`nearest_aspect`). The overlay and the end card both
    place everything inside it."""
    return safe_zone(aspect if aspect is not None else nearest_aspect(width_px, height_px)).pixels(width_px, height_px)


def min_text_px(short_px: int) -> int:
    """The smallest readable text size (pixels) in a frame whose short side is ``short_px``:
    :data:`MIN_TEXT_PX_AT_1080` scaled, at least 1."""
    return max(1, round(MIN_TEXT_PX_AT_1080 * short_px / 1080))


@dataclasses.dataclass(frozen=True)
class FittedText:
    """Text set to fit a width: ``lines`` (wrapped where needed) at ``size_px``, with a ``stroke_px``
    outline (0: fitted for drawing without one)."""

    text: str
    lines: tuple[str, ...]
    size_px: int
    stroke_px: int
    font_file: str

    def font(self):
        return load_font(self.font_file, self.size_px)

    @property
    def line_height_px(self) -> int:
        ascent, descent = self.font().getmetrics()
        return ascent + descent + 2 * self.stroke_px

    @property
    def height_px(self) -> int:
        """Height of the set lines, gaps included."""
        return len(self.lines) * self.line_height_px + (len(self.lines) - 1) * round(LINE_GAP * self.size_px)

    @property
    def width_px(self) -> int:
        font = self.font()
        return max(_line_px(font, line, self.stroke_px) for line in self.lines)

    @property
    def multiline(self) -> str:
        """The set lines joined by line breaks, as a multi-line text drawer takes them."""
        return "\n".join(self.lines)


def shrink_floor_px(size_px: float, min_px: int) -> int:
    """The smallest size text of ``size_px`` is shrunk to before it wraps (see :data:`SHRINK_FLOOR`)."""
    return max(min_px, round(SHRINK_FLOOR * size_px))


def _stroke_px(size_px: int) -> int:
    return max(1, round(OUTLINE_WIDTH * size_px))


def _line_px(font, line: str, stroke_px: int) -> int:
    """Width (pixels) a line takes drawn from its origin: its advance, or its ink where a glyph
    reaches past the advance or left of the origin (an overhanging italic, a "J"), plus the outline
    on both sides, so text that fits is never cut."""
    left, _, right, _ = font.getbbox(line) if line else (0, 0, 0, 0)
    return math.ceil(max(font.getlength(line), right) - min(0, left)) + 2 * stroke_px


def _wrap(text: str, font, stroke_px: int, width_px: int) -> list[str]:
    """Greedy word wrap to ``width_px``; a word wider than that alone is broken between characters (never cut)."""
    fits = lambda s: _line_px(font, s, stroke_px) <= width_px  # noqa: E731
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            if fits(f"{line} {word}".strip()):
                line = f"{line} {word}".strip()
                continue
            if line:
                lines.append(line)
            line = ""
            while not fits(word) and len(word) > 1:  # a word wider than the line: break it where it must
                k = max(1, max((i for i in range(1, len(word) + 1) if fits(word[:i])), default=1))
                lines.append(word[:k])
                word = word[k:]
            line = word
        if line:
            lines.append(line)
    return lines or [""]


def fit_text(text: str, font_file: str, size_px: int, min_px: int, width_px: int, outline: bool = True) -> FittedText:
    """``text`` at ``size_px`` if each of its lines fits ``width_px``; else shrunk by :data:`SHRINK_STEP`
    steps down to ``min_px``, and wrapped at ``min_px`` if it still does not fit (a word wider than
    the line broken between characters). Never cut. Widths count the legibility outline on both
    sides (:data:`OUTLINE_WIDTH`); ``outline=False`` fits text drawn without one (the end card's)."""
    size = max(1, size_px)
    min_px = max(1, min(min_px, size))
    while True:
        font = load_font(font_file, size)
        stroke = _stroke_px(size) if outline else 0
        lines = text.split("\n")
        if all(_line_px(font, line, stroke) <= width_px for line in lines):
            return FittedText(text, tuple(lines), size, stroke, font_file)
        if size <= min_px:
            return FittedText(text, tuple(_wrap(text, font, stroke, width_px)), size, stroke, font_file)
        size = max(min_px, min(size - 1, int(size * SHRINK_STEP)))


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a frame's branding goes, in pixels: ``safe`` (the aspect's safe zone), ``inner`` (it,
    less room for the shadow), the text block's lines, the logo's box and the lyrics' band."""

    width: int
    height: int
    safe: PixelBox
    inner: PixelBox
    texts: tuple[tuple[int, int, FittedText], ...] = dataclasses.field(metadata={"doc": "(x, y of the first line's top, text), top to bottom"})
    text_box: PixelBox | None
    logo_box: PixelBox | None
    lyrics_band: PixelBox | None
    min_text_px: int


def _text_error(what: str, text: str, layout_size: str) -> MvgenError:
    short = text if len(text) <= 40 else text[:37] + "..."
    return MvgenError(f"{what} {short!r} does not fit in the safe zone of a {layout_size} frame even wrapped at the smallest readable size; shorten it")


def plan_layout(branding: Branding, width: int, height: int, aspect: str) -> Layout:
    """Place ``branding``'s text block (artist, title large; label and release date small; bottom left),
    logo (top right) and lyrics band (between them, centred) inside ``aspect``'s safe zone of a
    ``width`` x ``height`` frame. Sizes follow the short side (see :data:`TITLE_SIZE`); text that does not
    fit is shrunk, then wrapped (:func:`fit_text`). Raises :class:`MvgenError` when it cannot fit even so.
    """
    short = min(width, height)
    font_file = str(resolve_font(branding.font))
    safe = frame_safe_zone(width, height, aspect)
    shadow_px = max(1, round(SHADOW_OFFSET * short))
    pad = 2 * math.ceil(3 * shadow_px / 2)  # offset + blur radius and a pixel of the blur's tail; even, as every box here
    inner = PixelBox(safe.x0 + pad, safe.y0 + pad, safe.x1 - pad, safe.y1 - pad)
    min_px = min_text_px(short)
    gap = round(BLOCK_GAP * short)
    frame = f"{width}x{height}"

    items = []
    small = SMALL_SEPARATOR.join(t for t in (branding.label, branding.release_date) if t)
    for what, text, size in (("artist", branding.artist, ARTIST_SIZE), ("title", branding.title, TITLE_SIZE), ("label and date", small, SMALL_SIZE)):
        if text and text.strip():
            items.append((what, fit_text(" ".join(text.split()), font_file, round(size * short), shrink_floor_px(size * short, min_px), inner.width)))
    logo_box = None
    top = inner.y0
    if branding.logo is not None:
        logo_w, logo_h = 2 * round(LOGO_MAX_WIDTH * inner.width / 2), 2 * round(LOGO_HEIGHT * short / 2)
        logo_box = PixelBox(inner.x1 - logo_w, inner.y0, inner.x1, inner.y0 + logo_h)
        top = logo_box.y1 + gap
    texts = []
    text_box = None
    bottom = inner.y1
    if items:
        heights = [fitted.height_px for _, fitted in items]
        total = sum(heights) + gap // 2 * (len(items) - 1)
        if total > bottom - top:
            what, fitted = max(items, key=lambda item: item[1].height_px)
            raise _text_error(f"--{what.split()[0]}", fitted.text, frame)
        y = bottom - total
        text_box = PixelBox(inner.x0, y, inner.x0 + max(f.width_px for _, f in items), bottom)
        for (_, fitted), h in zip(items, heights):
            texts.append((inner.x0, y, fitted))
            y += h + gap // 2
        bottom = text_box.y0 - gap
    lyrics_band = PixelBox(inner.x0, top, inner.x1, bottom) if branding.lyrics is not None else None
    if lyrics_band is not None and lyrics_band.height < 2 * min_px:
        raise MvgenError(f"no room is left for lyrics in the safe zone of a {frame} frame under the title block; shorten the text", branding.lyrics)
    return Layout(width, height, safe, inner, tuple(texts), text_box, logo_box, lyrics_band, min_px)


# --------------------------------------------------------------------------- rasterizing (once per render)


def _text_rgba(canvas: PixelBox, items: Sequence[tuple[int, int, FittedText]], align: str = "left", short: int = 1080) -> tuple[np.ndarray, int, int]:
    """White text with a dark outline and a soft shadow, drawn inside the ``canvas`` box (items at
    frame coordinates; ``align`` "left" or "centre" within the canvas): premultiplied RGBA float32
    ``(h, w, 4)`` of the part of the canvas it covers, and that part's top-left (x, y) in the frame."""
    from PIL import Image, ImageDraw, ImageFilter

    size = (canvas.width, canvas.height)
    fill, outline = Image.new("L", size), Image.new("L", size)
    draw_fill, draw_outline = ImageDraw.Draw(fill), ImageDraw.Draw(outline)
    for x, y, fitted in items:
        font = fitted.font()
        step = fitted.line_height_px + round(LINE_GAP * fitted.size_px)
        for k, line in enumerate(fitted.lines):
            width = _line_px(font, line, fitted.stroke_px)
            left = x if align == "left" else canvas.x0 + (canvas.width - width) // 2
            at = (left - canvas.x0 + fitted.stroke_px, y - canvas.y0 + k * step + fitted.stroke_px)
            draw_fill.text(at, line, font=font, fill=255, anchor="la")
            draw_outline.text(at, line, font=font, fill=255, anchor="la", stroke_width=fitted.stroke_px, stroke_fill=255)
    shadow_px = max(1, round(SHADOW_OFFSET * short))
    bbox = outline.getbbox()
    if bbox is None:
        return np.zeros((0, 0, 4), np.float32), canvas.x0, canvas.y0
    # the rest on the text's box (and the shadow's reach) only, not the whole canvas
    reach = 4 * shadow_px
    crop = (max(0, bbox[0] - reach), max(0, bbox[1] - reach), min(size[0], bbox[2] + reach), min(size[1], bbox[3] + reach))
    fill, outline = fill.crop(crop), outline.crop(crop)
    shadow = Image.new("L", outline.size)
    shadow.paste(outline, (shadow_px, shadow_px))
    shadow = shadow.filter(ImageFilter.GaussianBlur(shadow_px))
    a_shadow, a_outline, a_fill = (np.asarray(mask, np.float32) * (alpha / 255.0) for mask, alpha in ((shadow, SHADOW_ALPHA), (outline, OUTLINE_ALPHA), (fill, 1.0)))
    # "over", back to front: shadow and outline black, the fill white; premultiplied, the colour is
    # then the fill's coverage and the coverage 1 - (1 - a_shadow)(1 - a_outline)(1 - a_fill)
    rgba = np.empty((*a_fill.shape, 4), np.float32)
    rgba[..., :3] = a_fill[..., None]
    rgba[..., 3] = 1.0 - (1.0 - a_shadow) * (1.0 - a_outline) * (1.0 - a_fill)
    return rgba, canvas.x0 + crop[0], canvas.y0 + crop[1]


def fit_size(size_px: tuple[int, int], box_px: tuple[int, int]) -> tuple[int, int]:
    """``(width, height)`` in pixels of a picture of ``size_px`` scaled, up or down and aspect kept, to
    fit a box of ``box_px`` ``(width, height)``; each side at least 1."""
    w, h = size_px
    scale = min(box_px[0] / w, box_px[1] / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def fit_never_enlarge(size_px: tuple[int, int], box_px: tuple[int, int], *, source, what: str, box_name: str, advice: str) -> tuple[int, int]:
    """:func:`fit_size` for a raster image that is only ever scaled down (the logo, the end card's
    cover): one smaller than its box keeps ``size_px``, as an enlarged raster is blurry, and a
    warning says so: ``"<source>: the <what> is WxH px, smaller than <box_name>: drawn at its own
    size, not enlarged (blurry); <advice>"``."""
    w, h = size_px
    if min(box_px[0] / w, box_px[1] / h) > 1.0:
        warnings.warn(f"{source}: the {what} is {w}x{h} px, smaller than {box_name}: drawn at its own size, not enlarged (blurry); {advice}", stacklevel=3)
        return w, h
    return fit_size(size_px, box_px)


def _load_logo(path: str, box: PixelBox):
    """The logo as a premultiplied ``RGBa`` Pillow image fitting ``box`` (aspect kept). PNG (or any
    raster) is resampled with Lanczos, never enlarged (:func:`fit_never_enlarge`); SVG is rasterized
    at the size it is drawn at (resvg)."""
    import io

    from PIL import Image, UnidentifiedImageError

    from mvgen.media.images import open_image

    box_px = (box.width, box.height)
    try:
        if Path(path).suffix.lower() in (".svg", ".svgz"):
            import resvg_py

            natural = Image.open(io.BytesIO(resvg_py.svg_to_bytes(svg_path=str(path))))
            w, h = fit_size(natural.size, box_px)
            image = Image.open(io.BytesIO(resvg_py.svg_to_bytes(svg_path=str(path), width=w, height=h)))
            return image.convert("RGBA").convert("RGBa")
        image = open_image(path).convert("RGBA").convert("RGBa")  # premultiplied, so Lanczos does not bleed hidden colours
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MvgenError(f"not a readable logo ({' '.join(str(exc).split())[:120]})", path) from None
    w, h = fit_never_enlarge(image.size, box_px, source=path, what="logo", box_name=f"its {box.width}x{box.height} px box", advice="use a larger file or an SVG")
    return image.resize((w, h), Image.LANCZOS)


@dataclasses.dataclass(frozen=True, eq=False)
class Layer:
    """A pre-rasterized overlay layer in the encoder's BT.709 Y'CbCr, cropped to where it draws.

    Top-left at (``x0``, ``y0``) of the frame (even); ``luma``, ``alpha``: ``(h, w)`` float32, Y' in
    [0, 1] (not premultiplied) and coverage; ``cb``, ``cr``, ``chroma_alpha``: ``(h/2, w/2)`` at the
    4:2:0 chroma resolution (Cb, Cr in [-0.5, 0.5]), from the 2x2 means of the premultiplied planes.
    """

    x0: int
    y0: int
    luma: torch.Tensor
    alpha: torch.Tensor
    cb: torch.Tensor
    cr: torch.Tensor
    chroma_alpha: torch.Tensor

    @property
    def box(self) -> PixelBox:
        h, w = self.luma.shape
        return PixelBox(self.x0, self.y0, self.x0 + w, self.y0 + h)

    def to(self, device: torch.device) -> "Layer":
        move = lambda t: t.to(device)  # noqa: E731
        return Layer(self.x0, self.y0, move(self.luma), move(self.alpha), move(self.cb), move(self.cr), move(self.chroma_alpha))

    @staticmethod
    def from_rgba(rgba: np.ndarray, x0: int, y0: int) -> "Layer | None":
        """A layer of premultiplied RGBA float ``(h, w, 4)`` whose top-left is at (``x0``, ``y0``), cropped
        to its visible pixels (coverage >= :data:`ALPHA_FLOOR`); None when nothing is visible."""
        from mvgen.media.pixels import rgb_to_ycbcr

        visible = rgba[..., 3] >= ALPHA_FLOOR
        if not visible.any():
            return None
        rows, cols = np.nonzero(visible.any(axis=1))[0], np.nonzero(visible.any(axis=0))[0]
        # the crop's frame coordinates, widened to even ones so chroma samples are whole
        fx0, fy0 = (x0 + cols[0]) // 2 * 2, (y0 + rows[0]) // 2 * 2
        fx1, fy1 = 2 * math.ceil((x0 + cols[-1] + 1) / 2), 2 * math.ceil((y0 + rows[-1] + 1) / 2)
        crop = np.zeros((fy1 - fy0, fx1 - fx0, 4), np.float32)
        sx0, sy0 = max(fx0, x0), max(fy0, y0)
        sx1, sy1 = min(fx1, x0 + rgba.shape[1]), min(fy1, y0 + rgba.shape[0])
        crop[sy0 - fy0 : sy1 - fy0, sx0 - fx0 : sx1 - fx0] = rgba[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
        crop[crop[..., 3] < ALPHA_FLOOR] = 0.0
        planes = torch.from_numpy(crop).permute(2, 0, 1)  # (4, h, w)
        luma, cb, cr = rgb_to_ycbcr(planes[:3])  # premultiplied in, premultiplied out (the transform is linear)
        alpha = planes[3]
        cb, cr, chroma_alpha = F.avg_pool2d(torch.stack([cb, cr, alpha])[None], 2)[0]
        chroma_alpha = torch.where(chroma_alpha >= ALPHA_FLOOR, chroma_alpha, 0.0)

        def straight(p: torch.Tensor, a: torch.Tensor, low: float, high: float) -> torch.Tensor:
            # clamped to the valid range (the division's rounding can pass it), so a gain of 1 changes nothing
            return torch.where(a > 0, p / a.clamp_min(1e-12), 0.0).clamp(low, high).contiguous()

        return Layer(int(fx0), int(fy0), straight(luma, alpha, 0.0, 1.0), alpha.contiguous(), straight(cb, chroma_alpha, -0.5, 0.5),
                     straight(cr, chroma_alpha, -0.5, 0.5), chroma_alpha.contiguous())


# --------------------------------------------------------------------------- compositing (per frame, on the device)


def _blend(plane: torch.Tensor, code: torch.Tensor, alpha: torch.Tensor) -> None:
    """``plane`` (uint8 ``(B, h, w)``, a view into the frames) <- ``alpha`` over it of ``code`` (8-bit
    code values, float), rounded to the nearest code; where ``alpha`` is 0 the bytes stay as they were."""
    f = plane.float()
    plane.copy_((f + alpha * (code - f) + 0.5).floor_().clamp_(0, 255).to(torch.uint8))


def _apply(layer: Layer, y: torch.Tensor, cb: torch.Tensor, cr: torch.Tensor, gain: torch.Tensor | None = None) -> None:
    """Composite ``layer`` onto frame planes ``y`` ``(B, H, W)``, ``cb``, ``cr`` ``(B, H/2, W/2)`` in place.

    ``gain`` ``(B, 1, 1)`` (the logo pulse, 1 unchanged) scales the layer's coverage and its colour
    (Y' and the colour difference), each clamped to its range: brighter and more opaque above 1."""
    from mvgen.media.pixels import CHROMA_OFFSET, CHROMA_SCALE, LUMA_OFFSET, LUMA_SCALE

    h, w = layer.luma.shape
    x0, y0 = layer.x0, layer.y0
    luma, alpha, cbl, crl, calpha = layer.luma, layer.alpha, layer.cb, layer.cr, layer.chroma_alpha
    if gain is not None:
        luma, alpha = (luma * gain).clamp(0, 1), (alpha * gain).clamp(0, 1)
        cbl, crl, calpha = (cbl * gain).clamp(-0.5, 0.5), (crl * gain).clamp(-0.5, 0.5), (calpha * gain).clamp(0, 1)
    _blend(y[:, y0 : y0 + h, x0 : x0 + w], LUMA_OFFSET + LUMA_SCALE * luma, alpha)
    cy, cx = y0 // 2, x0 // 2
    _blend(cb[:, cy : cy + h // 2, cx : cx + w // 2], CHROMA_OFFSET + CHROMA_SCALE * cbl, calpha)
    _blend(cr[:, cy : cy + h // 2, cx : cx + w // 2], CHROMA_OFFSET + CHROMA_SCALE * crl, calpha)


class Overlay:
    """The branding of one render, rasterized once: the text block, the logo and one layer per lyric line.

    :meth:`composite` draws it onto the renderer's yuv420p frames, on their device, per batch: the
    static text as it is, the logo scaled by each frame's pulse (``FrameSpec.logo``), and the lyric
    line shown at each frame's time. Nothing is rasterized again while rendering.
    """

    def __init__(self, layout: Layout, text: Layer | None, logo: Layer | None, lyrics: Sequence[tuple[LyricLine, Layer | None]]):
        self.layout = layout
        self.width, self.height = layout.width, layout.height
        self.text, self.logo = text, logo
        self.lyrics = tuple(lyrics)
        self._starts = [line.start_s for line, _ in self.lyrics]
        self._device: torch.device | None = None

    def layers(self) -> list[Layer]:
        """Every layer that can be drawn."""
        return [layer for layer in (self.text, self.logo, *(l for _, l in self.lyrics)) if layer is not None]

    def line_at(self, time_s: float) -> int | None:
        """Index in :attr:`lyrics` of the line shown at ``time_s`` (track seconds): the latest started
        (``start_s <= time_s``) that has not ended (``time_s < end_s``); None between lines."""
        for k in range(bisect.bisect_right(self._starts, time_s + TIME_TOLERANCE_S) - 1, -1, -1):
            if time_s < self.lyrics[k][0].end_s - TIME_TOLERANCE_S:
                return k
        return None

    def _on(self, device: torch.device) -> None:
        if self._device != device:
            move = lambda layer: None if layer is None else layer.to(device)  # noqa: E731
            self.text, self.logo = move(self.text), move(self.logo)
            self.lyrics = tuple((line, move(layer)) for line, layer in self.lyrics)
            self._device = device

    @torch.no_grad()
    def composite(self, frames: torch.Tensor, specs: Sequence[FrameSpec]) -> torch.Tensor:
        """Draw the overlay onto ``frames``, uint8 ``(B, H * W * 3 // 2)`` yuv420p (see
        :func:`mvgen.media.pixels.encode_pixels`), one per spec, in place; returns ``frames``. Bytes
        outside the layers' coverage are left exactly as they were."""
        B, H, W = frames.shape[0], self.height, self.width
        if frames.ndim != 2 or frames.shape[1] != H * W * 3 // 2 or len(specs) != B:
            raise ValueError(f"frames must be yuv420p of shape ({len(specs)}, {H * W * 3 // 2}) for {len(specs)} specs, got {tuple(frames.shape)}")
        self._on(frames.device)
        y = frames[:, : H * W].view(B, H, W)
        cb = frames[:, H * W : H * W * 5 // 4].view(B, H // 2, W // 2)
        cr = frames[:, H * W * 5 // 4 :].view(B, H // 2, W // 2)
        if self.text is not None:
            _apply(self.text, y, cb, cr)
        if self.logo is not None:
            pulse = [max(0.0, 1.0 + spec.logo) for spec in specs]
            gain = None if all(g == 1.0 for g in pulse) else torch.tensor(pulse, dtype=torch.float32, device=frames.device).view(B, 1, 1)
            _apply(self.logo, y, cb, cr, gain)
        if self.lyrics:
            for i, spec in enumerate(specs):
                k = self.line_at(spec.time_s)
                if k is not None and self.lyrics[k][1] is not None:
                    _apply(self.lyrics[k][1], y[i : i + 1], cb[i : i + 1], cr[i : i + 1])
        return frames


#: Slack (s) in comparing frame times with lyric times: frame times are sums of floats.
TIME_TOLERANCE_S = 1e-6


@dataclasses.dataclass(frozen=True)
class OverlayPlan:
    """A branding overlay checked and laid out, nothing drawn yet (:func:`plan_overlay`): the frame's
    :class:`Layout`, the logo file (None: no logo) and each lyric line with its text fitted to the lyrics band."""

    layout: Layout
    logo: str | None
    lyrics: tuple[tuple[LyricLine, FittedText], ...]


def plan_overlay(branding: Branding, width: int, height: int, aspect: str) -> OverlayPlan | None:
    """Check ``branding`` for a ``width`` x ``height`` frame of ``aspect`` without drawing anything: its
    files read (:meth:`Branding.check`), the font loaded, the text block laid out (:func:`plan_layout`)
    and every lyric line fitted (:func:`fit_text`). None when it draws nothing over the video (no text,
    logo or lyrics, or ``branding.overlay`` off). Raises :class:`MvgenError` ("<file>: <problem>") for a
    missing or unreadable file and for text that cannot fit. Batch manifests check every format's
    branding with it; a render rasterizes the plan once (:func:`build_overlay`).
    """
    from mvgen.brand.lyrics import load_lyrics

    branding.check()
    lines = load_lyrics(branding.lyrics) if branding.lyrics is not None else ()
    if not branding.overlay or not (branding.has_text or branding.logo or lines):
        return None
    layout = plan_layout(branding, width, height, aspect)
    short = min(width, height)
    band = layout.lyrics_band
    lyrics = []
    for line in lines:
        fitted = fit_text(line.text, str(resolve_font(branding.font)), round(LYRICS_SIZE * short), shrink_floor_px(LYRICS_SIZE * short, layout.min_text_px), band.width)
        if fitted.height_px > band.height:
            raise MvgenError(f"the lyric line at {line.start_s:.2f} s ({line.text[:30]!r}) does not fit in the safe zone of a {width}x{height} frame even wrapped; shorten it", branding.lyrics)
        lyrics.append((line, fitted))
    return OverlayPlan(layout, branding.logo, tuple(lyrics))


def build_overlay(branding: Branding, width: int, height: int, aspect: str) -> Overlay | None:
    """Check and lay out ``branding`` for a ``width`` x ``height`` frame of ``aspect`` (:func:`plan_overlay`),
    then rasterize it once (Pillow, resvg for SVG logos). None when it draws nothing over the video.
    Raises :class:`MvgenError` as :func:`plan_overlay` does, and for a logo that cannot be drawn.
    """
    plan = plan_overlay(branding, width, height, aspect)
    if plan is None:
        return None
    layout = plan.layout
    short = min(width, height)
    canvas = layout.safe  # everything is drawn inside the safe zone, so nothing can land outside it
    text = Layer.from_rgba(*_text_rgba(canvas, layout.texts, short=short)) if layout.texts else None
    logo = None
    if plan.logo is not None:
        image = _load_logo(plan.logo, layout.logo_box)
        rgba = np.asarray(image, np.float32) / 255.0 * LOGO_OPACITY  # premultiplied: every channel scales
        logo = Layer.from_rgba(rgba, layout.logo_box.x1 - image.width, layout.logo_box.y0)
    band = layout.lyrics_band
    lyric_layers = [(line, Layer.from_rgba(*_text_rgba(canvas, [(band.x0, band.y1 - fitted.height_px, fitted)], align="centre", short=short)))
                    for line, fitted in plan.lyrics]
    return Overlay(layout, text, logo, lyric_layers)


def write_sidecars(branding: Branding, video: str | os.PathLike, window: tuple[float, float]) -> tuple[Path, Path] | None:
    """For a render with lyrics: ``<video>.srt`` and ``<video>.vtt`` beside ``video``, timed from the
    video's start (``window`` = the track's (start_s, end_s) it shows); None without lyrics."""
    from mvgen.brand.lyrics import load_lyrics, write_captions

    if branding.lyrics is None:
        return None
    return write_captions(load_lyrics(branding.lyrics), video, *window)
