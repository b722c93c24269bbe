"""The procedural renderer: shapes, determinism, and that every spec parameter shows in the pixels."""

from __future__ import annotations

import dataclasses
import warnings

import pytest
import torch

from mvgen.style.framespec import MOTIFS, FrameSpec
from mvgen.renderers.procedural import ProceduralRenderer

W, H = 160, 90
WARM = ((0.79, 0.45, 0.23), (0.54, 0.23, 0.18), (0.85, 0.63, 0.4), (0.29, 0.16, 0.23), (0.91, 0.76, 0.62))
RED = ((1.0, 0.05, 0.05), (0.8, 0.0, 0.1), (1.0, 0.3, 0.2), (0.6, 0.0, 0.0), (0.9, 0.1, 0.3))
BLUE = tuple((b, g, r) for r, g, b in RED)


def spec(**kw) -> FrameSpec:
    base = dict(
        index=0, time_s=12.3, genre_weights=(1.0,) + (0.0,) * 7, palette=WARM, background=(0.05, 0.03, 0.03),
        section="drop", beat_pulse=0.3, beat_phase=0.4, bar_phase=0.6, energy=0.7,
        motif_weights={"lasers": 1.0, "particles": 0.6, "tunnel": 0.5, "rings": 0.3}, speed=0.4, density=0.6, seed=7,
    )
    base.update(kw)
    return FrameSpec(**base)


@pytest.fixture(scope="module")
def renderer():
    return ProceduralRenderer(W, H, device="cpu")


def luminance(frames: torch.Tensor) -> float:
    f = frames.float()
    return float((0.2126 * f[..., 0] + 0.7152 * f[..., 1] + 0.0722 * f[..., 2]).mean())


def test_shape_dtype_device(renderer):
    out = renderer.render([spec(), spec(index=1, time_s=12.33)])
    assert out.shape == (2, H, W, 3) and out.dtype == torch.uint8 and out.device.type == "cpu"
    assert renderer.render([]).shape == (0, H, W, 3)
    assert out.float().std() > 5  # not a flat frame


def test_default_device_and_odd_sizes():
    r = ProceduralRenderer(33, 17)
    assert r.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert r.render([spec()]).shape == (1, 17, 33, 3)


@pytest.mark.slow
def test_deterministic(renderer):
    specs = [spec(), spec(motif_weights={"grid": 1.0, "waves": 0.5}, seed=3)]
    a = renderer.render(specs)
    b = ProceduralRenderer(W, H, device="cpu").render(specs)
    assert torch.equal(a, b)
    assert not torch.equal(renderer.render([spec(seed=8)]), a[:1])  # the seed matters


@pytest.mark.slow
def test_batch_equals_single_renders(renderer):
    specs = [spec(index=i, time_s=12.3 + i / 30, beat_phase=(0.4 + i * 0.25) % 1, beat_pulse=0.25 * i,
                  motif_weights={MOTIFS[i]: 1.0, MOTIFS[i + 1]: 0.5}, drop_burst=0.3 * (i == 2)) for i in range(4)]
    batch = renderer.render(specs)
    singles = torch.cat([renderer.render([s]) for s in specs])
    assert (batch.int() - singles.int()).abs().max() <= 1


@pytest.mark.slow
def test_compiled_equals_eager():
    """torch.compile fuses the same math: frames agree with eager ones, a short batch is padded.
    The encoder's format (yuv420p) is the one renders use."""
    specs = [spec(index=i, time_s=12.3 + i / 30, beat_phase=(0.2 * i) % 1, drop_burst=0.5 * (i == 1),
                  motif_weights={m: 1.0 for m in MOTIFS[i % 3 :: 2]}) for i in range(3)]
    eager = ProceduralRenderer(64, 36, device="cpu")
    compiled = ProceduralRenderer(64, 36, device="cpu", compile=True)
    assert compiled._compiled is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a compiler failure would warn and fall back
        full, short = compiled.render(specs, "yuv420p"), compiled.render(specs[:2], "yuv420p")
    reference = eager.render(specs, "yuv420p")
    assert (full.int() - reference.int()).abs().float().mean() < 0.5
    assert (full.int() - reference.int()).abs().max() <= 12  # fused float math rounds differently
    assert torch.equal(short, full[:2])


