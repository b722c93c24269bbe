"""Render throughput: a synthetic track rendered and encoded at 1280x720, 30 fps, beside ffmpeg alone.

The baseline is ffmpeg encoding its own test pattern (``testsrc2``) of the same size, frame rate and
length with the same encoder settings as mvgen's chunks (:data:`mvgen.media.assemble.VIDEO_CODEC`),
measured in the same run. The render is timed after the analysis (which ``bench_speed.py`` covers);
it includes the mapper, drawing, encoding, concatenation and the audio mux. The first render
compiles the renderer (cached on disk afterwards): it is reported apart, and the timed render
reuses the cache as later renders do. Target (issue 4): render / baseline <= 1.25.

A third figure separates the renderer from the encoder: ffmpeg alone encoding mvgen's *own*
frames (``--floor-seconds`` of the video in 2 s runs spread evenly over the track, so quiet intros
and busy drops both count), drawn beforehand into a raw yuv420p file and fed from the page cache
through the renders' own :class:`~mvgen.media.assemble.ChunkWriter`, so with the same settings. That
ratio is the floor any renderer of these pictures has: what x264 costs on them, drawing for free.
Each figure comes with the CPU time it took (this process and its ffmpeg children, user + system):
on a shared machine other jobs stretch the wall-clock times, much less the CPU times, so the
render / floor ratio is given both ways.

    python benchmarks/bench_render.py [--seconds 180] [--size 720] [--detail 0.5] [--floor-seconds 20]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_s() -> float:
    """CPU seconds (user + system) used so far by this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    import numpy as np
    import torch

    from bench_speed import make_track
    from mvgen.analysis.track import analyze
    from mvgen.media.assemble import VIDEO_CODEC, ChunkWriter, probe_video
    from mvgen.media.ffmpeg import ffmpeg_exe
    from mvgen.style.mapper import map_frames
    from mvgen.media.pixels import PIX_FMT
    from mvgen.settings import RenderSettings
    from mvgen.renderers.factory import procedural_renderer
    from mvgen.pipeline import render_video
    from mvgen.style.blend import StyleTable
    from mvgen.style.styles import load_styles

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="track length")
    parser.add_argument("--size", type=int, default=720, help="short side (720: 1280x720)")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--detail", type=float, default=None, help="renderer detail (default: mvgen's choice for this device)")
    parser.add_argument("--floor-seconds", type=float, default=20.0, help="length of the own-frames encode (raw frames take 1.4 MB each at 720p)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wav, duration_s = make_track(tmp, args.seconds / 60.0)
        analysis = analyze(wav, use_cache=False)
        settings = RenderSettings(size=args.size, fps=args.fps, detail=args.detail, compile=None)
        width, height = settings.frame_size()
        n_frames = round(duration_s * args.fps)
        renderer = procedural_renderer(width, height, n_frames, detail=settings.detail, compile=settings.compile)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        print(f"track {duration_s:.1f} s, {width}x{height} at {args.fps:g} fps ({n_frames} frames); renderer on {device}, "
              f"detail {renderer.detail:g}, compiled {renderer.compiled}; torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads")

        # warm-up: compiles the renderer (or loads it from the disk cache) and starts the encoder once
        t0 = time.perf_counter()
        render_video(wav, tmp / "warm.mp4", settings.model_copy(update={"end_s": 1.0}), analysis=analysis)
        print(f"warm-up (compilation or cache load, 1 s render): {time.perf_counter() - t0:6.1f} s")

        t0, c0 = time.perf_counter(), cpu_s()
        subprocess.run(
            [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={args.fps:g}",
             "-frames:v", str(n_frames), *VIDEO_CODEC, "-r", f"{args.fps:g}", "-an", str(tmp / "pattern.mp4")],
            check=True,
        )
        baseline, baseline_cpu = time.perf_counter() - t0, cpu_s() - c0

        t0, c0 = time.perf_counter(), cpu_s()
        video = render_video(wav, tmp / "video.mp4", settings, analysis=analysis)
        ours, ours_cpu = time.perf_counter() - t0, cpu_s() - c0
        info = probe_video(video)
        assert info.n_frames == n_frames, info

        # the floor: x264 on mvgen's own frames, drawn beforehand
        all_specs = map_frames(analysis, StyleTable.from_styles(load_styles()), fps=args.fps)
        run = round(2.0 * args.fps)  # frames per run: one GOP (-g 60)
        n_runs = max(1, min(len(all_specs) // run, round(args.floor_seconds / 2.0)))
        starts = [round(i * (len(all_specs) - run) / max(1, n_runs - 1)) for i in range(n_runs)]
        specs = [s for start in starts for s in all_specs[start : start + run]]
        raw = tmp / "frames.yuv"
        with open(raw, "wb") as f:
            for b in range(0, len(specs), settings.batch_frames):
                f.write(renderer.render(specs[b : b + settings.batch_frames], pix_fmt=PIX_FMT).cpu().numpy().tobytes())
        # through the renders' own writer (same pipe, same arguments), read back a batch at a time
        frame_bytes = width * height * 3 // 2
        t0, c0 = time.perf_counter(), cpu_s()
        with ChunkWriter(tmp / "own.mp4", width, height, args.fps, pix_fmt=PIX_FMT) as writer, open(raw, "rb") as f:
            while batch := f.read(frame_bytes * settings.batch_frames):
                writer.write(np.frombuffer(batch, np.uint8).reshape(-1, frame_bytes))
        floor = (time.perf_counter() - t0) * n_frames / len(specs)  # per frame, scaled to the whole track
        floor_cpu = (cpu_s() - c0) * n_frames / len(specs)

        print(f"ffmpeg alone, test pattern:      {baseline:7.1f} s ({n_frames / baseline:6.1f} frames/s)  baseline")
        print(f"ffmpeg alone, mvgen's own frames: {floor:6.1f} s ({n_frames / floor:6.1f} frames/s)  ratio {floor / baseline:.2f} "
              f"(the floor: drawing for free; from {len(specs)} frames in {n_runs} runs)")
        print(f"mvgen render + encode:            {ours:6.1f} s ({n_frames / ours:6.1f} frames/s)  ratio {ours / baseline:.2f} (target <= 1.25); "
              f"{ours / floor:.2f} x the encode of its own frames")
        print(f"real-time factor of the render: {ours / duration_s:.2f}")
        print(f"CPU seconds: test pattern {baseline_cpu:.1f}, own frames {floor_cpu:.1f}, render {ours_cpu:.1f}: "
              f"render / floor {ours_cpu / floor_cpu:.2f} in CPU time, {ours / floor:.2f} in wall-clock time")


if __name__ == "__main__":
    main()
