"""The per-frame audio features (mvgen.analysis.reactive): their cost, and how well the drum onsets find the
synth's known hits, on tracks the tests do not use; optionally a sanity check on real music.

Cost: the median of ``--repeats`` in-process runs on a 3-minute synthetic track of
``frame_features`` without the detail (the baseline: what the analysis computed before), with it,
and of ``compute_audio_features`` on top (normalization, leak removal, tension, lead) with the flux
drums, the drum model's activations alone, and ``compute_audio_features`` with the model.

Every figure of the drum onsets is given for both drum paths of ``compute_audio_features`` in the
same run: ``flux`` (the hand-made band flux of the percussive part, the baseline) and ``model`` (the
bundled drum model of :mod:`mvgen.analysis.drums`).

Quality (``--quality``): for each style and seed (the 8 house styles, then a few non-house ones), the share of hits with a local peak of their
feature (>= 0.1) within one 30 fps frame, and the Pearson correlation of the feature at 30 fps with
the truth's hit envelope (an impulse per hit, 50 ms decay, the latest hit wins), unweighted and
weighted by the truth's hit levels. Then the hit times of the model's snare and hats: each truth
hit matched to the nearest stored hit (a rise of the feature, within 30 ms), the error (ms, mean
and standard deviation) of its grid frame's time and of its refined time (grid frame plus
``AudioFeatures.hit_offsets``), and how often each puts the hit on a 30 fps frame other than the
truth's.

Misses (``--misses``): why hits are missed, on the same held-out tracks and on the end-to-end test's
track (tech_house seed 5 with off-grid snares; measured, never tuned on). Each drum's hits are sorted
into kinds that explain a miss: hats on a kick (within 30 ms) and closed hats under a ringing open
hat (up to 0.3 s after one); snares on a kick, and snares closer than 3 video frames to the next
(a roll's 32nds: one frame cannot hold two peaks); the rest are "clear". For each kind: the count,
the peak hit rate, and the hit's rise in the *mixture's* band energy (dB, the band of
:func:`~mvgen.features.frame_features`: a stimulus measure, independent of the feature); and how
often the feature is above 0 more than 0.4 s from any of its instrument's hits (it should be still).

Real music (``--real-cache``, the folder of ``real_music.py``): the kick feature's mean on the
reference beats beside its mean half a beat later (a four-on-the-floor kick sits on the beats), and
the median of the on-beat mean (how strongly the kick reads at all).

    python benchmarks/bench_features.py [--repeats 5] [--quality] [--misses] [--real-cache ~/.cache/mvgen-bench]
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
from mvgen.analysis.drums import bundled_drum_detector  # noqa: E402
from mvgen.analysis.reactive import compute_audio_features  # noqa: E402

FPS = 30.0
DRUMS = {"kick": ("kicks",), "snare": ("claps", "snare_rolls", "extra_snares"), "hats": ("hats_closed", "hats_open")}
HELD_OUT = [(style, seed) for seed in (11, 12) for style in ("deep_house", "tech_house", "progressive_house", "future_house", "bass_house", "slap_house", "future_rave", "bigroom")]
#: Non-house styles (they have drums too) on the same held-out seeds, reported apart.
HELD_OUT_OTHER = [(style, seed) for seed in (11, 12) for style in ("drum_and_bass", "hip_hop", "rock", "reggae")]
#: The two drum paths compared in every run: the hand-made band flux (the baseline) and the drum model.
PATHS = {"flux": False, "model": True}


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
    detector = bundled_drum_detector()
    drums = _median_s(lambda: detector.activations(y), repeats) if detector is not None else (float("nan"),) * 2
    with_model = _median_s(lambda: compute_audio_features(y, features=features), repeats)
    print(f"3-minute track, median of {repeats} (wall s / CPU s):")
    print(f"  frame_features (baseline)      {plain[0]:6.3f} / {plain[1]:6.3f}")
    print(f"  frame_features(detail=True)    {detail[0]:6.3f} / {detail[1]:6.3f}")
    print(f"  compute_audio_features on top  {finish[0]:6.3f} / {finish[1]:6.3f}")
    print(f"  added by the audio features    {detail[0] - plain[0] + finish[0]:6.3f} / {detail[1] - plain[1] + finish[1]:6.3f}")
    print(f"  drum model activations alone   {drums[0]:6.3f} / {drums[1]:6.3f}")
    print(f"  compute_audio_features, model  {with_model[0]:6.3f} / {with_model[1]:6.3f}")


def _envelope(times_s: np.ndarray, levels: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    decay = np.exp(-np.arange(8) / 1.5)
    for i, level in zip(np.round(times_s * FPS).astype(int), levels):
        if 0 <= i < n:
            np.maximum(out[i : i + 8], level * decay[: n - i], out=out[i : i + 8])
    return out


def _hit_rate(x: np.ndarray, times_s: np.ndarray) -> float:
    return float(_peaked(x, times_s).mean()) if len(times_s) else 0.0


def quality(tracks: list[tuple[str, int]], title: str) -> None:
    """Per track and drum path (:data:`PATHS`): peak hit rate and Pearson r (unweighted, level-weighted)."""
    rows: dict[tuple[str, str], list[tuple[float, float, float]]] = {(p, d): [] for p in PATHS for d in DRUMS}
    print(f"{title}\n{'track':30s}" + "".join(f" | {d:5s} hit  r    r_lvl" for d in DRUMS))
    for (style, seed), path in ((t, p) for t in tracks for p in PATHS):
        y, truth = synth.render(synth.default_arrangement(style, seed, bars_scale=0.25), seed, sr=ANALYSIS_SR, stereo=False)
        times_s = np.arange(int(truth.duration_s * FPS)) / FPS
        frames = compute_audio_features(y, drum_model=PATHS[path]).at_frames(times_s, FPS)
        line = f"{style + ':' + str(seed) + ' ' + path:30s}"
        for drum, names in DRUMS.items():
            hits = sorted(h for name in names for h in getattr(truth.events, name))
            t = np.array([h[0] for h in hits])
            level = np.array([h[1] for h in hits])
            x = frames[drum]
            r = float(np.corrcoef(x, _envelope(t, np.ones(len(t)), len(x)))[0, 1])
            r_level = float(np.corrcoef(x, _envelope(t, level, len(x)))[0, 1])
            rate = _hit_rate(x, t)
            rows[path, drum].append((rate, r, r_level))
            line += f" | {rate:9.2f} {r:4.2f} {r_level:4.2f}"
        print(line, flush=True)
    for (path, drum), values in rows.items():
        a = np.array(values)
        a = np.where(np.isfinite(a), a, 0.0)  # a still feature has no correlation: counted as 0
        print(f"{path:5s} mean {drum:5s}: peak hit rate {a[:, 0].mean():.2f} (min {a[:, 0].min():.2f}), Pearson {a[:, 1].mean():.2f} "
              f"(min {a[:, 1].min():.2f}), level-weighted {a[:, 2].mean():.2f} (min {a[:, 2].min():.2f})")


def timing(tracks: list[tuple[str, int]]) -> None:
    """Hit times of the model's snare and hats: grid frame against refined time (see the module docstring)."""
    errors_s: dict[tuple[str, str], list[float]] = {(d, how): [] for d in ("snare", "hats") for how in ("grid", "refined")}
    elsewhere: dict[tuple[str, str], list[bool]] = {key: [] for key in errors_s}
    for style, seed in tracks:
        y, truth = synth.render(synth.default_arrangement(style, seed, bars_scale=0.25), seed, sr=ANALYSIS_SR, stereo=False)
        features = compute_audio_features(y)
        for drum in ("snare", "hats"):
            series, offsets = features.array(drum), features.hit_offsets(drum)
            rises = np.flatnonzero(series[1:] > series[:-1]) + 1
            events = truth.events.times_s(*DRUMS[drum])
            if len(rises) == 0 or len(events) == 0:
                continue
            grid_s = rises * features.hop_s
            k = np.argmin(np.abs(grid_s[None, :] - events[:, None]), axis=1)
            found = np.abs(grid_s[k] - events) < 0.03
            for how, hit_s in (("grid", grid_s), ("refined", (rises + offsets[rises]) * features.hop_s)):
                errors_s[drum, how].extend((hit_s[k[found]] - events[found]).tolist())
                elsewhere[drum, how].extend((np.round(hit_s[k[found]] * FPS) != np.round(events[found] * FPS)).tolist())
    for (drum, how), values in errors_s.items():
        e = 1000.0 * np.array(values)
        print(f"model {drum:5s} hit time, {how:7s}: error {e.mean():+.2f} ms (sd {e.std():.2f} ms) over {len(e)} hits; "
              f"on another 30 fps frame {np.mean(elsewhere[drum, how]):.3f}")


