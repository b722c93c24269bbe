"""Colours from the cover: the palette of known images, the Lab conversion, the tinted styles, and the
hues of frames decoded from a tinted render against an untinted one."""

import numpy as np
import pytest
from PIL import Image

from mvgen.style.blend import StyleTable
from mvgen.brand.branding import Branding
from mvgen.style.colors import lab_to_srgb, linear_to_srgb, srgb_to_lab
from mvgen.style.cover import MIN_PALETTE_L, cover_palette, tint_table
from mvgen.errors import MvgenError
from mvgen.style.styles import load_styles

#: Five flat blocks of known colours, widest first (so the palette order, by share, is known).
BLOCKS = [((230, 40, 40), 40), ((240, 200, 30), 34), ((40, 170, 60), 28), ((40, 70, 220), 22), ((200, 40, 200), 16)]


def _blocks_cover(path, scale=1):
    width = sum(w for _, w in BLOCKS)
    img = np.zeros((60, width, 3), np.uint8)
    x = 0
    for rgb, w in BLOCKS:
        img[:, x : x + w] = rgb
        x += w
    Image.fromarray(np.kron(img, np.ones((scale, scale, 1), np.uint8))).save(path)
    return path


def _delta_e(a, b):
    return float(np.linalg.norm(srgb_to_lab(np.asarray(a, float)) - srgb_to_lab(np.asarray(b, float))))


