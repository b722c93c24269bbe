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

``--real`` runs only real music, with mvgen three times (``mvgen``: the learned tracker ``models/mvgen-beats-v1``;
``mvgen-grid``: the hand-made grid without it; ``mvgen-dbn``: the learned tracker's activation decoded by
madmom's DBN, tried and left out) and published trackers beside it (``benchmarks/anchors.py``:
madmom and BeatNet, cached next to the audio, computed in their own virtualenv by subprocess where
missing) and librosa: every piece of ``CACHE/corpus`` (``benchmarks/real_corpus.py``) and of
``CACHE/tracks`` (``real_music.py``, style ``house_techno_trance``), per style and overall, the
development and held-out splits apart: beat F (70 ms), AMLt (``mir_eval.beat.continuity``), tempo
Acc1 (within 4 %) and Acc2 (also at double, half, triple or a third), downbeat F overall and where
the system's beat grid is right (beat F >= 0.95), the share with the right meter (beats per bar)
and the time per piece.

    python benchmarks/bench_analysis.py [--tracks 24] [--grooves] [--styles] [--real-cache ~/.cache/mvgen-bench] [--json out.json]
    python benchmarks/bench_analysis.py --real [--real-cache ~/.cache/mvgen-bench] [--anchors-python benchmarks/.anchors-venv/bin/python] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
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

from benchmarks.anchors import ANCHORS, DEFAULT_VENV, read_anchor  # noqa: E402

#: Tempo accuracy: an estimate is right within this fraction of the reference (Acc1, Acc2).
TEMPO_TOLERANCE = 0.04
#: Acc2 also accepts the tempo at these metrical levels (double, half, triple, a third).
TEMPO_LEVELS = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)


def tempo_within(est_bpm: float | None, ref_bpm: float, levels: tuple[float, ...] = (1.0,)) -> bool:
    """Whether ``est_bpm`` is within :data:`TEMPO_TOLERANCE` of ``ref_bpm`` times one of ``levels``."""
    return est_bpm is not None and any(abs(est_bpm / (ref_bpm * level) - 1.0) <= TEMPO_TOLERANCE for level in levels)


def downbeat_f(reference, estimated) -> float:
    """Downbeat F-measure (mir_eval, 70 ms), the first 5 s left out as for beats."""
    return float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.asarray(reference, float)), mir_eval.beat.trim_beats(np.asarray(estimated, float))))


def beat_scores(reference: np.ndarray, estimated: np.ndarray, ref_bpm: float, est_bpm: float | None) -> dict:
    ref, est = mir_eval.beat.trim_beats(np.asarray(reference)), mir_eval.beat.trim_beats(np.asarray(estimated))
    return {
        "f_measure": float(mir_eval.beat.f_measure(ref, est)),
        "tempo_ok": tempo_within(est_bpm, ref_bpm),
    }


def interval_iou(truth: list[tuple[float, float]], found: list[tuple[float, float]], duration_s: float, step_s: float = 0.05) -> float:
    """Intersection over union of two sets of time spans (1.0 when both are empty)."""
    from mvgen.analysis.windows import in_spans

    t = np.arange(0.0, duration_s, step_s)
    a, b = in_spans(t, truth), in_spans(t, found)
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
        row["downbeat_f"] = downbeat_f(downbeats, ours.downbeats_s)
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
    """The default mode's real music: ``real_music.py``'s tracker tracks (``CACHE/tracks``) only; the
    corpus of ``real_corpus.py`` (``CACHE/corpus``, which holds those tracks again) is ``--real``'s."""
    from mvgen.media.audio import load_audio

    rows = []
    for ref_path in sorted((cache / "tracks").glob("*.beats.json")):
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


#: --real: the systems compared, in the order of the table's columns.
#: "mvgen": the learned tracker (models/mvgen-beats-v1); "mvgen-grid": the hand-made grid without it (the
#: previous method, analyze_signal(beat_model=False)); "mvgen-dbn": the learned tracker's activation decoded
#: by madmom's DBN (learned_dbn_beats).
REAL_SYSTEMS = ("mvgen", "mvgen-grid", "mvgen-dbn", *ANCHORS, "librosa")
#: --real: the style of ``real_music.py``'s tracker modules (its ``style`` field is a free description).
REAL_MUSIC_STYLE = "house_techno_trance"
#: --real: ``real_music.py`` counts bars as 4 beats from each pattern's start (see its docstring),
#: so its tracks with downbeats are in 4/4.
REAL_MUSIC_BEATS_PER_BAR = 4


