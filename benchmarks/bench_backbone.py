"""Which backbone should the genre model stand on: mvgen's own CNN, or musicnn, which has heard real records?

    python benchmarks/bench_backbone.py [--train-tracks 160] [--cache ~/.cache/mvgen-bench] [--json out.json]

Both backbones are frozen; the same head (standardized features, multinomial logistic regression over
the 8 sub-genres and ``other``, then a temperature fitted on validation clips) is trained on the same
clips and measured on the same held-out data, so only the features differ:

* ``mvgen``: the bundled classifier's pooled window features (mean and max of its CNN's feature
  sequence over one window, what ``mvgen train --head-only`` trains on);
* ``musicnn``: MSD_musicnn's 200-d penultimate layer (``benchmarks/musicnn.py``), averaged over the
  3 s patches of the same clip.

Training clips: synthetic house (seeds 0..N, 2 clips each, degraded like releases), synthetic non-house
styles, non-music, and the ``train`` tracks of ``benchmarks/real_negatives.py``. Held out: synthetic
drops at seeds from 100000, non-house styles at seeds from 300000, the ``held_out`` real non-house tracks
(other Debian packages than the training ones: leave-package-out) and, for information, the real dance
tracker modules of ``benchmarks/real_music.py``. The bundled model's own head (trained end to end on far
more clips) is printed beside them as the anchor.
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
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_scope  # noqa: E402
import musicnn  # noqa: E402

#: Windows of a real track measured for the rejection figures: one every this many seconds.
REAL_HOP_S = 3.0
#: Share of the training clips kept aside to fit the head's temperature.
VALIDATION_SHARE = 0.2


def _clip_windows(y: np.ndarray, window: int, hop: int) -> list[np.ndarray]:
    return [y[s : s + window] for s in range(0, max(len(y) - window, 0) + 1, hop)]


class Backbones:
    """Both frozen feature extractors on clips of the bundled model's window length (at its rate)."""

    def __init__(self, cache: Path):
        from mvgen.classify.classifier import default_checkpoint, load_classifier

        self.model = load_classifier(default_checkpoint(), device="cpu")
        self.config = self.model.config
        prefix = musicnn.wheel_checkpoint(musicnn.fetch_wheel(cache / "musicnn"), "MSD_musicnn", cache / "musicnn")
        self.musicnn = musicnn.Musicnn(musicnn.read_checkpoint(prefix))

    def mvgen(self, clips: list[np.ndarray]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            rows = []
            for i in range(0, len(clips), 32):
                x = torch.from_numpy(np.stack([c[: self.config.window_samples] for c in clips[i : i + 32]]).astype(np.float32))
                h = self.model.features(self.model.front_end(x))
                rows.append(self.model.pool_windows(h).mean(dim=1).numpy())
        return np.concatenate(rows)

    def musicnn_features(self, clips: list[np.ndarray]) -> np.ndarray:
        rows = []
        for c in clips:
            batch = musicnn.patches(musicnn.log_mel(c[: self.config.window_samples], self.config.sr), hop=musicnn.PATCH_FRAMES // 2)
            rows.append(self.musicnn.forward(batch)[1].mean(axis=0))
        return np.stack(rows)

    def anchor(self, clips: list[np.ndarray]) -> np.ndarray:
        """The bundled model's own calibrated outputs (classes, then ``other``)."""
        from mvgen.classify.classifier import predict_clips

        return predict_clips(self.model, [c[: self.config.window_samples] for c in clips])


def fit_head(x: np.ndarray, y: np.ndarray, groups: np.ndarray, n_outputs: int, seed: int = 0):
    """Standardize + logistic regression on the training groups, temperature on the held-aside groups; returns
    ``predict(x) -> probabilities (N, n_outputs)``."""
    from scipy.optimize import minimize_scalar
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    unique = np.unique(groups)
    val_groups = set(rng.choice(unique, size=max(1, int(len(unique) * VALIDATION_SHARE)), replace=False).tolist())
    val = np.array([g in val_groups for g in groups])
    scaler = StandardScaler().fit(x[~val])
    clf = LogisticRegression(max_iter=3000, C=0.5).fit(scaler.transform(x[~val]), y[~val])

    def logits(z):
        out = np.full((len(z), n_outputs), -1e9)
        out[:, clf.classes_] = clf.decision_function(scaler.transform(z))
        return out

    def nll(t):
        lv = logits(x[val]) / t
        lv -= lv.max(axis=1, keepdims=True)
        return -np.mean(lv[np.arange(val.sum()), y[val]] - np.log(np.exp(lv).sum(axis=1)))

    temperature = minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x

    def predict(z):
        lz = logits(z) / temperature
        lz -= lz.max(axis=1, keepdims=True)
        p = np.exp(lz)
        return p / p.sum(axis=1, keepdims=True)

    return predict


def figures(probabilities: np.ndarray, targets: np.ndarray | None = None) -> dict:
    """With ``targets`` (in-scope clips, ``(N, outputs)``): top-1 over the classes, the share kept in scope
    (``other`` < 0.5) and the calibration error; without: the share rejected (``other`` >= 0.5)."""
    from mvgen.training.metrics import expected_calibration_error

    other = probabilities[:, -1]
    if targets is None:
        return {"n": int(len(other)), "rejected": float(np.mean(other >= 0.5))}
    return {"n": int(len(other)), "top1": float(np.mean(probabilities[:, :-1].argmax(axis=1) == targets[:, :-1].argmax(axis=1))),
            "kept_in_scope": float(np.mean(other < 0.5)), "ece": float(expected_calibration_error(probabilities, targets))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-tracks", type=int, default=160, help="synthetic house training tracks (2 clips each)")
    parser.add_argument("--held-out", type=int, default=160, help="held-out synthetic drops")
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/mvgen-bench").expanduser())
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    t0 = time.perf_counter()
    from mvgen import synth
    from mvgen.training import negatives
    from mvgen.training.train import cut_clips, negative_clips, out_of_scope_target, synthetic_clips

    nets = Backbones(args.cache)
    config = nets.config
    clip_s = config.window_s
    # 1. training clips, grouped by track (the head's temperature is fitted on held-aside tracks)
    train = synthetic_clips(range(args.train_tracks), config, degrade_p=0.15)
    train += synthetic_clips(range(20_000, 20_000 + 10 * len(synth.OTHER_STYLES)), config, blend_every=0, styles=synth.OTHER_STYLES, degrade_p=0.15)
    train += negative_clips(negatives.NEGATIVE_KINDS, range(30_000, 30_010), config)
    rng = np.random.default_rng(13)
    other = out_of_scope_target(config)
    for i, y in enumerate(bench_scope.real_negative_tracks(args.cache, "train", config.sr)):
        for audio in cut_clips(y, config.sr, [(0.0, len(y) / config.sr)], clip_s=clip_s, n_per_span=12, rng=rng):
            train.append(type(train[0])(audio, other.copy(), f"real-negative-{i}"))
    targets = np.stack([c.target for c in train])
    labels = targets.argmax(axis=1)
    groups = np.array([c.track_id for c in train])
    print(f"training clips: {len(train)} [{time.perf_counter() - t0:.0f} s]", flush=True)
    # 2. held-out sets
    held_in = bench_scope.in_scope_clips(config, args.held_out)
    held_sets = {"synthetic non-house styles": [a for clips in bench_scope.negative_sets(config.sr, 4, None).values() for a in clips],
                 "real non-house, held-out packages": [w for y in bench_scope.real_negative_tracks(args.cache, "held_out", config.sr)
                                                        for w in _clip_windows(y, config.window_samples, int(REAL_HOP_S * config.sr))]}
    dance = sorted((args.cache / "tracks").glob("*.wav"))
    if dance:
        from mvgen.media.audio import load_audio

        held_sets["real dance tracker modules (kept in scope: information)"] = [w for wav in dance for w in _clip_windows(load_audio(wav, sr=config.sr), config.window_samples, int(REAL_HOP_S * config.sr))]
    report: dict[str, dict] = {}
    for name, extract in (("mvgen", nets.mvgen), ("musicnn", nets.musicnn_features)):
        t1 = time.perf_counter()
        predict = fit_head(extract([c.audio for c in train]), labels, groups, len(config.output_labels))
        row = {"held-out synthetic drops": figures(predict(extract([c.audio for c in held_in])), np.stack([c.target for c in held_in]))}
        for set_name, clips in held_sets.items():
            row[set_name] = figures(predict(extract(clips)))
        report[name] = row
        print(f"{name:8s} [{time.perf_counter() - t1:.0f} s] " + json.dumps(row), flush=True)
    anchor = {"held-out synthetic drops": figures(nets.anchor([c.audio for c in held_in]), np.stack([c.target for c in held_in]))}
    anchor.update({set_name: figures(nets.anchor(clips)) for set_name, clips in held_sets.items()})
    report["bundled model, end to end (anchor)"] = anchor
    print("anchor   " + json.dumps(anchor), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
