"""Build mvgen's bundled sub-genre classifier from synthetic house music, reproducibly.

    python models/build_default.py [--work build/classifier] [--tracks 1200] [--epochs 20] [--real-cache ~/.cache/mvgen-bench]

1. Renders a corpus with ``mvgen.synth``:
   * in scope: per seed one of the 8 house sub-genres (every third seed a blend of two, labelled
     with its blend weights), a drop clip and a clip of another section, mild pitch/tempo changes;
   * out of scope (the model's extra ``other`` outcome): the synth's non-house styles (drum & bass,
     hardstyle, hip-hop, trap, reggae, dancehall, rock, ambient, pop ballad), non-music from
     ``mvgen.negatives`` (silence, tones, sweeps, drones, noise, espeak-ng speech) and, when
     ``--real-cache`` holds them, the ``train`` tracks of ``benchmarks/real_negatives.py``;
   * every clip is degraded like a real release with probability ``DEGRADE_P`` per degradation
     (``mvgen.degrade``: mastering, clipping, MP3/AAC round trips, reverb, EQ, noise).
   Seeds 0..tracks-1 (and the negative seed ranges below) train and validate, split by track;
   seeds from 100000 (in scope) and 300000 (out of scope) are held out.
2. Trains ``mvgen.train.train`` (resumable: re-running continues an interrupted run), then fits the
   calibration temperature on the validation tracks.
3. Evaluates on held-out data with ``benchmarks/bench_scope.py`` and beside a baseline (logistic
   regression on time-averaged log-mel features), and writes ``models/<name>/`` with the weights,
   ``config.json``, ``metrics.json`` and the model card ``README.md`` (its figures come from this run).

To train on HouseX-v2 instead: ``mvgen train /path/to/housex-v2 --out models/housex``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from mvgen.classifier import ClassifierConfig, load_classifier, predict_clips  # noqa: E402
from mvgen.train import SHIFT_S, Clip, TrainConfig, negative_clips, split_by_track, synthetic_clips, train  # noqa: E402

NAME = "mvgen-synth-v2"
HELD_OUT_SEED0 = 100_000
#: First training seeds of the synthetic out-of-scope styles and of the non-music kinds.
NEGATIVE_STYLE_SEED0 = 20_000
NON_MUSIC_SEED0 = 30_000
#: Probability of each degradation per training clip (a clip gets 0-3 of them).
DEGRADE_P = 0.15
#: Clips cut from each real out-of-scope training track.
REAL_CLIPS_PER_TRACK = 12


def mel_summary(clips, sr: int) -> np.ndarray:
    """Baseline features: mean and std over time of a 64-band log-mel spectrogram, shape ``(N, 128)``."""
    from mvgen.features import mel_filterbank

    fb, _ = mel_filterbank(sr, 2048, 64, 30.0, sr / 2)
    rows = []
    for c in clips:
        frames = np.lib.stride_tricks.sliding_window_view(c.audio, 2048)[::1024] * np.hanning(2048)
        mel = np.log(np.abs(np.fft.rfft(frames, axis=1)) ** 2 @ fb.T + 1e-8)
        mel -= mel.mean()
        rows.append(np.concatenate([mel.mean(axis=0), mel.std(axis=0)]))
    return np.array(rows)


def baseline_predictions(train_clips, test_clips, sr: int) -> np.ndarray:
    """Logistic regression on :func:`mel_summary`, fit to the dominant labels of the training clips."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train = mel_summary(train_clips, sr)
    y_train = np.array([c.target.argmax() for c in train_clips])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.5))
    clf.fit(x_train, y_train)
    probs = np.zeros((len(test_clips), len(test_clips[0].target)))
    probs[:, clf.classes_] = clf.predict_proba(mel_summary(test_clips, sr))
    return probs


