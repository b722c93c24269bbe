"""Frames per second of the procedural renderer alone at 1280x720 (CPU, and CUDA when available).

Frames are drawn as renders draw them: in the encoder's yuv420p, on a CPU compiled at detail 0.5,
on CUDA eagerly at full detail (mvgen's defaults; ``--detail`` and ``--eager`` change them). The
first batch (compilation, or its disk cache) is not timed.

Run: ``python benchmarks/bench_procedural.py [--frames N] [--batch B] [--detail D] [--eager]``.
"""

from __future__ import annotations

import argparse
import time

import torch

from mvgen.style.framespec import FrameSpec
from mvgen.renderers.procedural import ProceduralRenderer

MIXES = {
    "deep_house": {"waves": 1.0, "particles": 0.6},
    "bigroom": {"lasers": 1.0, "particles": 0.6, "tunnel": 0.5, "rings": 0.3},
    "tech_house": {"grid": 1.0, "lasers": 0.2},
}
PALETTE = ((1.0, 0.0, 0.25), (1.0, 0.83, 0.0), (0.0, 0.64, 1.0), (1.0, 0.0, 0.78), (0.0, 1.0, 0.42))


def specs(n: int, motifs: dict) -> list[FrameSpec]:
    return [
        FrameSpec(index=i, time_s=i / 30, genre_weights=(1.0,) + (0.0,) * 7, palette=PALETTE, background=(0.01, 0.0, 0.04),
                  section="drop", beat_pulse=max(0.0, 1 - (i % 15) / 10), beat_phase=(i % 15) / 15, bar_phase=(i % 60) / 60,
                  energy=0.9, drop_burst=0.5 if i < 4 else 0.0, rotation_deg=i * 0.2, motif_weights=motifs, speed=0.5, density=0.8)
        for i in range(n)
    ]


def bench(device: str, frames: int, batch: int, detail: float | None, eager: bool) -> None:
    cpu = device == "cpu"
    r = ProceduralRenderer(1280, 720, device=device, detail=detail or (0.5 if cpu else 1.0), compile=cpu and not eager)
    for name, motifs in MIXES.items():
        ss = specs(frames, motifs)
        r.render(ss[:batch], pix_fmt="yuv420p")  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for b in range(0, frames, batch):
            out = r.render(ss[b : b + batch], pix_fmt="yuv420p")
        out.cpu()
        dt = time.perf_counter() - t
        print(f"{device:5s} {name:11s} {frames / dt:7.1f} frames/s  {1000 * dt / frames:6.1f} ms/frame  "
              f"(detail {r.detail:g}, {'compiled' if r.compiled else 'eager'})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--detail", type=float, default=None, help="default: 0.5 on the CPU, 1 on CUDA")
    ap.add_argument("--eager", action="store_true", help="do not compile on the CPU")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    bench("cpu", args.frames, args.batch, args.detail, args.eager)
    if torch.cuda.is_available():
        bench("cuda", max(args.frames, 120), args.batch, args.detail, args.eager)
