"""Wall time of a full analysis of a 3-minute track in a fresh process, beside librosa's.

Each figure is the median of ``--repeats`` runs of a new Python process (imports, decode and any JIT
warm-up included, the analysis cache off). The baseline, measured in the same run on the same file,
is ``librosa.load`` at 22.05 kHz plus ``librosa.beat.beat_track``.

    python benchmarks/bench_speed.py [--minutes 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MVGEN = "import sys; from mvgen.analysis import analyze; analyze(sys.argv[1], use_cache=False)"
MVGEN_NO_PROFILE = "import sys; from mvgen.analysis import analyze; analyze(sys.argv[1], use_cache=False, genre_profile=False)"
LIBROSA = "import sys, librosa; y, sr = librosa.load(sys.argv[1], sr=22050); librosa.beat.beat_track(y=y, sr=sr)"


def time_process(code: str, path: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-W", "ignore", "-c", code, str(path)], check=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def make_track(folder: Path, minutes: float) -> tuple[Path, float]:
    from mvgen import synth
    from mvgen.audio import ffmpeg_exe

    genres, bpm = ["deep_house", "future_house", "bigroom"], 124.0
    bars = sum(s.bars for s in synth.default_arrangement(genres, seed=7).sections)
    scale = minutes * 60.0 / (bars * 4 * 60.0 / bpm)
    arrangement = synth.default_arrangement(genres, seed=7, bars_scale=scale).model_copy(update={"bpm": bpm})
    audio, truth = synth.render(arrangement, seed=7, sr=44100, stereo=True)
    wav = folder / "track.wav"
    synth.write_track(wav, audio, truth)
    mp3 = folder / "track.mp3"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(wav), "-b:a", "256k", str(mp3)], check=True)
    return wav, truth.duration_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wav, duration_s = make_track(Path(tmp), args.minutes)
        print(f"track: {duration_s:.1f} s synthetic house, 44.1 kHz stereo; median of {args.repeats} fresh processes")
        for path in (wav, wav.with_suffix(".mp3")):
            base = time_process(LIBROSA, path, args.repeats)
            print(f"{path.suffix[1:]:>4}: librosa load+beat_track {base:5.2f} s (baseline)")
            for label, code in (("beats, sections", MVGEN_NO_PROFILE), ("beats, sections + genre profile", MVGEN)):
                ours = time_process(code, path, args.repeats)
                print(
                    f"      mvgen analyze ({label}): {ours:5.2f} s (real-time factor {ours / duration_s:.4f}, "
                    f"{duration_s / ours:.0f}x real time), ratio mvgen/librosa {ours / base:.2f}"
                )


if __name__ == "__main__":
    main()
