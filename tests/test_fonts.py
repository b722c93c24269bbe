"""The default font and font-file checks (mvgen.brand.fonts)."""

import pytest

from mvgen.errors import MvgenError
from mvgen.brand.fonts import default_font, load_font, resolve_font


def test_default_font_draws_text():
    from PIL import Image, ImageDraw

    font = load_font(None, 48)
    image = Image.new("L", (400, 80))
    ImageDraw.Draw(image).text((10, 10), "Out now", font=font, fill=255)
    assert default_font().is_file()
    assert sum(image.getdata()) > 255 * 200  # a few hundred lit pixels: real glyphs were drawn


@pytest.mark.parametrize("content, problem", [(None, "font file not found"), (b"not a font", "not a readable font")])
def test_bad_font_is_one_clear_error(tmp_path, content, problem):
    path = tmp_path / "brand.ttf"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MvgenError, match=problem) as info:
        resolve_font(path)
    assert str(info.value).startswith(str(path))
