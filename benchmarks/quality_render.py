"""How far the procedural frames of this checkout are from another checkout's (say, before a speed-up).

Draws the demo's frames as renders draw them (1280x720, 30 fps, yuv420p, the renderer mvgen picks
for a long render on this device: compiled at detail 0.5 on a CPU) in ``--runs`` runs of
``--batch`` consecutive frames spread evenly over the track (so intros, breakdowns and drops
count, in batches like a render's), once with ``--reference`` (a checkout of mvgen, run in its own
process with it first on ``PYTHONPATH``) and once with this one, and prints the PSNR of every
frame (the encoder's yuv420p planes, 8-bit peak 255) and its min and mean, and the largest
difference of any code value. Target (issue 23): min PSNR >= 40 dB.

    python benchmarks/quality_render.py --reference /path/to/main [--track examples/demo.wav] [--runs 16] [--batch 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def draw(track: str, runs: int, batch: int, size: int, fps: float, out: Path) -> None:
    """Draw the chosen frames of ``track`` with the mvgen first on ``sys.path`` into ``out`` (.npy, (N, H*W*3/2) uint8)."""
    import numpy as np

    from mvgen.analysis.track import analyze
    from mvgen.media.pixels import PIX_FMT
    from mvgen.renderers.factory import procedural_renderer
    from mvgen.settings import RenderSettings
    from mvgen.style.blend import StyleTable
    from mvgen.style.mapper import map_frames
    from mvgen.style.styles import load_styles

    analysis = analyze(track)
    specs = map_frames(analysis, StyleTable.from_styles(load_styles()), fps=fps)
    width, height = RenderSettings(size=size, fps=fps).frame_size()
    renderer = procedural_renderer(width, height, len(specs))
    starts = [round(i * (len(specs) - batch) / max(1, runs - 1)) for i in range(runs)]
    frames = [renderer.render(specs[s : s + batch], pix_fmt=PIX_FMT).cpu().numpy() for s in starts]
    np.save(out, np.concatenate(frames))
    print(f"{renderer.__module__} from {sys.modules['mvgen'].__file__}: {sum(map(len, frames))} frames at {width}x{height}, "
          f"detail {renderer.detail:g}, compiled {renderer.compiled}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", required=True, help="root of the mvgen checkout to compare with")
    parser.add_argument("--track", default=str(ROOT / "examples" / "demo.wav"))
    parser.add_argument("--runs", type=int, default=16, help="runs of consecutive frames, spread over the track")
    parser.add_argument("--batch", type=int, default=8, help="frames per run (a render's batch)")
    parser.add_argument("--size", type=int, default=720)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--draw", help=argparse.SUPPRESS)  # internal: draw into this .npy with the mvgen on PYTHONPATH
    args = parser.parse_args()
    if args.draw:
        draw(args.track, args.runs, args.batch, args.size, args.fps, Path(args.draw))
        return

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, root in (("reference", Path(args.reference).resolve()), ("this checkout", ROOT)):
            paths[name] = Path(tmp) / f"{len(paths)}.npy"
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--reference", str(root), "--track", args.track, "--runs", str(args.runs),
                            "--batch", str(args.batch), "--size", str(args.size), "--fps", str(args.fps), "--draw", str(paths[name])],
                           check=True, env=env, cwd=tmp)
        ref, new = (np.load(p).astype(np.float64) for p in paths.values())
    mse = ((ref - new) ** 2).mean(axis=1)
    psnr = 10.0 * np.log10(255.0**2 / np.maximum(mse, 1e-12))
    psnr = np.minimum(psnr, 99.0)  # identical frames
    print("per-frame PSNR (dB):", " ".join(f"{v:.1f}" for v in psnr))
    print(f"{len(psnr)} frames: PSNR min {psnr.min():.1f} dB, mean {psnr.mean():.1f} dB (target: min >= 40); "
          f"largest code difference {int(np.abs(ref - new).max())}, frames with any difference {int((mse > 0).sum())}")


if __name__ == "__main__":
    main()
