"""Does the genre profile know what it does not know? In-scope accuracy, out-of-scope rejection per
kind, calibration, and accuracy under the degradations of real releases, on held-out data only.

    python benchmarks/bench_scope.py [--model models/mvgen-synth-v2] [--real-cache ~/.cache/mvgen-bench] [--json out.json]

What is held out (never seen in training by ``models/build/default.py``):

* in scope: synthetic single-genre drops, seeds from ``HELD_OUT_SEED0`` (the build trains on 0..N);
* out of scope, synthetic music: the non-house styles of ``mvgen.synth`` (drum & bass, hardstyle,
  hip-hop, trap, reggae, dancehall, rock, ambient, pop ballad), seeds from ``HELD_OUT_NEGATIVE_SEED0``;
* out of scope, non-music: every kind of ``mvgen.training.negatives`` (silence, tone, sweep, drone, noise,
  speech) at seeds from ``HELD_OUT_NEGATIVE_SEED0``;
* out of scope, real music: the ``held_out`` tracks of ``benchmarks/real_negatives.py`` (other
  Debian packages than the training ones), when ``--real-cache`` has them.

Scope figures are per window of the profile as ``mvgen analyze`` makes it (classifier and signal
gates together, ``mvgen.analysis.track.genre_profile``): the share of windows whose in-scope confidence is
below 0.5. In-scope figures are per clip (the central window of each drop clip): top-1 over the
model's classes, the share of clips kept in scope, and the expected calibration error of the
model's outputs (classes and ``other``) after its temperature.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mvgen.genres import GENRES  # noqa: E402

#: First seed of the held-out in-scope clips and of the held-out out-of-scope clips.
HELD_OUT_SEED0 = 100_000
HELD_OUT_NEGATIVE_SEED0 = 300_000
#: Length of each out-of-scope excerpt (s): a few profile windows each.
NEGATIVE_CLIP_S = 15.0
#: Confidence under which a window counts as "outside the model's genres".
SCOPE_THRESHOLD = 0.5
#: The out-of-scope kind of the real non-house tracks of held-out packages (a key of the report's ``out_of_scope``).
REAL_NEGATIVES_KIND = "real non-house music (held-out packages)"


def in_scope_clips(model_config, n_seeds: int, seed0: int = HELD_OUT_SEED0):
    """Held-out single-genre synthetic drop clips (``mvgen.training.train.LabelledClip``), one per seed."""
    from mvgen import synth
    from mvgen.training.train import SHIFT_S, LabelledClip, map_target

    clips = []
    for seed in range(seed0, seed0 + n_seeds):
        genre = GENRES[seed % len(GENRES)]
        audio, truth = synth.render_clip(genre, seed=seed, sr=model_config.sr, duration_s=model_config.window_s + SHIFT_S)
        clips.append(LabelledClip(np.asarray(audio, np.float32), map_target(np.mean(truth.genre_profile.probabilities, axis=0), truth.genre_profile.labels, model_config), genre))
    return clips


def clip_figures(model, clips) -> dict:
    """Top-1 over the classes, share kept in scope, ECE over all outputs, for in-scope ``clips``."""
    from mvgen.classify.classifier import predict_clips, split_scope
    from mvgen.training.metrics import expected_calibration_error

    outputs = predict_clips(model, [c.audio for c in clips])
    targets = np.stack([c.target for c in clips])
    shares, in_scope = split_scope(outputs, model.config)
    g = len(model.config.labels)
    return {
        "n": len(clips),
        "top1": float(np.mean(shares.argmax(1) == targets[:, :g].argmax(1))),
        "kept_in_scope": float(np.mean(in_scope >= SCOPE_THRESHOLD)),
        "ece": expected_calibration_error(outputs, targets),
    }


def profile_as_analyzed(y: np.ndarray, model, sr: int, *, context: bool = True):
    """The genre profile of mono ``y`` as ``mvgen analyze`` makes it: classifier, signal gates and (``context``)
    each track's genre for the windows without drums (``mvgen.analysis.track.genre_profile``)."""
    from mvgen.analysis.track import analyze_signal, genre_profile
    from mvgen.features import frame_features

    if not context:
        return genre_profile(y, model, sr)
    features = frame_features(y, sr, detail=True)
    return genre_profile(y, model, sr, features=features, signal=analyze_signal(y, sr, features=features))