def test_lab_matches_reference_values_and_round_trips():
    # CIE reference values of sRGB white, black and the red primary (D65)
    np.testing.assert_allclose(srgb_to_lab(np.array([1.0, 1.0, 1.0])), [100.0, 0.0, 0.0], atol=1e-3)
    np.testing.assert_allclose(srgb_to_lab(np.array([0.0, 0.0, 0.0])), [0.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(srgb_to_lab(np.array([1.0, 0.0, 0.0])), [53.24, 80.09, 67.20], atol=0.02)
    rgb = np.random.default_rng(0).random((500, 3))
    np.testing.assert_allclose(lab_to_srgb(srgb_to_lab(rgb)), rgb, atol=1e-9)


@pytest.mark.parametrize("scale", [1, 30])  # 150x60 as it is; 4500x1800, reduced before clustering
def test_palette_of_five_flat_blocks(tmp_path, scale):
    palette = cover_palette(_blocks_cover(tmp_path / "blocks.png", scale))
    assert len(palette.colours) == 5
    for (rgb, _), found in zip(BLOCKS, palette.colours):  # largest block first
        assert _delta_e(np.array(rgb) / 255, found) < 1.0, (rgb, palette.hex())
    assert palette.shares == pytest.approx([w / 140 for _, w in BLOCKS], abs=0.02)
    assert cover_palette(tmp_path / "blocks.png") == palette  # seeded: the same every time


def test_palette_of_a_photo_like_cover_finds_its_regions(tmp_path):
    """Two noisy regions (a noisy orange sky over a noisy blue sea): k-means finds both colours among its five."""
    rng = np.random.default_rng(1)
    img = np.empty((200, 200, 3))
    img[:120] = (235, 120, 40)
    img[120:] = (30, 60, 150)
    img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "photo.jpg", quality=90)
    palette = cover_palette(tmp_path / "photo.jpg")
    for rgb in ((235, 120, 40), (30, 60, 150)):
        assert min(_delta_e(np.array(rgb) / 255, c) for c in palette.colours) < 8.0, palette.hex()


def test_tiny_greyscale_transparent_and_unreadable_covers(tmp_path):
    Image.new("RGB", (1, 1), (10, 200, 90)).save(tmp_path / "one.png")
    one = cover_palette(tmp_path / "one.png")
    assert all(_delta_e(np.array([10, 200, 90]) / 255, c) < 0.5 for c in one.colours)  # one colour, repeated
    assert one.shares == (1.0, 0.0, 0.0, 0.0, 0.0)

    Image.fromarray(np.tile(np.arange(0, 256, dtype=np.uint8), (20, 1))).save(tmp_path / "grey.png")
    grey = cover_palette(tmp_path / "grey.png")
    lab = grey.lab
    assert np.all(np.hypot(lab[:, 1], lab[:, 2]) < 0.5) and len(set(np.round(lab[:, 0]))) == 5  # five greys

    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[10:30, 10:30] = (250, 0, 0, 255)  # a red square on transparent (black) padding
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    assert all(_delta_e([250 / 255, 0, 0], c) < 0.5 for c in cover_palette(tmp_path / "alpha.png").colours)

    Image.fromarray(np.zeros((4, 4, 4), np.uint8)).save(tmp_path / "clear.png")
    with pytest.raises(MvgenError, match="clear.png: the cover image is fully transparent"):
        cover_palette(tmp_path / "clear.png")
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(MvgenError, match="notes.png: not a readable image"):
        cover_palette(tmp_path / "notes.png")
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        cover_palette(tmp_path / "one.png", k=0)


def test_tint_takes_the_cover_colours_and_keeps_the_rest(tmp_path):
    table = StyleTable.from_styles(load_styles())
    palette = cover_palette(_blocks_cover(tmp_path / "blocks.png"))
    tinted = tint_table(table, palette)
    cover_lab = palette.lab
    cover_lab[:, 0] = np.maximum(cover_lab[:, 0], MIN_PALETTE_L)
    for k, label in enumerate(table.labels):
        style_lab = srgb_to_lab(linear_to_srgb(table.palette_linear[k]))
        new_lab = srgb_to_lab(linear_to_srgb(tinted.palette_linear[k]))
        # every colour is one of the cover's (gamut clipping aside: < 3 Delta E)
        assert all(np.min(np.linalg.norm(cover_lab - c, axis=1)) < 3.0 for c in new_lab), label
        assert len({tuple(np.round(c)) for c in new_lab}) == 5, label  # all five cover colours used
        # lightness order kept: a slot lighter than another in the style is lighter in the tint too
        lighter = np.subtract.outer(style_lab[:, 0], style_lab[:, 0]) > 1e-6
        assert np.all(np.subtract.outer(new_lab[:, 0], new_lab[:, 0])[lighter] >= 0), label
        bg, new_bg = (srgb_to_lab(linear_to_srgb(t.background_linear[k])) for t in (table, tinted))
        assert new_bg[0] == pytest.approx(bg[0], abs=0.5), label  # the style's background lightness
    for field in ("motion", "motifs", "speed", "density", "strength", "modulation"):
        np.testing.assert_array_equal(getattr(tinted, field), getattr(table, field))
    assert tinted.labels == table.labels and tinted.seed_policies == table.seed_policies


# --------------------------------------------------------------------------- rendered frames

COVER_HUES_DEG = (26.0, 352.0)  # the warm cover below: orange and red


def _warm_cover(path):
    img = np.zeros((120, 120, 3), np.uint8)
    img[:, :54] = (240, 112, 16)  # orange, hue 26 deg
    img[:, 54:96] = (208, 24, 48)  # red, hue 352 deg
    img[:, 96:] = (32, 8, 8)  # near black
    Image.fromarray(img).save(path)
    return path


def _share_near_cover_hues(video, width, height) -> tuple[float, np.ndarray]:
    """Of the decoded frames' saturated pixels (HSV saturation > 0.35, value > 0.25): the share within
    25 degrees of a cover hue, and the 12-bin hue histogram (shares)."""
    from matplotlib.colors import rgb_to_hsv

    from tests.videos import rgb_frames

    hsv = rgb_to_hsv(rgb_frames(video, width, height).reshape(-1, 3) / 255.0)
    hue = hsv[(hsv[:, 1] > 0.35) & (hsv[:, 2] > 0.25), 0] * 360.0
    assert len(hue) > 0.2 * len(hsv)  # a colourful video, not a grey one
    near = np.zeros(len(hue), bool)
    for c in COVER_HUES_DEG:
        near |= np.minimum(abs(hue - c), 360 - abs(hue - c)) <= 25.0
    return float(near.mean()), np.histogram(hue, bins=12, range=(0, 360))[0] / len(hue)


@pytest.mark.slow
def test_tinted_render_wears_the_cover_hues(tmp_path, house_wav):
    from mvgen.analysis.track import analyze
    from mvgen.settings import RenderSettings
    from mvgen.pipeline import render_video

    track = house_wav
    analysis = analyze(track)
    cover = _warm_cover(tmp_path / "warm.png")
    shares = {}
    for name, branding in (("plain", Branding()), ("tinted", Branding(cover=str(cover), palette_from_cover=True, end_card_s=0))):
        settings = RenderSettings(size=144, fps=12, start_s=2.0, end_s=6.0, detail=0.5, compile=False, branding=branding)
        shares[name] = _share_near_cover_hues(render_video(track, tmp_path / f"{name}.mp4", settings, analysis=analysis), 256, 144)
    (tinted, tinted_hist), (plain, plain_hist) = shares["tinted"], shares["plain"]
    # measured: 1.00 tinted, 0.00 untinted (future house: cyan, violet, magenta, mint)
    assert tinted > 0.9 and plain < 0.2, (tinted, plain, tinted_hist.round(2), plain_hist.round(2))
    assert np.argmax(tinted_hist) != np.argmax(plain_hist)
