"""Wall time of a full analysis of a 3-minute track in a fresh process, beside librosa's.

Each figure is the median of ``--repeats`` runs of a new Python process (imports, decode and any JIT
warm-up included, the analysis cache off). The baseline, measured in the same run on the same file,
is ``librosa.load`` at 22.05 kHz plus ``librosa.beat.beat_track``. The genre classifier's path
(numpy or torch, :func:`mvgen.classify.cpu_classifier.classifier_backend`) is reported by the timed process
itself; ``--device`` sets ``MVGEN_DEVICE`` for it (default: as detected). ``--stages`` adds one more
fresh process that times each stage of the analysis with the profile (imports, decode, features,
beats and sections, model load, classifier, profile).

    python benchmarks/bench_speed.py [--minutes 3] [--repeats 3] [--device auto|cpu|cuda] [--stages]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The timed processes print which classifier ran after the analysis (the print costs nothing measurable).
_REPORT = "; from mvgen.classify.cpu_classifier import classifier_backend; print(classifier_backend(), 'torch' in sys.modules)"
MVGEN = "import sys; from mvgen.analysis.track import analyze; analyze(sys.argv[1], use_cache=False)" + _REPORT
MVGEN_NO_PROFILE = "import sys; from mvgen.analysis.track import analyze; analyze(sys.argv[1], use_cache=False, genre_profile=False)" + _REPORT
LIBROSA = "import sys, librosa; y, sr = librosa.load(sys.argv[1], sr=22050); librosa.beat.beat_track(y=y, sr=sr)"
# One fresh process timing the stages of analyze (with the profile) in the order analyze runs them,
# model load not overlapped with decoding here so that each figure stands alone.
STAGES = """
import time, sys
t = [time.perf_counter()]
import numpy as np
from mvgen.analysis.track import analyze_signal, genre_profile, load_genre_model, window_predictions
from mvgen.media.audio import load_audio
from mvgen.classify.checkpoints import default_checkpoint
from mvgen.features import frame_features
t.append(time.perf_counter())
y = load_audio(sys.argv[1], sr=22050, mono=True); t.append(time.perf_counter())
features = frame_features(y); t.append(time.perf_counter())
analyze_signal(y, features=features); t.append(time.perf_counter())
model = load_genre_model(default_checkpoint()); t.append(time.perf_counter())
predictions = window_predictions(y, model, 22050); t.append(time.perf_counter())
genre_profile(y, model, features=features, predictions=predictions); t.append(time.perf_counter())
names = ["imports (numpy, mvgen.analysis.track)", "decode", "frame_features", "analyze_signal", "classifier load (imports included)",
         "classifier inference", "rest of genre_profile (signal gates, smoothing)"]
for name, a, b in zip(names, t, t[1:]):
    print(f"      {name:<50} {b - a:5.2f} s")
cpu = time.process_time()
print(f"      {'sum (stages run one after another)':<50} {t[-1] - t[0]:5.2f} s wall, {cpu:5.2f} s CPU (this process); torch imported: {'torch' in sys.modules}")
"""


def time_process(code: str, path: Path, repeats: int, env: dict[str, str]) -> tuple[float, str]:
    """Median wall time (s) of ``repeats`` fresh processes running ``code`` on ``path``, and the last one's output."""
    times, out = [], ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-W", "ignore", "-c", code, str(path)], check=True, cwd=ROOT, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        out = done.stdout.strip()
    return statistics.median(times), out


def make_track(folder: Path, minutes: float) -> tuple[Path, float]:
    from mvgen import synth
    from mvgen.media.ffmpeg import ffmpeg_exe

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
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="MVGEN_DEVICE for the timed processes (auto: unset, detected)")
    parser.add_argument("--stages", action="store_true", help="also time each stage of one analysis with the profile")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "MVGEN_DEVICE"}
    if args.device != "auto":
        env["MVGEN_DEVICE"] = args.device
    with tempfile.TemporaryDirectory() as tmp:
        wav, duration_s = make_track(Path(tmp), args.minutes)
        print(f"track: {duration_s:.1f} s synthetic house, 44.1 kHz stereo; median of {args.repeats} fresh processes; {os.cpu_count()} CPUs")
        for path in (wav, wav.with_suffix(".mp3")):
            base, _ = time_process(LIBROSA, path, args.repeats, env)
            print(f"{path.suffix[1:]:>4}: librosa load+beat_track {base:5.2f} s (baseline)")
            for label, code in (("beats, sections", MVGEN_NO_PROFILE), ("beats, sections + genre profile", MVGEN)):
                ours, report = time_process(code, path, args.repeats, env)
                backend, torch_imported = report.split()
                path_note = f"; classifier: {backend}, torch imported: {torch_imported == 'True'}" if code is MVGEN else f"; torch imported: {torch_imported == 'True'}"
                print(
                    f"      mvgen analyze ({label}): {ours:5.2f} s (real-time factor {ours / duration_s:.4f}, "
                    f"{duration_s / ours:.0f}x real time), ratio mvgen/librosa {ours / base:.2f}{path_note}"
                )
        if args.stages:
            print("stages of one analysis with the profile (mp3, one fresh process):")
            done = subprocess.run([sys.executable, "-W", "ignore", "-c", STAGES, str(wav.with_suffix(".mp3"))], check=True, cwd=ROOT, env=env, capture_output=True, text=True)
            print(done.stdout.rstrip())


if __name__ == "__main__":
    main()
