"""Pictures given as input (cover art, logos): opened with a size limit, decoded whole, every problem one line.

Pillow guards against decompression bombs on its own, but with a warning up to 89 million pixels
and an exception past 179 million that names neither the file nor its size. :func:`open_image`
checks the file first (:func:`mvgen.errors.check_input_file`), then the picture's size from its header
against :data:`MAX_IMAGE_PIXELS` before anything is decoded, then decodes it all, so a truncated or
corrupt file fails here, up front, and not minutes later when the end card is drawn.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from mvgen.errors import MvgenError, check_input_file

#: The most pixels an input picture may have: 8000x8000. Release artwork is delivered at 3000x3000
#: to 6000x6000 (36 MP) and logos are smaller; 64 MP decodes to 256 MB of RGBA, a bound on memory
#: that every real cover passes, and far under what a 20000x20000 "bomb" (400 MP, 1.6 GB) would take.
MAX_IMAGE_PIXELS = 8000 * 8000


def image_size_problem(width_px: int, height_px: int) -> str | None:
    """Why a ``width_px`` x ``height_px`` picture is refused (over :data:`MAX_IMAGE_PIXELS`), or None."""
    if width_px * height_px <= MAX_IMAGE_PIXELS:
        return None
    return f"the picture is {width_px}x{height_px} = {width_px * height_px:,} pixels, over the limit of {MAX_IMAGE_PIXELS:,} (8000x8000)"


def open_image(path: str | os.PathLike):
    """The picture at ``path`` as a Pillow image, decoded whole (the file is closed); raises
    :class:`MvgenError` ``"<path>: <problem>"`` for a missing, empty, unreadable, oversized
    (:data:`MAX_IMAGE_PIXELS`), truncated or corrupt file."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    check_input_file(path, "image file")
    try:
        with warnings.catch_warnings():
            # past 89 MP Pillow warns, past 179 MP it raises: our own limit, lower, decides first where it can
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                problem = image_size_problem(*image.size)
                if problem is not None:
                    raise MvgenError(f"{problem}; scale it down", path)
                image.load()
                loaded = image.copy()  # keeps info (EXIF orientation, transparency); the file can close
                loaded.format = image.format
                return loaded
    except Image.DecompressionBombError as exc:
        # Pillow refused it before telling its size; its message holds the pixel count
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise MvgenError(f"the picture is {size}, over the limit of {MAX_IMAGE_PIXELS:,} (8000x8000); scale it down", path) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MvgenError(f"not a readable image ({' '.join(str(exc).split())[:120]})", path) from None

