"""On a CUDA device: each GPU path gives what the CPU path gives (skipped where there is no GPU).

These are the checks to run on a machine with a GPU: ``pytest tests/test_cuda.py``. The CPU paths
themselves are covered by the other test files.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mvgen.style.framespec import MOTIFS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_procedural_frames_match_the_cpu():
    from tests.test_procedural import spec

    from mvgen.renderers.procedural import ProceduralRenderer

    specs = [spec(index=i, time_s=12.3 + i / 30, drop_burst=0.5 * (i == 1), motif_weights={m: 1.0 for m in MOTIFS[i % 3 :: 2]})
             for i in range(3)]
    for pix_fmt in ("rgb24", "yuv420p"):
        gpu = ProceduralRenderer(320, 180, device="cuda").render(specs, pix_fmt)
        cpu = ProceduralRenderer(320, 180, device="cpu").render(specs, pix_fmt)
        assert gpu.device.type == "cuda" and gpu.shape == cpu.shape
        diff = (gpu.cpu().int() - cpu.int()).abs()
        assert diff.float().mean() < 0.5 and diff.max() <= 12, pix_fmt  # float maths rounds differently


def test_genre_profile_matches_the_cpu():
    from mvgen.classify.classifier import default_checkpoint, load_classifier, predict_profile
    from mvgen.synth import render_clip

    y, _ = render_clip({"bigroom": 0.6, "deep_house": 0.4}, seed=5, duration_s=20.0)
    folder = default_checkpoint()
    assert folder is not None
    gpu = load_classifier(folder, device="cuda")
    assert next(gpu.parameters()).device.type == "cuda"
    on_gpu = predict_profile(gpu, y)
    on_cpu = predict_profile(load_classifier(folder, device="cpu"), y)
    np.testing.assert_allclose(on_gpu.times_s, on_cpu.times_s)
    assert np.abs(on_gpu.probabilities - on_cpu.probabilities).max() < 1e-3
    assert np.abs(on_gpu.in_scope - on_cpu.in_scope).max() < 1e-3


def test_diffusion_renders_in_half_precision(tmp_path):
    from tests.test_diffusion import analysis, specs_for

    from mvgen.renderers.diffusion import DiffusionRenderer, DiffusionSettings
    from tests.random_pipelines import tiny_pipeline
    from mvgen.style.styles import load_styles

    styles = load_styles()
    model = tiny_pipeline(tmp_path / "tiny-sd")
    r = DiffusionRenderer(styles, 64, 36, DiffusionSettings(model=str(model), size=32), device="cuda")
    assert r.pipe.unet.dtype == torch.float16
    specs = specs_for(analysis(), styles, end_s=2.0)
    r.prepare(specs)
    frames = r.render(specs, pix_fmt="yuv420p")
    assert frames.device.type == "cuda" and frames.shape == (len(specs), 64 * 36 * 3 // 2)
    assert frames.float().std() > 1  # pictures, not a constant


def test_render_video_on_the_gpu(tmp_path):
    from mvgen.media.assemble import probe_video
    from mvgen.media.audio import write_audio
    from mvgen.settings import RenderSettings
    from mvgen.renderers.factory import procedural_renderer
    from mvgen.pipeline import render_video
    from mvgen.synth import render_clip

    y, _ = render_clip("future_house", seed=2, duration_s=6.0)
    write_audio(tmp_path / "t.wav", y, 22050)
    settings = RenderSettings(size=180, fps=30)
    renderer = procedural_renderer(320, 180, 180, detail=settings.detail, compile=settings.compile)
    assert renderer.device.type == "cuda" and renderer.detail == 1.0 and not renderer.compiled
    info = probe_video(render_video(tmp_path / "t.wav", tmp_path / "v.mp4", settings))
    assert info.n_frames == 180 and info.colour == "tv, bt709"
