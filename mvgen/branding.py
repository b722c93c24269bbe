"""Branding of a render: who, what, which label, when; logo, cover art, font, end card, lyrics.

:class:`Branding` is the options model (``mvgen render --artist ... --logo ...``, and per track in
batch manifests). :meth:`Branding.check` reads every file it names before anything renders, so a
missing or unreadable logo, cover, font or lyrics file is one clear error up front.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mvgen.errors import MvgenError

#: Default length of the end card (seconds) at the end of every output except Spotify Canvas.
END_CARD_S = 3.0
#: Default call to action on the end card.
CALL_TO_ACTION = "Out now"


class Branding(BaseModel):
    """What the video carries of the release. Every field is optional; an empty Branding draws nothing.

    ``logo``: PNG with alpha (or SVG); ``cover``: the release artwork (any image Pillow reads);
    ``font``: a .ttf/.otf file (None: :func:`mvgen.fonts.default_font`); ``lyrics``: an .lrc or .srt file.
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

    @property
    def has_text(self) -> bool:
        return any((self.artist, self.title, self.label, self.release_date))

    def check(self) -> None:
        """Raise :class:`MvgenError` ("<file>: <problem>") for any named file that is missing or unreadable."""
        from mvgen.fonts import resolve_font

        if self.font is not None:
            resolve_font(self.font)
        for path in (self.cover, self.logo):
            if path is not None:
                _check_image(Path(path))
        if self.lyrics is not None:
            lyrics = Path(self.lyrics)
            if not lyrics.is_file():
                raise MvgenError("lyrics file not found", lyrics)
        if self.palette_from_cover and self.cover is None:
            raise MvgenError("palette_from_cover needs a cover image (--cover)")


def _check_image(path: Path) -> None:
    """Check that ``path`` is an image Pillow can decode (SVG logos are checked by their own loader)."""
    if not path.is_file():
        raise MvgenError("image file not found", path)
    if path.suffix.lower() == ".svg":
        return
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise MvgenError(f"not a readable image ({exc})", os.fspath(path)) from None
