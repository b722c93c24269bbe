"""The end card: the release's cover, artist, title and a call to action over the video's last seconds.

Composed with moviepy (layering, text and a fade on a short clip, the job it is made for) and
joined to the stream without re-encoding the rest: :func:`mvgen.pipeline.render_video` draws the
frames before the card in chunks as always, and :meth:`EndCard.write` encodes the card's frames as
one more chunk with :class:`~mvgen.media.assemble.ChunkWriter` (the chunks' own encoder settings, which
the stream-copy concatenation needs). The audio is untouched: the mux adds it for the whole window,
so the video still lasts exactly as long as the audio.

What it shows (a designer's choices, all sizes relative to the frame):

- the background: the cover art filling the frame, blurred and darkened (without a cover: the
  video's frame under the card, blurred and darkened), so the card wears the release's colours;
- the cover, centred and sharp: scaled down with a Lanczos filter, never up (a cover smaller than
  its slot is drawn at its own size, with a warning: :func:`mvgen.brand.branding.fit_never_enlarge`);
- artist, title and the call to action (the cover's most colourful colour, lifted to a readable
  lightness), in the default font or ``--font``; fitted to the column by the overlay's own fitter
  (:func:`mvgen.brand.branding.fit_text`: shrunk, then wrapped, a word wider than the column broken
  between letters, never cut, never below :func:`mvgen.brand.branding.min_text_px`), then drawn by
  moviepy; when the texts are too tall for the card they all shrink, and then the cover gives way;
- everything inside the overlay's safe zone (:func:`mvgen.brand.branding.frame_safe_zone`): on 9:16
  outside the platforms' buttons and captions, elsewhere the title-safe area;
- faded in from the running video over :data:`FADE_S` (moviepy's ``CrossFadeIn``): the video keeps
  moving under the fade.

When there is no card (documented behaviour, see :func:`card_frames`): ``end_card_s`` 0, a branding
with nothing to show (no cover, no artist, no title: the video is the plain video as before), a
window too short for a readable card, or a render whose settings turn the card off
(``RenderSettings.end_card=False``, which the Spotify Canvas preset sets: a looping canvas has no end).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from mvgen.brand.branding import LINE_GAP, Branding, FittedText, PixelBox, fit_never_enlarge, fit_text, frame_safe_zone, min_text_px, shrink_floor_px
from mvgen.errors import MvgenError
from mvgen.media.images import open_image
from mvgen.media.pixels import PIX_FMT, encode_pixels, yuv420p_to_rgb

#: The card lasts at most this fraction of the video: a 15 s clip gets the default 3 s, a 10 s clip 2 s.
MAX_CARD_FRACTION = 0.2
#: Shortest card shown: the fade plus half a second to read it; a shorter one is dropped (a video under 5 s has none).
MIN_CARD_S = 1.0
#: Seconds over which the card fades in over the running video.
FADE_S = 0.5
#: A safe zone this much wider than tall puts the cover left of the text; otherwise the text goes below it.
SIDE_BY_SIDE_RATIO = 1.25
#: Cover slot, as fractions of the safe zone: stacked (width, height) and side by side (width, height).
COVER_SLOT_STACKED = (0.8, 0.5)
COVER_SLOT_SIDE = (0.45, 0.8)
#: Text sizes (pixels, as fractions of the frame's short side) before any shrinking to fit.
ARTIST_SIZE = 0.07
TITLE_SIZE = 0.055
CALL_TO_ACTION_SIZE = 0.045
#: Without a cover the texts are the card: this much larger.
NO_COVER_TEXT_SCALE = 1.5
#: When the texts are too tall for the card, all of them shrink by this factor a step (down to the readable minimum).
BLOCK_SHRINK_STEP = 0.9
#: Space between the cover and the texts (and around the block), as a fraction of the frame's short side.
GAP = 0.04
#: Space above a text, as a fraction of its size: the title sits close under the artist, the call to action apart.
TEXT_GAP = 0.35
CALL_TO_ACTION_GAP = 0.9
#: Background: Gaussian blur radius (fraction of the frame's long side) and the brightness kept (0-1).
BLUR_RADIUS = 0.03
BACKGROUND_GAIN = 0.35
#: Colours of the artist and title; the call to action takes the cover's accent (:func:`accent_colour`).
ARTIST_COLOUR = (255, 255, 255)
TITLE_COLOUR = (222, 222, 228)
#: Lightness (L*, 0-100) the call to action's colour is lifted to at least, for contrast on the dark background.
ACCENT_MIN_L = 75.0


def has_card_content(branding: Branding) -> bool:
    """Whether the branding has something for an end card: a cover, an artist or a title."""
    return any((branding.cover, branding.artist, branding.title))


def card_frames(branding: Branding, window_s: float, fps: float, enabled: bool = True) -> int:
    """Frames of end card at the end of a ``window_s`` video at ``fps``; 0: no card.

    Its length is ``min(branding.end_card_s, MAX_CARD_FRACTION * window_s)``; there is none when
    ``enabled`` is False (Spotify Canvas), when the branding has nothing to show
    (:func:`has_card_content`), or when that length is under :data:`MIN_CARD_S`.
    """
    card_s = min(branding.end_card_s, MAX_CARD_FRACTION * window_s)
    if not enabled or not has_card_content(branding) or card_s < MIN_CARD_S:
        return 0
    return int(round(card_s * fps))


# --------------------------------------------------------------------------- text


def _text_clip(fitted: FittedText, font_path: Path, colour: tuple[int, int, int], align: str):
    """A moviepy ``TextClip`` of ``fitted``'s lines and the box of its ink inside the clip.

    moviepy 2 sizes a label by the text's ink box but draws from the font's ascent, so a tight clip
    cuts descenders (and side bearings); the margin is grown until no ink touches the clip's edge.
    """
    from moviepy import TextClip

    margin = max(2, math.ceil(0.35 * fitted.size_px))
    for _ in range(4):
        clip = TextClip(
            font=str(font_path), text=fitted.multiline, font_size=fitted.size_px, color=colour, margin=(margin, margin),
            text_align=align, interline=max(1, round(LINE_GAP * fitted.size_px)), transparent=True,
        )  # fmt: skip
        alpha = clip.mask.get_frame(0)
        rows, cols = np.nonzero(alpha.max(axis=1) > 0)[0], np.nonzero(alpha.max(axis=0) > 0)[0]
        if len(rows) and rows[0] > 0 and cols[0] > 0 and rows[-1] < alpha.shape[0] - 1 and cols[-1] < alpha.shape[1] - 1:
            return clip, PixelBox(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
        margin *= 2
    raise MvgenError(f"cannot draw {fitted.text!r} without cutting it", font_path)


def accent_colour(cover: str | os.PathLike | None) -> tuple[int, int, int]:
    """The call to action's colour: the cover palette's most colourful colour (largest chroma) at a
    lightness of at least :data:`ACCENT_MIN_L`; white without a cover."""
    if cover is None:
        return (255, 255, 255)
    from mvgen.style.colors import lab_to_srgb
    from mvgen.style.cover import cover_palette

    lab = cover_palette(cover).lab
    best = lab[np.argmax(np.hypot(lab[:, 1], lab[:, 2]))].copy()
    best[0] = max(best[0], ACCENT_MIN_L)
    return tuple(int(round(c * 255)) for c in lab_to_srgb(best))  # type: ignore[return-value]


# --------------------------------------------------------------------------- layout


@dataclasses.dataclass(frozen=True)
class PlacedText:
    """One text of the card: its role (``artist``, ``title``, ``call_to_action``), fitted text, colour,
    and where its ink lands in the frame (``ink``)."""

    role: str
    fitted: FittedText
    colour: tuple[int, int, int]
    ink: PixelBox


@dataclasses.dataclass(frozen=True)
class CardLayout:
    """Where everything of the card goes in a ``width_px`` x ``height_px`` frame (all inside ``safe``)."""

    width_px: int
    height_px: int
    safe: PixelBox
    cover: PixelBox | None
    texts: tuple[PlacedText, ...]


class EndCard:
    """The end card of one render: built (cover read, texts fitted, layout made) before anything
    renders, so a bad cover or font fails first; :meth:`write` composes and encodes its frames.

    ``n_frames``: the card's length in frames at ``fps`` (see :func:`card_frames`); ``aspect``: the
    render's aspect name when known (its safe zone), else the one nearest the frame's ratio
    (:func:`mvgen.brand.branding.frame_safe_zone`).
    """

    def __init__(self, branding: Branding, width_px: int, height_px: int, fps: float, n_frames: int, aspect: str | None = None):
        from PIL import ImageOps

        from mvgen.brand.fonts import resolve_font

        if n_frames < 1:
            raise ValueError(f"n_frames must be >= 1, got {n_frames}")
        self.branding, self.width, self.height, self.fps, self.n_frames = branding, width_px, height_px, fps, n_frames
        self.aspect = aspect
        self.font = resolve_font(branding.font)
        self.cover_image = None
        if branding.cover is not None:
            # upright as its EXIF orientation says (a photographed or exported JPEG may be stored turned)
            self.cover_image = ImageOps.exif_transpose(open_image(branding.cover)).convert("RGB")
        self.layout, self._clips = self._lay_out()

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    @property
    def fade_frames(self) -> int:
        """Frames during which the video shows through (the fade): those before :data:`FADE_S`."""
        return min(self.n_frames, math.ceil(FADE_S * self.fps - 1e-9))

    def _lay_out(self):
        W, H = self.width, self.height
        safe = frame_safe_zone(W, H, self.aspect)
        short = min(W, H)
        min_px = min_text_px(short)
        gap = max(1, round(GAP * short))
        side = self.cover_image is not None and safe.width >= SIDE_BY_SIDE_RATIO * safe.height
        cover_wh = (0, 0)
        if self.cover_image is not None:
            fw, fh = COVER_SLOT_SIDE if side else COVER_SLOT_STACKED
            slot_px = int(min(fw * safe.width, fh * safe.height))
            cover_wh = fit_never_enlarge(self.cover_image.size, (slot_px, slot_px), source=self.branding.cover, what="cover",
                                         box_name=f"the end card's {slot_px} px slot", advice=f"a cover of {slot_px} px or more fills it")
        column_w = safe.width - cover_wh[0] - gap if side else safe.width
        available_h = safe.height if side else safe.height - (cover_wh[1] + gap if cover_wh[1] else 0)
        accent = accent_colour(self.branding.cover)
        wanted = [(role, text, rel, colour) for role, text, rel, colour in (
            ("artist", self.branding.artist, ARTIST_SIZE, ARTIST_COLOUR),
            ("title", self.branding.title, TITLE_SIZE, TITLE_COLOUR),
            ("call_to_action", self.branding.call_to_action, CALL_TO_ACTION_SIZE, accent),
        ) if text and text.strip()]  # fmt: skip
        align = "left" if side else "center"
        shrink = 1.0 if self.cover_image is not None else NO_COVER_TEXT_SCALE
        while True:
            made = []
            for role, text, rel, colour in wanted:
                size = rel * short * shrink
                # the overlay's policy: shrunk to its floor, then wrapped; no outline is drawn here
                fitted = fit_text(" ".join(text.split()), str(self.font), round(size), shrink_floor_px(size, min_px), column_w, outline=False)
                clip, ink = _text_clip(fitted, self.font, colour, align)
                made.append((role, fitted, colour, clip, ink))
            gaps = [round((CALL_TO_ACTION_GAP if role == "call_to_action" else TEXT_GAP) * fitted.size_px) for role, fitted, *_ in made[1:]]
            text_h = sum(ink.height for *_, ink in made) + sum(gaps)
            if text_h <= available_h or all(round(rel * short * shrink) <= min_px for _, _, rel, _ in wanted):
                break
            shrink *= BLOCK_SHRINK_STEP
        if text_h > available_h and cover_wh[1]:  # still too tall: the cover gives way
            lose = text_h - available_h
            s = max(0.1, 1.0 - lose / cover_wh[1])
            cover_wh = (max(1, int(cover_wh[0] * s)), max(1, int(cover_wh[1] * s)))
        text_w = max((ink.width for *_, ink in made), default=0)

        # positions: the block (cover and texts) centred in the safe zone
        cover_box = None
        if side:
            block_w = cover_wh[0] + gap + text_w
            x = safe.x0 + (safe.width - block_w) // 2
            cover_box = PixelBox(x, safe.y0 + (safe.height - cover_wh[1]) // 2, x + cover_wh[0], safe.y0 + (safe.height - cover_wh[1]) // 2 + cover_wh[1])
            text_x, y = x + cover_wh[0] + gap, safe.y0 + (safe.height - text_h) // 2
        else:
            block_h = (cover_wh[1] + gap if cover_wh[1] else 0) + text_h
            y = safe.y0 + (safe.height - block_h) // 2
            if cover_wh[1]:
                cx = safe.x0 + (safe.width - cover_wh[0]) // 2
                cover_box = PixelBox(cx, y, cx + cover_wh[0], y + cover_wh[1])
                y += cover_wh[1] + gap
            text_x = None
        placed, clips = [], []
        for i, (role, fitted, colour, clip, ink) in enumerate(made):
            if i:
                y += gaps[i - 1]
            x = text_x if text_x is not None else safe.x0 + (safe.width - ink.width) // 2
            box = PixelBox(x, y, x + ink.width, y + ink.height)
            placed.append(PlacedText(role, fitted, colour, box))
            clips.append(clip.with_position((box.x0 - ink.x0, box.y0 - ink.y0)))
            y += ink.height
        layout = CardLayout(W, H, safe, cover_box, tuple(placed))
        if not all(safe.contains(b) for b in [*(t.ink for t in placed), *([cover_box] if cover_box else [])]):
            raise MvgenError(f"the end card does not fit a {W}x{H} frame: shorten the artist, title or call to action")
        return layout, clips

    def _background(self, underlay_rgb: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` uint8: the cover filling the frame (else ``underlay_rgb``, a frame of the video), blurred and darkened."""
        from PIL import Image, ImageFilter, ImageOps

        W, H = self.width, self.height
        source = self.cover_image if self.cover_image is not None else Image.fromarray(underlay_rgb)
        filled = ImageOps.fit(source, (W, H), method=Image.Resampling.BILINEAR)
        blurred = filled.filter(ImageFilter.GaussianBlur(BLUR_RADIUS * max(W, H)))
        return (np.asarray(blurred, dtype=np.float32) * BACKGROUND_GAIN + 0.5).astype(np.uint8)

    def _cover_array(self) -> np.ndarray:
        from PIL import Image

        box = self.layout.cover
        image = self.cover_image
        if image.size != (box.width, box.height):
            image = image.resize((box.width, box.height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        return np.asarray(image)

    def still(self, underlay_rgb: np.ndarray | None = None) -> np.ndarray:
        """The card fully faded in, ``(H, W, 3)`` uint8 (``underlay_rgb``: the video frame under it, used as the background without a cover)."""
        from moviepy import CompositeVideoClip, ImageClip

        under = np.zeros((self.height, self.width, 3), np.uint8) if underlay_rgb is None else underlay_rgb
        layers = [ImageClip(self._background(under))]
        if self.layout.cover is not None:
            layers.append(ImageClip(self._cover_array()).with_position((self.layout.cover.x0, self.layout.cover.y0)))
        layers += self._clips
        card = CompositeVideoClip([layer.with_duration(self.duration_s) for layer in layers], size=(self.width, self.height), use_bgclip=True)
        return np.asarray(card.get_frame(0), dtype=np.uint8)

    def iter_frames(self, underlay_rgb: Sequence[np.ndarray]) -> Iterator[np.ndarray]:
        """The card's ``n_frames`` RGB frames, each ``(H, W, 3)`` uint8, faded in over ``underlay_rgb``
        (``fade_frames`` frames ``(H, W, 3)`` uint8: the video's frames of the card's first :data:`FADE_S`;
        an array or any sequence, e.g. one that converts each frame when it is asked for).

        One frame at a time (a card of 1080p frames would not fit in memory whole). After the fade
        the card covers the video, so those frames are the still card itself, not composed again.
        """
        from moviepy import CompositeVideoClip, ImageClip, VideoClip, vfx

        if len(underlay_rgb) != self.fade_frames:
            raise ValueError(f"underlay_rgb must hold fade_frames={self.fade_frames} frames, got {len(underlay_rgb)}")

        def video_frame(i: int) -> np.ndarray:
            frame = underlay_rgb[min(i, len(underlay_rgb) - 1)]
            if frame.dtype != np.uint8 or frame.shape != (self.height, self.width, 3):
                raise ValueError(f"underlay_rgb frames must be uint8 of shape ({self.height}, {self.width}, 3), got {frame.dtype} {frame.shape}")
            return frame

        fps = self.fps
        # the card is still: composed once, then faded in over the moving video
        still = self.still(video_frame(self.fade_frames - 1))
        card = ImageClip(still, duration=self.duration_s).with_effects([vfx.CrossFadeIn(FADE_S)])
        video = VideoClip(lambda t: video_frame(int(round(t * fps))), duration=self.duration_s)
        clip = CompositeVideoClip([video, card], size=(self.width, self.height), use_bgclip=True)
        for i in range(self.n_frames):
            yield np.asarray(clip.get_frame(i / fps), dtype=np.uint8) if i < self.fade_frames else still

    def write(self, path: str | os.PathLike, underlay_yuv: np.ndarray, on_frames: Callable[[int], None] | None = None, encoding=None) -> Path:
        """Compose the card over ``underlay_yuv`` (the renderer's ``yuv420p`` frames of the card's first
        :data:`FADE_S`, ``(fade_frames, W * H * 3 // 2)`` uint8) and encode it as one chunk at ``path``
        with the chunks' encoder settings (``encoding``: the render's :class:`~mvgen.media.assemble.VideoEncoding`;
        None: the default); ``on_frames(n)`` after each encoded batch. Returns ``path``."""
        import torch

        from mvgen.media.assemble import ChunkWriter

        def encode(frame: np.ndarray) -> np.ndarray:
            # the renderer's own RGB -> Y'CbCr conversion, so the card's pixels are encoded as the body's
            rgb = torch.from_numpy(frame[None]).permute(3, 0, 1, 2).float() / 255.0
            return encode_pixels(rgb, PIX_FMT, self.width, self.height).numpy()

        still = None  # after the fade every frame is the still card: converted once
        with ChunkWriter(path, self.width, self.height, self.fps, pix_fmt=PIX_FMT, encoding=encoding) as writer:
            for i, frame in enumerate(self.iter_frames(_RgbFrames(underlay_yuv, self.width, self.height))):
                if i < self.fade_frames:
                    writer.write(encode(frame))
                else:
                    still = encode(frame) if still is None else still
                    writer.write(still)
                if on_frames is not None:
                    on_frames(1)
        return Path(path)


class _RgbFrames(Sequence):
    """``yuv420p`` frames seen as RGB frames, each converted when asked for (:func:`yuv420p_to_rgb`)."""

    def __init__(self, planes: np.ndarray, width: int, height: int):
        self.planes, self.width, self.height = planes, width, height

    def __len__(self) -> int:
        return len(self.planes)

    def __getitem__(self, i):
        return yuv420p_to_rgb(self.planes[i : i + 1], self.width, self.height)[0]