#: Off-grid snares of the end-to-end test's track (tests/test_follow_music.py), beats from the breakdown's start.
E2E_EXTRA_SNARES_BEATS = [0.4, 1.3, 2.7, 3.62, 5.15, 6.5, 7.9, 9.33, 10.6, 12.2, 13.75, 14.4]
#: Miss kinds (see the module docstring): a hit this close (s) to a kick is "on a kick"; a closed hat
#: up to this long (s) after an open hat is "under an open hat"; hits closer than this many video
#: frames to a neighbour are "too dense"; the feature should be 0 this far (s) from its hits.
ON_KICK_S = 0.03
OPEN_RING_S = 0.3
DENSE_FRAMES = 3
STILL_FAR_S = 0.4


def _e2e_track() -> tuple[np.ndarray, "synth.SynthTruth"]:
    arrangement = synth.default_arrangement("tech_house", 5, bars_scale=0.25)
    sections = [s.model_copy(update={"extra_snares_beats": E2E_EXTRA_SNARES_BEATS}) if s.label == "breakdown" else s for s in arrangement.sections]
    return synth.render(arrangement.model_copy(update={"sections": sections}), 5, sr=ANALYSIS_SR, stereo=False)


def _peaked(x: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """Per hit: a local peak of ``x`` (>= 0.1) within one video frame (as :func:`_hit_rate`), shape ``(N,)`` bool."""
    out = np.zeros(len(times_s), dtype=bool)
    for k, i in enumerate(np.round(times_s * FPS).astype(int)):
        a, b = max(i - 1, 0), min(i + 2, len(x))
        j = a + int(np.argmax(x[a:b]))
        out[k] = x[j] >= 0.1 and x[j] >= x[max(j - 1, 0)] and x[j] >= x[min(j + 1, len(x) - 1)]
    return out


def _near(times_s: np.ndarray, others_s: np.ndarray, lo_s: float, hi_s: float) -> np.ndarray:
    """Per time: some ``other`` lies in ``[time - hi_s, time - lo_s]`` (``lo_s`` < 0 looks after it too)."""
    if len(others_s) == 0 or len(times_s) == 0:
        return np.zeros(len(times_s), dtype=bool)
    lag = times_s[:, None] - others_s[None, :]
    return np.any((lag >= lo_s) & (lag <= hi_s), axis=1)


def misses() -> None:
    tracks = [(f"{style}:{seed}", lambda style=style, seed=seed: synth.render(synth.default_arrangement(style, seed, bars_scale=0.25), seed, sr=ANALYSIS_SR, stereo=False)) for style, seed in HELD_OUT]
    tracks.append(("e2e tech_house:5", _e2e_track))
    tracks = [(f"{name} {path}", make, path) for name, make in tracks for path in PATHS]
    # (drum, kind, path) -> [hits, peaked, rises (dB)]; (path, drum) -> [frames far from hits, of them above 0]
    table: dict[tuple[str, str, str], list] = {}
    still: dict[tuple[str, str], list[int]] = {(p, d): [0, 0] for p in PATHS for d in DRUMS}
    for name, make, path in tracks:
        y, truth = make()
        times_s = np.arange(int(truth.duration_s * FPS)) / FPS
        ff = frame_features(y, detail=True)
        frames = compute_audio_features(y, features=ff, drum_model=PATHS[path]).at_frames(times_s, FPS)
        band_db = {"kick": ff.low_db, "snare": ff.mid_db, "hats": ff.high_db}
        kicks, opens = truth.events.times_s("kicks"), truth.events.times_s("hats_open")
        line = f"{name:24s}"
        for drum, names in DRUMS.items():
            t = truth.events.times_s(*names)
            x = frames[drum]
            ok = _peaked(x, t)
            i = np.clip(np.round(t / ff.hop_s).astype(int), 2, ff.n_frames - 2)
            db = band_db[drum].astype(np.float64)
            rise = np.maximum(db[i], db[i + 1]) - db[i - 2]
            gaps = np.diff(np.round(t * FPS))
            dense = np.concatenate([[False], gaps < DENSE_FRAMES]) | np.concatenate([gaps < DENSE_FRAMES, [False]])
            on_kick = _near(t, kicks, -ON_KICK_S, ON_KICK_S) if drum != "kick" else np.zeros(len(t), dtype=bool)
            under_open = _near(t, opens, 0.01, OPEN_RING_S) if drum == "hats" else np.zeros(len(t), dtype=bool)
            kind = np.where(on_kick, "on a kick", np.where(under_open, "under an open hat", np.where(dense, "too dense", "clear")))
            for k in np.unique(kind):
                row = table.setdefault((drum, str(k), path), [0, 0, []])
                row[0] += int(np.sum(kind == k))
                row[1] += int(np.sum(ok[kind == k]))
                row[2].extend(rise[kind == k].tolist())
            far = np.ones(len(times_s), dtype=bool) if len(t) == 0 else np.min(np.abs(times_s[:, None] - t[None, :]), axis=1) > STILL_FAR_S
            still[path, drum][0] += int(far.sum())
            still[path, drum][1] += int(np.sum(x[far] > 0))
            line += f" | {drum} {ok.mean():.2f}"
        print(line, flush=True)
    print(f"{'drum':6s} {'kind':18s} {'path':6s} {'hits':>6s} {'peaked':>7s} {'mixture rise dB (p10 / median)':>32s}")
    for (drum, kind, path), (count, peaked, rises) in sorted(table.items()):
        p10, p50 = np.percentile(rises, [10, 50])
        print(f"{drum:6s} {kind:18s} {path:6s} {count:6d} {peaked / count:7.2f} {p10:16.1f} / {p50:5.1f}")
    for (path, drum), (far, moving) in still.items():
        print(f"{path:5s} {drum}: above 0 on {moving / max(far, 1):.2f} of the frames farther than {STILL_FAR_S} s from its hits")


def real(folder: Path) -> None:
    from mvgen.media.audio import load_audio

    ratios: dict[str, list[float]] = {p: [] for p in PATHS}
    on_beat: dict[str, list[float]] = {p: [] for p in PATHS}
    # real_music.py's tracker tracks (CACHE/tracks), as before the corpus of real_corpus.py shared the cache
    for wav, path in ((w, p) for w in sorted((folder / "tracks").glob("*.wav")) for p in PATHS):
        beats_file = wav.with_suffix(".beats.json")
        if not beats_file.is_file():
            continue
        beats = np.asarray(json.loads(beats_file.read_text())["beats_s"] if isinstance(json.loads(beats_file.read_text()), dict) else json.loads(beats_file.read_text()), dtype=np.float64)
        y = load_audio(wav, sr=ANALYSIS_SR, mono=True)
        features = compute_audio_features(y, drum_model=PATHS[path])
        kick = features.array("kick")
        half = np.median(np.diff(beats)) / 2
        on = features.at_frames(beats, FPS)["kick"].mean()
        off = features.at_frames(beats + half, FPS)["kick"].mean()
        ratios[path].append(on / max(off, 1e-6))
        on_beat[path].append(on)
        print(f"  {wav.name:40s} {path:5s} kick on beats {on:.3f}, half a beat later {off:.3f} (mean over track {kick.mean():.3f})")
    for path, values in ratios.items():
        if values:
            print(f"{path}: on/off-beat kick ratio: median {np.median(values):.2f} over {len(values)} tracks; "
                  f"kick on the beats: median {np.median(on_beat[path]):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--real-cache", type=Path)
    args = parser.parse_args()
    cost(args.repeats)
    if args.quality:
        quality(HELD_OUT, "held-out house tracks")
        quality(HELD_OUT_OTHER, "held-out non-house tracks")
        timing(HELD_OUT + HELD_OUT_OTHER)
    if args.misses:
        misses()
    if args.real_cache:
        real(args.real_cache)


if __name__ == "__main__":
    main()
