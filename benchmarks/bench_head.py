"""Few-shot training from a label's own catalogue: `mvgen train --from default --head-only` on 100
three-minute tracks of classes the bundled model never heard, timed in a fresh process.

    python benchmarks/bench_head.py [--tracks 100] [--minutes 3] [--cache ~/.cache/mvgen-bench/head] [--cv 5]

The catalogue is made once with ``mvgen.synth`` (cached as 44.1 kHz WAV, like files from a label):
an equal number of tracks of each of ``CLASSES``, each cut to ``--minutes``. Figures printed:

* the wall time of the whole command (imports, decoding, one backbone pass per track, the
  built-in out-of-scope examples, the head, calibration, cross-validation), and of the same command
  without the cross-validation and without the built-in examples;
* the baseline measured in the same run: decoding every track alone (``mvgen.media.audio.load_audio`` at
  the model's rate), which any training on these files pays; the ratios are against it;
* track-grouped cross-validation top-1 (``--cv`` folds) and the held-out top-1 and calibration
  error the command reports.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The label's classes: none of them is a class of the bundled model.
CLASSES = ("drum_and_bass", "hardstyle", "reggae", "hip_hop", "rock")
SR = 44100


def make_catalogue(folder: Path, n_tracks: int, minutes: float) -> Path:
    """``folder/labels.csv`` (``path,label``) and its tracks, rendered once (existing files are kept)."""
    import soxr

    from mvgen import synth
    from mvgen.media.audio import write_audio

    folder.mkdir(parents=True, exist_ok=True)
    rows = ["path,label"]
    target_s = 60.0 * minutes
    for i in range(n_tracks):
        style, seed = CLASSES[i % len(CLASSES)], 1000 + i
        name = f"{style}-{seed}.wav"
        rows.append(f"{name},{style}")
        if (folder / name).is_file():
            continue
        lo, hi = synth.TEMPO_RANGES_BPM[style]
        standard_s = 88 * 4 * 60.0 / ((lo + hi) / 2)  # the standard arrangement has 88 bars
        arrangement = synth.default_arrangement(style, seed=seed, bars_scale=1.1 * target_s / standard_s)
        # Rendered at half rate (the synth's cost follows the sample count), written at 44.1 kHz stereo.
        audio, _ = synth.render(arrangement, seed=seed, sr=SR // 2, stereo=True)
        audio = soxr.resample(audio[:, : int(target_s * SR // 2)].T, SR // 2, SR).T
        write_audio(folder / name, audio, SR)
        print(f"rendered {name} ({i + 1}/{n_tracks})", flush=True)
    labels = folder / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    return labels


def timed(args: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "mvgen", *args], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if result.returncode != 0:
        raise SystemExit(f"mvgen {' '.join(args)} failed: {result.stderr.strip()}")
    return seconds, result.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/mvgen-bench/head").expanduser())
    parser.add_argument("--out", type=Path, default=Path("/tmp/mvgen-bench-head"))
    args = parser.parse_args()
    labels = make_catalogue(args.cache, args.tracks, args.minutes)

    from mvgen.media.audio import load_audio
    from mvgen.training.labels import read_labels

    t0 = time.perf_counter()
    for track in read_labels(labels).tracks:
        load_audio(track.path, sr=22050)
    decode_s = time.perf_counter() - t0

    full_s, full = timed(["train", str(labels), "--out", str(args.out / "cv"), "--from", "default", "--head-only", "--cv", str(args.cv)])
    plain_s, _ = timed(["train", str(labels), "--out", str(args.out / "plain"), "--from", "default", "--head-only"])
    bare_s, _ = timed(["train", str(labels), "--out", str(args.out / "bare"), "--from", "default", "--head-only", "--no-negatives"])
    print(f"\n{args.tracks} tracks of {args.minutes:g} min ({', '.join(CLASSES)}), 2-core CPU figures if run here")
    print(f"decoding alone (baseline)                         {decode_s:6.1f} s   1.00")
    print(f"head-only, no built-in negatives, no CV           {bare_s:6.1f} s   {bare_s / decode_s:.2f}")
    print(f"head-only with built-in negatives                 {plain_s:6.1f} s   {plain_s / decode_s:.2f}")
    print(f"head-only with built-in negatives and {args.cv}-fold CV   {full_s:6.1f} s   {full_s / decode_s:.2f}")
    print(f"\n{full}")


if __name__ == "__main__":
    main()
