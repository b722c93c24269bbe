"""The diffusion renderer on a tiny random pipeline that the tests build, save and load back like users' models.

The pictures are noise (random weights); what is tested is the machinery: loading, shapes,
determinism, profile-blended conditioning, beat-driven motion, batching under memory pressure, resume.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
import torch

from mvgen.analysis.track import Analysis, AudioSummary, Drop, GenreProfile, Section
from mvgen.renderers.diffusion import DiffusionRenderer, DiffusionSettings, flicker, keyframe_positions, load_pipeline
from mvgen.errors import MvgenError
from mvgen.genres import GENRES
from mvgen.style.mapper import map_frames
from mvgen.style.blend import StyleTable
from mvgen.style.styles import load_styles

FPS = 15.0
W, H = 64, 36


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from tests.random_pipelines import tiny_pipeline

    return tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="module")
def styles():
    return load_styles()


def analysis(genre_a="deep_house", genre_b="bigroom", duration_s=12.0) -> Analysis:
    beats = [0.25 + 0.5 * k for k in range(int(duration_s * 2) - 1)]  # 120 bpm
    times = list(np.arange(0.0, duration_s + 0.5, 0.5))
    rows = [np.eye(8)[GENRES.index(genre_a if t < duration_s / 2 else genre_b)].tolist() for t in times]
    half = duration_s / 2
    return Analysis(
        audio=AudioSummary(path="x.wav", content_hash="0", sr=44100, channels=2, duration_s=duration_s),
        duration_s=duration_s, tempo_bpm=120.0, beats_s=beats, downbeats_s=beats[::4],
        sections=[Section(start_s=0, end_s=half, label="breakdown"), Section(start_s=half, end_s=duration_s, label="drop")],
        drops=[Drop(start_s=half, end_s=duration_s)],
        genre_profile=GenreProfile(labels=list(GENRES), times_s=times, probabilities=rows, in_scope=[1.0] * len(rows)),
    )


def specs_for(a: Analysis, styles, **kw):
    return map_frames(a, StyleTable.from_styles(styles), fps=FPS, **kw)


def renderer(tiny_model, styles, **settings) -> DiffusionRenderer:
    return DiffusionRenderer(styles, W, H, DiffusionSettings(model=str(tiny_model), size=32, **settings), device="cpu")


@pytest.mark.slow
def test_loads_a_saved_pipeline_and_renders_frames(tiny_model, styles):
    pipe = load_pipeline(str(tiny_model), device="cpu")
    assert type(pipe).__name__ == "StableDiffusionPipeline" and pipe.unet.dtype == torch.float32
    r = renderer(tiny_model, styles)
    assert (r.gen_w, r.gen_h) == (64, 32)  # the output's aspect at size 32, in whole latent cells
    specs = specs_for(analysis(), styles, end_s=4.0)
    r.prepare(specs)
    frames = r.render(specs[:10])
    assert frames.shape == (10, H, W, 3) and frames.dtype == torch.uint8
    assert frames.float().std() > 5


@pytest.mark.slow
def test_deterministic_for_a_seed_and_the_seed_matters(tiny_model, styles):
    a = analysis()
    specs = specs_for(a, styles, end_s=3.0)
    first, second = renderer(tiny_model, styles), renderer(tiny_model, styles)
    first.prepare(specs)
    second.prepare(specs)
    assert torch.equal(first.render(specs), second.render(specs))
    other = specs_for(a, styles, end_s=3.0, seed=5)
    second.prepare(other)
    assert not torch.equal(first.render(specs), second.render(other))


@pytest.mark.slow
def test_conditioning_is_the_profile_weighted_blend(tiny_model, styles):
    r = renderer(tiny_model, styles)
    embeds = r._embeddings["prompt_embeds"]
    deep, big = GENRES.index("deep_house"), GENRES.index("bigroom")
    one_hot = torch.eye(9)[[deep, big]]
    cond = r.conditioning(one_hot)["prompt_embeds"]
    torch.testing.assert_close(cond[0], embeds[deep])
    torch.testing.assert_close(cond[1], embeds[big])
    mix = torch.zeros(1, 9)
    mix[0, deep], mix[0, big] = 0.7, 0.3
    torch.testing.assert_close(r.conditioning(mix)["prompt_embeds"][0], 0.7 * embeds[deep] + 0.3 * embeds[big])
    assert not torch.allclose(embeds[deep], embeds[big])  # the styles' prompts differ

    # the same frames under another profile get other pictures
    specs_a = specs_for(analysis("deep_house", "deep_house"), styles, end_s=2.0)
    specs_b = specs_for(analysis("future_rave", "future_rave"), styles, end_s=2.0)
    r.prepare(specs_a)
    frames_a = r.render(specs_a)
    r.prepare(specs_b)
    assert (frames_a.float() - r.render(specs_b).float()).abs().mean() > 2.0


def test_keyframes_sit_on_beats():
    from mvgen.style.framespec import FrameSpec

    def spec(i, pulse):
        return FrameSpec(index=i, time_s=i / FPS, genre_weights=(1.0,) + (0.0,) * 7, palette=((1, 1, 1),), background=(0, 0, 0), section="drop",
                         beat_pulse=pulse, on_beat=pulse >= 0.75, on_downbeat=pulse == 1.0)

    specs = [spec(i, 1.0 if i % 8 == 3 else (0.75 if i % 8 == 7 else 0.2)) for i in range(40)]
    assert keyframe_positions(specs) == [0, 3, 7, 11, 15, 19, 23, 27, 31, 35, 39]
    assert keyframe_positions(specs, keyframe_beats=2) == [0, 3, 11, 19, 27, 35, 39]
    beatless = [spec(i, 0.0) for i in range(70)]  # 15 fps: one keyframe per 2 s
    assert keyframe_positions(beatless) == [0, 30, 60, 69]


def test_keyframes_of_mapped_frames_are_the_beat_frames(styles):
    """On the mapper's specs the keyframes are exactly the frames nearest each beat, the first and the last."""
    a = analysis()
    specs = specs_for(a, styles, end_s=8.0)
    fps = 1.0 / (specs[1].time_s - specs[0].time_s)
    times = np.array([s.time_s for s in specs])
    beat_frames = sorted({int(np.argmin(np.abs(times - b))) for b in a.beats_s if b < times[-1] + 0.5 / fps})
    assert keyframe_positions(specs) == sorted({0, *beat_frames, len(specs) - 1})


