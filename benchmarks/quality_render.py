"""How far the procedural frames of this checkout are from another checkout's (say, before a speed-up).

Draws the demo's frames as renders draw them (1280x720, 30 fps, yuv420p, the renderer mvgen picks
for a long render on this device: compiled at detail 0.5 on a CPU) in ``--runs`` runs of
``--batch`` consecutive frames spread evenly over the track (so intros, breakdowns and drops
count, in batches like a render's), once with ``--reference`` (a checkout of mvgen, run in its own
process with it first on ``PYTHONPATH``) and once with this one, and prints the PSNR of every
frame (the encoder's yuv420p planes, 8-bit peak 255) and its min and mean, and the largest
difference of any code value. Both draw the same frame specs, analyzed and mapped by this checkout:
what is compared is the drawing, not changes of the analysis or of the styles' mapping. Target (issue 23): min PSNR >= 40 dB.

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
LONG_RENDER_FRAMES = 1800  # the renderer is chosen as for a render this long (the demo's 60 s)


def map_specs(track: str, runs: int, batch: int, fps: float, out: Path) -> None:
    """The chosen frames' specs of ``track``, analyzed and mapped by this checkout, pickled into ``out``
    as runs of ``batch`` consecutive specs (both renderers then draw the same specs: what is compared
    is the drawing, not changes of the analysis or the styles)."""
    import pickle

    sys.path.insert(0, str(ROOT))  # this checkout's mvgen (the drawing processes put theirs first)
    from mvgen.analysis.track import analyze
    from mvgen.style.blend import StyleTable
    from mvgen.style.mapper import map_frames
    from mvgen.style.styles import load_styles

    specs = map_frames(analyze(track), StyleTable.from_styles(load_styles()), fps=fps)
    starts = [round(i * (len(specs) - batch) / max(1, runs - 1)) for i in range(runs)]
    out.write_bytes(pickle.dumps([specs[s : s + batch] for s in starts]))


def draw(specs_path: Path, size: int, fps: float, out: Path) -> None:
    """Draw the pickled runs of specs with the mvgen first on ``sys.path`` into ``out`` (.npy, (N, H*W*3/2) uint8)."""
    import pickle

    import numpy as np

    from mvgen.media.pixels import PIX_FMT
    from mvgen.renderers.factory import procedural_renderer
    from mvgen.settings import RenderSettings

    runs = pickle.loads(specs_path.read_bytes())  # noqa: S301 - written by this script a moment ago
    width, height = RenderSettings(size=size, fps=fps).frame_size()
    renderer = procedural_renderer(width, height, LONG_RENDER_FRAMES)
    frames = [renderer.render(run, pix_fmt=PIX_FMT).cpu().numpy() for run in runs]
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
    parser.add_argument("--draw", nargs=2, help=argparse.SUPPRESS)  # internal: draw SPECS.pkl into OUT.npy with the mvgen on PYTHONPATH
    args = parser.parse_args()
    if args.draw:
        draw(Path(args.draw[0]), args.size, args.fps, Path(args.draw[1]))
        return

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        specs = Path(tmp) / "specs.pkl"
        map_specs(args.track, args.runs, args.batch, args.fps, specs)
        paths = {}
        for name, root in (("reference", Path(args.reference).resolve()), ("this checkout", ROOT)):
            paths[name] = Path(tmp) / f"{len(paths)}.npy"
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--reference", str(root), "--track", args.track, "--runs", str(args.runs),
                            "--batch", str(args.batch), "--size", str(args.size), "--fps", str(args.fps), "--draw", str(specs), str(paths[name])],
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