def window_rejection(model, clips: list[np.ndarray], sr: int) -> dict:
    """Share of profile windows below :data:`SCOPE_THRESHOLD`: as analyzed, without the track context, and
    the model alone (without the signal gates either)."""
    from mvgen.classify.classifier import predict_profile

    piped, no_context, alone = [], [], []
    for y in clips:
        piped.extend(profile_as_analyzed(y, model, sr).in_scope)
        no_context.extend(profile_as_analyzed(y, model, sr, context=False).in_scope)
        alone.extend(predict_profile(model, y).in_scope.tolist())
    piped, no_context, alone = np.asarray(piped), np.asarray(no_context), np.asarray(alone)
    return {"n_clips": len(clips), "windows": len(piped), "rejected": float(np.mean(piped < SCOPE_THRESHOLD)),
            "rejected_without_context": float(np.mean(no_context < SCOPE_THRESHOLD)), "rejected_model_alone": float(np.mean(alone < SCOPE_THRESHOLD))}


def negative_sets(sr: int, n_seeds: int, real_cache: Path | None, seed0: int = HELD_OUT_NEGATIVE_SEED0) -> dict[str, list[np.ndarray]]:
    """Held-out out-of-scope audio by kind: each synthetic non-house style, each non-music kind, real music."""
    from mvgen import synth
    from mvgen.training import negatives

    sets: dict[str, list[np.ndarray]] = {}
    for style in synth.OTHER_STYLES:
        sets[style] = [np.asarray(synth.render_clip(style, seed=seed, sr=sr, duration_s=NEGATIVE_CLIP_S)[0], np.float32) for seed in range(seed0, seed0 + n_seeds)]
    for kind in negatives.NEGATIVE_KINDS:
        if kind == "speech" and not negatives.espeak_available():
            continue
        sets[kind] = [negatives.negative_clip(kind, seed, sr=sr, duration_s=NEGATIVE_CLIP_S) for seed in range(seed0, seed0 + n_seeds)]
    real = real_negative_tracks(real_cache, "held_out", sr)
    if real:
        sets[REAL_NEGATIVES_KIND] = real
    return sets


def real_negative_tracks(real_cache: Path | None, split: str, sr: int) -> list[np.ndarray]:
    """Mono audio at ``sr`` of the real non-house tracks of ``split`` in ``real_cache/negatives`` (empty when absent)."""
    if real_cache is None:
        return []
    folder = Path(real_cache).expanduser() / "negatives"
    if not folder.is_dir():
        return []
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from real_negatives import TRACKS

    from mvgen.media.audio import load_audio

    return [load_audio(folder / f"{t.name}.wav", sr=sr) for t in TRACKS if t.split == split and (folder / f"{t.name}.wav").is_file()]


def real_dance_figures(model, dance_cache: Path | None) -> dict:
    """For information, not a target: the share of profile windows kept in scope on the real
    electronic dance tracks of ``benchmarks/real_music.py`` (trance, techno, 90s dance tracker music:
    neighbours of mainstage house, not its sub-genres), per track and overall."""
    from mvgen.media.audio import load_audio

    folder = None if dance_cache is None else Path(dance_cache).expanduser() / "tracks"
    if folder is None or not folder.is_dir():
        return {}
    per_track, without_context = {}, {}
    for wav in sorted(folder.glob("*.wav")):
        y = load_audio(wav, sr=model.config.sr)
        per_track[wav.stem] = float(np.mean(np.asarray(profile_as_analyzed(y, model, model.config.sr).in_scope) >= SCOPE_THRESHOLD))
        without_context[wav.stem] = float(np.mean(np.asarray(profile_as_analyzed(y, model, model.config.sr, context=False).in_scope) >= SCOPE_THRESHOLD))
    mean = (lambda d: float(np.mean(list(d.values()))) if d else 0.0)
    return {"kept_in_scope": mean(per_track), "kept_without_context": mean(without_context), "per_track": per_track}


#: Synthetic house tracks with long breakdowns: bars of the breakdown, which has no drums at all.
BREAKDOWN_BARS = 32


