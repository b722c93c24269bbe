"""The end card's cost: preparing (cover, palette, text fitting, layout), composing with moviepy and
encoding a 3 s card at 1080x1920 and 1920x1080, 30 fps, beside encoding the same number of frames
of the still card alone (the baseline: what x264 costs on these frames), measured in the same run.

    python benchmarks/bench_endcard.py [--seconds 3] [--fps 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    import numpy as np
    from PIL import Image, ImageDraw

    from mvgen.media.assemble import ChunkWriter

    from mvgen.media.pixels import encode_pixels
    from mvgen.brand.branding import Branding
    from mvgen.brand.endcard import EndCard
    from mvgen.media.pixels import PIX_FMT

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="card length")
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()

    import torch

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cover = Image.new("RGB", (3000, 3000), (20, 120, 130))  # a release-sized cover
        draw = ImageDraw.Draw(cover)
        draw.rectangle([0, 1900, 3000, 3000], fill=(50, 20, 70))
        draw.ellipse([900, 700, 2100, 1900], fill=(245, 140, 30))
        cover.save(tmp / "cover.png")
        branding = Branding(cover=str(tmp / "cover.png"), artist="Nova Kline", title="Midnight Signals (Extended Mix)")
        n_frames = round(args.seconds * args.fps)
        for width, height in ((1080, 1920), (1920, 1080)):
            start = time.perf_counter()
            card = EndCard(branding, width, height, args.fps, n_frames)
            prepared = time.perf_counter()
            # a moving gradient under the fade (random noise would make x264, not the card, the cost)
            ramp = np.linspace(16, 235, width * height * 3 // 2)
            underlay = np.stack([np.roll(ramp, 997 * i) for i in range(card.fade_frames)]).astype(np.uint8)
            card.write(tmp / "card.mp4", underlay)
            written = time.perf_counter()
            rgb = torch.from_numpy(card.still()[None]).permute(3, 0, 1, 2).float() / 255.0
            planes = encode_pixels(rgb, PIX_FMT, width, height).numpy()
            base_start = time.perf_counter()
            with ChunkWriter(tmp / "still.mp4", width, height, args.fps, pix_fmt=PIX_FMT) as writer:
                for _ in range(n_frames):
                    writer.write(planes)
            baseline = time.perf_counter() - base_start
            print(f"{width}x{height}, {n_frames} frames: prepare {prepared - start:.2f} s, compose + encode {written - prepared:.2f} s "
                  f"({card.fade_frames} faded frames composed); baseline (encode the still {n_frames} times) {baseline:.2f} s; "
                  f"ratio {(written - prepared) / baseline:.2f}")


if __name__ == "__main__":
    main()