#: --real: seconds of the first piece analysed once, untimed, before the timed runs.
WARM_UP_S = 20.0


def real_pieces(cache: Path) -> list[dict]:
    """The reference of every piece in ``CACHE/corpus`` (``real_corpus.py``) and ``CACHE/tracks`` (``real_music.py``).

    Each: ``name``, ``wav``, ``beats_s``, ``downbeats_s`` (None where the reference has none),
    ``beats_per_bar`` (None where unknown), ``tempo_bpm``, ``style``, ``split`` ("dev" or "held_out").
    A piece in both folders (the corpus may take in ``real_music.py``'s tracks) counts once, as the corpus has it.
    """
    pieces = []
    for folder, from_corpus in ((cache / "corpus", True), (cache / "tracks", False)):
        for ref_path in sorted(folder.glob("*.beats.json")):
            wav = ref_path.with_name(ref_path.name.replace(".beats.json", ".wav"))
            if not wav.exists() or any(p["name"] == wav.stem for p in pieces):
                continue
            ref = json.loads(ref_path.read_text())
            downbeats = ref.get("downbeats_s") or None
            meter = ref.get("beats_per_bar") if from_corpus else (REAL_MUSIC_BEATS_PER_BAR if downbeats else None)
            pieces.append({"name": wav.stem, "wav": wav, "beats_s": ref["beats_s"], "downbeats_s": downbeats, "beats_per_bar": meter,
                           "tempo_bpm": float(ref["tempo_bpm"]), "style": ref["style"] if from_corpus else REAL_MUSIC_STYLE,
                           "split": ref.get("split", "dev")})
    return pieces


def ensure_anchors(wavs: list[Path], anchors_python: Path) -> None:
    """Run ``anchors.py`` in the anchors' virtualenv on the files that lack an up-to-date result (says so when it cannot)."""
    missing = [w for w in wavs if any(read_anchor(w, anchor) is None for anchor in ANCHORS)]
    if not missing:
        return
    if not anchors_python.exists():
        print(f"(no anchors' virtualenv at {anchors_python}: run benchmarks/anchors_setup.sh; {len(missing)} pieces without madmom/BeatNet)")
        return
    print(f"running the anchors on {len(missing)} pieces ({anchors_python})", flush=True)
    subprocess.run([str(anchors_python), str(Path(__file__).resolve().parent / "anchors.py"), *map(str, missing)], check=True)


def tempo_from_beats(beats_s) -> float | None:
    """Tempo (bpm) from the median interval of a beat sequence (the anchors give beats, not a tempo)."""
    return float(60.0 / np.median(np.diff(beats_s))) if len(beats_s) > 1 else None


def grid_scores(piece: dict, beats_s, tempo_bpm: float | None, downbeats_s=None, beats_per_bar: int | None = None) -> dict:
    """One system's figures on one piece; downbeat F and meter are None where the reference or the system has none."""
    ref, est = mir_eval.beat.trim_beats(np.asarray(piece["beats_s"], float)), mir_eval.beat.trim_beats(np.asarray(beats_s, float))
    scores = beat_scores(piece["beats_s"], np.asarray(beats_s, float), piece["tempo_bpm"], tempo_bpm)
    return {
        "beat_f": scores["f_measure"],
        "amlt": float(mir_eval.beat.continuity(ref, est)[3]),
        "acc1": scores["tempo_ok"],
        "acc2": tempo_within(tempo_bpm, piece["tempo_bpm"], TEMPO_LEVELS),
        "tempo_bpm": tempo_bpm,
        "downbeat_f": None if piece["downbeats_s"] is None or downbeats_s is None else downbeat_f(piece["downbeats_s"], downbeats_s),
        "meter_ok": None if piece["beats_per_bar"] is None or beats_per_bar is None else beats_per_bar == piece["beats_per_bar"],
    }


