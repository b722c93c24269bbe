"""Build mvgen's bundled beat and downbeat tracker (``models/mvgen-beats-v1``), reproducibly.

    python models/build/beats.py --epochs 20 --variants 8 --validation-sources --seeds 0 1 2   (the bundled model)
    python models/build/beats.py [--corpus ~/.cache/mvgen-bench/corpus] [--work /tmp/mvgen-beats] [--grooves]
                                 [--synth-tracks 160] [--variants 4] [--epochs 24] [--jobs 2]
                                 [--validation-sources PACKAGE ...]   (a fold: these packages for validation)
                                 [--keep-last-epoch]                  (not the epoch of the lowest validation loss)
                                 [--seeds 0 1 2]                      (one member per training seed, averaged)

1. Data, all 22050 Hz mono:
   - the **development** pieces of the real-music corpus (``benchmarks/real_corpus.py``: tracker modules and
     scores rendered with fluidsynth, exact beats and downbeats from their sources); the held-out pieces are
     never read here. The development packages of :data:`VALIDATION_SOURCES` are kept for validation (the
     epoch is chosen on them), the rest are trained on;
   - with ``--grooves`` (tried, not in the bundled model: see its card), more grooves of mma's development
     libraries (:func:`dev_grooves`), played by mma at tempi drawn from :data:`GROOVE_BPM`;
   - ``mvgen.synth`` renders of all its styles (1 to 3 per track, :data:`TRIPLE_P` of them in 3/4), seeds
     from :data:`TRAIN_SEED0` (disjoint from every test and benchmark seed).
2. Augmentation, per variant of a piece: a speed change (resampling: tempo and pitch together, factor
   from :data:`SPEED_RANGE`; the first variant of a real piece keeps speed 1), ``mvgen.training.degrade``
   (reverb, EQ, clipping, limiter, noise, MP3/AAC) with probability :data:`DEGRADE_P` each, gain -12..0 dB.
3. Trains the torch twin (:func:`torch_model`) on random crops with binary cross-entropy against widened
   targets (:func:`grid_targets`), once per training seed of ``--seeds`` (the same data; only the initial
   weights and the batch order differ), then writes ``config.json`` (with the provenance) and
   ``model.safetensors`` with every member (:func:`mvgen.analysis.beat_model.member_key`). The tracker
   averages its members' probabilities: out of fold, one seed alone moved beat F by 0.067 and the
   average of three was above the mean of its members (see the model card).
   The model card's figures come from ``benchmarks/bench_analysis.py --real``.

The training code lives here, not in :mod:`mvgen.analysis.beat_model`: the installed package only runs the
model (numpy inference). tests/test_beat_model.py imports :func:`torch_model` to check the numpy inference.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]  # the repository: models/build/ is two levels down
sys.path.insert(0, str(ROOT))

from models.build.frame_training import save_model, train_frames  # noqa: E402
from mvgen import synth  # noqa: E402
from mvgen.analysis.beat_model import BEAT_OUTPUTS, DEFAULT_BEAT_MODEL, BeatConfig, member_key  # noqa: E402
from mvgen.analysis.drums import log_mel  # noqa: E402
from mvgen.training import degrade  # noqa: E402

TRAIN_SEED0 = 4000
#: Development packages of the real corpus used for validation only (a tenth of its pieces, many styles).
VALIDATION_SOURCES = ("mma/kara", "mma/yamaha", "fretsonfire-songs-muldjord", "criticalmass-data", "solarwolf")
#: mma's groove libraries on the development side of the corpus's split (benchmarks/real_corpus.py: casio and
#: stdlib are held out): besides the corpus's own pieces, up to :data:`GROOVES_PER_FILE` main grooves of each
#: of their files are played over the corpus's chords at a tempo drawn from :data:`GROOVE_BPM` (log-uniform;
#: the pattern's own tempo is not in the file), :data:`GROOVE_S` s each, :data:`GROOVE_VARIANTS` variants.
DEV_MMA_LIBRARIES = ("zoom", "alexis", "kara", "yamaha", "pflib")
GROOVES_PER_FILE = 2
GROOVE_BPM = (65.0, 185.0)
GROOVE_S = 45.0
GROOVE_VARIANTS = 2
#: Arrangement length scale of the synth tracks (30-60 s, every section kind).
BARS_SCALE = 0.25
#: Share of synth tracks in 3/4.
TRIPLE_P = 0.3
#: Speed factors of the augmentation (resampling; 1.25 plays a 100 bpm piece at 125 bpm).
SPEED_RANGE = (0.8, 1.25)
#: Probability of each degradation, and of a variant staying clean.
DEGRADE_P = 0.3
CLEAN_P = 0.3
#: Target of the frames beside a beat's frame (the beat's own frame is 1): a beat between two frame
#: centres belongs to both a little, and the grid fit reads the activation's shape, not only its peak.
NEIGHBOUR_TARGET = 0.5
#: Target of an output the piece does not say (its frames are left out of the loss).
UNKNOWN_TARGET = -1.0


def torch_model(config: BeatConfig):
    """The torch twin of :class:`mvgen.analysis.beat_model.BeatTracker` (``input_norm``; ``front`` = [conv,
    BN, ReLU]; ``blocks`` = residual [conv, BN, ReLU, dropout]; the 1x1 ``head``); input ``(B, n_mels, T)``,
    output logits ``(B, 2, T)``. The state dict's names are the ones the numpy inference reads."""
    import torch.nn as nn

    class BeatNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c, k = config.channels, config.kernel
            self.input_norm = nn.BatchNorm1d(config.n_mels)
            self.front = nn.Sequential(nn.Conv1d(config.n_mels, c, config.front_kernel, padding=config.front_kernel // 2), nn.BatchNorm1d(c), nn.ReLU())
            self.blocks = nn.ModuleList(
                nn.Sequential(nn.Conv1d(c, c, k, padding=d * (k // 2), dilation=d), nn.BatchNorm1d(c), nn.ReLU(), nn.Dropout(0.1)) for d in config.dilations
            )
            self.head = nn.Conv1d(c, len(config.labels), 1)

        def forward(self, x):
            h = self.front(self.input_norm(x))
            for block in self.blocks:
                h = h + block(h)
            return self.head(h)

    return BeatNet()


def grid_targets(beats_s, downbeats_s, n_frames: int, hop_s: float) -> np.ndarray:
    """Training targets ``(T, 2)`` (beat, downbeat): 1 on each beat's nearest frame, :data:`NEIGHBOUR_TARGET`
    on the frames beside it (the larger value wins)."""
    out = np.zeros((n_frames, len(BEAT_OUTPUTS)), dtype=np.float32)
    for j, times in enumerate((beats_s, downbeats_s)):
        idx = np.round(np.asarray(times, dtype=np.float64) / hop_s).astype(int)
        for offset, value in ((-1, NEIGHBOUR_TARGET), (1, NEIGHBOUR_TARGET), (0, 1.0)):
            i = idx + offset
            i = i[(i >= 0) & (i < n_frames)]
            out[i, j] = np.maximum(out[i, j], value)
    return out


def _augment(y: np.ndarray, sr: int, rng: np.random.Generator, speed: float) -> np.ndarray:
    import soxr

    if speed != 1.0:
        y = soxr.resample(y, sr * speed, sr).astype(np.float32)  # played ``speed`` times faster
    if rng.random() >= CLEAN_P:
        y = degrade.random_degradation(y, sr, rng, p=DEGRADE_P)
    return (y * np.float32(10 ** (rng.uniform(-12, 0) / 20))).astype(np.float32)


def _speed(rng: np.random.Generator, variant: int, real: bool) -> float:
    if real and variant == 0:
        return 1.0
    return float(np.exp(rng.uniform(*np.log(SPEED_RANGE))))


def real_example(job: tuple[str, int]) -> tuple[np.ndarray, np.ndarray, str]:
    """(log-mel (T, n_mels), targets (T, 2), description) of variant ``k`` of a corpus piece (its ``.beats.json``)."""
    from mvgen.media.audio import load_audio

    path, variant = job
    config = BeatConfig()
    truth = json.loads(Path(path).read_text())
    rng = np.random.default_rng([zlib.crc32(truth["name"].encode()), variant, 5])
    y = load_audio(path.replace(".beats.json", ".wav"), sr=config.sr, mono=True)
    speed = _speed(rng, variant, real=True)
    spec = log_mel(_augment(y, config.sr, rng, speed), config)
    beats = np.asarray(truth["beats_s"]) / speed
    downbeats = np.asarray(truth["downbeats_s"]) / speed
    targets = grid_targets(beats, downbeats, len(spec), config.hop_s)
    if not len(downbeats):
        targets[:, 1] = UNKNOWN_TARGET  # a tracker module without a bar grid: its downbeats are not trained on
    return spec, targets, f"{truth['name']} x{speed:.2f}"


def dev_grooves(excluded_sources) -> list[tuple[str, str, float, tuple[int, int]]]:
    """``(library/file, groove, bpm, time signature)`` of the extra training grooves (see :data:`DEV_MMA_LIBRARIES`),
    leaving out the libraries of ``excluded_sources`` (``"mma/zoom"``: a validation fold)."""
    import re

    out = []
    for library in DEV_MMA_LIBRARIES:
        if f"mma/{library}" in excluded_sources:
            continue
        for path in sorted(Path("/usr/share/mma/lib", library).glob("*.mma")):
            names = re.findall(r"^\s*DefGroove\s+([A-Za-z0-9_+-]+)", path.read_text(errors="replace"), flags=re.MULTILINE | re.IGNORECASE)
            main = [n for n in dict.fromkeys(names) if not re.search(r"intro|end|fill|count|sus$|plus$", n, re.IGNORECASE)]
            time_sig = (3, 4) if "34" in path.stem else (6, 8) if "68" in path.stem else (4, 4)
            for groove in main[:GROOVES_PER_FILE]:
                rng = np.random.default_rng(zlib.crc32(f"{library}/{path.stem}/{groove}".encode()))
                bpm = float(np.round(np.exp(rng.uniform(*np.log(GROOVE_BPM)))))
                out.append((f"{library}/{path.stem}", groove, bpm, time_sig))
    return out


def groove_example(job) -> tuple[np.ndarray, np.ndarray, str]:
    """(log-mel, targets, description) of variant ``k`` of a dev-library groove (:func:`dev_grooves`), played by
    mma and rendered by fluidsynth like the corpus's mma pieces."""
    import tempfile

    from benchmarks.real_corpus import Piece, render_mma
    from mvgen.media.audio import load_audio

    (lib_file, groove, bpm, time_sig), variant = job
    config = BeatConfig()
    name = f"train-{lib_file.replace('/', '-')}-{groove}".lower()
    piece = Piece(name, "mma", "mma", f"usr/share/mma/lib/{lib_file}.mma", "training", "extra training groove", groove=groove, tempo_bpm=bpm, time_sig=time_sig)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / f"{name}.wav"
        ref = render_mma(piece, Path(tmp), wav)
        y = load_audio(wav, sr=config.sr, mono=True)[: int(GROOVE_S * config.sr)]
    rng = np.random.default_rng([zlib.crc32(name.encode()), variant, 7])
    speed = _speed(rng, variant, real=True)
    spec = log_mel(_augment(y, config.sr, rng, speed), config)
    targets = grid_targets(np.asarray(ref["beats_s"]) / speed, np.asarray(ref["downbeats_s"]) / speed, len(spec), config.hop_s)
    return spec, targets, f"{name} {bpm:g} bpm x{speed:.2f}"


def synth_example(seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(log-mel, targets, description) of the synth training track of ``seed``."""
    config = BeatConfig()
    rng = np.random.default_rng([seed, 13])
    styles = [synth.STYLES[int(i)] for i in rng.integers(0, len(synth.STYLES), int(rng.integers(1, 4)))]
    arrangement = synth.default_arrangement(styles, seed, bars_scale=BARS_SCALE)
    if rng.random() < TRIPLE_P:
        arrangement = arrangement.model_copy(update={"beats_per_bar": 3})
    y, truth = synth.render(arrangement, seed, sr=config.sr, stereo=False)
    spec = log_mel(_augment(y, config.sr, rng, 1.0), config)
    targets = grid_targets(truth.beats_s, truth.downbeats_s, len(spec), config.hop_s)
    return spec, targets, "+".join(styles) + f" {arrangement.beats_per_bar}/4"


def train(train_set, val_set, config: BeatConfig, *, epochs: int, crop_frames: int = 1536, batch: int = 16, lr: float = 4e-3, seed: int = 0,
          keep_last_epoch: bool = False, log=print):
    """Train on ``(log_mel (T, n_mels), targets (T, 2))`` pairs with binary cross-entropy (unweighted;
    frames of :data:`UNKNOWN_TARGET` left out); returns the state (numpy arrays, the epoch of the lowest
    validation loss, or the last epoch without a validation set or with ``keep_last_epoch``) and the training metrics."""
    import torch

    torch.manual_seed(seed)
    model = torch_model(config)
    # Unweighted: the activations stay calibrated probabilities, so an eighth note the network doubts
    # stays well below a beat (weighting the rare positives makes it hedge on every eighth note, and
    # the decoder then cannot tell the beat level; tried with sqrt(negatives / positives)).

    def loss_fn(logits, target):
        known = (target >= 0).float()
        each = torch.nn.functional.binary_cross_entropy_with_logits(logits, target.clamp(min=0.0), reduction="none")
        return (each * known).sum() / known.sum().clamp(min=1.0)

    return train_frames(model, loss_fn, train_set, val_set, epochs=epochs, crop_frames=crop_frames, batch=batch, lr=lr, seed=seed,
                        keep_last_epoch=keep_last_epoch, log=log)


def _cached(cache: Path, jobs: list, fn, n_jobs: int) -> list[tuple[np.ndarray, np.ndarray]]:
    if cache.is_file():
        data = np.load(cache, allow_pickle=False)
        return [(data[f"x{i}"], data[f"y{i}"]) for i in range(len(jobs))]
    with Pool(n_jobs) as pool:
        rows = pool.map(fn, jobs, chunksize=2)
    np.savez(cache, **{f"x{i}": x for i, (x, _, _) in enumerate(rows)}, **{f"y{i}": y for i, (_, y, _) in enumerate(rows)})
    return [(x, y) for x, y, _ in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path.home() / ".cache" / "mvgen-bench" / "corpus")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mvgen-beats"))
    parser.add_argument("--synth-tracks", type=int, default=160)
    parser.add_argument("--variants", type=int, default=4, help="augmented copies of each real training piece")
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--channels", type=int, default=BeatConfig().channels)
    parser.add_argument("--grooves", action="store_true", help="also train on the development mma libraries' other grooves (dev_grooves)")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / DEFAULT_BEAT_MODEL)
    parser.add_argument("--validation-sources", nargs="*", default=list(VALIDATION_SOURCES),
                        help="development packages kept for validation (a fold); none: train on every development piece and keep the last epoch")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="training seeds (initial weights, batch order; the data stay the same): one member each, their probabilities averaged; "
                        "the bundled model is seeds 0 1 2")
    parser.add_argument("--keep-last-epoch", action="store_true",
                        help="keep the last epoch even with validation packages, as the bundled model does (the fold models of "
                        "benchmarks/bench_beats_oof.py: no epoch is then chosen on the pieces a fold is measured on)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    pieces = {"train": [], "val": []}
    for path in sorted(args.corpus.glob("*.beats.json")):
        truth = json.loads(path.read_text())
        if truth["split"] != "dev":
            continue  # held-out pieces are never read for training
        pieces["val" if truth["split_source"] in args.validation_sources else "train"].append(str(path))
    t0 = time.time()
    train_jobs = [(p, k) for p in pieces["train"] for k in range(args.variants)]
    key = zlib.crc32(" ".join(pieces["train"]).encode())
    real_train = _cached(args.work / f"real-train-{key:08x}-{args.variants}.npz", train_jobs, real_example, args.jobs)
    print(f"real training: {len(pieces['train'])} pieces x {args.variants} variants, {sum(len(x) for x, _ in real_train)} frames ({time.time() - t0:.0f} s)", flush=True)
    val = _cached(args.work / f"real-val-{zlib.crc32(' '.join(pieces['val']).encode()):08x}.npz", [(p, 0) for p in pieces["val"]], real_example, args.jobs) if pieces["val"] else []
    grooves = dev_grooves(args.validation_sources)
    groove_jobs = [(g, k) for g in grooves for k in range(GROOVE_VARIANTS)]
    groove_train = _cached(args.work / f"grooves-{zlib.crc32(repr(grooves).encode()):08x}-{GROOVE_VARIANTS}.npz", groove_jobs, groove_example, args.jobs) if args.grooves else []
    print(f"dev-library grooves: {len(grooves) if args.grooves else 0} x {GROOVE_VARIANTS} variants, {sum(len(x) for x, _ in groove_train)} frames ({time.time() - t0:.0f} s)", flush=True)
    seeds = list(range(TRAIN_SEED0, TRAIN_SEED0 + args.synth_tracks))
    synth_train = _cached(args.work / f"synth-{seeds[0]}-{len(seeds)}.npz", seeds, synth_example, args.jobs)
    print(f"synth: {len(seeds)} tracks, {sum(len(x) for x, _ in synth_train)} frames ({time.time() - t0:.0f} s)", flush=True)
    config = BeatConfig(channels=args.channels, members=len(args.seeds))
    import torch

    torch.set_num_threads(args.jobs)
    state, member_metrics = {}, []
    for i, seed in enumerate(args.seeds):
        print(f"member {i}: seed {seed}", flush=True)
        member_state, metrics = train(real_train + groove_train + synth_train, val, config, epochs=args.epochs, seed=seed, keep_last_epoch=args.keep_last_epoch)
        state |= {member_key(i, name, config.members): value for name, value in member_state.items()}
        member_metrics.append({"seed": seed, **metrics})
    config.provenance = {
        "data": f"real-music corpus development pieces (benchmarks/real_corpus.py; held-out never read): "
        f"{len(pieces['train'])} trained on, {len(pieces['val'])} for validation (packages {', '.join(args.validation_sources)}); "
        f"mvgen.synth all {len(synth.STYLES)} styles, {args.synth_tracks} tracks (seeds {seeds[0]}-{seeds[-1]}, {TRIPLE_P} in 3/4, bars_scale {BARS_SCALE}); {config.sr} Hz mono",
        "augmentation": f"{args.variants} variants per real piece: speed {SPEED_RANGE[0]}-{SPEED_RANGE[1]} by resampling (first variant 1.0), "
        f"mvgen.training.degrade.random_degradation p={DEGRADE_P} (clean share {CLEAN_P}), gain -12..0 dB",
        "command": "python models/build/beats.py " + " ".join(sys.argv[1:]),
        "grooves": f"{len(grooves)} grooves of the development mma libraries ({', '.join(DEV_MMA_LIBRARIES)}; up to {GROOVES_PER_FILE} a file), "
        f"{GROOVE_BPM[0]:g}-{GROOVE_BPM[1]:g} bpm, {GROOVE_S:g} s, {GROOVE_VARIANTS} variants" if args.grooves else "none",
        "train_frames": int(sum(len(x) for x, _ in real_train + groove_train + synth_train)),
        "members": member_metrics,
    }
    save_model(args.out, state, config)
    print(f"wrote {args.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
