"""Build mvgen's bundled drum-onset detector (``models/mvgen-drums-v1``) from synthetic tracks, reproducibly.

    python models/build/drums.py [--work /tmp/mvgen-drums] [--train-tracks 500] [--val-tracks 17] [--epochs 14] [--channels 64 64] [--jobs 2]

1. Renders short arrangements (``bars_scale`` :data:`BARS_SCALE`, 22050 Hz mono) with ``mvgen.synth``
   across all of :data:`mvgen.synth.STYLES` (house and non-house; 1 to 3 styles per track, one per
   major part), training seeds from :data:`TRAIN_SEED0`, validation seeds from :data:`VAL_SEED0`
   (disjoint from every test and benchmark seed: tests use <= 12 and >= 100000). In
   :data:`EXTRA_SNARES_P` of the tracks, some sections get random off-grid extra snares. Each track is
   degraded like a release with probability :data:`DEGRADE_P` per degradation (``mvgen.training.degrade``:
   reverb, EQ tilt, clipping, mastering limiter, noise, MP3/AAC round trip).
2. Trains :func:`train` (the network's torch twin, :func:`torch_model`) on the log-mel frames and the
   truth's events (targets of :func:`event_targets`).
3. Writes ``config.json`` (with the provenance) and ``model.safetensors``; the model card's held-out
   figures come from ``benchmarks/bench_features.py --quality``.

The training code lives here, not in :mod:`mvgen.analysis.drums`: the installed package only runs the
model (numpy inference), so torch training is build-only like this script. tests/test_drums.py
imports :func:`torch_model` from here to check the numpy inference against it.
"""

from __future__ import annotations

import argparse
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]  # the repository: models/build/ is two levels down
sys.path.insert(0, str(ROOT))

from models.build.frame_training import save_model, train_frames  # noqa: E402
from mvgen import synth  # noqa: E402
from mvgen.analysis.drums import DEFAULT_DRUM_MODEL, DRUM_EVENTS, DRUMS, DrumConfig, log_mel  # noqa: E402
from mvgen.training import degrade  # noqa: E402

TRAIN_SEED0 = 2000
VAL_SEED0 = 3000
#: Arrangement length scale: short tracks (about 30-60 s) with every section kind.
BARS_SCALE = 0.25
#: Share of tracks with random extra snares, share of their drum sections that get them, and how many.
EXTRA_SNARES_P = 0.5
EXTRA_SECTION_P = 0.5
EXTRA_SNARES_COUNT = (2, 12)
#: Probability of each degradation (mvgen.training.degrade.random_degradation), and of a track staying clean.
DEGRADE_P = 0.35
CLEAN_P = 0.25


#: Target of the frames next to an event's frame (the event's own frame is 1): an onset between two
#: frame centres belongs to both a little, and the peak-picking downstream tolerates one frame.
NEIGHBOUR_TARGET = 0.5