@pytest.mark.parametrize("detail", [1.0, 0.5])
def test_yuv420p_planes_match_the_rgb_frames(detail):
    """The encoder's planes are the RGB frames in BT.709 limited range: luma at full size, chroma
    at half (at detail 0.5, the drawn pixels themselves)."""
    r = ProceduralRenderer(W, H, device="cpu", detail=detail)
    specs = [spec(), spec(index=1, palette=RED, motif_weights={"grid": 1.0, "waves": 0.5})]
    rgb = r.render(specs).float() / 255.0
    yuv = r.render(specs, pix_fmt="yuv420p")
    assert yuv.shape == (2, W * H * 3 // 2) and yuv.dtype == torch.uint8
    luma = yuv[:, : W * H].view(2, H, W).float()
    cb = yuv[:, W * H : W * H * 5 // 4].view(2, H // 2, W // 2).float()
    cr = yuv[:, W * H * 5 // 4 :].view(2, H // 2, W // 2).float()
    want_luma = 16.0 + 219.0 * (0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2])
    assert (luma - want_luma).abs().max() <= 1.5  # the same pixels, rounded once more
    assert 16 <= luma.min() and luma.max() <= 235 and 16 <= cr.min() and cr.max() <= 240
    half = lambda f: torch.nn.functional.avg_pool2d(f[None], 2)[0]  # noqa: E731
    want_cr = 128.0 + 224.0 * half(rgb[..., 0] - (want_luma - 16.0) / 219.0) / 1.5748
    want_cb = 128.0 + 224.0 * half(rgb[..., 2] - (want_luma - 16.0) / 219.0) / 1.8556
    assert (cr - want_cr).abs().mean() < 1.0 and (cb - want_cb).abs().mean() < 1.0
    assert cr[1].mean() > 150 > cr[0].mean()  # the red palette reads as red


def test_large_batches_are_split():
    r = ProceduralRenderer(W, H, device="cpu")
    r._chunk = 3
    specs = [spec(index=i, time_s=1.0 + i / 30) for i in range(7)]
    assert (r.render(specs).int() - ProceduralRenderer(W, H, device="cpu").render(specs).int()).abs().max() <= 1


@pytest.mark.parametrize("motifs", [{"waves": 1.0}, {"grid": 1.0}, {"tunnel": 1.0, "rings": 1.0}])
def test_palette_is_used(renderer, motifs):
    bg = (0.02, 0.02, 0.02)
    red = renderer.render([spec(palette=RED, background=bg, motif_weights=motifs)]).float().mean(dim=(0, 1, 2))
    blue = renderer.render([spec(palette=BLUE, background=bg, motif_weights=motifs)]).float().mean(dim=(0, 1, 2))
    assert red[0] > 1.5 * red[2] and red[0] > 1.5 * red[1]
    assert blue[2] > 1.5 * blue[0] and blue[2] > 1.5 * blue[1]


def test_beat_pulse_brightens(renderer):
    for motifs in ({"waves": 1.0}, {"lasers": 1.0, "particles": 0.5}, {"grid": 1.0}):
        off = luminance(renderer.render([spec(beat_pulse=0.0, motif_weights=motifs)]))
        on = luminance(renderer.render([spec(beat_pulse=1.0, motif_weights=motifs)]))
        assert on > off * 1.15, motifs


def test_flash_and_drop_burst(renderer):
    base = luminance(renderer.render([spec()]))
    flashed = renderer.render([spec(flash=1.0)])
    flash = luminance(flashed)
    burst = luminance(renderer.render([spec(drop_burst=1.0)]))
    assert flash > base + 80
    assert flashed.float().std() > 10  # a full flash lifts the picture towards white but keeps it
    assert burst > base * 1.3


def test_energy_brightens(renderer):
    assert luminance(renderer.render([spec(energy=1.0)])) > luminance(renderer.render([spec(energy=0.1)]))


def test_each_motif_draws_something_different(renderer):
    frames = renderer.render([spec(motif_weights={m: 1.0}) for m in MOTIFS]).float()
    for i in range(len(MOTIFS)):
        assert frames[i].std() > 4, MOTIFS[i]
        for j in range(i):
            assert (frames[i] - frames[j]).abs().mean() > 4, (MOTIFS[i], MOTIFS[j])
    # no weights at all still draws (falls back to waves)
    assert renderer.render([spec(motif_weights={})]).float().std() > 4


def test_motion_over_time_is_smooth(renderer):
    """Neighbouring frames differ a little; frames far apart differ more."""
    kw = dict(motif_weights={"waves": 1.0, "tunnel": 0.5})
    f = renderer.render([spec(time_s=30.0, beat_phase=0.5, **kw), spec(time_s=30.0 + 1 / 60, beat_phase=0.52, **kw),
                         spec(time_s=33.0, beat_phase=0.9, **kw)]).float()
    near, far = (f[1] - f[0]).abs().mean(), (f[2] - f[0]).abs().mean()
    assert 0 < near < far


def test_speed_changes_do_not_jump(renderer):
    """A small change of the blended speed changes a frame only a little (no time * speed phases)."""
    for m in MOTIFS:
        s = spec(time_s=500.0, motif_weights={m: 1.0}, speed=0.3)
        a = renderer.render([s, dataclasses.replace(s, speed=0.302)]).float()
        assert (a[1] - a[0]).abs().mean() < 3.0, m


@pytest.mark.parametrize("motifs", [{"tunnel": 1.0}, {"rings": 1.0, "particles": 0.5}, {"grid": 1.0, "lasers": 0.5}])
def test_aspect_reframes_not_squashes(motifs):
    """16:9 and 9:16 frames share the same central square (coordinates scale with the short side)."""
    land = ProceduralRenderer(160, 90, device="cpu").render([spec(motif_weights=motifs)])[0].float()
    port = ProceduralRenderer(90, 160, device="cpu").render([spec(motif_weights=motifs)])[0].float()
    a = land[:, 35:125]
    b = port[35:125, :]
    assert a.shape == b.shape == (90, 90, 3)
    same = (a - b).abs().mean()
    other = (a - torch.flip(b, dims=[0])).abs().mean()
    assert same < 12 and same < 0.6 * other


def test_camera_moves_the_image(renderer):
    base = renderer.render([spec()]).float()
    for kw in ({"zoom": 1.3}, {"rotation_deg": 25.0}, {"drift_x": 0.1}, {"shake_y": 0.05}):
        assert (renderer.render([spec(**kw)]).float() - base).abs().mean() > 2, kw


@pytest.mark.slow
def test_detail_draws_smaller_and_upscales():
    """detail=0.5 draws a quarter of the pixels; the upscaled picture matches the full-detail one."""
    specs = [spec(), spec(index=1, time_s=12.4, motif_weights={"grid": 1.0, "waves": 0.5})]
    full = ProceduralRenderer(640, 360, device="cpu").render(specs).float()
    half = ProceduralRenderer(640, 360, device="cpu", detail=0.5)
    assert (half._w, half._h) == (320, 180)
    soft = half.render(specs).float()
    assert soft.shape == full.shape
    coarse = lambda f: torch.nn.functional.avg_pool2d(f.permute(0, 3, 1, 2), 10)  # noqa: E731 - the composition
    assert (coarse(soft) - coarse(full)).abs().mean() < 0.1 * full.mean()
    assert abs(luminance(soft) - luminance(full)) < 0.1 * luminance(full)
    with pytest.raises(ValueError, match="detail"):
        ProceduralRenderer(160, 90, detail=0.0)


# ----------------------------------------------------------------- modulated values (styles' modulate)


def test_brightness_scales_the_light(renderer):
    base = renderer.render([spec()])
    assert torch.equal(renderer.render([spec(brightness=1.0)]), base)  # the unmodulated value draws the same pixels
    assert luminance(renderer.render([spec(brightness=1.6)])) > luminance(base) * 1.2
    assert luminance(renderer.render([spec(brightness=0.5)])) < luminance(base) * 0.8


def _hue_deg(frames: torch.Tensor) -> float:
    """Hue (degrees) of the mean colour of a frame's lit pixels."""
    import colorsys

    f = frames[0].float() / 255.0
    lit = f.max(dim=-1).values > 0.25
    r, g, b = f[lit].mean(dim=0).tolist()
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360.0


@pytest.mark.parametrize("shift", [120.0, -100.0])
def test_hue_shift_turns_the_colours(renderer, shift):
    kw = dict(palette=RED, background=(0.02, 0.02, 0.02), motif_weights={"waves": 1.0, "rings": 0.6})
    before = _hue_deg(renderer.render([spec(**kw)]))
    after = _hue_deg(renderer.render([spec(hue_shift_deg=shift, **kw)]))
    moved = (after - before + 180.0) % 360.0 - 180.0
    assert abs(moved - shift) < 30.0, (before, after)


def test_motif_boost_draws_that_motif(renderer):
    kw = dict(motif_weights={"waves": 1.0}, background=(0.02, 0.02, 0.02))
    base = renderer.render([spec(**kw)]).float()
    assert torch.equal(renderer.render([spec(motif_boost={"lasers": 0.0}, **kw)]).float(), base)
    boosted = renderer.render([spec(motif_boost={"lasers": 1.0}, **kw)]).float()
    lasers = renderer.render([spec(motif_weights={"lasers": 1.0}, background=(0.02, 0.02, 0.02))]).float().mean(dim=-1)[0]
    where = lasers > lasers.quantile(0.9)  # where the lasers draw
    change = (boosted - base).abs().mean(dim=-1)[0]
    assert change[where].mean() > 20 and change[where].mean() > 3 * change[~where].mean()
    # a boost also works on the style's main motif (after normalization, it is not divided away)
    assert luminance(renderer.render([spec(motif_boost={"waves": 1.0}, **kw)])) > luminance(base[None]) * 1.2


def test_per_motif_speed_and_density_change_only_that_motif(renderer):
    kw = dict(time_s=40.0, motif_weights={"grid": 1.0, "waves": 0.6})
    base = renderer.render([spec(**kw)]).float()
    for field in ("motif_speed", "motif_density"):
        changed = renderer.render([spec(**{field: {"grid": 0.4}}, **kw)]).float()
        assert (changed - base).abs().mean() > 2, field
        absent = renderer.render([spec(**{field: {"tunnel": 0.4}}, **kw)]).float()  # tunnel is not drawn
        assert torch.equal(absent, base), field


def test_trace_motifs_are_skipped_without_a_visible_change(monkeypatch):
    """Blended styles give motifs trace weights; a batch leaves out the motifs every frame draws
    fainter than MOTIF_SKIP_WEIGHT (and the drop burst when no frame has one), and the frames stay
    within a code value or two of the frames drawn with every layer, on a real 720p mix."""
    import mvgen.renderers.procedural as procedural

    trace = {"tunnel": 0.001, "lasers": 0.0008, "grid": 0.0012, "rings": 0.001}  # the demo's blends, as drawn
    specs = [spec(index=i, time_s=30.0 + i / 30, beat_phase=0.3 * i, motif_weights={"waves": 1.0, "particles": 0.6, **trace}, background=(0.0, 0.0, 0.0))
             for i in range(2)]
    r = ProceduralRenderer(640, 360, device="cpu", detail=0.5)
    assert r._layers(r._params(specs), burst=0.0) == (("particles", "waves"), ())
    assert r._layers(r._params(specs), burst=1e-4) == (("particles", "waves"), ())  # the trace of a faded burst
    assert r._layers(r._params(specs), burst=0.5)[0][-1] == "burst"
    fast = r.render(specs, "yuv420p").double()
    monkeypatch.setattr(procedural, "MOTIF_SKIP_WEIGHT", 0.0)
    monkeypatch.setattr(procedural, "MOTIF_FAINT_WEIGHT", 0.0)
    assert r._layers(r._params(specs), burst=0.0)[0][: len(MOTIFS)] == tuple(MOTIFS)
    full = r.render(specs, "yuv420p").double()
    assert not torch.equal(fast, full)  # the trace motifs do add light, and leaving them out shows in the codes
    psnr = 10 * torch.log10(255.0**2 / ((fast - full) ** 2).mean(dim=1))
    assert psnr.min() > 50 and (fast - full).abs().max() <= 2
    # a motif at the threshold is drawn
    assert "grid" in sum(r._layers(r._params([spec(motif_weights={"waves": 1.0, "grid": 0.01})]), burst=0.0), ())


def test_faint_motifs_are_drawn_at_half_size_without_a_visible_change(monkeypatch):
    """A motif every frame of a batch draws under MOTIF_FAINT_WEIGHT is drawn on a grid of half the
    drawing size and upscaled: the faint layer's light is still there (the frames differ from those
    without it by far more than the half-size drawing does), its geometry is the same (same place,
    same rings), and the frames stay within a few code values of those drawn at full size."""
    import mvgen.renderers.procedural as procedural

    def frames(weights):
        specs = [spec(index=i, time_s=30.0 + i / 30, beat_phase=0.3 * i, motif_weights=weights, background=(0.0, 0.0, 0.0)) for i in range(2)]
        return r.render(specs, "yuv420p").double()

    r = ProceduralRenderer(640, 360, device="cpu", detail=1.0)
    mix = {"particles": 1.0, "tunnel": 0.08, "rings": 0.09}
    assert r._layers(r._params([spec(motif_weights=mix)]), burst=0.0) == (("particles",), ("tunnel", "rings"))
    assert r._layers(r._params([spec(motif_weights=mix), spec(motif_weights={**mix, "rings": 0.3})]), burst=0.0) == (("particles", "rings"), ("tunnel",))
    half = frames(mix)
    monkeypatch.setattr(procedural, "MOTIF_FAINT_WEIGHT", 0.0)
    full = frames(mix)
    without = frames({"particles": 1.0})
    assert not torch.equal(half, full)  # drawn differently ...
    err, light = (half - full).abs(), (full - without).abs()
    assert light.mean() > 10 * err.mean()  # ... but the faint layers' light is there
    psnr = 10 * torch.log10(255.0**2 / ((half - full) ** 2).mean(dim=1))
    assert psnr.min() > 45, psnr
    # tiny frames have no half-size grid: every layer is drawn at its size
    tiny = ProceduralRenderer(96, 54, device="cpu")
    monkeypatch.setattr(procedural, "MOTIF_FAINT_WEIGHT", 0.1)
    assert tiny._layers(tiny._params([spec(motif_weights=mix)]), burst=0.0) == (("tunnel", "particles", "rings"), ())


def test_threads_are_set_while_drawing_and_restored():
    """A renderer drawing beside the encoder uses its own thread count for each batch and gives
    torch's setting back; the frames are those drawn with torch's threads."""
    before = torch.get_num_threads()
    specs = [spec(), spec(index=1, time_s=12.33)]
    seen = []
    own = ProceduralRenderer(W, H, device="cpu", threads=1)
    original = own._render
    own._render = lambda *a: seen.append(torch.get_num_threads()) or original(*a)
    frames = own.render(specs)
    assert seen == [1] and torch.get_num_threads() == before
    assert torch.equal(frames, ProceduralRenderer(W, H, device="cpu").render(specs))
    with pytest.raises(ValueError, match="threads"):
        ProceduralRenderer(W, H, device="cpu", threads=0)
