"""Accuracy of mvgen's analysis beside librosa's beat tracker, on the same audio.

Beats: F-measure (mir_eval, 70 ms window) and tempo accuracy (within 4 %) on synthetic tracks of
every sub-genre from 100 to 180 bpm, and on real electronic music with exact reference beats
(tracker modules rendered by ``benchmarks/real_music.py``) when it is available.
Downbeats: F-measure, also averaged over the tracks whose beat grid is right (beat F >= 0.95),
where the bar phase is the only question. Drops: mean intersection over union with the true drops,
for mvgen's section-based drops and for the benchmark paper's loudness rule (within 2 dB of the max
for 15 s).

``--styles`` adds every synth style (``mvgen.synth.STYLES`` but the beatless ambient) at several
seeds and at both ends of its tempo range, with a per-style table of tracks read at double or
half tempo (the metrical-level question). ``--grooves`` adds synthetic grooves that mislead the beat or bar phase: the synth's non-house
styles (rock backbeat, reggae one drop with a loud skank, dancehall dembow, boom-bap hip hop) at
their own tempi, and house tracks with an element mixed in (``benchmarks/grooves.py``: an off-beat
skank and/or sub-bass louder than the kick, a snare pickup into every bar, chords changing a beat
ahead of the bar, a crash accent on beat 3). Real tracks marked ``held_out`` by ``real_music.py``
(never tuned on) are summarized on their own.

    python benchmarks/bench_analysis.py [--tracks 24] [--grooves] [--styles] [--real-cache ~/.cache/mvgen-bench] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import librosa  # noqa: E402
import mir_eval  # noqa: E402

from mvgen.analysis.track import analyze_signal  # noqa: E402
from mvgen.features import ANALYSIS_SR, frame_features  # noqa: E402
from mvgen.genres import GENRES  # noqa: E402
from mvgen.analysis.structure import loudness_drops  # noqa: E402


def beat_scores(reference: np.ndarray, estimated: np.ndarray, ref_bpm: float, est_bpm: float | None) -> dict:
    ref, est = mir_eval.beat.trim_beats(np.asarray(reference)), mir_eval.beat.trim_beats(np.asarray(estimated))
    return {
        "f_measure": float(mir_eval.beat.f_measure(ref, est)),
        "tempo_ok": bool(est_bpm is not None and abs(est_bpm / ref_bpm - 1.0) <= 0.04),
    }


def interval_iou(truth: list[tuple[float, float]], found: list[tuple[float, float]], duration_s: float, step_s: float = 0.05) -> float:
    """Intersection over union of two sets of time spans (1.0 when both are empty)."""
    t = np.arange(0.0, duration_s, step_s)

    def mask(spans):
        m = np.zeros(len(t), bool)
        for a, b in spans:
            m |= (t >= a) & (t < b)
        return m

    a, b = mask(truth), mask(found)
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


def librosa_beats(y: np.ndarray, sr: int) -> tuple[float, np.ndarray]:
    tempo, frames = librosa.beat.beat_track(y=y, sr=sr, units="frames")
    return float(np.atleast_1d(tempo)[0]), librosa.frames_to_time(frames, sr=sr)


def evaluate(name: str, y: np.ndarray, beats: np.ndarray, bpm: float, downbeats=None, drops=None) -> dict:
    row: dict = {"track": name}
    t0 = time.perf_counter()
    ours = analyze_signal(y, ANALYSIS_SR)
    row["mvgen_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    lb_bpm, lb_beats = librosa_beats(y, ANALYSIS_SR)
    row["librosa_s"] = time.perf_counter() - t0
    row["mvgen"] = beat_scores(beats, np.array(ours.beats_s), bpm, ours.tempo_bpm)
    row["librosa"] = beat_scores(beats, lb_beats, bpm, lb_bpm)
    row["bpm"], row["mvgen_bpm"], row["librosa_bpm"] = bpm, ours.tempo_bpm, lb_bpm
    if downbeats is not None:
        row["downbeat_f"] = float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.asarray(downbeats)), mir_eval.beat.trim_beats(np.array(ours.downbeats_s))))
    if drops is not None:
        duration_s = len(y) / ANALYSIS_SR
        ours_drops = [(d.start_s, d.end_s) for d in ours.drops]
        row["drop_iou"] = interval_iou(drops, ours_drops, duration_s)
        row["drop_iou_paper"] = interval_iou(drops, loudness_drops(frame_features(y, ANALYSIS_SR)), duration_s)
    return row


def synthetic_rows(n_tracks: int, bars_scale: float) -> list[dict]:
    from mvgen import synth

    rows = []
    tempi = np.linspace(100.0, 180.0, n_tracks)
    for i, bpm in enumerate(tempi):
        genres = [GENRES[i % 8], GENRES[(i + 3) % 8]]
        arrangement = synth.default_arrangement(genres, seed=1000 + i, bars_scale=bars_scale).model_copy(update={"bpm": float(bpm)})
        y, truth = synth.render(arrangement, seed=1000 + i, sr=ANALYSIS_SR, stereo=False)
        rows.append(evaluate(f"synth {genres[0]}+{genres[1]} {bpm:.1f}", y, np.array(truth.beats_s), truth.tempo_bpm, truth.downbeats_s, [tuple(d) for d in truth.drops]))
        print(_format(rows[-1]), flush=True)
    return rows


#: --grooves: the synth's non-house styles, each at these seeds (tempo drawn from the style's range).
GROOVE_STYLES = ("rock", "reggae", "dancehall", "hip_hop")
GROOVE_SEEDS = (1, 2, 3)
#: --grooves: house genre and seed of each mixed variant (a different genre per seed, so the
#: variants meet several kick and bass sounds); all variants at level 1.0 (peak of the mix).
GROOVE_HOUSE = (("tech_house", 21), ("deep_house", 22), ("bigroom", 23))


def groove_rows(bars_scale: float) -> list[dict]:
    from benchmarks.grooves import VARIANTS, mix_variant

    from mvgen import synth

    rows = []
    for style in GROOVE_STYLES:
        for seed in GROOVE_SEEDS:
            arrangement = synth.default_arrangement(style, seed=seed, bars_scale=bars_scale)
            y, truth = synth.render(arrangement, seed=seed, sr=ANALYSIS_SR, stereo=False)
            rows.append(evaluate(f"groove {style} {truth.tempo_bpm:.0f} s{seed}", y, np.array(truth.beats_s), truth.tempo_bpm, truth.downbeats_s))
            print(_format(rows[-1]), flush=True)
    for genre, seed in GROOVE_HOUSE:
        arrangement = synth.default_arrangement(genre, seed=seed, bars_scale=bars_scale)
        y0, truth = synth.render(arrangement, seed=seed, sr=ANALYSIS_SR, stereo=False)
        for variant in VARIANTS:
            y = mix_variant(y0, truth.beats_s, truth.downbeats_s, ANALYSIS_SR, variant)
            rows.append(evaluate(f"groove {genre}+{variant} {truth.tempo_bpm:.0f}", y, np.array(truth.beats_s), truth.tempo_bpm, truth.downbeats_s))
            print(_format(rows[-1]), flush=True)
    return rows


#: --styles: every synth style at these seeds with its drawn tempo, and at both ends of its tempo
#: range (:data:`mvgen.synth.recipes.TEMPO_RANGES_BPM`), where the metrical level is least clear.
STYLE_SEEDS = (1, 2, 3)
#: Styles with no beat to score (their tempo only sets the bar length).
BEATLESS_STYLES = ("ambient",)


def style_rows(bars_scale: float) -> list[dict]:
    from mvgen import synth
    from mvgen.synth.recipes import STYLES, TEMPO_RANGES_BPM

    rows = []
    for style in STYLES:
        if style in BEATLESS_STYLES:
            continue
        lo_bpm, hi_bpm = TEMPO_RANGES_BPM[style]
        runs = [(seed, None) for seed in STYLE_SEEDS] + [(max(STYLE_SEEDS) + 1, lo_bpm), (max(STYLE_SEEDS) + 2, hi_bpm)]
        for seed, bpm in runs:
            arrangement = synth.default_arrangement(style, seed=seed, bars_scale=bars_scale)
            if bpm is not None:
                arrangement = arrangement.model_copy(update={"bpm": float(bpm)})
            y, truth = synth.render(arrangement, seed=seed, sr=ANALYSIS_SR, stereo=False)
            rows.append(evaluate(f"style {style} {truth.tempo_bpm:.0f} s{seed}", y, np.array(truth.beats_s), truth.tempo_bpm, truth.downbeats_s))
            rows[-1]["style"] = style
            print(_format(rows[-1]), flush=True)
    return rows


def style_table(rows: list[dict]) -> None:
    """Per style: mean beat F, tempo accuracy and how many tracks read at double or half tempo."""
    print("\nper style (mvgen): beat F, tempo within 4 %, read at double / half tempo")
    for style in dict.fromkeys(r["style"] for r in rows):
        mine = [r for r in rows if r["style"] == style]
        ratio = [(r["mvgen_bpm"] or 0.0) / r["bpm"] for r in mine]
        doubled = sum(abs(x / 2.0 - 1.0) <= 0.04 for x in ratio)
        halved = sum(abs(x * 2.0 - 1.0) <= 0.04 for x in ratio)
        print(f"  {style:<18} F {np.mean([r['mvgen']['f_measure'] for r in mine]):.3f}  tempo {np.mean([r['mvgen']['tempo_ok'] for r in mine]):.2f}"
              f"  double {doubled}/{len(mine)}  half {halved}/{len(mine)}")


def real_rows(cache: Path) -> list[dict]:
    from mvgen.media.audio import load_audio

    rows = []
    for ref_path in sorted(cache.glob("**/*.beats.json")):
        ref = json.loads(ref_path.read_text())
        wav = ref_path.with_name(ref_path.name.replace(".beats.json", ".wav"))
        if not wav.exists():
            continue
        y = load_audio(wav, sr=ANALYSIS_SR)
        rows.append(evaluate(f"real {wav.stem}", y, np.array(ref["beats_s"]), float(ref["tempo_bpm"]), ref.get("downbeats_s") or None))
        rows[-1]["split"] = ref.get("split", "dev")
        print(_format(rows[-1]) + ("  (held out)" if rows[-1]["split"] == "held_out" else ""), flush=True)
    return rows


def _format(row: dict) -> str:
    extra = f"  downbeat F {row['downbeat_f']:.3f}" if "downbeat_f" in row else ""
    if "drop_iou" in row:
        extra += f"  drop IoU {row['drop_iou']:.2f} (paper rule {row['drop_iou_paper']:.2f})"
    return (
        f"{row['track']:<44} ref {row['bpm']:6.2f}  mvgen {row['mvgen']['f_measure']:.3f} {row['mvgen_bpm'] or 0:7.2f}"
        f"  librosa {row['librosa']['f_measure']:.3f} {row['librosa_bpm']:7.2f}{extra}"
    )


#: A track's beat grid counts as right at this beat F-measure (the downbeat target applies there).
GRID_RIGHT_F = 0.95


def summarize(label: str, rows: list[dict]) -> dict:
    if not rows:
        return {}
    summary = {
        "tracks": len(rows),
        "mvgen_beat_f": float(np.mean([r["mvgen"]["f_measure"] for r in rows])),
        "librosa_beat_f": float(np.mean([r["librosa"]["f_measure"] for r in rows])),
        "mvgen_tempo_acc": float(np.mean([r["mvgen"]["tempo_ok"] for r in rows])),
        "librosa_tempo_acc": float(np.mean([r["librosa"]["tempo_ok"] for r in rows])),
        "mvgen_time_s": float(np.sum([r["mvgen_s"] for r in rows])),
        "librosa_time_s": float(np.sum([r["librosa_s"] for r in rows])),
    }
    with_downbeats = [r["downbeat_f"] for r in rows if "downbeat_f" in r]
    if with_downbeats:
        summary["downbeat_f"] = float(np.mean(with_downbeats))
    grid_right = [r["downbeat_f"] for r in rows if "downbeat_f" in r and r["mvgen"]["f_measure"] >= GRID_RIGHT_F]
    if grid_right:
        summary["downbeat_f_grid_right"] = float(np.mean(grid_right))
    if "drop_iou" in rows[0]:
        summary["drop_iou"] = float(np.mean([r["drop_iou"] for r in rows]))
        summary["drop_iou_paper"] = float(np.mean([r["drop_iou_paper"] for r in rows]))
    print(f"\n{label}: {summary['tracks']} tracks")
    print(f"  beat F-measure (70 ms)   mvgen {summary['mvgen_beat_f']:.3f}   librosa {summary['librosa_beat_f']:.3f}")
    print(f"  tempo within 4 %         mvgen {summary['mvgen_tempo_acc']:.3f}   librosa {summary['librosa_tempo_acc']:.3f}")
    print(f"  time (analysis vs beat_track)  mvgen {summary['mvgen_time_s']:.1f} s   librosa {summary['librosa_time_s']:.1f} s")
    if "downbeat_f" in summary:
        print(f"  downbeat F-measure       mvgen {summary['downbeat_f']:.3f}  ({len(with_downbeats)} tracks with reference downbeats)")
    if "downbeat_f_grid_right" in summary:
        print(f"    where the beat grid is right (beat F >= {GRID_RIGHT_F})  {summary['downbeat_f_grid_right']:.3f}  ({len(grid_right)} tracks)")
    if "drop_iou" in summary:
        print(f"  drop IoU                 mvgen {summary['drop_iou']:.3f}   paper's loudness rule {summary['drop_iou_paper']:.3f}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=24, help="number of synthetic tracks (100..180 bpm)")
    parser.add_argument("--bars-scale", type=float, default=1.0, help="length of the synthetic arrangements (1.0: about 3 minutes at 128 bpm)")
    parser.add_argument("--real-cache", type=Path, default=Path.home() / ".cache" / "mvgen-bench", help="folder of benchmarks/real_music.py")
    parser.add_argument("--grooves", action="store_true", help="add the misleading grooves (non-house styles, mixed house variants)")
    parser.add_argument("--styles", action="store_true", help="add every synth style (several seeds, both ends of its tempo range)")
    parser.add_argument("--json", type=Path, help="write all rows and summaries here")
    args = parser.parse_args()
    synthetic = synthetic_rows(args.tracks, args.bars_scale)
    grooves = groove_rows(args.bars_scale) if args.grooves else []
    styles = style_rows(args.bars_scale) if args.styles else []
    real = real_rows(args.real_cache) if args.real_cache.is_dir() else []
    if not real:
        print(f"\n(no real music in {args.real_cache}; run benchmarks/real_music.py first)")
    dev = [r for r in real if r["split"] != "held_out"]
    held_out = [r for r in real if r["split"] == "held_out"]
    result = {"synthetic": summarize("synthetic", synthetic), "grooves": summarize("synthetic grooves", grooves),
              "styles": summarize("synth styles", styles),
              "real": summarize("real music (development)", dev), "real_held_out": summarize("real music (held out, never tuned on)", held_out),
              "rows": synthetic + grooves + styles + real}
    if styles:
        style_table(styles)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