def breakdown_figures(model, n_seeds: int = 1, seed0: int = HELD_OUT_SEED0, log=print) -> dict:
    """In-scope share of the windows of synthetic house tracks (every sub-genre, held-out seeds) whose
    breakdown has :data:`BREAKDOWN_BARS` bars without drums: over the whole track and in the breakdown, with
    and without the track context, and the share of breakdown windows whose top class is the track's."""
    from mvgen import synth
    from mvgen.analysis.track import analyze_signal, genre_profile
    from mvgen.features import frame_features

    rows = {}
    for genre in GENRES:
        for seed in range(seed0, seed0 + n_seeds):
            S, g = synth.SectionSpec, {genre: 1.0}
            sections = [S(label="intro", bars=8, genres=g), S(label="build-up", bars=8, genres=g), S(label="drop", bars=16, genres=g),
                        S(label="breakdown", bars=BREAKDOWN_BARS, genres=g, drums=False), S(label="build-up", bars=8, genres=g),
                        S(label="drop", bars=16, genres=g), S(label="outro", bars=8, genres=g)]
            audio, truth = synth.render(synth.Arrangement(sections=sections), seed=seed, sr=model.config.sr, stereo=False)
            y = np.asarray(audio, np.float32)
            features = frame_features(y, model.config.sr, detail=True)
            signal = analyze_signal(y, model.config.sr, features=features)
            row = {}
            for name, profile in (("with_context", genre_profile(y, model, model.config.sr, features=features, signal=signal)),
                                  ("without_context", genre_profile(y, model, model.config.sr, features=features))):
                times, in_scope = np.asarray(profile.times_s), np.asarray(profile.in_scope)
                breakdown = next(sec for sec in truth.sections if sec.label == "breakdown")
                inside = (times >= breakdown.start_s) & (times < breakdown.end_s)
                top = np.asarray(profile.labels)[np.asarray(profile.probabilities)[inside].argmax(axis=1)]
                row[name] = {"track": float(np.mean(in_scope >= SCOPE_THRESHOLD)), "breakdown": float(np.mean(in_scope[inside] >= SCOPE_THRESHOLD)),
                             "breakdown_top_is_track_genre": float(np.mean(top == genre))}
            rows[f"{genre}-{seed}"] = row
            log(f"  {genre:18s} seed {seed}: in scope, track {row['without_context']['track'] * 100:5.1f} % -> {row['with_context']['track'] * 100:5.1f} %, "
                f"breakdown {row['without_context']['breakdown'] * 100:5.1f} % -> {row['with_context']['breakdown'] * 100:5.1f} % "
                f"(its top class the track's: {row['with_context']['breakdown_top_is_track_genre'] * 100:.0f} %)")
    return rows


#: Whole dance tracks for the per-section figures: rendered up to this long (s), so breakdowns are in.
SECTION_TRACK_MAX_S = 300.0


def section_scope_figures(model, dance_cache: Path | None, log=print) -> dict:
    """The share of profile windows in scope per section type (intro, build-up, drop, breakdown, outro), with
    and without the track context, over the development dance modules of ``benchmarks/real_music.py``
    rendered whole (up to :data:`SECTION_TRACK_MAX_S`): what the context changes in real breakdowns."""
    if dance_cache is None:
        return {}
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from real_music import TRACKS, fetch, render_rows

    import soxr

    from mvgen.analysis.track import analyze_signal, genre_profile
    from mvgen.features import frame_features

    dev = [t for t in TRACKS if t.split == "dev"]
    counts: dict[str, dict[str, list[int]]] = {}
    for track, module in zip(dev, fetch(Path(dance_cache).expanduser(), dev)):
        audio, _, _ = render_rows(module, sr=44100, max_s=SECTION_TRACK_MAX_S)
        y = soxr.resample(np.asarray(audio, np.float32).mean(axis=1), 44100, model.config.sr).astype(np.float32)
        features = frame_features(y, model.config.sr, detail=True)
        signal = analyze_signal(y, model.config.sr, features=features)
        with_context = np.asarray(genre_profile(y, model, model.config.sr, features=features, signal=signal).in_scope) >= SCOPE_THRESHOLD
        profile_alone = genre_profile(y, model, model.config.sr, features=features)
        alone, times = np.asarray(profile_alone.in_scope) >= SCOPE_THRESHOLD, np.asarray(profile_alone.times_s)
        for section in signal.sections:
            inside = (times >= section.start_s) & (times < section.end_s)
            row = counts.setdefault(section.label, {"windows": [0], "with_context": [0], "alone": [0]})
            row["windows"][0] += int(inside.sum())
            row["with_context"][0] += int(with_context[inside].sum())
            row["alone"][0] += int(alone[inside].sum())
        log(f"  {track.name:28s} {len(y) / model.config.sr:5.0f} s: in scope {alone.mean() * 100:5.1f} % -> {with_context.mean() * 100:5.1f} % with the track context")
    return {label: {"windows": c["windows"][0], "in_scope_without_context": c["alone"][0] / max(c["windows"][0], 1),
                    "in_scope": c["with_context"][0] / max(c["windows"][0], 1)} for label, c in counts.items()}