def learned_dbn_beats(y: np.ndarray) -> tuple[float | None, np.ndarray, np.ndarray, int]:
    """``mvgen-dbn``: the bundled beat model's activation decoded by madmom's DBN (``beat_dbn.py``; tried and
    left out, see ``bench_beats_oof.py``) instead of mvgen's grid fit, downbeats by mvgen's ``find_downbeats``:
    ``(tempo_bpm, beats_s, downbeats_s, beats_per_bar)``."""
    from benchmarks.beat_dbn import dbn_beats
    from mvgen.analysis.beat_model import bundled_beat_tracker
    from mvgen.analysis.beats import find_downbeats

    activations = bundled_beat_tracker().activations(y)
    beats = dbn_beats(activations.beat, activations.hop_s)
    if len(beats) < 2:
        return None, beats, beats, 4
    downbeats, beats_per_bar = find_downbeats(y, frame_features(y, ANALYSIS_SR, detail=True), beats, activations)
    return tempo_from_beats(beats), beats, downbeats, beats_per_bar


def real_anchor_rows(cache: Path, anchors_python: Path) -> list[dict]:
    """mvgen, the anchors and librosa on every real piece: one row per piece, ``systems`` maps a system to :func:`grid_scores` and ``time_s``."""
    from mvgen.media.audio import load_audio

    pieces = real_pieces(cache)
    ensure_anchors([p["wav"] for p in pieces], anchors_python)
    if pieces:  # first calls compile (numba) and import: keep that out of the first piece's time
        warm_up = load_audio(pieces[0]["wav"], sr=ANALYSIS_SR)[: int(WARM_UP_S * ANALYSIS_SR)]
        analyze_signal(warm_up, ANALYSIS_SR)
        librosa_beats(warm_up, ANALYSIS_SR)
    rows = []
    for piece in pieces:
        y = load_audio(piece["wav"], sr=ANALYSIS_SR)
        systems = {}
        t0 = time.perf_counter()
        ours = analyze_signal(y, ANALYSIS_SR)
        systems["mvgen"] = {**grid_scores(piece, ours.beats_s, ours.tempo_bpm, ours.downbeats_s, ours.beats_per_bar), "time_s": time.perf_counter() - t0}
        t0 = time.perf_counter()
        grid = analyze_signal(y, ANALYSIS_SR, beat_model=False)
        systems["mvgen-grid"] = {**grid_scores(piece, grid.beats_s, grid.tempo_bpm, grid.downbeats_s, grid.beats_per_bar), "time_s": time.perf_counter() - t0}
        t0 = time.perf_counter()
        dbn_bpm, dbn_beats_s, dbn_downbeats, dbn_meter = learned_dbn_beats(y)
        systems["mvgen-dbn"] = {**grid_scores(piece, dbn_beats_s, dbn_bpm, dbn_downbeats, dbn_meter), "time_s": time.perf_counter() - t0}
        t0 = time.perf_counter()
        lb_bpm, lb_beats = librosa_beats(y, ANALYSIS_SR)
        systems["librosa"] = {**grid_scores(piece, lb_beats, lb_bpm), "time_s": time.perf_counter() - t0}
        for anchor in ANCHORS:
            found = read_anchor(piece["wav"], anchor)
            if found is not None:
                systems[anchor] = {**grid_scores(piece, found["beats_s"], tempo_from_beats(found["beats_s"]), found["downbeats_s"], found["beats_per_bar"]),
                                   "time_s": found["time_s"]}
        row = {"track": piece["name"], "style": piece["style"], "split": piece["split"], "bpm": piece["tempo_bpm"],
               "beats_per_bar": piece["beats_per_bar"], "systems": {name: systems[name] for name in REAL_SYSTEMS if name in systems}}
        rows.append(row)
        print(f"{row['track']:<32} {row['split']:<8} ref {row['bpm']:6.2f}" + "".join(
            f"  {name} {s['beat_f']:.3f} {s['tempo_bpm'] or 0:6.1f}" for name, s in row["systems"].items()), flush=True)
    return rows


def _mean(values) -> float | None:
    values = [float(v) for v in values if v is not None]
    return float(np.mean(values)) if values else None


