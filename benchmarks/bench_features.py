"""The per-frame audio features (mvgen.reactive): their cost, and how well the drum onsets find the
synth's known hits, on tracks the tests do not use; optionally a sanity check on real music.

Cost: the median of ``--repeats`` in-process runs on a 3-minute synthetic track of
``frame_features`` without the detail (the baseline: what the analysis computed before), with it,
and of ``compute_audio_features`` on top (normalization, leak removal, tension, lead).

Quality (``--quality``): for each style and seed, the share of hits with a local peak of their
feature (>= 0.1) within one 30 fps frame, and the Pearson correlation of the feature at 30 fps with
the truth's hit envelope (an impulse per hit, 50 ms decay, the latest hit wins), unweighted and
weighted by the truth's hit levels.

Real music (``--real-cache``, the folder of ``real_music.py``): the kick feature's mean on the
reference beats beside its mean half a beat later (a four-on-the-floor kick sits on the beats).

    python benchmarks/bench_features.py [--repeats 5] [--quality] [--real-cache ~/.cache/mvgen-bench]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mvgen import synth  # noqa: E402
from mvgen.features import ANALYSIS_SR, frame_features  # noqa: E402
from mvgen.reactive import compute_audio_features  # noqa: E402

FPS = 30.0
DRUMS = {"kick": ("kicks",), "snare": ("claps", "snare_rolls", "extra_snares"), "hats": ("hats_closed", "hats_open")}
HELD_OUT = [(style, seed) for seed in (11, 12) for style in ("deep_house", "tech_house", "progressive_house", "future_house", "bass_house", "slap_house", "future_rave", "bigroom")]


def _median_s(fn, repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time (s) of ``repeats`` calls; on a shared machine the CPU
    time is the steadier figure."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def cost(repeats: int) -> None:
    arrangement = synth.default_arrangement("tech_house", 1, bars_scale=0.75)
    y, truth = synth.render(arrangement, 1, sr=ANALYSIS_SR, stereo=False)
    y = y[: int(180 * ANALYSIS_SR)] if len(y) >= 180 * ANALYSIS_SR else np.tile(y, 3)[: int(180 * ANALYSIS_SR)]
    plain = _median_s(lambda: frame_features(y), repeats)
    detail = _median_s(lambda: frame_features(y, detail=True), repeats)
    features = frame_features(y, detail=True)
    finish = _median_s(lambda: compute_audio_features(features=features), repeats)
    print(f"3-minute track, median of {repeats} (wall s / CPU s):")
    print(f"  frame_features (baseline)      {plain[0]:6.3f} / {plain[1]:6.3f}")
    print(f"  frame_features(detail=True)    {detail[0]:6.3f} / {detail[1]:6.3f}")
    print(f"  compute_audio_features on top  {finish[0]:6.3f} / {finish[1]:6.3f}")
    print(f"  added by the audio features    {detail[0] - plain[0] + finish[0]:6.3f} / {detail[1] - plain[1] + finish[1]:6.3f}")


def _envelope(times_s: np.ndarray, levels: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    decay = np.exp(-np.arange(8) / 1.5)
    for i, level in zip(np.round(times_s * FPS).astype(int), levels):
        if 0 <= i < n:
            np.maximum(out[i : i + 8], level * decay[: n - i], out=out[i : i + 8])
    return out


def _hit_rate(x: np.ndarray, times_s: np.ndarray) -> float:
    hits = 0
    for i in np.round(times_s * FPS).astype(int):
        a, b = max(i - 1, 0), min(i + 2, len(x))
        j = a + int(np.argmax(x[a:b]))
        hits += x[j] >= 0.1 and x[j] >= x[max(j - 1, 0)] and x[j] >= x[min(j + 1, len(x) - 1)]
    return hits / max(len(times_s), 1)


def quality() -> None:
    rows: dict[str, list[tuple[float, float, float]]] = {d: [] for d in DRUMS}
    print(f"{'track':24s}" + "".join(f" | {d:5s} hit  r    r_lvl" for d in DRUMS))
    for style, seed in HELD_OUT:
        y, truth = synth.render(synth.default_arrangement(style, seed, bars_scale=0.25), seed, sr=ANALYSIS_SR, stereo=False)
        times_s = np.arange(int(truth.duration_s * FPS)) / FPS
        frames = compute_audio_features(y).at_frames(times_s, FPS)
        line = f"{style + ':' + str(seed):24s}"
        for drum, names in DRUMS.items():
            hits = sorted(h for name in names for h in getattr(truth.events, name))
            t = np.array([h[0] for h in hits])
            level = np.array([h[1] for h in hits])
            x = frames[drum]
            r = float(np.corrcoef(x, _envelope(t, np.ones(len(t)), len(x)))[0, 1])
            r_level = float(np.corrcoef(x, _envelope(t, level, len(x)))[0, 1])
            rate = _hit_rate(x, t)
            rows[drum].append((rate, r, r_level))
            line += f" | {rate:9.2f} {r:4.2f} {r_level:4.2f}"
        print(line, flush=True)
    for drum, values in rows.items():
        a = np.array(values)
        print(f"mean {drum:5s}: peak hit rate {a[:, 0].mean():.2f} (min {a[:, 0].min():.2f}), Pearson {a[:, 1].mean():.2f} "
              f"(min {a[:, 1].min():.2f}), level-weighted {a[:, 2].mean():.2f} (min {a[:, 2].min():.2f})")


def real(folder: Path) -> None:
    from mvgen.audio import load_audio

    ratios = []
    for wav in sorted(folder.glob("**/*.wav")):
        beats_file = wav.with_suffix(".beats.json")
        if not beats_file.is_file():
            continue
        beats = np.asarray(json.loads(beats_file.read_text())["beats_s"] if isinstance(json.loads(beats_file.read_text()), dict) else json.loads(beats_file.read_text()), dtype=np.float64)
        y = load_audio(wav, sr=ANALYSIS_SR, mono=True)
        features = compute_audio_features(y)
        kick = features.array("kick")
        half = np.median(np.diff(beats)) / 2
        on = features.at_frames(beats, FPS)["kick"].mean()
        off = features.at_frames(beats + half, FPS)["kick"].mean()
        ratios.append(on / max(off, 1e-6))
        print(f"  {wav.name:40s} kick on beats {on:.3f}, half a beat later {off:.3f} (mean over track {kick.mean():.3f})")
    if ratios:
        print(f"on/off-beat ratio: median {np.median(ratios):.2f} over {len(ratios)} tracks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--real-cache", type=Path)
    args = parser.parse_args()
    cost(args.repeats)
    if args.quality:
        quality()
    if args.real_cache:
        real(args.real_cache)


if __name__ == "__main__":
    main()