def torch_model(config: DrumConfig):
    """The torch twin of :class:`mvgen.analysis.drums.DrumDetector` (``input_norm``, ``body`` = [conv,
    BN, ReLU] per hidden layer, then the 1x1 head); input ``(B, n_mels, T)``, output logits ``(B, 3, T)``.
    The state dict's names are the ones :class:`~mvgen.analysis.drums.DrumDetector` reads."""
    import torch.nn as nn

    class DrumNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.input_norm = nn.BatchNorm1d(config.n_mels)
            layers: list[nn.Module] = []
            c_in = config.n_mels
            for c, d in zip(config.channels, config.dilations):
                layers += [nn.Conv1d(c_in, c, config.kernel, padding=d * (config.kernel // 2), dilation=d), nn.BatchNorm1d(c), nn.ReLU()]
                c_in = c
            layers.append(nn.Conv1d(c_in, len(config.labels), 1))
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            return self.body(self.input_norm(x))

    return DrumNet()


def event_targets(events, n_frames: int, hop_s: float) -> np.ndarray:
    """Training targets ``(T, 3)`` of a :class:`~mvgen.synth.SynthEvents`: 1 on each hit's nearest frame,
    :data:`NEIGHBOUR_TARGET` on the frames beside it (the larger value wins)."""
    out = np.zeros((n_frames, len(DRUMS)), dtype=np.float32)
    for j, drum in enumerate(DRUMS):
        idx = np.round(events.times_s(*DRUM_EVENTS[drum]) / hop_s).astype(int)
        for offset, value in ((-1, NEIGHBOUR_TARGET), (1, NEIGHBOUR_TARGET), (0, 1.0)):
            i = idx + offset
            i = i[(i >= 0) & (i < n_frames)]
            out[i, j] = np.maximum(out[i, j], value)
    return out


def train(
    train_set: list[tuple[np.ndarray, np.ndarray]],
    val_set: list[tuple[np.ndarray, np.ndarray]],
    config: DrumConfig,
    *,
    epochs: int = 12,
    crop_frames: int = 512,
    batch: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    log=print,
) -> tuple[dict[str, np.ndarray], dict]:
    """Train on ``(log_mel (T, n_mels), targets (T, 3))`` pairs with weighted binary cross-entropy
    (each class's positive frames weighted by ``sqrt(negatives / positives)``, so rare snares count);
    returns the state (numpy arrays, the best epoch by validation loss) and the training metrics."""
    import torch

    torch.manual_seed(seed)
    model = torch_model(config)
    pos = sum(t.sum(axis=0) for _, t in train_set)
    total = sum(len(t) for _, t in train_set)
    pos_weight = torch.tensor(np.sqrt((total - pos) / np.maximum(pos, 1.0)), dtype=torch.float32)[:, None]  # (3, 1): outputs are (B, 3, T)
    state, metrics = train_frames(model, torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight), train_set, val_set,
                                  epochs=epochs, crop_frames=crop_frames, batch=batch, lr=lr, seed=seed, log=log)
    return state, {**metrics, "pos_weight": pos_weight[:, 0].tolist()}


def _arrangement(seed: int) -> synth.Arrangement:
    rng = np.random.default_rng([seed, 7])
    n_styles = int(rng.integers(1, 4))
    styles = [synth.STYLES[int(i)] for i in rng.integers(0, len(synth.STYLES), n_styles)]
    arrangement = synth.default_arrangement(styles, seed, bars_scale=BARS_SCALE)
    if rng.random() < EXTRA_SNARES_P:
        sections = []
        for s in arrangement.sections:
            if s.drums and rng.random() < EXTRA_SECTION_P:
                n_beats = s.bars * arrangement.beats_per_bar
                count = int(rng.integers(*EXTRA_SNARES_COUNT))
                beats = np.round(np.sort(rng.uniform(0, n_beats - 0.01, count)), 3).tolist()
                s = s.model_copy(update={"extra_snares_beats": beats})
            sections.append(s)
        arrangement = arrangement.model_copy(update={"sections": sections})
    return arrangement


def example(seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(log-mel (T, n_mels), targets (T, 3), description) of the training track of ``seed``."""
    config = DrumConfig()
    arrangement = _arrangement(seed)
    y, truth = synth.render(arrangement, seed, sr=config.sr, stereo=False)
    rng = np.random.default_rng([seed, 11])
    if rng.random() >= CLEAN_P:
        y = degrade.random_degradation(y, config.sr, rng, p=DEGRADE_P)
    y = y * np.float32(10 ** (rng.uniform(-12, 0) / 20))
    spec = log_mel(y, config)
    styles = "+".join(dict.fromkeys(g for s in arrangement.sections for g in s.genres))
    return spec, event_targets(truth.events, len(spec), config.hop_length / config.sr), styles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/mvgen-drums"))
    parser.add_argument("--train-tracks", type=int, default=500)
    parser.add_argument("--val-tracks", type=int, default=17)
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--channels", type=int, nargs="+", default=DrumConfig().channels, help="channels of the hidden convolutions")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / DEFAULT_DRUM_MODEL)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    seeds = {"train": list(range(TRAIN_SEED0, TRAIN_SEED0 + args.train_tracks)), "val": list(range(VAL_SEED0, VAL_SEED0 + args.val_tracks))}
    sets = {}
    t0 = time.time()
    for split, split_seeds in seeds.items():
        cache = args.work / f"{split}-{split_seeds[0]}-{len(split_seeds)}.npz"
        if cache.is_file():
            data = np.load(cache, allow_pickle=False)
            sets[split] = [(data[f"x{i}"], data[f"y{i}"]) for i in range(len(split_seeds))]
            continue
        with Pool(args.jobs) as pool:
            rows = pool.map(example, split_seeds, chunksize=4)
        sets[split] = [(x, y) for x, y, _ in rows]
        np.savez(cache, **{f"x{i}": x for i, (x, _) in enumerate(sets[split])}, **{f"y{i}": y for i, (_, y) in enumerate(sets[split])})
        print(f"{split}: {len(rows)} tracks, {sum(len(x) for x, _ in sets[split])} frames ({time.time() - t0:.0f} s)", flush=True)
    config = DrumConfig(channels=args.channels)
    import torch

    torch.set_num_threads(args.jobs)
    state, metrics = train(sets["train"], sets["val"], config, epochs=args.epochs)
    config.provenance = {
        "data": f"mvgen.synth, all {len(synth.STYLES)} styles (1-3 per track), bars_scale {BARS_SCALE}, {config.sr} Hz mono",
        "train_seeds": [seeds["train"][0], seeds["train"][-1]],
        "val_seeds": [seeds["val"][0], seeds["val"][-1]],
        "augmentation": f"mvgen.training.degrade.random_degradation p={DEGRADE_P} (clean share {CLEAN_P}), gain -12..0 dB, "
        f"extra snares in {EXTRA_SNARES_P} of the tracks",
        "command": "python models/build/drums.py " + " ".join(sys.argv[1:]),
        "train_frames": int(sum(len(x) for x, _ in sets["train"])),
        **metrics,
    }
    save_model(args.out, state, config)
    print(f"wrote {args.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