CARD = """# {name}: mvgen's bundled sub-genre classifier

A soft classifier over the 8 mainstage house sub-genres of "Benchmarking Sub-Genre Classification
for Mainstage Dance Music" (arXiv 2409.06690): {labels}. Every {step_s:.2f} s it gives a probability
vector for the surrounding {window_s:.1f} s of audio; `mvgen analyze` smooths these into the track's
genre profile.

## Model
- Front end (torch layers, on the model's device): nnAudio log-mel ({n_mels} bands) and constant-Q
  spectrogram ({cqt_bins} bins, resized to {n_mels}), {sr} Hz, hop {hop} samples, each frame's level
  taken relative to its 6 s neighbourhood (independent of the master's loudness).
- A fully convolutional CNN (channels {channels}), mean+max pooling over a {window_steps}-step window, a
  linear head; {params:,} parameters, {size_mb:.1f} MB of float32 safetensors.

## Training data: synthetic only
The HouseX-v2 audio cannot be downloaded on the machines this model was built on, so it was trained
on music rendered by `mvgen.synth`: {tracks} seeded tracks (seeds 0-{last_seed}), one sub-genre each or,
every third seed, a blend of two labelled with its blend weights; per track one drop clip and one
clip of another section (intro, build-up, breakdown, outro), with mild pitch/tempo changes (+-3 %)
and spectrogram augmentation (time shift, EQ tilt, gain ramps). 80/20 split by track; early
stopping on validation loss (best epoch {best_epoch} of {epochs_run}; {train_minutes:.0f} min on 2 CPU cores).

## Held-out results (seeds {held_out_first}-{held_out_last}, never seen in training)
| clips | n | top-1 | macro F1 | mean JS divergence | top-2 agreement |
| --- | --- | --- | --- | --- | --- |
| single sub-genre | {single_n} | {single_top1:.3f} | {single_f1:.3f} | {single_js:.3f} | {single_top2:.3f} |
| blends of two | {blend_n} | {blend_top1:.3f} | {blend_f1:.3f} | {blend_js:.3f} | {blend_top2:.3f} |
| baseline, single | {single_n} | {base_single_top1:.3f} | {base_single_f1:.3f} | {base_single_js:.3f} | {base_single_top2:.3f} |
| baseline, blends | {blend_n} | {base_blend_top1:.3f} | {base_blend_f1:.3f} | {base_blend_js:.3f} | {base_blend_top2:.3f} |

Clips include non-drop sections (intros and breakdowns carry little sub-genre identity). Baseline:
logistic regression on the time-averaged mean and standard deviation of a 64-band log-mel
spectrogram, trained on the same clips. All figures: `metrics.json`, written by the build.

## Limits on real music
Synthetic sub-genres follow textbook production traits (tempo, kick, bass, lead, groove); real
tracks are more varied, mixed and mastered differently, have vocals, and blend styles in ways the
synthesizer does not. Expect this model to be confidently wrong on real music more often than the
held-out figures suggest: it has never heard a real record. Use it to exercise the pipeline, and
train on labelled real music for real use.

## Train on HouseX-v2 instead
With the dataset's folders (audio + Label Studio export + drop detections) under `/data/housex-v2`:

    mvgen train /data/housex-v2 --out models/housex
    mvgen eval /data/housex-v2 --model models/housex/best

then point mvgen at it: `mvgen analyze track.mp3 --model models/housex/best` (or replace this folder).

## Rebuild this model

    python models/build_default.py
"""


def write_card(target: Path) -> None:
    """Write ``target/README.md`` from ``target/metrics.json`` and ``target/config.json``."""
    metrics = json.loads((target / "metrics.json").read_text())
    config = ClassifierConfig.model_validate_json((target / "config.json").read_text())
    model = load_classifier(target, device="cpu")
    held = metrics["held_out"]

    def cells(prefix: str, report: dict) -> dict:
        return {f"{prefix}_top1": report["top1_accuracy"], f"{prefix}_f1": report["macro_f1"], f"{prefix}_js": report["mean_js_divergence"], f"{prefix}_top2": report["top2_agreement"]}

    provenance = config.provenance
    text = CARD.format(
        name=NAME, labels=", ".join(config.labels), step_s=config.step_s, window_s=config.window_s, n_mels=config.n_mels, cqt_bins=config.cqt_bins,
        sr=config.sr, hop=config.hop_length, channels=config.channels, window_steps=config.window_steps,
        params=sum(p.numel() for p in model.parameters()), size_mb=(target / "model.safetensors").stat().st_size / 1e6,
        tracks=provenance["tracks"], last_seed=provenance["tracks"] - 1, best_epoch=metrics["train"]["best_epoch"], epochs_run=metrics["train"]["epochs_run"],
        train_minutes=metrics["train_seconds"] / 60, held_out_first=HELD_OUT_SEED0, held_out_last=HELD_OUT_SEED0 + metrics.get("held_out_tracks", 320) - 1,
        single_n=held["single"]["n"], blend_n=held["blended"]["n"],
        **cells("single", held["single"]["mvgen"]), **cells("blend", held["blended"]["mvgen"]),
        **cells("base_single", held["single"]["baseline"]), **cells("base_blend", held["blended"]["baseline"]),
    )
    (target / "README.md").write_text(text)


def real_negative_clips(real_cache: Path | None, config: ClassifierConfig, seed: int = 0) -> list[Clip]:
    """Clips of the ``train`` tracks of ``benchmarks/real_negatives.py`` in ``real_cache``, labelled out of scope."""
    from bench_scope import real_negative_tracks

    from mvgen.train import cut_clips

    target = np.zeros(len(config.output_labels), np.float32)
    target[-1] = 1.0
    rng = np.random.default_rng([seed, 13])
    clips = []
    for i, y in enumerate(real_negative_tracks(real_cache, "train", config.sr)):
        for audio in cut_clips(y, config.sr, [(0.0, len(y) / config.sr)], config.window_s + SHIFT_S, REAL_CLIPS_PER_TRACK, rng):
            clips.append(Clip(audio, target.copy(), f"real-negative-{i}"))
    return clips


