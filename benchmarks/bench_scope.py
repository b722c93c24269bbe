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
        sets["real non-house music (held-out packages)"] = real
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


def evaluate(model, *, n_in_scope: int, n_negative: int, n_degraded: int, real_cache: Path | None, dance_cache: Path | None = None, log=print) -> dict:
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
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    model = load_classifier(args.model or default_checkpoint(), device="cpu")
    report = evaluate(model, n_in_scope=args.in_scope, n_negative=args.negatives, n_degraded=args.degraded, real_cache=args.real_cache, dance_cache=args.dance_cache)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