@pytest.mark.slow
def test_motion_peaks_on_beats_and_calm_frames_do_not_flicker(tiny_model, styles):
    a = analysis()
    # the keyframes' motion, with the camera's slow turn and drift held (it moves every frame by design;
    # on these noise pictures half a degree a frame changes as much as a keyframe: see
    # test_turned_and_drifting_frames_of_a_real_render)
    specs = [dataclasses.replace(s, rotation_deg=0.0, drift_x=0.0, drift_y=0.0) for s in specs_for(a, styles, end_s=8.0)]
    r = renderer(tiny_model, styles)
    r.prepare(specs)
    frames = r.render(specs)
    change = (frames[1:].float() - frames[:-1].float()).abs().mean(dim=(1, 2, 3)).numpy()  # change into frame i+1
    on_beat = [i - 1 for i, s in enumerate(specs) if i > 0 and s.beat_pulse >= 0.75]
    mid_beat = [i - 1 for i, s in enumerate(specs) if i > 0 and s.beat_pulse < 0.2]
    assert len(on_beat) >= 10 and len(mid_beat) >= 10
    assert change[on_beat].mean() > 2.0 * change[mid_beat].mean()
    assert flicker(frames, [s.beat_pulse for s in specs]) < 0.02


def test_flicker_figure():
    still = torch.full((6, 4, 4, 3), 100, dtype=torch.uint8)
    assert flicker(still, [0.0] * 6) == 0.0
    blink = still.clone()
    blink[1::2] = 200
    assert flicker(blink, [0.0] * 6) == pytest.approx(100 / 255)
    assert flicker(blink, [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]) == 0.0  # changes on beats are motion, not flicker


