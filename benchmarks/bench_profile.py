"""Speed of the sub-genre profile of a 3-minute track, after the classifier is loaded.

Reports the median of ``--repeats`` runs on the CPU (and on CUDA when available), beside the
beat/section analysis of the same audio measured in the same run (the baseline the profile adds to).

    python benchmarks/bench_profile.py [--model models/mvgen-synth-v2] [--minutes 3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mvgen import synth  # noqa: E402
from mvgen.analysis.track import analyze_signal  # noqa: E402
from mvgen.classify.classifier import ClassifierConfig, GenreClassifier, default_checkpoint, load_classifier, predict_profile  # noqa: E402


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="classifier folder (default: bundled, else random weights of the default architecture)")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    genres = ["deep_house", "future_house", "bigroom"]
    bars = sum(s.bars for s in synth.default_arrangement(genres, seed=3).sections)
    arrangement = synth.default_arrangement(genres, seed=3, bars_scale=args.minutes * 60 / (bars * 4 * 60 / 126)).model_copy(update={"bpm": 126.0})
    y, truth = synth.render(arrangement, seed=3, sr=22050, stereo=False)
    print(f"track: {truth.duration_s:.1f} s; torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    base = median_time(lambda: analyze_signal(y), args.repeats)
    print(f"beat/section analysis (baseline): {base:.2f} s")
    source = args.model or default_checkpoint()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        model = load_classifier(source, device=device) if source else GenreClassifier(ClassifierConfig()).to(device).eval()
        predict_profile(model, y)  # warm-up: kernels, allocator
        t = median_time(lambda: predict_profile(model, y), args.repeats)
        name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
        print(f"genre profile on {name}: {t:.2f} s ({truth.duration_s / t:.0f}x real time), {t / base:.2f}x the beat/section analysis")


if __name__ == "__main__":
    main()
