"""Fonts for the text mvgen draws (branding, lyrics, end cards).

The default is DejaVu Sans Bold as shipped inside matplotlib (already a dependency, for the
timeline PNG), so every install has it with no system fonts: its licence (the Bitstream Vera
licence, with the DejaVu changes in the public domain) allows bundling and embedding in
rendered video; see ``matplotlib/mpl-data/fonts/ttf/LICENSE_DEJAVU``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from mvgen.errors import MvgenError, check_input_file

#: The default font's file name inside matplotlib's font folder.
DEFAULT_FONT_FILE = "DejaVuSans-Bold.ttf"


def default_font() -> Path:
    """Path of the default font (DejaVu Sans Bold from matplotlib's data folder)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / DEFAULT_FONT_FILE


def resolve_font(font: str | os.PathLike | None = None) -> Path:
    """The font file to draw with: ``font`` (a .ttf/.otf path) checked to be loadable, or :func:`default_font`.

    Raises :class:`MvgenError` naming the file when it is missing or not a font Pillow can read,
    so a bad ``--font`` fails before anything renders.
    """
    path = default_font() if font is None else Path(font)
    _check_font(str(path))
    return path


@functools.lru_cache(maxsize=16)
def _check_font(path: str) -> None:
    from PIL import ImageFont

    check_input_file(path, "font file")
    try:
        ImageFont.truetype(path, 12)
    except OSError as exc:
        raise MvgenError(f"not a readable font ({exc})", path) from None


def load_font(font: str | os.PathLike | None, size_px: int):
    """A Pillow ``FreeTypeFont`` of ``font`` (see :func:`resolve_font`) at ``size_px`` pixels."""
    from PIL import ImageFont

    return ImageFont.truetype(str(resolve_font(font)), max(1, int(size_px)))
