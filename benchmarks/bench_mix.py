"""A DJ mix, a radio show or an album side: many real pieces back to back, analyzed as one file.

    python benchmarks/bench_mix.py [--real-cache ~/.cache/mvgen-bench] [--split held_out] [--minutes 66]

Joins the pieces of the real corpus (``real_corpus.py``; the chosen split, in name order, until the
length is reached) with hard cuts into one 44.1 kHz stereo WAV, the way a user's mix arrives; analyzes
it in a fresh process (``mvgen.analyze``, no genre profile, no cache) and prints the time and the peak
resident memory of that process; then the beat F-measure of each piece against its reference (the
beats found inside the piece's span, shifted to its start; the first 5 s of each left out as
mir_eval does) and their mean; `bench_analysis.py --real` gives the same pieces analyzed one by one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mir_eval  # noqa: E402

from mvgen.media.audio import load_audio, write_audio  # noqa: E402

MIX_SR = 44100

_ANALYZE = """
import json, sys
from mvgen import analyze
a = analyze(sys.argv[1], genre_profile=False, use_cache=False)
# The process's own peak (VmHWM, since its exec): the parent's ru_maxrss for its children would count
# the moment between fork and exec, when the child still shares the parent's pages (the joined mix).
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
json.dump({"beats_s": a.beats_s, "tempo_spans": [[s.start_s, s.end_s, s.bpm] for s in a.tempo_spans], "peak_mb": peak_kb / 1024}, open(sys.argv[2], "w"))
"""


def piece_f(reference, beats_s: np.ndarray, start_s: float, end_s: float) -> float:
    """Beat F (70 ms) of the beats found in ``[start_s, end_s)``, shifted to the piece's start, against its reference."""
    inside = beats_s[(beats_s >= start_s) & (beats_s < end_s)] - start_s
    return float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.asarray(reference, float)), mir_eval.beat.trim_beats(inside)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real-cache", type=Path, default=Path.home() / ".cache" / "mvgen-bench")
    parser.add_argument("--split", default="held_out", choices=["held_out", "dev", "all"])
    parser.add_argument("--minutes", type=float, default=66.0)
    args = parser.parse_args()
    refs = [json.loads(p.read_text()) for p in sorted((args.real_cache / "corpus").glob("*.beats.json"))]
    refs = [r for r in refs if args.split in ("all", r["split"])]
    with tempfile.TemporaryDirectory() as tmp:
        parts, spans, t = [], [], 0.0
        for ref in refs:
            if t >= args.minutes * 60:
                break
            y = load_audio(args.real_cache / "corpus" / f"{ref['name']}.wav", sr=MIX_SR, mono=False)
            y = np.vstack([y, y]) if y.shape[0] == 1 else y[:2]
            parts.append(y)
            spans.append((ref, t, t + y.shape[1] / MIX_SR))
            t += y.shape[1] / MIX_SR
        mix = Path(tmp) / "mix.wav"
        write_audio(mix, np.concatenate(parts, axis=1), MIX_SR, subtype="PCM_16")
        del parts
        print(f"mix: {len(spans)} pieces, {t / 60:.1f} min, {mix.stat().st_size / 1e6:.0f} MB ({args.split})", flush=True)
        out = Path(tmp) / "beats.json"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", _ANALYZE, str(mix), str(out)], check=True, cwd=ROOT)
        elapsed = time.perf_counter() - t0
        found = json.loads(out.read_text())
        peak_mb = found["peak_mb"]
    beats = np.asarray(found["beats_s"])
    scores = [piece_f(ref["beats_s"], beats, a, b) for ref, a, b in spans]
    print(f"analysis: {elapsed:.1f} s, peak resident {peak_mb:.0f} MB, {len(found['tempo_spans'])} tempo spans")
    print(f"beat F per piece in the mix: mean {np.mean(scores):.3f}, median {np.median(scores):.3f}, "
          f"{np.mean(np.array(scores) >= 0.8):.0%} of pieces >= 0.8")


if __name__ == "__main__":
    main()
