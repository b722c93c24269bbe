"""Beat decoders compared out of fold on the development pieces of the real-music corpus.

Every decoder setting of ``mvgen.analysis.beats`` is chosen on these figures, never on the held-out pieces.
Three fold models of the bundled recipe (``models/build/beats.py``, :data:`FOLD_ARGS`) are trained,
each without one group of development packages (:data:`FOLDS`), and each development piece is decoded
from the activations of the fold model that never heard its package. Decoders, side by side:

- ``mvgen``: the shipped decoder (``track_beats`` and ``find_downbeats`` with the activations);
- ``dbn``: madmom's DBN (``benchmarks/beat_dbn.py``, madmom's parameters) on the same beat activation,
  downbeats by ``find_downbeats`` on its beats;
- ``dbn-near``: the DBN held within :data:`NEAR_TEMPO` of the tempo the shipped decoder chose (the DBN then
  only follows the tempo and the phase; the beat level stays the grid's).

Figures per style and overall as ``bench_analysis.py --real`` prints them (beat F, AMLt, tempo Acc1/Acc2,
downbeat F, where the grid is right, meter), per training seed and over the seeds given (``--seeds``): the
shipped decoder read beat F 0.762, 0.816 and 0.829 at seeds 0, 1 and 2, so compare decoders paired over
several seeds. With ``--ensemble`` the mean of the seeds' activations is decoded too, as the bundled
model (seeds 0, 1, 2 averaged, ``models/build/beats.py --seeds``) does. Fold models and activations
are cached in ``--work``: a second run only decodes. Training takes about 9 minutes a fold on one core,
data preparation included (6 once the data are cached).

    python benchmarks/bench_beats_oof.py [--seeds 0 1 2 [--ensemble]] [--real-cache ~/.cache/mvgen-bench] [--work ~/.cache/mvgen-bench/beat-folds] [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.beat_dbn import dbn_beats  # noqa: E402
from benchmarks.bench_analysis import grid_scores, real_table, tempo_from_beats  # noqa: E402

#: Development packages left out of each fold model's training (None: every development package that no
#: other fold names). A and B are the largest packages; C holds the other 15.
FOLDS = {"A": ("openttd-openmsx",), "B": ("mma/zoom",), "C": None}
#: The fold models' recipe: the bundled model's (its card), the last of its 20 epochs kept as there, so no
#: epoch is chosen on the pieces a fold model is measured on.
FOLD_ARGS = ("--epochs", "20", "--variants", "8", "--keep-last-epoch")
#: ``dbn-near``: tempo range around the shipped decoder's tempo (a fraction either way).
NEAR_TEMPO = 0.1
SYSTEMS = ("mvgen", "dbn", "dbn-near")


def dev_pieces(corpus: Path) -> list[dict]:
    """The development pieces of ``corpus`` (``real_corpus.py``), each its reference with ``wav`` and ``fold``."""
    pieces = []
    for ref_path in sorted(corpus.glob("*.beats.json")):
        ref = json.loads(ref_path.read_text())
        if ref["split"] != "dev":
            continue  # the held-out pieces are never read here
        fold = next((f for f, sources in FOLDS.items() if sources and ref["split_source"] in sources), "C")
        pieces.append({**ref, "wav": ref_path.with_name(ref["name"] + ".wav"), "fold": fold,
                       "downbeats_s": ref.get("downbeats_s") or None, "tempo_bpm": float(ref["tempo_bpm"])})
    return pieces


def fold_set_dir(work: Path, seed: int) -> Path:
    """Where the fold models of training ``seed`` live: ``work`` itself for seed 0, ``work/seed<N>`` for the others."""
    return work if seed == 0 else work / f"seed{seed}"


def train_folds(pieces: list[dict], work: Path, corpus: Path, jobs: int, seed: int = 0) -> None:
    """Train the fold models of training ``seed`` that :func:`fold_set_dir` lacks (``models/build/beats.py``, output
    under ``fold<X>``; the training data cached in ``work/data`` for every seed); a fold model of another recipe
    (its ``recipe.json``: the build's arguments and the packages left out) is trained again."""
    for fold, sources in FOLDS.items():
        out = fold_set_dir(work, seed) / f"fold{fold}"
        left_out = sorted({p["split_source"] for p in pieces if p["fold"] == fold}) if sources is None else list(sources)
        recipe = {"build_args": [*FOLD_ARGS, "--seeds", str(seed)], "left_out": left_out}
        if (out / "model.safetensors").is_file() and (out / "recipe.json").is_file() and json.loads((out / "recipe.json").read_text()) == recipe:
            continue
        print(f"training fold {fold} (seed {seed}) without {', '.join(left_out)}", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, str(ROOT / "models" / "build" / "beats.py"), *recipe["build_args"], "--jobs", str(jobs),
                   "--corpus", str(corpus), "--work", str(work / "data"), "--out", str(out), "--validation-sources", *left_out]
        with open(out.parent / f"fold{fold}.log", "w") as log:
            subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        (out / "recipe.json").write_text(json.dumps(recipe))


def piece_signals(pieces: list[dict]) -> dict[str, tuple]:
    """Per piece name: ``(audio, frame features)``, once for every fold set."""
    from mvgen.features import ANALYSIS_SR, frame_features
    from mvgen.media.audio import load_audio

    signals = {}
    for piece in pieces:
        y = load_audio(piece["wav"], sr=ANALYSIS_SR)
        signals[piece["name"]] = (y, frame_features(y, ANALYSIS_SR, detail=True))
    return signals


def fold_activations(pieces: list[dict], work: Path, signals: dict[str, tuple]) -> dict[str, object]:
    """Per piece name: its out-of-fold ``BeatActivations`` from the fold models in ``work`` (cached per fold model),
    on the audio of ``signals`` (:func:`piece_signals`)."""
    from mvgen.analysis.beat_model import BeatActivations, load_beat_tracker

    out = {}
    for fold in FOLDS:
        model = work / f"fold{fold}"
        digest = hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest()[:12]
        cache = work / f"activations-{fold}-{digest}.npz"
        cached = dict(np.load(cache)) if cache.is_file() else {}
        tracker = None
        for piece in (p for p in pieces if p["fold"] == fold):
            y, features = signals[piece["name"]]
            if piece["name"] + ".beat" not in cached:
                tracker = tracker or load_beat_tracker(model)
                found = tracker.activations(y)
                cached[piece["name"] + ".beat"], cached[piece["name"] + ".downbeat"] = found.beat, found.downbeat
            out[piece["name"]] = BeatActivations(cached[piece["name"] + ".beat"], cached[piece["name"] + ".downbeat"], features.hop_s)
        np.savez(cache, **cached)
    return out


def decode(piece: dict, y: np.ndarray, features, activations) -> dict[str, dict]:
    """Each system's :func:`grid_scores` on one piece."""
    from mvgen.analysis.beats import find_downbeats, track_beats
    from mvgen.features import ANALYSIS_SR

    duration_s, hop_s = len(y) / ANALYSIS_SR, activations.hop_s
    systems = {}

    def scored(name: str, beats_s: np.ndarray, tempo_bpm: float | None, started: float) -> None:
        downbeats, beats_per_bar = find_downbeats(y, features, beats_s, activations) if tempo_bpm else (beats_s, 4)
        systems[name] = {**grid_scores(piece, beats_s, tempo_bpm, downbeats, beats_per_bar), "time_s": time.perf_counter() - started}

    started = time.perf_counter()
    grid = track_beats(features, duration_s, y, activations)
    scored("mvgen", grid.beats_s, grid.tempo_bpm, started)
    started = time.perf_counter()
    beats = dbn_beats(activations.beat, hop_s)
    scored("dbn", beats, tempo_from_beats(beats), started)
    if grid.tempo_bpm:
        started = time.perf_counter()
        beats = dbn_beats(activations.beat, hop_s, min_bpm=grid.tempo_bpm / (1 + NEAR_TEMPO), max_bpm=grid.tempo_bpm * (1 + NEAR_TEMPO))
        scored("dbn-near", beats, tempo_from_beats(beats), started)
    return systems


def mean_activations(sets: list[dict[str, object]]) -> dict[str, object]:
    """Per piece name: the mean of its beat and downbeat activations over ``sets`` (:func:`fold_activations` of
    several seeds), as a model whose members are those seeds' networks computes them."""
    from mvgen.analysis.beat_model import BeatActivations

    return {name: BeatActivations(np.mean([s[name].beat for s in sets], axis=0, dtype=np.float64).astype(np.float32),
                                  np.mean([s[name].downbeat for s in sets], axis=0, dtype=np.float64).astype(np.float32), first.hop_s)
            for name, first in sets[0].items()}


def decoded_rows(pieces: list[dict], signals: dict[str, tuple], activations: dict[str, object], seed) -> list[dict]:
    """One row per piece: every system's figures (:func:`decode`) on ``activations``, printed as they come."""
    rows = []
    for piece in pieces:
        systems = decode(piece, *signals[piece["name"]], activations[piece["name"]])
        rows.append({"track": piece["name"], "style": piece["style"], "fold": piece["fold"], "seed": seed, "bpm": piece["tempo_bpm"], "systems": systems})
        print(f"{piece['name']:<40} seed {seed} fold {piece['fold']} ref {piece['tempo_bpm']:6.1f}" + "".join(
            f"  {name} {s['beat_f']:.3f} {s['tempo_bpm'] or 0:6.1f}" for name, s in systems.items()), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real-cache", type=Path, default=Path.home() / ".cache" / "mvgen-bench", help="folder of benchmarks/real_corpus.py (corpus/)")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "mvgen-bench" / "beat-folds", help="fold models, their training data and activations")
    parser.add_argument("--jobs", type=int, default=1, help="processes preparing the training data")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="training seeds: one fold set each (the seed alone moved beat F by 0.067 on these 59 pieces; compare decoders on several)")
    parser.add_argument("--ensemble", action="store_true", help="also decode the mean of the seeds' activations (the bundled model's members)")
    parser.add_argument("--json", type=Path, help="write every row and the summaries here")
    args = parser.parse_args()
    corpus = args.real_cache / "corpus"
    pieces = dev_pieces(corpus)
    if not pieces:
        raise SystemExit(f"{corpus}: no development pieces (build the corpus with benchmarks/real_corpus.py)")
    args.work.mkdir(parents=True, exist_ok=True)
    rows, ensemble_rows = [], []
    signals = piece_signals(pieces)
    by_seed = {}
    for seed in args.seeds:
        train_folds(pieces, args.work, corpus, args.jobs, seed)
        by_seed[seed] = fold_activations(pieces, fold_set_dir(args.work, seed), signals)
        rows += decoded_rows(pieces, signals, by_seed[seed], seed)
    over = f"over seeds {', '.join(map(str, args.seeds))}" if len(args.seeds) > 1 else f"seed {args.seeds[0]}"
    report = {style: real_table(f"out of fold ({over}), {style}", [r for r in rows if r["style"] == style], SYSTEMS) for style in sorted({r["style"] for r in rows})}
    if len(args.seeds) > 1:
        report["per_seed"] = {seed: real_table(f"out of fold, seed {seed}, all development pieces", [r for r in rows if r["seed"] == seed], SYSTEMS) for seed in args.seeds}
    report["overall"] = real_table(f"out of fold ({over}), all development pieces", rows, SYSTEMS)
    if args.ensemble:
        name = "+".join(map(str, args.seeds))
        ensemble_rows = decoded_rows(pieces, signals, mean_activations([by_seed[seed] for seed in args.seeds]), name)
        report["ensemble"] = {style: real_table(f"out of fold, mean of seeds {name}, {style}", [r for r in ensemble_rows if r["style"] == style], SYSTEMS)
                              for style in sorted({r["style"] for r in ensemble_rows})}
        report["ensemble"]["overall"] = real_table(f"out of fold, mean of seeds {name}, all development pieces", ensemble_rows, SYSTEMS)
        rows += ensemble_rows
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summaries": report}, indent=1, default=float))


if __name__ == "__main__":
    main()