def corpus(args, model_config: ClassifierConfig) -> list[Clip]:
    """The training corpus (in scope, synthetic and non-music negatives, real negatives), each clip with its group id."""
    from mvgen import negatives, synth

    t0 = time.perf_counter()
    clips = synthetic_clips(range(args.tracks), model_config, degrade_p=DEGRADE_P)
    print(f"in scope: {len(clips)} clips in {time.perf_counter() - t0:.0f} s", flush=True)
    n_styles = len(synth.OTHER_STYLES)
    per_style = max(1, args.negative_tracks // n_styles)
    styles = synthetic_clips(range(NEGATIVE_STYLE_SEED0, NEGATIVE_STYLE_SEED0 + per_style * n_styles), model_config, blend_every=0, styles=synth.OTHER_STYLES, degrade_p=DEGRADE_P)
    non_music = negative_clips(negatives.NEGATIVE_KINDS, range(NON_MUSIC_SEED0, NON_MUSIC_SEED0 + args.non_music_seeds), model_config)
    real = real_negative_clips(args.real_cache, model_config)
    print(f"out of scope: {len(styles)} synthetic non-house, {len(non_music)} non-music, {len(real)} real non-house clips [{time.perf_counter() - t0:.0f} s]", flush=True)
    return clips + styles + non_music + real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "classifier")
    parser.add_argument("--tracks", type=int, default=1200, help="in-scope synthetic tracks (seeds 0..N-1)")
    parser.add_argument("--negative-tracks", type=int, default=540, help="synthetic non-house tracks, spread over the styles")
    parser.add_argument("--non-music-seeds", type=int, default=40, help="seeds per non-music kind")
    parser.add_argument("--real-cache", type=Path, default=Path("~/.cache/mvgen-bench").expanduser(), help="cache of benchmarks/real_negatives.py")
    parser.add_argument("--held-out", type=int, default=320)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--card-only", action="store_true", help="only rewrite the model card from metrics.json")
    args = parser.parse_args()
    if args.card_only:
        write_card(ROOT / "models" / NAME)
        return
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model_config = ClassifierConfig(out_of_scope=True, provenance={
        "data": "mvgen.synth (house in scope; non-house styles out of scope), mvgen.negatives, benchmarks/real_negatives.py (train split)",
        "tracks": args.tracks, "negative_tracks": args.negative_tracks, "non_music_seeds": args.non_music_seeds, "degrade_p": DEGRADE_P,
        "held_out_seed0": HELD_OUT_SEED0, "command": "python models/build_default.py"})
    train_config = TrainConfig(epochs=args.epochs, batch_size=32, patience=5)

    t0 = time.perf_counter()
    clips = corpus(args, model_config)
    train_clips, val_clips = split_by_track(clips, train_config.val_fraction, train_config.seed)
    corpus_s = time.perf_counter() - t0
    print(f"corpus: {len(clips)} clips in {corpus_s:.0f} s", flush=True)
    t0 = time.perf_counter()
    result = train(train_clips, val_clips, args.work, model_config, train_config, on_epoch=lambda r: print(json.dumps(r), flush=True))
    train_s = time.perf_counter() - t0
    print(f"trained {result.epochs_run} epochs in {train_s:.0f} s; best epoch {result.best_epoch}; temperature {result.temperature:.3f}", flush=True)

    from bench_scope import evaluate, in_scope_clips

    from mvgen.metrics import evaluate_predictions

    model = load_classifier(result.best_dir, device="cpu")
    scope = evaluate(model, n_in_scope=args.held_out, n_negative=12, n_degraded=96, real_cache=args.real_cache)
    held_out = in_scope_clips(model_config, args.held_out)
    in_scope_train = [c for c in train_clips if c.target[-1] == 0]
    targets = np.stack([c.target for c in held_out])
    ours = evaluate_predictions(targets, predict_clips(model, [c.audio for c in held_out]), labels=model_config.output_labels)
    base = evaluate_predictions(targets, baseline_predictions(in_scope_train, held_out, model_config.sr), labels=model_config.output_labels)
    print(f"held-out single-genre drops: mvgen top-1 {ours.top1_accuracy:.3f}, baseline top-1 {base.top1_accuracy:.3f}", flush=True)

    target = ROOT / "models" / NAME
    target.mkdir(parents=True, exist_ok=True)
    for f in ("config.json", "model.safetensors"):
        shutil.copy(Path(result.best_dir) / f, target / f)
    metrics = {"train": result.model_dump(), "scope": scope, "held_out": {"single": {"n": len(held_out), "mvgen": ours.model_dump(), "baseline": base.model_dump()}},
               "held_out_tracks": args.held_out, "train_seconds": train_s, "corpus_seconds": corpus_s, "corpus_clips": len(clips)}
    (target / "metrics.json").write_text(json.dumps(metrics, indent=1))
    write_card(target)
    print(f"\nwrote {target}", flush=True)


if __name__ == "__main__":
    main()