def degradation_figures(model, clips, seed: int = 0) -> dict:
    """:func:`clip_figures` of ``clips`` after each degradation of :mod:`mvgen.training.degrade` (one per clip, seeded)."""
    from mvgen.training import degrade
    from mvgen.training.train import LabelledClip

    figures = {}
    for kind in degrade.DEGRADATIONS:
        rng = np.random.default_rng([seed, 11])
        degraded = [LabelledClip(degrade.degrade(c.audio, model.config.sr, kind, rng), c.target, c.track_id) for c in clips]
        figures[kind] = clip_figures(model, degraded)
    return figures


def evaluate(model, *, n_in_scope: int, n_negative: int, n_degraded: int, real_cache: Path | None, dance_cache: Path | None = None, sections: bool = False, log=print) -> dict:
    """Every figure of this benchmark as a JSON-able dict (also what the model build writes to metrics.json)."""
    t0 = time.perf_counter()
    clips = in_scope_clips(model.config, n_in_scope)
    report = {"in_scope": clip_figures(model, clips)}
    log(f"in scope ({len(clips)} held-out single-genre drops): top-1 {report['in_scope']['top1']:.3f}, kept in scope "
        f"{report['in_scope']['kept_in_scope']:.3f}, calibration error {report['in_scope']['ece']:.3f}  [{time.perf_counter() - t0:.0f} s]")
    report["out_of_scope"] = {}
    for kind, audio in negative_sets(model.config.sr, n_negative, real_cache).items():
        figures = window_rejection(model, audio, model.config.sr)
        report["out_of_scope"][kind] = figures
        log(f"out of scope: {kind:<42} {figures['rejected'] * 100:5.1f} % of {figures['windows']} windows below {SCOPE_THRESHOLD} "
            f"(without the track context {figures['rejected_without_context'] * 100:5.1f} %, model alone {figures['rejected_model_alone'] * 100:5.1f} %)")
    report["real_dance"] = real_dance_figures(model, dance_cache or real_cache)
    if report["real_dance"]:
        log(f"real dance music, not house (information): {report['real_dance']['kept_in_scope'] * 100:.1f} % of windows kept in scope "
            f"(without the track context {report['real_dance']['kept_without_context'] * 100:.1f} %), per track "
            + ", ".join(f"{name} {share:.2f}" for name, share in report["real_dance"]["per_track"].items()))
    report["breakdowns"] = breakdown_figures(model, log=log)
    report["sections"] = section_scope_figures(model, dance_cache or real_cache, log=log) if sections else {}
    for label, figures in report["sections"].items():
        log(f"real dance tracks, {label:<10} ({figures['windows']:4d} windows): in scope {figures['in_scope_without_context'] * 100:5.1f} % without the track context, "
            f"{figures['in_scope'] * 100:5.1f} % with it")
    report["degraded"] = degradation_figures(model, clips[:n_degraded])
    for kind, figures in report["degraded"].items():
        log(f"in scope after {kind:<8} ({figures['n']} clips): top-1 {figures['top1']:.3f}, kept in scope {figures['kept_in_scope']:.3f}, calibration error {figures['ece']:.3f}")
    report["seconds"] = time.perf_counter() - t0
    return report


def main() -> None:
    from mvgen.classify.classifier import default_checkpoint, load_classifier

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="classifier folder or Hub id (default: the bundled one)")
    parser.add_argument("--real-cache", type=Path, default=Path("~/.cache/mvgen-bench").expanduser(), help="cache of benchmarks/real_negatives.py")
    parser.add_argument("--dance-cache", type=Path, default=None, help="cache of benchmarks/real_music.py (default: --real-cache)")
    parser.add_argument("--in-scope", type=int, default=320, help="held-out in-scope clips")
    parser.add_argument("--negatives", type=int, default=12, help="held-out clips per out-of-scope kind")
    parser.add_argument("--degraded", type=int, default=96, help="in-scope clips per degradation")
    parser.add_argument("--sections", action="store_true", help="also the in-scope share per section type on whole real dance tracks (renders them: minutes)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    model = load_classifier(args.model or default_checkpoint(), device="cpu")
    report = evaluate(model, n_in_scope=args.in_scope, n_negative=args.negatives, n_degraded=args.degraded, real_cache=args.real_cache, dance_cache=args.dance_cache, sections=args.sections)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
