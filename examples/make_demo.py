"""Render the demo track: examples/demo.wav (60 s, 44.1 kHz stereo, 16-bit) and its truth, demo.json.

Deep house intro and build-up, a future house / bass house drop (70/30 blend), a progressive house
breakdown, then a bigroom build-up, drop and outro, at 128 bpm, in 4- and 8-bar phrases.

    python examples/make_demo.py [--seed 7] [--out examples/demo.wav]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mvgen.synth import Arrangement, SectionSpec, render, write_track  # noqa: E402

DEMO = Arrangement(
    bpm=128.0,
    sections=[
        SectionSpec(label="intro", bars=4, genres={"deep_house": 1.0}),
        SectionSpec(label="build-up", bars=4, genres={"deep_house": 1.0}),
        SectionSpec(label="drop", bars=8, genres={"future_house": 0.7, "bass_house": 0.3}),
        SectionSpec(label="breakdown", bars=4, genres={"progressive_house": 1.0}),
        SectionSpec(label="build-up", bars=4, genres={"bigroom": 1.0}),
        SectionSpec(label="drop", bars=4, genres={"bigroom": 1.0}),
        SectionSpec(label="outro", bars=4, genres={"bigroom": 1.0}),
    ],
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "demo.wav")
    args = parser.parse_args()
    start = time.perf_counter()
    audio, truth = render(DEMO, seed=args.seed, sr=44100, stereo=True)
    sidecar = write_track(args.out, audio, truth)
    print(f"wrote {args.out} and {sidecar}: {truth.duration_s:.1f} s at {truth.tempo_bpm:g} bpm, rendered in {time.perf_counter() - start:.2f} s")
    for s in truth.sections:
        blend = ", ".join(f"{g} {w:.0%}" for g, w in s.genres.items())
        print(f"  {s.start_s:6.2f}-{s.end_s:6.2f} s  {s.label:<10} {blend}")


if __name__ == "__main__":
    main()
