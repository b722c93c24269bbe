"""Diffusion render loop speed (frames/s, encode included) and flicker, per coherence method and decoder.

Builds the SD-turbo architecture (Stable Diffusion 2.1 UNet, VAE and OpenCLIP-H text encoder
configurations) with random weights: speed does not depend on the weight values, and no weights can
be downloaded here. ``--model`` uses a real pipeline (Hub id or folder) instead; only then is the
flicker figure (mean frame-to-frame change away from beats, 0..1) meaningful for choosing a method,
since random weights draw noise. The timed loop is what ``mvgen render --renderer diffusion`` runs
per video: keyframes (``prepare``), then batches of frames drawn, decoded, warped and piped into
the H.264 encoder. Target (issue 5): >= 30 frames/s at 512x512 on an H100.

    python benchmarks/bench_diffusion.py [--seconds 20] [--fps 24] [--size 512] [--model ID_OR_PATH]
    python benchmarks/bench_diffusion.py --seconds 2 --size 128     # a quick CPU run of the same loop
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def synthetic_analysis(seconds: float, bpm: float = 128.0):
    """A 128 bpm analysis: a calm half in deep house, then a drop blending future house and bass house."""
    import numpy as np

    from mvgen.analysis.track import Analysis, AudioSummary, Drop, GenreProfile, Section
    from mvgen.genres import GENRES

    beat_s = 60.0 / bpm
    beats = list(np.arange(0.1, seconds, beat_s))
    times = list(np.arange(0.0, seconds + 0.5, 0.5))
    half = seconds / 2
    rows = []
    for t in times:
        row = np.zeros(8)
        if t < half:
            row[GENRES.index("deep_house")] = 1.0
        else:
            row[GENRES.index("future_house")], row[GENRES.index("bass_house")] = 0.7, 0.3
        rows.append(row.tolist())
    return Analysis(
        audio=AudioSummary(path="bench.wav", content_hash="bench", sr=44100, channels=2, duration_s=seconds),
        duration_s=seconds, tempo_bpm=bpm, beats_s=beats, downbeats_s=beats[::4],
        sections=[Section(start_s=0.0, end_s=half, label="breakdown"), Section(start_s=half, end_s=seconds, label="drop")],
        drops=[Drop(start_s=half, end_s=seconds)],
        genre_profile=GenreProfile(labels=list(GENRES), times_s=times, probabilities=rows, in_scope=[1.0] * len(rows)),
    )


def main() -> None:
    import torch

    from mvgen.media.assemble import ChunkWriter
    from mvgen.renderers.diffusion import DiffusionRenderer, DiffusionSettings, flicker, load_pipeline, quiet_libraries
    from mvgen.style.blend import StyleTable
    from mvgen.style.mapper import map_frames
    from mvgen.style.styles import load_styles
    from tests.random_pipelines import sd_turbo_pipeline, tiny_autoencoder  # the repo root is on sys.path (top of this file)

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--size", type=int, default=512, help="output and generation size (square)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--model", default=None, help="a real pipeline instead of random SD-turbo weights")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd UNet and decoder")
    args = parser.parse_args()
    quiet_libraries()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    styles = load_styles()
    specs = map_frames(synthetic_analysis(args.seconds), StyleTable.from_styles(styles), fps=args.fps)
    pulses = [s.beat_pulse for s in specs]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        if args.model:
            pipe = load_pipeline(args.model, device, "auto")
        else:
            pipe = sd_turbo_pipeline(tmp / "tokenizer").to(device, dtype)
            pipe.set_progress_bar_config(disable=True)
        taesd = tiny_autoencoder(tmp / "taesd", full_size=True)  # TAESD's layout, random weights
        print(f"{'model ' + args.model if args.model else 'SD-turbo architecture, random weights'}; {device} "
              f"({torch.cuda.get_device_name() if device.type == 'cuda' else f'{torch.get_num_threads()} threads'}), {pipe.unet.dtype}; "
              f"{len(specs)} frames of {args.size}x{args.size} at {args.fps:g} fps; built in {time.perf_counter() - t0:.0f} s")

        configs = [("keyframes", None, False), ("keyframes", str(taesd), False), ("fixed-noise", str(taesd), False)]
        if args.compile:
            configs.append(("keyframes", str(taesd), True))
        for method, fast_vae, compile in configs:
            settings = DiffusionSettings(model=args.model or "random", method=method, fast_vae=fast_vae, size=args.size,
                                         batch_size=args.batch, steps=args.steps, compile=compile)
            renderer = DiffusionRenderer(styles, args.size, args.size, settings, device=device, pipe=pipe)
            renderer.prepare(specs[: args.batch])  # warm-up (cuDNN autotuning, compilation)
            renderer.render(specs[: args.batch])
            if device.type == "cuda":
                torch.cuda.synchronize()
            frames = []
            t0 = time.perf_counter()
            renderer.prepare(specs)
            t_keys = time.perf_counter() - t0
            with ChunkWriter(tmp / "out.mp4", args.size, args.size, args.fps) as writer:
                for b in range(0, len(specs), args.batch):
                    batch = renderer.render(specs[b : b + args.batch]).cpu()
                    writer.write(batch.numpy())
                    frames.append(batch[:, ::4, ::4])  # a thumbnail is enough for the flicker figure
            dt = time.perf_counter() - t0
            fl = flicker(torch.cat(frames), pulses)
            label = f"{method:11s} decoder {'TAESD' if fast_vae else 'VAE':5s}{' compiled' if compile else ''}"
            print(f"{label:34s} {len(specs) / dt:7.1f} frames/s (keyframes {t_keys:5.1f} s of {dt:6.1f} s)  "
                  f"flicker {fl:.4f}{'' if args.model else ' (random weights: not meaningful)'}")


if __name__ == "__main__":
    main()
