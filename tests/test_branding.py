"""Branding overlay: safe zones, layout (shrink, then wrap, never cut), the per-frame composite on the
renderer's frames (only the overlay's pixels change), the logo pulse, up-front file errors (API, CLI,
batch) and one end-to-end render with captions."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from mvgen.brand.branding import (
    LOGO_OPACITY, SAFE_ZONES, TITLE_SAFE, TITLE_SIZE, Branding, Layer, PixelBox, build_overlay, fit_text, frame_safe_zone, min_text_px,
    nearest_aspect, plan_layout, plan_overlay, safe_zone,
)  # fmt: skip
from mvgen.errors import MvgenError
from mvgen.brand.fonts import default_font

FPS = 30.0


def _logo(path, size=(200, 100)):
    """A PNG logo with alpha: an opaque white disc and a half-transparent orange bar on a transparent ground."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((0, 0, h - 1, h - 1), fill=(255, 255, 255, 255))
    draw.rectangle((h + 4, h // 4, w - 1, 3 * h // 4), fill=(255, 120, 0, 128))
    image.save(path)
    return path


def _planes(frames: torch.Tensor, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """yuv420p frames ``(B, H*W*3/2)`` -> luma ``(B, H, W)`` and chroma ``(B, 2, H/2, W/2)``."""
    f = frames.numpy()
    n = width * height
    return f[:, :n].reshape(-1, height, width), f[:, n:].reshape(-1, 2, height // 2, width // 2)


def _mask(box: PixelBox, width: int, height: int, scale: int = 1) -> np.ndarray:
    inside = np.zeros((height // scale, width // scale), bool)
    inside[box.y0 // scale : box.y1 // scale, box.x0 // scale : box.x1 // scale] = True
    return inside


# --------------------------------------------------------------------------- safe zones and layout


def test_vertical_safe_zone_is_the_box_every_platform_leaves_clear():
    box = SAFE_ZONES["9:16"]
    assert (box.x0 * 1080, box.y0 * 1920, box.x1 * 1080, box.y1 * 1920) == pytest.approx((65, 270, 910, 1250))
    # in pixels it is rounded inwards to even coordinates (whole 4:2:0 chroma samples), at any size
    assert box.pixels(1080, 1920) == PixelBox(66, 270, 910, 1250)
    small = box.pixels(180, 320)
    assert (small.x0, small.y0, small.x1, small.y1) == (12, 46, 150, 208)  # 10.8, 45, 151.7, 208.3 rounded inwards
    for aspect in ("16:9", "1:1", "4:5", "21:9"):  # title-safe: 5 % margins
        assert safe_zone(aspect) == TITLE_SAFE
    assert TITLE_SAFE.pixels(1920, 1080) == PixelBox(96, 54, 1824, 1026)


def test_frame_safe_zone_by_aspect_or_nearest_ratio():
    """A frame's zone in pixels: its aspect's when given, else that of the aspect nearest its ratio
    (the end card knows only the frame's size)."""
    for size, aspect in (((1920, 1080), "16:9"), ((1080, 1920), "9:16"), ((1080, 1350), "4:5"), ((1000, 1000), "1:1"),
                         ((2560, 1080), "16:9"), ((1080, 1800), "9:16"), ((1080, 1400), "4:5"), ((144, 256), "9:16")):  # fmt: skip
        assert nearest_aspect(*size) == aspect, size
        assert frame_safe_zone(*size) == SAFE_ZONES[aspect].pixels(*size) == frame_safe_zone(*size, aspect), size
    assert frame_safe_zone(1080, 1800, "4:5") == TITLE_SAFE.pixels(1080, 1800)  # a known aspect decides
    with pytest.raises(ValueError, match="width_px and height_px must be >= 1, got 0x1080"):
        nearest_aspect(0, 1080)
    assert (min_text_px(1080), min_text_px(720), min_text_px(144), min_text_px(10)) == (26, 17, 3, 1)


def test_fit_without_outline_leaves_no_room_for_one():
    """``outline=False`` (the end card draws none) fits a line as wide as its ink and advance; with the
    outline the same width is too narrow at full size."""
    font = str(default_font())
    bare = fit_text("Midnight", font, 70, 52, 10_000, outline=False)
    assert bare.stroke_px == 0
    exact = bare.width_px
    assert fit_text("Midnight", font, 70, 52, exact, outline=False).size_px == 70
    outlined = fit_text("Midnight", font, 70, 52, exact)
    assert outlined.size_px < 70 and outlined.width_px <= exact and outlined.lines == ("Midnight",)


def test_short_text_keeps_its_size_long_text_shrinks_then_wraps_never_cut():
    font = str(default_font())
    short = fit_text("Midnight", font, 70, 52, 800)
    assert (short.size_px, short.lines) == (70, ("Midnight",))
    title = "The Extremely Long Title Of A Track That Goes On And On (Original Extended Club Mix)"
    fitted = fit_text(title, font, 70, 52, 800)
    assert fitted.size_px == 52 and len(fitted.lines) > 1  # shrunk to the floor, then wrapped
    assert " ".join(fitted.lines) == title  # every word kept, in order
    assert fitted.width_px <= 800
    word = "Supercalifragilisticexpialidocious" * 3  # one word wider than the line: broken, not cut
    broken = fit_text(word, font, 70, 52, 800)
    assert len(broken.lines) > 1 and "".join(broken.lines) == word and broken.width_px <= 800


@pytest.mark.parametrize("aspect,size", [("9:16", (1080, 1920)), ("16:9", (1920, 1080)), ("1:1", (1080, 1080))])
def test_layout_stays_in_the_safe_zone_and_is_readable(tmp_path, aspect, size):
    width, height = size
    lrc = tmp_path / "a.lrc"
    lrc.write_text("[00:00.00]a line of lyrics\n", encoding="utf-8")
    layout = plan_layout(Branding(artist="DJ Example", title="A title", label="Label", release_date="2026-12-04", logo=str(_logo(tmp_path / "l.png")), lyrics=str(lrc)), width, height, aspect)
    assert all(layout.safe.contains(box) for box in (layout.inner, layout.text_box, layout.logo_box, layout.lyrics_band))
    # the blocks do not overlap: logo above the lyrics band above the text block
    assert layout.logo_box.y1 <= layout.lyrics_band.y0 < layout.lyrics_band.y1 <= layout.text_box.y0
    sizes = [fitted.size_px for _, _, fitted in layout.texts]
    assert sizes == [54, 70, 35]  # artist, title, label + date at 1080 px of short side
    assert min(sizes) >= layout.min_text_px == 26


def test_text_that_cannot_fit_even_wrapped_is_an_error():
    with pytest.raises(MvgenError, match=r"^--title '.*\.\.\.' does not fit in the safe zone of a 320x180 frame"):
        plan_layout(Branding(title="word " * 400), 320, 180, "16:9")


def test_nothing_to_draw_or_overlay_off_gives_no_overlay(tmp_path):
    assert build_overlay(Branding(), 320, 180, "16:9") is None
    assert build_overlay(Branding(title="x", end_card_s=3.0), 320, 180, "16:9") is not None
    assert build_overlay(Branding(title="x", overlay=False), 320, 180, "16:9") is None  # e.g. Spotify Canvas


def _no_drawing(monkeypatch) -> None:
    """Make every rasterized layer (the end of all drawing: text, logo, lyrics) an error."""

    def drawn(*args, **kwargs):
        raise AssertionError("the check drew a layer")

    monkeypatch.setattr(Layer, "from_rgba", staticmethod(drawn))


def test_the_check_lays_out_without_drawing(tmp_path, monkeypatch):
    """plan_overlay reads the files, loads the font, lays out the text and fits every lyric line, drawing
    nothing; build_overlay draws that same plan."""
    lrc = tmp_path / "a.lrc"
    lrc.write_text("[00:01.00]first words\n[00:03.00]second words\n", encoding="utf-8")
    branded = Branding(title="Midnight", logo=str(_logo(tmp_path / "logo.png")), lyrics=str(lrc))
    drawn = build_overlay(branded, 180, 320, "9:16")
    _no_drawing(monkeypatch)
    plan = plan_overlay(branded, 180, 320, "9:16")
    assert plan.layout == drawn.layout and [line for line, _ in plan.lyrics] == [line for line, _ in drawn.lyrics]
    assert all(fitted.width_px <= plan.layout.lyrics_band.width for _, fitted in plan.lyrics)
    assert plan_overlay(Branding(title="x", overlay=False), 320, 180, "16:9") is None
    lrc.write_text("[00:01.00]" + "word " * 300 + "\n", encoding="utf-8")
    with pytest.raises(MvgenError, match=r"a\.lrc: the lyric line at 1\.00 s .* does not fit in the safe zone of a 180x320 frame"):
        plan_overlay(branded, 180, 320, "9:16")
    (tmp_path / "bad.svg").write_text("<svg this is not")
    with pytest.raises(MvgenError, match=r"bad\.svg: not a readable logo"):
        plan_overlay(Branding(logo=str(tmp_path / "bad.svg")), 320, 180, "16:9")


# --------------------------------------------------------------------------- on the renderer's frames


@pytest.fixture(scope="module")
def rendered():
    """``rendered(aspect)``: 0.4 s of frame specs on a known 124 bpm grid and the procedural renderer's
    yuv420p frames of them at size 180, before encoding (memoized)."""
    from mvgen.style.mapper import map_frames
    from mvgen.settings import RenderSettings
    from mvgen.renderers.factory import procedural_renderer
    from mvgen.style.blend import StyleTable
    from mvgen.style.styles import load_styles
    from tests.test_modulation import _analysis

    memo = {}

    def make(aspect: str):
        if aspect not in memo:
            specs = map_frames(_analysis(), StyleTable.from_styles(load_styles()), fps=FPS, start_s=1.0, end_s=1.4, seed=0)
            settings = RenderSettings(size=180, aspect=aspect, fps=FPS, detail=0.5, compile=False)
            renderer = procedural_renderer(*settings.frame_size(), len(specs), detail=settings.detail, compile=settings.compile)
            frames = torch.cat([renderer.render(specs[b : b + 20], pix_fmt="yuv420p") for b in range(0, len(specs), 20)])
            memo[aspect] = (specs, frames, *settings.frame_size())
        return memo[aspect]

    return make


@pytest.mark.parametrize("aspect", ["9:16", "16:9"])
def test_only_pixels_inside_the_safe_zone_change(rendered, tmp_path, aspect):
    """The same frames with and without the overlay: every changed byte (luma and chroma) lies in the
    safe zone; the rest are identical; the text, the logo and the lyrics each changed their region."""
    specs, frames, width, height = rendered(aspect)
    lrc = tmp_path / "a.lrc"
    lrc.write_text("[00:00.50]ooh we are dancing\n[00:02.00]all night long\n", encoding="utf-8")
    branding = Branding(artist="DJ Example", title="Midnight Frequencies (Extended Mix)", label="Nightshift", release_date="4 Dec 2026",
                        logo=str(_logo(tmp_path / "logo.png")), lyrics=str(lrc))
    overlay = build_overlay(branding, width, height, aspect)
    branded = overlay.composite(frames.clone(), specs)
    luma, chroma = _planes(frames, width, height)
    bluma, bchroma = _planes(branded, width, height)
    safe = overlay.layout.safe
    changed = (bluma != luma).any(axis=0)
    assert not changed[~_mask(safe, width, height)].any()
    assert not (bchroma != chroma).any(axis=(0, 1))[~_mask(safe, width, height, 2)].any()
    assert np.array_equal(bluma[:, ~_mask(safe, width, height)], luma[:, ~_mask(safe, width, height)])
    for box in (overlay.layout.text_box, overlay.layout.logo_box, overlay.layout.lyrics_band):
        assert changed[_mask(box, width, height)].mean() > 0.05, box
    assert changed.mean() > 0.03
    # a second composite of the same frames gives the same bytes: drawn once, composited per frame
    assert torch.equal(overlay.composite(frames.clone(), specs), branded)


def test_long_title_shrinks_and_wraps_inside_the_safe_zone(rendered):
    specs, frames, width, height = rendered("9:16")
    title = "The Extremely Long Title Of A Track That Goes On And On (Original Extended Club Mix)"
    overlay = build_overlay(Branding(artist="DJ", title=title), width, height, "9:16")
    fitted = overlay.layout.texts[1][2]
    assert fitted.size_px < round(TITLE_SIZE * width) and len(fitted.lines) > 1 and " ".join(fitted.lines) == title
    changed = (_planes(overlay.composite(frames[:4].clone(), specs[:4]), width, height)[0] != _planes(frames[:4], width, height)[0]).any(axis=0)
    assert changed.any() and not changed[~_mask(overlay.layout.safe, width, height)].any()
    rows = np.nonzero(changed.any(axis=1))[0]
    # every wrapped line is drawn: the changed rows span the whole text block
    assert rows[0] <= overlay.layout.text_box.y0 + 2 and rows[-1] >= overlay.layout.text_box.y1 - 4


def test_logo_pulse_follows_the_kick(tmp_path):
    """kick -> logo: on kick frames the logo is brighter (more opaque) than at rest; on frames with no
    pulse the bytes are those of the logo at rest; nothing but the logo changes."""
    from mvgen.style.mapper import map_frames
    from mvgen.renderers.procedural import ProceduralRenderer
    from tests.test_modulation import _analysis, _events, _features, _frames_of, _table

    specs = map_frames(_analysis(_features()), _table(default={"kick": {"logo": 0.5}}), fps=FPS)[: int(4 * FPS)]
    pulse = np.array([s.logo for s in specs])
    kicks = _frames_of(_events()["kick"])
    kicks = kicks[kicks < len(specs)]
    assert (pulse[kicks] > 0.25).all() and (pulse == 0).mean() > 0.2
    frames = ProceduralRenderer(192, 108, device="cpu", detail=0.5).render(specs, pix_fmt="yuv420p")
    overlay = build_overlay(Branding(logo=str(_logo(tmp_path / "logo.png"))), 192, 108, "16:9")
    pulsed = overlay.composite(frames.clone(), specs)
    rest = overlay.composite(frames.clone(), [dataclasses.replace(s, logo=0.0) for s in specs])
    box = overlay.logo.box
    assert torch.equal(pulsed[pulse == 0], rest[pulse == 0])
    outside = ~_mask(box, 192, 108)
    assert np.array_equal(_planes(pulsed, 192, 108)[0][:, outside], _planes(rest, 192, 108)[0][:, outside])
    region = lambda f: _planes(f, 192, 108)[0][:, box.y0 : box.y1, box.x0 : box.x1].astype(float).mean(axis=(1, 2))  # noqa: E731
    lift = region(pulsed) - region(rest)  # luma codes
    assert (lift[kicks] > 2.0).all() and np.all(lift[pulse == 0] == 0)
    assert np.corrcoef(lift, pulse)[0, 1] > 0.9


# --------------------------------------------------------------------------- logo files


def test_svg_logo_is_rasterized_at_the_size_it_is_drawn(tmp_path):
    svg = tmp_path / "logo.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10" viewBox="0 0 20 10"><rect width="20" height="10" fill="#fff"/></svg>')
    overlay = build_overlay(Branding(logo=str(svg)), 1080, 1920, "9:16")
    box, target = overlay.logo.box, overlay.layout.logo_box
    assert target.contains(box)
    # a 20x10 drawing fills the logo box's height (119 px, rounded to even), sharp: opaque inside
    assert abs(box.height - target.height) <= 2 and abs(box.width - 2 * target.height) <= 3
    assert float(overlay.logo.alpha[4:-4, 4:-4].min()) == pytest.approx(LOGO_OPACITY, abs=1e-6)
    (tmp_path / "bad.svg").write_text("<svg this is not")
    with pytest.raises(MvgenError, match=r"bad\.svg: not a readable logo"):
        build_overlay(Branding(logo=str(tmp_path / "bad.svg")), 320, 180, "16:9")


def test_small_logo_is_not_upscaled(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        overlay = build_overlay(Branding(logo=str(_logo(tmp_path / "tiny.png", (20, 10)))), 1920, 1080, "16:9")
    assert overlay.logo.box.width <= 22 and overlay.logo.box.height <= 12
    assert any("drawn at its own size" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    "option,make,problem",
    [
        ("--logo", lambda p: p / "missing.png", "image file not found"),
        ("--font", lambda p: (p / "font.ttf").write_text("not a font") and p / "font.ttf", "not a readable font"),
        ("--cover", lambda p: p / "cover.jpg", "image file not found"),
        ("--logo", lambda p: (p / "logo.png").write_bytes(b"\x89PNG broken") and p / "logo.png", "not a readable image"),
        ("--lyrics", lambda p: (p / "a.lrc").write_text("hello\n") and p / "a.lrc", "not an LRC line"),
    ],
)
def test_cli_bad_branding_file_is_one_line_before_anything_runs(run_cli, tmp_path, option, make, problem):
    track = tmp_path / "track.wav"
    track.write_bytes(b"")  # never read: the branding is checked before the analysis
    bad = make(tmp_path)
    out = tmp_path / "v.mp4"
    before = set(tmp_path.iterdir())
    result = run_cli("render", track, "-o", out, "--title", "T", option, bad)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mvgen: error: {bad}") and problem in lines[0], result.stderr
    assert "Traceback" not in result.stderr and set(tmp_path.iterdir()) == before  # no video, no work folder


def test_batch_branding_per_track(tmp_path):
    from mvgen.batch import load_manifest

    (tmp_path / "a.wav").write_bytes(b"")
    _logo(tmp_path / "logo.png")
    (tmp_path / "m.yaml").write_text("formats: {reels: {aspect: '9:16', size: 180}}\ntracks:\n  - path: a.wav\n    branding: {artist: DJ, title: T, logo: logo.png}\n")
    _, jobs = load_manifest(tmp_path / "m.yaml")
    assert jobs[0].settings.branding == Branding(artist="DJ", title="T", logo=str(tmp_path / "logo.png"))
    (tmp_path / "m.yaml").write_text("tracks:\n  - path: a.wav\n    branding: {title: T, logo: gone.png}\n")
    with pytest.raises(MvgenError) as info:
        load_manifest(tmp_path / "m.yaml")
    assert str(info.value) == f"{tmp_path / 'm.yaml'}: tracks[0].branding: {tmp_path / 'gone.png'}: image file not found"


def test_batch_checks_the_branding_of_every_format_without_drawing_it(tmp_path, monkeypatch):
    from mvgen.batch import load_manifest

    (tmp_path / "a.wav").write_bytes(b"")
    _logo(tmp_path / "logo.png")
    (tmp_path / "a.lrc").write_text("[00:01.00]first words\n", encoding="utf-8")
    formats = "formats: {reels: {aspect: '9:16', size: 180}, wide: {size: 180}}\n"
    (tmp_path / "m.yaml").write_text(formats + "tracks:\n  - path: a.wav\n    branding: {title: T, logo: logo.png, lyrics: a.lrc}\n")
    _no_drawing(monkeypatch)
    _, jobs = load_manifest(tmp_path / "m.yaml")
    assert [job.format for job in jobs] == ["reels", "wide"]
    (tmp_path / "a.lrc").write_text("[00:01.00]" + "word " * 300 + "\n", encoding="utf-8")
    (tmp_path / "m.yaml").write_text(formats + "tracks:\n  - path: a.wav\n    branding: {lyrics: a.lrc}\n  - path: a.wav\n    branding: {palette_from_cover: true}\n")
    with pytest.raises(MvgenError) as info:
        load_manifest(tmp_path / "m.yaml")
    lines = str(info.value).splitlines()
    assert len(lines) == 2  # the manifest's own fields first, then each track's files and layout
    assert lines[0] == f"{tmp_path / 'm.yaml'}: tracks[1].branding.palette_from_cover: needs a cover image (cover, --cover IMAGE): the release artwork whose colours the video takes"
    assert lines[1].startswith(f"{tmp_path / 'm.yaml'}: tracks[0].branding: {tmp_path / 'a.lrc'}: the lyric line at 1.00 s")


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_branded_render_end_to_end(tmp_path, house_wav):
    """A real encode, decoded: outside the safe zone the branded and unbranded videos (same seed) agree
    within the codec's noise, inside they differ; the captions are written beside it, timed from the excerpt's start."""
    from mvgen.media.assemble import probe_video
    from mvgen.settings import RenderSettings
    from mvgen.pipeline import render_video
    from tests.videos import gray_frames

    track = house_wav
    lrc = tmp_path / "a.lrc"
    lrc.write_text("[00:02.00]first words\n[00:03.00]second words\n[00:09.00]after the excerpt\n", encoding="utf-8")
    plain = RenderSettings(size=144, aspect="9:16", fps=FPS, start_s=1.5, end_s=4.0, detail=0.5, compile=False)
    branded = plain.model_copy(update={"branding": Branding(artist="DJ Example", title="Midnight", logo=str(_logo(tmp_path / "logo.png")), lyrics=str(lrc))})
    a = render_video(track, tmp_path / "plain.mp4", plain)
    b = render_video(track, tmp_path / "branded.mp4", branded)
    width, height = plain.frame_size()
    assert probe_video(b).n_frames == probe_video(a).n_frames == 75
    fa, fb = gray_frames(a, width, height), gray_frames(b, width, height)
    # the encoder spends bits on the overlay, so its rate control and motion search decide a little
    # differently everywhere: outside the overlay the decoded frames differ by the codec's noise
    # (measured: ~2 levels on average at this tiny size, CRF 20), while the frames fed to it are
    # identical there (test_only_pixels_inside_the_safe_zone_change checks that exactly)
    diff = np.abs(fb - fa).mean(axis=0)  # per pixel, over the frames
    safe = _mask(SAFE_ZONES["9:16"].pixels(width, height), width, height)
    assert diff[~safe].mean() < 3.0 and diff[~safe].max() < 8.0  # codec noise only
    assert (diff[safe] > 8.0).mean() > 0.05 and diff[safe].max() > 60.0  # the text and the logo
    assert (tmp_path / "branded.srt").read_text(encoding="utf-8") == (
        "1\n00:00:00,500 --> 00:00:01,500\nfirst words\n\n2\n00:00:01,500 --> 00:00:02,500\nsecond words\n"
    )
    assert (tmp_path / "branded.vtt").read_text(encoding="utf-8").startswith("WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nfirst words\n")
    assert not (tmp_path / "plain.srt").exists()