@pytest.mark.slow
def test_fast_decoder_and_fixed_noise_method(tiny_model, styles, tmp_path):
    from tests.random_pipelines import tiny_autoencoder

    specs = specs_for(analysis(), styles, end_s=1.0)
    fast = renderer(tiny_model, styles, fast_vae=str(tiny_autoencoder(tmp_path / "taesd")))
    assert type(fast.decoder).__name__ == "AutoencoderTiny"
    fast.prepare(specs)
    assert fast.render(specs).shape == (len(specs), H, W, 3)
    fixed = renderer(tiny_model, styles, method="fixed-noise")
    fixed.prepare(specs)
    assert fixed.render(specs).shape == (len(specs), H, W, 3)


@pytest.mark.slow
def test_out_of_memory_halves_the_batch_once_and_continues(tiny_model, styles, monkeypatch):
    r = renderer(tiny_model, styles, batch_size=8)
    real = r.img2img.__class__.__call__
    sizes = []

    def limited(self, *args, **kwargs):
        n = kwargs["prompt_embeds"].shape[0]
        sizes.append(n)
        if n > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(r.img2img.__class__, "__call__", limited)
    specs = specs_for(analysis(), styles, end_s=6.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r.prepare(specs)
    assert r._batch == 2 and max(sizes) > 2 and sizes[-1] <= 2
    assert len([w for w in caught if "out of memory" in str(w.message)]) == 1
    reference = renderer(tiny_model, styles)
    reference.prepare(specs)
    assert all(torch.equal(r._keyframes[k], reference._keyframes[k]) for k in reference._keyframes)


@pytest.mark.slow
def test_missing_model_names_it_and_the_alternative(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MvgenError) as info:
        load_pipeline("mvgen-test/no-such-model", device="cpu")
    message = str(info.value)
    assert "mvgen-test/no-such-model" in message and "hf download" in message and "procedural" in message
    with pytest.raises(MvgenError, match="no such folder"):
        load_pipeline("./no/such/folder", device="cpu")


@pytest.mark.slow
def test_render_resume_and_cli(tiny_model, tmp_path, synth_track, run_cli):
    from mvgen.media.assemble import probe_video
    from mvgen.media.audio import write_audio
    from mvgen.settings import RenderSettings
    from mvgen.pipeline import render_video
    from tests.videos import gray_frames, interrupt_then_resume

    y, _ = synth_track(["bigroom"], seed=4, bars_scale=0.25)
    track = tmp_path / "t.wav"
    write_audio(track, y, 22050)
    settings = RenderSettings(size=64, fps=FPS, end_s=6.0, chunk_frames=30, renderer="diffusion",
                              diffusion=DiffusionSettings(model=str(tiny_model), size=32))
    whole = render_video(track, tmp_path / "whole.mp4", settings)

    out = interrupt_then_resume(track, tmp_path / "resumed.mp4", settings, after_frames=45)
    assert probe_video(out).n_frames == probe_video(whole).n_frames == 90
    np.testing.assert_array_equal(gray_frames(out, 114, 64), gray_frames(whole, 114, 64))

    cli_out = tmp_path / "cli.mp4"
    result = run_cli("render", track, "-o", cli_out, "--renderer", "diffusion", "--model", tiny_model, "--diffusion-size", "32", "--size", "64", "--end", "2", "--fps", "10")
    assert result.returncode == 0, result.stderr
    assert probe_video(cli_out).n_frames == 20


@pytest.mark.slow
def test_sdxl_family_pipeline(styles, tmp_path):
    """SDXL (and SDXL-Turbo) pipelines: two text encoders, so the blend covers the pooled embedding too."""
    from tests.random_pipelines import tiny_sdxl_pipeline

    model = tiny_sdxl_pipeline(tmp_path / "tiny-sdxl")
    r = DiffusionRenderer(styles, W, H, DiffusionSettings(model=str(model), size=32), device="cpu")
    assert type(r.pipe).__name__ == "StableDiffusionXLPipeline"
    pooled = r._embeddings["pooled_prompt_embeds"]
    mix = torch.zeros(1, 9)
    mix[0, 1], mix[0, 2] = 0.7, 0.3
    torch.testing.assert_close(r.conditioning(mix)["pooled_prompt_embeds"][0], 0.7 * pooled[1] + 0.3 * pooled[2])
    specs = specs_for(analysis(), styles, end_s=2.0)
    r.prepare(specs)
    frames = r.render(specs)
    assert frames.shape == (len(specs), H, W, 3) and frames.float().std() > 5


# ----------------------------------------------------------------- modulation (styles' modulate)


def _modulated_styles(styles, matrix):
    """The default styles, every one with the modulation ``matrix``."""
    return {k: s.model_copy(update={"modulate": matrix}) for k, s in styles.items()}


@pytest.mark.slow
def test_keyframes_get_the_modulated_strength_and_prompt_weights(tiny_model, styles, monkeypatch):
    """beat -> strength and beat -> prompt: each keyframe is denoised at the style's strength plus the
    offset, conditioned on the prompt weights (genre weights times the gains), not the plain blend."""
    modulated = _modulated_styles(styles, {"beat": {"strength": 0.3, "prompt": 1.0}})
    a = analysis("deep_house", "bigroom")
    specs = specs_for(a, modulated, end_s=4.0)
    r = renderer(tiny_model, modulated)
    calls = []
    real = r.img2img.__class__.__call__

    def spy(self, *args, **kwargs):
        calls.append((kwargs["strength"], kwargs["prompt_embeds"].detach().clone()))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(r.img2img.__class__, "__call__", spy)
    r.prepare(specs)
    keys = keyframe_positions(specs)
    beat_keys = [p for p in keys if specs[p].on_beat]
    assert len(beat_keys) >= 6
    for p in beat_keys:
        s = specs[p]
        assert s.strength_offset == pytest.approx(0.3)  # the beat source is 1 on its frame
        assert s.prompt_weights == pytest.approx(tuple(2.0 * w for w in s.genre_weights))
        plain = max(0.05, round(min(r._strength(dataclasses.replace(s, strength_offset=0.0)) + 0.3, 1.0) * 20) / 20)
        want = r.conditioning(torch.tensor([s.prompt_weights]))["prompt_embeds"][0]
        assert any(strength == plain and any(torch.allclose(row, want) for row in embeds) for strength, embeds in calls), p
    # the conditioning really changed: the doubled weights are not the plain blend
    s = specs[beat_keys[0]]
    assert not torch.allclose(r.conditioning(torch.tensor([s.prompt_weights]))["prompt_embeds"], r.conditioning(torch.tensor([s.genre_weights]))["prompt_embeds"])


@pytest.mark.slow
def test_camera_applies_brightness_and_hue(tiny_model, styles):
    from mvgen.style.framespec import FrameSpec

    r = renderer(tiny_model, styles)
    pictures = torch.zeros(1, 3, r.gen_h, r.gen_w)
    pictures[:, 0] = 0.5  # a mid red picture
    pictures[:, 1:] = 0.1

    def out(**kw):
        spec = FrameSpec(index=0, time_s=0.0, genre_weights=(1.0,) + (0.0,) * 8, palette=((1, 1, 1),), background=(0, 0, 0), section="drop", **kw)
        return r._camera(pictures, [spec])[:, 0].mean(dim=(1, 2))  # mean (r, g, b)

    base = out()
    assert torch.equal(out(brightness=1.0, hue_shift_deg=0.0), base)
    assert out(brightness=1.5).sum() > 1.4 * base.sum()
    green = out(hue_shift_deg=120.0)
    assert green[1] > green[0] and base[0] > base[1]  # red turned towards green


def test_camera_turns_and_drifts_without_showing_the_pictures_edge():
    """The camera's sampling grid: turned, drifting and shaking frames sample only inside the picture
    (the overscan), without it they would not; the turn and the drift go the procedural renderer's way."""
    from mvgen.renderers.diffusion import camera_matrices
    from mvgen.style.framespec import FrameSpec

    def spec(**kw):
        return FrameSpec(index=0, time_s=0.0, genre_weights=(1.0,), palette=((1, 1, 1),), background=(0, 0, 0), section="drop", **kw)

    cameras = [dict(rotation_deg=deg, drift_x=dx, drift_y=dy, shake_x=0.01, zoom=zoom)
               for deg in (0.0, 7.0, 45.0, -100.0, 181.0) for dx, dy in ((0.0, 0.0), (0.16, -0.1)) for zoom in (1.0, 1.3, 0.6)]
    for w, h in ((W, H), (36, 64), (32, 32)):
        grid = torch.nn.functional.affine_grid(camera_matrices([spec(**c) for c in cameras], w / h), (len(cameras), 3, h, w), align_corners=False)
        assert grid.abs().max() <= 1.0 + 1e-5, (w, h)
        # the control: the same camera without the overscan (zoom alone) samples outside the picture
        c = s = math.sqrt(0.5)  # a 45 degree turn at zoom 1
        plain = torch.tensor([[[c, -s * h / w, 0.0], [s * w / h, c, 0.0]]])
        assert torch.nn.functional.affine_grid(plain, (1, 3, h, w), align_corners=False).abs().max() > 1.05

    # a picture brightening to the right: a positive turn samples further right at the top of the frame
    # (output point q shows R q, the procedural renderer's x = cos x0 - sin y0, y = sin x0 + cos y0, y down)
    ramp = torch.linspace(0.0, 1.0, 64).expand(1, 3, 36, 64)

    def sampled(**kw):
        grid = torch.nn.functional.affine_grid(camera_matrices([spec(**kw)], W / H), (1, 3, H, W), align_corners=False)
        return torch.nn.functional.grid_sample(ramp, grid, align_corners=False)[0, 0]

    turned = sampled(rotation_deg=20.0)
    assert turned[: H // 4].mean() > turned[-H // 4 :].mean() + 0.05
    back = sampled(rotation_deg=-20.0)
    assert back[: H // 4].mean() < back[-H // 4 :].mean() - 0.05
    assert sampled(drift_x=0.05).mean() > sampled().mean() + 0.02  # drifting right: the picture moves left


@pytest.mark.slow
def test_turned_and_drifting_frames_of_a_real_render(tiny_model, styles):
    """Real frames of the tiny pipeline: the rotation and drift of the specs change them, and their corners
    are picture (neither black nor flat)."""
    specs = specs_for(analysis(), styles, end_s=2.0)
    still = [dataclasses.replace(s, rotation_deg=0.0, drift_x=0.0, drift_y=0.0, shake_x=0.0, shake_y=0.0, zoom=1.0) for s in specs]
    turned = [dataclasses.replace(s, rotation_deg=35.0 + 2.0 * i, drift_x=0.12, drift_y=-0.06) for i, s in enumerate(still)]
    r = renderer(tiny_model, styles)
    r.prepare(still)
    plain, moved = r.render(still).float(), r.render(turned).float()
    assert (plain - moved).abs().mean() > 5.0
    k = 3  # a 3x3 patch in each corner of each frame
    for patch in (moved[:, :k, :k], moved[:, :k, -k:], moved[:, -k:, :k], moved[:, -k:, -k:]):
        assert patch.mean(dim=(1, 2, 3)).min() > 10.0  # not black
        assert patch.std(dim=(1, 2)).mean(dim=-1).min() > 1.0  # not a flat fill
    # consecutive turned frames (2 degrees apart) differ: the rotation is drawn frame by frame
    assert (moved[1:] - moved[:-1]).abs().mean() > 0.5