def system_summary(rows: list[dict], system: str) -> dict:
    """One system's figures over ``rows`` (means; ``*_n``: how many pieces each mean is over)."""
    mine = [r["systems"][system] for r in rows if system in r["systems"]]
    grid_right = [s["downbeat_f"] for s in mine if s["downbeat_f"] is not None and s["beat_f"] >= GRID_RIGHT_F]
    summary = {"pieces": len(mine)}
    for key in ("beat_f", "amlt", "acc1", "acc2", "downbeat_f", "meter_ok", "time_s"):
        summary[key] = _mean(s[key] for s in mine)
    summary["downbeat_f_n"] = sum(s["downbeat_f"] is not None for s in mine)
    summary["downbeat_f_grid_right"], summary["downbeat_f_grid_right_n"] = _mean(grid_right), len(grid_right)
    summary["meter_ok_n"] = sum(s["meter_ok"] is not None for s in mine)
    return summary


#: --real: the table's lines: label, summary key, key of the count shown beside the mean (or None).
REAL_TABLE = (("beat F (70 ms)", "beat_f", None), ("AMLt", "amlt", None), ("tempo Acc1 (4 %)", "acc1", None),
              ("tempo Acc2 (x2 /2 x3 /3)", "acc2", None), ("downbeat F", "downbeat_f", "downbeat_f_n"),
              (f"downbeat F, beat F >= {GRID_RIGHT_F}", "downbeat_f_grid_right", "downbeat_f_grid_right_n"),
              ("meter right", "meter_ok", "meter_ok_n"), ("time per piece (s)", "time_s", None))


def real_table(label: str, rows: list[dict], systems: tuple[str, ...] = REAL_SYSTEMS) -> dict:
    """Print ``systems`` side by side over ``rows`` and return their summaries (system -> :func:`system_summary`)."""
    summaries = {system: system_summary(rows, system) for system in systems}
    print(f"\n{label}: {len(rows)} pieces")
    print(f"  {'':<28}" + "".join(f"{system:>13}" for system in systems))
    for text, key, count in REAL_TABLE:
        cells = []
        for system in systems:
            value = summaries[system][key]
            cell = "-" if value is None else f"{value:.3f}" if key != "time_s" else f"{value:.1f}"
            if value is not None and count is not None:
                cell += f" ({summaries[system][count]})"
            cells.append(f"{cell:>13}")
        print(f"  {text:<28}" + "".join(cells))
    return summaries


def real_report(rows: list[dict]) -> dict:
    """Per split (dev, held out), per style and overall: :func:`real_table`."""
    report = {}
    for split, split_label in (("dev", "development"), ("held_out", "held out, never tuned on")):
        mine = [r for r in rows if r["split"] == split]
        if not mine:
            continue
        styles = sorted({r["style"] for r in mine})
        if len(styles) == 1:  # the overall table is the style's: print it once
            report[split] = {"overall": real_table(f"real music ({split_label}), all {styles[0]}", mine)}
            report[split][styles[0]] = report[split]["overall"]
            continue
        report[split] = {style: real_table(f"real music ({split_label}), {style}", [r for r in mine if r["style"] == style]) for style in styles}
        report[split]["overall"] = real_table(f"real music ({split_label}), all styles", mine)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=24, help="number of synthetic tracks (100..180 bpm)")
    parser.add_argument("--bars-scale", type=float, default=1.0, help="length of the synthetic arrangements (1.0: about 3 minutes at 128 bpm)")
    parser.add_argument("--real-cache", type=Path, default=Path.home() / ".cache" / "mvgen-bench", help="folder of benchmarks/real_music.py (tracks/) and, with --real, real_corpus.py (corpus/)")
    parser.add_argument("--grooves", action="store_true", help="add the misleading grooves (non-house styles, mixed house variants)")
    parser.add_argument("--styles", action="store_true", help="add every synth style (several seeds, both ends of its tempo range)")
    parser.add_argument("--real", action="store_true", help="only real music (CACHE/corpus and CACHE/tracks), beside madmom, BeatNet and librosa")
    parser.add_argument("--anchors-python", type=Path, default=DEFAULT_VENV / "bin" / "python", help="python of the anchors' virtualenv (benchmarks/anchors_setup.sh)")
    parser.add_argument("--json", type=Path, help="write all rows and summaries here")
    args = parser.parse_args()
    if args.real:
        rows = real_anchor_rows(args.real_cache, args.anchors_python)
        if not rows:
            print(f"(no real music in {args.real_cache}/corpus or {args.real_cache}/tracks; run benchmarks/real_corpus.py or real_music.py first)")
        result = {"summary": real_report(rows), "rows": rows}
        if args.json:
            args.json.write_text(json.dumps(result, indent=1))
        return
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
