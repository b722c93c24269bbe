"""Training the sub-genre classifier on labelled clips (HouseX-v2, a CSV, or synthetic tracks).

Clips are cut from drops (4 random clips per drop, as in the benchmark paper), their spectrograms
computed once, and augmented per batch in the log-spectrogram domain (time shift, EQ tilt, slow gain
ramps); mild pitch and tempo changes are made by resampling when clips are cut. Loss: soft-label
cross-entropy with class weights. Splits are by track, never by clip. Checkpoints (safetensors +
JSON, no pickle) are written every epoch, so training resumes where it stopped; it stops early when
the validation loss no longer improves.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from mvgen.classify.classifier import ClassifierConfig, GenreClassifier, default_device, save_classifier
from mvgen.errors import MvgenError
from mvgen.fileio import atomic_path, write_atomic
from mvgen.genres import GENRES

CHECKPOINT_DIR = "checkpoint"
#: The training state inside :data:`CHECKPOINT_DIR` (a :class:`TrainState`), beside ``state.safetensors``.
STATE_NAME = "state.json"
BEST_DIR = "best"
#: Clips are cut this much longer than a window so that random crops shift them in time.
SHIFT_S = 0.75


class TrainConfig(BaseModel):
    """Optimisation settings; saved with every checkpoint."""

    epochs: int = Field(30, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    val_fraction: float = Field(0.2, gt=0, lt=1)
    patience: int = Field(4, ge=1, description="epochs without validation improvement before stopping")
    seed: int = 0
    augment: bool = True
    clips_per_drop: int = Field(4, ge=1)


@dataclass
class LabelledClip:
    """A labelled excerpt for training: mono audio at the classifier's rate (shape ``(n,)``), soft target over the model's
    ``output_labels`` (the classes, then ``other`` when the model has it), and its track (or source) id."""

    audio: np.ndarray
    target: np.ndarray
    track_id: str


def resample_clip(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play ``audio`` ``factor`` times faster (pitch and tempo up by ``factor``), linear interpolation."""
    n_out = int(len(audio) / factor)
    return np.interp(np.arange(n_out) * factor, np.arange(len(audio)), audio).astype(np.float32)


def cut_clips(
    y: np.ndarray, sr: int, spans_s: Sequence[tuple[float, float]], *, clip_s: float, n_per_span: int, rng: np.random.Generator, max_stretch: float = 0.03
) -> list[np.ndarray]:
    """``n_per_span`` random clips of ``clip_s`` seconds from each span ``(start_s, end_s)`` of mono ``y`` (shape
    ``(n,)`` at ``sr`` Hz), each resampled by a factor within +-``max_stretch``; each clip has shape ``(clip_s * sr,)``."""
    clips = []
    for start_s, end_s in spans_s:
        for _ in range(n_per_span):
            factor = 1.0 + rng.uniform(-max_stretch, max_stretch)
            need = int(math.ceil(clip_s * sr * factor)) + 1
            a, b = int(start_s * sr), min(int(end_s * sr), len(y))
            if b - a < need:
                a, b = max(0, b - need), max(b, min(len(y), a + need))
            if b - a < need:
                continue
            offset = a + int(rng.integers(0, b - a - need + 1))
            clip = resample_clip(y[offset : offset + need], factor)[: int(clip_s * sr)]
            clips.append(clip)
    return clips


def map_target(weights: np.ndarray, outputs: Sequence[str], config: ClassifierConfig, *, source: object = None) -> np.ndarray:
    """A soft label over ``outputs`` as a target over ``config.output_labels`` (float32, sums to 1).

    Labels the model lacks go to its out-of-scope outcome; without one they are an error naming the
    label and the model's classes (and ``source``, the track, as the error's path).
    """
    targets = config.output_labels
    target = np.zeros(len(targets), np.float32)
    for name, weight in zip(outputs, np.asarray(weights, dtype=np.float64)):
        if weight <= 0:
            continue
        if name in targets:
            target[targets.index(name)] += weight
        elif config.out_of_scope:
            target[-1] += weight
        else:
            raise MvgenError(f"label {name!r} is not a class of the model ({', '.join(targets)}), and the model has no out-of-scope outcome", source)
    return target / target.sum()


def clips_from_tracks(tracks: Iterable, config: ClassifierConfig, *, clips_per_drop: int = 4, seed: int = 0, on_track: Callable | None = None) -> list[LabelledClip]:
    """Decode labelled tracks (:class:`mvgen.training.labels.LabelledTrack`) and cut clips from their drops.

    Tracks without listed drops use the drops mvgen's analysis finds (or the whole track).
    """
    from mvgen.analysis.track import analyze
    from mvgen.media.audio import load_audio

    rng = np.random.default_rng(seed)
    clip_s = config.window_s + SHIFT_S
    clips = []
    for track in tracks:
        y = load_audio(track.path, sr=config.sr)
        spans = list(track.drops_s)
        if not spans:
            spans = [(d.start_s, d.end_s) for d in analyze(track.path, genre_profile=False).drops] or [(0.0, len(y) / config.sr)]
        target = map_target(track.weights, track.outputs, config, source=track.path)
        for audio in cut_clips(y, config.sr, spans, clip_s=clip_s, n_per_span=clips_per_drop, rng=rng):
            clips.append(LabelledClip(audio, target, str(track.path)))
        if on_track is not None:
            on_track()
    return clips


def synthetic_clips(seeds: Iterable[int], config: ClassifierConfig, *, blend_every: int = 3, on_track: Callable | None = None,
                    styles: Sequence[str] = GENRES, degrade_p: float = 0.0) -> list[LabelledClip]:
    """Clips of synthetic tracks: per seed, one style of ``styles`` (``mvgen.synth`` keys; the seed picks
    it in turn), or every ``blend_every``-th seed a blend of two.

    Each seed gives a drop clip and a clip of another section, labelled with its blend weights as
    a target over the model's outputs (:func:`map_target`): styles that are not classes of the model
    are out of scope, so non-house styles make the negatives of a house model. ``degrade_p`` > 0
    degrades each clip like a real release (:func:`mvgen.training.degrade.random_degradation`, each
    degradation with that probability), seeded by the clip's seed.
    """
    from mvgen import synth
    from mvgen.training import degrade

    styles = list(styles)
    clips = []
    for seed in seeds:
        rng = np.random.default_rng([seed, 7])
        first = styles[seed % len(styles)]
        if blend_every and seed % blend_every == 0:
            second = styles[int(rng.integers(len(styles) - 1) + seed % len(styles) + 1) % len(styles)]
            share = float(rng.uniform(0.5, 0.9))
            genres = {first: share, second: 1.0 - share}
        else:
            genres = {first: 1.0}
        degrade_rng = np.random.default_rng([seed, 8])  # a stream of its own: the clips' other draws do not change
        for label in ("drop", str(rng.choice(["intro", "breakdown", "build-up", "outro", "drop"]))):
            audio, truth = synth.render_clip(genres, seed=seed, sr=config.sr, duration_s=config.window_s + SHIFT_S + 0.1, label=label)
            factor = 1.0 + rng.uniform(-0.03, 0.03)
            audio = resample_clip(np.asarray(audio, np.float32), factor)[: int((config.window_s + SHIFT_S) * config.sr)]
            audio = degrade.random_degradation(audio, config.sr, degrade_rng, p=degrade_p) if degrade_p > 0 else audio
            # The truth ranges over every synth style (house and not); map_target sends the styles
            # that are not classes of the model to its out-of-scope outcome.
            profile = truth.genre_profile
            weights = np.mean(np.asarray(profile.probabilities, np.float64), axis=0)
            clips.append(LabelledClip(audio, map_target(weights, profile.labels, config, source=f"synth seed {seed}"), f"synth-{seed}"))
        if on_track is not None:
            on_track()
    return clips


#: Built-in out-of-scope examples per kind of :mod:`mvgen.training.negatives` and per synthetic style that is not a class.
BUILTIN_NEGATIVES_PER_KIND = 12


def out_of_scope_target(config: ClassifierConfig) -> np.ndarray:
    """The target of an out-of-scope example: all weight on ``other`` (float32, over ``config.output_labels``)."""
    if not config.out_of_scope:
        raise ValueError("negative clips need a model with the out-of-scope outcome (config.out_of_scope)")
    target = np.zeros(len(config.output_labels), np.float32)
    target[-1] = 1.0
    return target


def negative_clips(kinds: Sequence[str], seeds: Iterable[int], config: ClassifierConfig) -> list[LabelledClip]:
    """Non-music clips of :mod:`mvgen.training.negatives` (one per kind and seed), labelled out of scope.

    Speech needs espeak-ng; without it speech is left out (the other kinds still come).
    """
    from mvgen.training import negatives

    target = out_of_scope_target(config)
    kinds = [k for k in kinds if k != "speech" or negatives.espeak_available()]
    duration_s = config.window_s + SHIFT_S
    clips = []
    for seed in seeds:
        for kind in kinds:
            audio = negatives.negative_clip(kind, seed, sr=config.sr, duration_s=duration_s)
            clips.append(LabelledClip(np.asarray(audio, np.float32), target.copy(), f"negative-{kind}-{seed}"))
    return clips


def builtin_negatives(config: ClassifierConfig, *, seed: int = 0, per_kind: int = BUILTIN_NEGATIVES_PER_KIND) -> list[LabelledClip]:
    """Out-of-scope examples mvgen makes itself, for any taxonomy: every kind of :mod:`mvgen.training.negatives`
    (silence, tones, sweeps, drones, noise, speech) and the synthetic styles of :mod:`mvgen.synth`
    that are not classes of the model, ``per_kind`` seeds each (seeds from ``10_000 * (seed + 1)``,
    away from the seeds the bundled model trained on)."""
    from mvgen import synth
    from mvgen.training import negatives

    first = 10_000 * (seed + 1)
    clips = negative_clips(negatives.NEGATIVE_KINDS, range(first, first + per_kind), config)
    others = [s for s in synth.STYLES if s not in config.labels]
    if others:
        clips += synthetic_clips(range(first, first + per_kind * len(others)), config, blend_every=0, styles=others)
    return clips


def split_by_track(clips: Sequence[LabelledClip], *, val_fraction: float, seed: int) -> tuple[list[LabelledClip], list[LabelledClip]]:
    """Train/validation split that keeps all clips of a track on one side."""
    val_tracks = validation_tracks([c.track_id for c in clips], val_fraction=val_fraction, seed=seed)
    return [c for c in clips if c.track_id not in val_tracks], [c for c in clips if c.track_id in val_tracks]


def validation_tracks(track_ids: Iterable[str], *, val_fraction: float, seed: int) -> set[str]:
    """The track ids that go to validation: a seeded share ``val_fraction`` of the distinct ids (at
    least one when there are two or more), so every track stays whole on one side."""
    tracks = sorted(set(track_ids))
    rng = np.random.default_rng(seed)
    rng.shuffle(tracks)
    n_val = max(1, int(round(len(tracks) * val_fraction))) if len(tracks) > 1 else 0
    return set(tracks[:n_val])


def class_weights(targets: np.ndarray) -> np.ndarray:
    """Inverse soft class frequency, normalized to mean 1 over present classes, shape ``(8,)``."""
    frequency = targets.sum(axis=0) / max(len(targets), 1)
    weights = np.where(frequency > 0, 1.0 / np.maximum(frequency, 1e-6), 0.0)
    return (weights / weights[weights > 0].mean()).astype(np.float32)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the batch of ``-sum_c w_c t_c log p_c``; ``logits``, ``targets`` shape ``(B, 8)``."""
    loss = -(targets * torch.log_softmax(logits.float(), dim=-1))
    if weights is not None:
        loss = loss * weights
    return loss.sum(dim=-1).mean()


@torch.no_grad()
def spectrograms(model: GenreClassifier, clips: Sequence[LabelledClip], *, device: torch.device, batch_size: int = 32) -> torch.Tensor:
    """Front-end output of every clip, shape ``(N, C, F, T)``, kept on the CPU."""
    out = []
    n = min(len(c.audio) for c in clips)
    for i in range(0, len(clips), batch_size):
        audio = torch.from_numpy(np.stack([c.audio[:n] for c in clips[i : i + batch_size]])).to(device)
        out.append(model.front_end(audio).cpu())
    return torch.cat(out)


def augment(spec: torch.Tensor, frames: int, generator: torch.Generator) -> torch.Tensor:
    """Random crop of ``frames`` frames, EQ tilt (+-1 dB per octave-ish) and a slow gain ramp (+-3 dB)."""
    b, c, f, t = spec.shape
    start = torch.randint(0, t - frames + 1, (b,), generator=generator)
    idx = start[:, None] + torch.arange(frames)[None]
    out = torch.gather(spec, 3, idx[:, None, None, :].expand(b, c, f, frames))
    # The front end divides log power by 4: 1 dB is 0.23 / 4 in its units.
    db = 0.2303 / 4.0
    tilt = (torch.rand(b, 1, 1, 1, generator=generator) * 2 - 1) * 6.0 * db * torch.linspace(-1, 1, f).view(1, 1, f, 1)
    ramp = (torch.rand(b, 1, 1, 1, generator=generator) * 2 - 1) * 3.0 * db * torch.linspace(-1, 1, frames).view(1, 1, 1, frames)
    return out + tilt + ramp


def _center_crop(spec: torch.Tensor, frames: int) -> torch.Tensor:
    start = (spec.shape[-1] - frames) // 2
    return spec[..., start : start + frames]


class TrainState(BaseModel):
    """Where a training run stands, saved as ``checkpoint/state.json`` after every epoch (the weights and
    the optimizer's moments go beside it, in ``state.safetensors``); what :func:`train` resumes from.

    The JSON keys are those of the plain dict earlier versions wrote (``model_config`` included), so
    their checkpoints still resume.
    """

    model_config = ConfigDict(populate_by_name=True, ser_json_inf_nan="constants")

    epoch: int = Field(0, ge=0, description="epochs finished")
    best_val_loss: float = Field(math.inf, description="lowest validation loss so far (inf before the first epoch)")
    best_epoch: int = Field(0, ge=0, description="the epoch (1-based) of best_val_loss; 0: none yet")
    history: list[dict] = Field(default_factory=list, description="one record per epoch: epoch, train_loss, val_loss, val_top1")
    stale_epochs: int = Field(0, ge=0, description="epochs since the validation loss last improved")
    classifier_config: ClassifierConfig | None = Field(None, alias="model_config", description="the model being trained")
    train_config: TrainConfig | None = None
    param_groups: list[dict] = Field(default_factory=list, description="the optimizer's parameter groups (learning rate, betas, ...)")

    def save(self, path: str | os.PathLike) -> Path:
        """Write as JSON (atomically, synced to disk)."""
        return write_atomic(path, self.model_dump_json(by_alias=True, indent=1), fsync=True)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TrainState":
        """Read a state JSON; :class:`MvgenError` naming the file when it is not one."""
        try:
            return cls.model_validate_json(Path(path).read_text())
        except (OSError, ValueError) as exc:
            first = str(exc).splitlines()[0] if isinstance(exc, ValueError) else exc.__class__.__name__
            raise MvgenError(f"not a training state ({first})", path) from None


def _save_state(model: nn.Module, optimizer: torch.optim.Optimizer, state: TrainState, folder: Path) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for idx, values in opt["state"].items():
        for name, value in values.items():
            tensors[f"optimizer.{idx}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    with atomic_path(folder / "state.safetensors", fsync=True) as tmp:
        save_file(tensors, str(tmp))
    state.model_copy(update={"param_groups": opt["param_groups"]}).save(folder / STATE_NAME)


def _load_state(model: nn.Module, optimizer: torch.optim.Optimizer, folder: Path) -> TrainState:
    from safetensors.torch import load_file

    tensors = load_file(str(folder / "state.safetensors"))
    state = TrainState.load(folder / STATE_NAME)
    model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
    opt_state: dict = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, idx, name = key.split(".", 2)
            opt_state.setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict({"state": opt_state, "param_groups": state.param_groups})
    return state.model_copy(update={"param_groups": []})


class TrainResult(BaseModel):
    """Where the best model is, and the per-epoch history (train and validation loss, validation accuracy)."""

    best_dir: str
    best_epoch: int
    best_val_loss: float
    epochs_run: int
    history: list[dict]
    temperature: float = Field(1.0, description="calibration temperature fitted on the validation tracks")


def train(
    train_clips: Sequence[LabelledClip],
    val_clips: Sequence[LabelledClip],
    out_dir: str | os.PathLike,
    *,
    model_config: ClassifierConfig | None = None,
    config: TrainConfig | None = None,
    device: torch.device | str | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    init_from: GenreClassifier | None = None,
) -> TrainResult:
    """Train a :class:`GenreClassifier`, resuming from ``out_dir/checkpoint`` when it exists.

    ``model_config``: the model (default :class:`ClassifierConfig`); ``config``: the optimisation
    (default :class:`TrainConfig`); ``device``: default the GPU when usable. ``on_epoch(record)``
    gets each epoch's record (epoch, train_loss, val_loss, val_top1); ``on_batch(done, total)``
    each batch's progress. ``init_from``: start from this model's front end and backbone (fine-tuning; the head is new
    when the classes differ). The best model (lowest validation loss) is saved to ``out_dir/best``
    as a classifier checkpoint, with its temperature fitted on the validation clips.
    Mixed precision (bf16) is used on CUDA.
    """
    config = config or TrainConfig()
    model_config = model_config or ClassifierConfig()
    out_dir = Path(out_dir)
    device = torch.device(device) if device is not None else default_device()
    if not train_clips or not val_clips:
        raise MvgenError("need clips from at least two tracks (training and validation)", out_dir)
    torch.manual_seed(config.seed)
    model = GenreClassifier(model_config)
    if init_from is not None:
        same_head = init_from.config.output_labels == model_config.output_labels
        model.load_state_dict({k: v for k, v in init_from.state_dict().items() if same_head or not k.startswith("head.")}, strict=False)
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    checkpoint = out_dir / CHECKPOINT_DIR
    state = TrainState(classifier_config=model_config, train_config=config)
    if (checkpoint / STATE_NAME).is_file():
        saved = TrainState.load(checkpoint / STATE_NAME)
        # Epochs and patience may grow between runs (train longer); everything else must match.
        resumable = {"epochs", "patience"}
        same_train = saved.train_config is not None and saved.train_config.model_dump(exclude=resumable) == config.model_dump(exclude=resumable)
        if saved.classifier_config is None or saved.classifier_config.model_dump() != model_config.model_dump() or not same_train:
            raise MvgenError("checkpoint was made with other settings; use a new output folder", checkpoint)
        state = _load_state(model, optimizer, checkpoint).model_copy(update={"classifier_config": model_config, "train_config": config})

    frames = model_config.window_steps * model_config.step_frames
    train_spec = spectrograms(model, train_clips, device=device)
    val_spec = _center_crop(spectrograms(model, val_clips, device=device), frames)
    train_y = torch.from_numpy(np.stack([c.target for c in train_clips]))
    val_y = torch.from_numpy(np.stack([c.target for c in val_clips]))
    weights = torch.from_numpy(class_weights(train_y.numpy())).to(device)
    generator = torch.Generator().manual_seed(config.seed * 1000 + state.epoch)
    use_amp = device.type == "cuda"

    for epoch in range(state.epoch, config.epochs):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, epoch)
        model.train()
        order = torch.randperm(len(train_spec), generator=generator)
        total, seen = 0.0, 0
        n_batches = math.ceil(len(order) / config.batch_size)
        for bi, i in enumerate(range(0, len(order), config.batch_size)):
            idx = order[i : i + config.batch_size]
            spec = augment(train_spec[idx], frames, generator) if config.augment else _center_crop(train_spec[idx], frames)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = model.classify_features(model.features(spec.to(device))).mean(dim=-1)
            loss = soft_cross_entropy(logits, train_y[idx].to(device), weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            seen += len(idx)
            if on_batch is not None:
                on_batch(bi + 1, n_batches)
        val_loss, val_acc = _validate(model, val_spec, val_y, device, use_amp)
        record = {"epoch": epoch + 1, "train_loss": total / seen, "val_loss": val_loss, "val_top1": val_acc}
        state.history.append(record)
        if val_loss < state.best_val_loss - 1e-4:
            state.best_val_loss, state.best_epoch, state.stale_epochs = val_loss, epoch + 1, 0
            save_classifier(model, out_dir / BEST_DIR)
        else:
            state.stale_epochs += 1
        state.epoch = epoch + 1
        _save_state(model, optimizer, state, checkpoint)
        if on_epoch is not None:
            on_epoch(record)
        if state.stale_epochs >= config.patience:
            break
    # Calibrated on the validation tracks, which chose the epoch but never moved a weight.
    temperature = calibrate(out_dir / BEST_DIR, val_spec, val_y, device=device) if (out_dir / BEST_DIR).is_dir() else 1.0
    return TrainResult(
        best_dir=str(out_dir / BEST_DIR), best_epoch=state.best_epoch, best_val_loss=state.best_val_loss, epochs_run=state.epoch, history=state.history,
        temperature=temperature,
    )


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """Learning rate of a 0-based epoch: one warm-up epoch at a tenth, then cosine decay to 5 %."""
    if epoch == 0:
        return config.lr * 0.1
    progress = (epoch - 1) / max(1, config.epochs - 1)
    return config.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))


@torch.no_grad()
def _logits(model: GenreClassifier, spec: torch.Tensor, device: torch.device, use_amp: bool) -> torch.Tensor:
    """Uncalibrated logits ``(N, outputs)`` of spectrogram windows ``(N, C, F, T)``, on the CPU."""
    model.eval()
    logits = []
    for i in range(0, len(spec), 64):
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            logits.append(model.classify_features(model.features(spec[i : i + 64].to(device))).mean(dim=-1).float().cpu())
    return torch.cat(logits)


def _validate(model: GenreClassifier, spec: torch.Tensor, targets: torch.Tensor, device: torch.device, use_amp: bool) -> tuple[float, float]:
    logits = _logits(model, spec, device, use_amp)
    loss = float(soft_cross_entropy(logits, targets))
    accuracy = float((logits.argmax(-1) == targets.argmax(-1)).float().mean())
    return loss, accuracy


#: Temperatures searched by :func:`fit_temperature` (log-spaced); calibration rarely needs more than 10x either way.
TEMPERATURE_GRID = np.exp(np.linspace(np.log(0.2), np.log(10.0), 401))


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Temperature scaling (Guo et al. 2017): the ``T`` of :data:`TEMPERATURE_GRID` minimizing the soft
    cross-entropy of ``softmax(logits / T)`` on held-out ``logits`` ``(N, K)`` and ``targets`` ``(N, K)``.

    One scalar, so the ranking (top-1) never changes; a grid rather than gradient steps, because the
    loss in ``T`` can be flat for a nearly separable held-out set and a grid always ends.
    """
    logits = logits.float()
    losses = [float(soft_cross_entropy(logits / float(t), targets)) for t in TEMPERATURE_GRID]
    return float(TEMPERATURE_GRID[int(np.argmin(losses))])


def calibrate(best_dir: str | os.PathLike, spec: torch.Tensor, targets: torch.Tensor, *, device: torch.device | str = "cpu") -> float:
    """Fit the temperature of the checkpoint in ``best_dir`` on held-out ``spec`` windows and save it in its config."""
    from mvgen.classify.classifier import load_classifier

    model = load_classifier(best_dir, device=device)
    temperature = fit_temperature(_logits(model, spec, torch.device(device), False), targets)
    model.config.temperature = temperature
    save_classifier(model, best_dir)
    return temperature


# --------------------------------------------------------------------------- head-only (few-shot) training


class HeadConfig(BaseModel):
    """Settings of :func:`train_head`: a new head on the frozen backbone of an existing model."""

    epochs: int = Field(300, ge=1, description="full passes over the window features (each pass is cheap: the backbone is frozen)")
    batch_size: int = Field(512, ge=1)
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(1e-2, ge=0)
    val_fraction: float = Field(0.2, gt=0, lt=1)
    patience: int = Field(40, ge=1, description="epochs without validation improvement before stopping")
    window_stride: int = Field(2, ge=1, description="use every n-th window of a track (neighbours overlap by 7/8)")
    seed: int = 0


@dataclass
class WindowSet:
    """Pooled backbone features of labelled windows: ``features (N, 2C)``, ``targets (N, outputs)``, ``groups (N,)`` (track ids)."""

    features: np.ndarray
    targets: np.ndarray
    groups: np.ndarray

    def subset(self, mask: np.ndarray) -> "WindowSet":
        return WindowSet(self.features[mask], self.targets[mask], self.groups[mask])

    @classmethod
    def concat(cls, sets: Sequence["WindowSet"]) -> "WindowSet":
        return cls(np.concatenate([s.features for s in sets]), np.concatenate([s.targets for s in sets]), np.concatenate([s.groups for s in sets]))


def head_config(base: ClassifierConfig | None, labels: Sequence[str], *, provenance: dict | None = None) -> ClassifierConfig:
    """The config of a model with a new head over ``labels`` plus ``other``, on ``base``'s front end and
    backbone (head-only training, or fine-tuning from ``base``); None: the default ones (training from scratch)."""
    if base is None:
        return ClassifierConfig(labels=list(labels), out_of_scope=True, provenance=provenance or {})
    return base.model_copy(update={"labels": list(labels), "out_of_scope": True, "temperature": 1.0, "provenance": provenance or {}})


def window_features(base: GenreClassifier, audio: np.ndarray, config: ClassifierConfig, target: np.ndarray, group: str, *,
                    spans_s: Sequence[tuple[float, float]] = (), stride: int = 1) -> WindowSet:
    """Pooled features of the windows of mono ``audio`` (at ``config.sr``) whose centres fall in ``spans_s``
    (all windows when none do, or none are given), every ``stride``-th; each labelled ``target``."""
    from mvgen.analysis.windows import in_spans
    from mvgen.classify.classifier import track_windows

    times_s, features = track_windows(base, audio)
    keep = in_spans(times_s, spans_s)
    index = np.flatnonzero(keep) if keep.any() else np.arange(len(times_s))
    index = index[::stride]
    return WindowSet(features[index], np.repeat(target[None], len(index), axis=0).astype(np.float32), np.full(len(index), group))


def labelled_windows(base: GenreClassifier, tracks: Iterable, config: ClassifierConfig, *, stride: int = 2, on_track: Callable | None = None) -> WindowSet:
    """:func:`window_features` of every labelled track (:class:`mvgen.training.labels.LabelledTrack`): its drops
    when listed, else the whole track (one backbone pass per track, no beat analysis)."""
    from mvgen.media.audio import load_audio

    sets = []
    for track in tracks:
        y = load_audio(track.path, sr=config.sr)
        target = map_target(track.weights, track.outputs, config, source=track.path)
        sets.append(window_features(base, y, config, target, str(track.path), spans_s=track.drops_s, stride=stride))
        if on_track is not None:
            on_track()
    return WindowSet.concat(sets)


def clip_windows(base: GenreClassifier, clips: Sequence[LabelledClip]) -> WindowSet:
    """:func:`window_features` of training clips (e.g. built-in negatives), each clip one group."""
    return WindowSet.concat([window_features(base, c.audio, base.config, c.target, c.track_id) for c in clips])


def split_groups(groups: np.ndarray, *, val_fraction: float, seed: int) -> np.ndarray:
    """A validation mask over windows that keeps every track (group) on one side (:func:`validation_tracks`)."""
    val = validation_tracks(groups.tolist(), val_fraction=val_fraction, seed=seed)
    return np.array([g in val for g in groups.tolist()])


def _fit_head(head: nn.Linear, train_set: WindowSet, val_set: WindowSet, config: HeadConfig, on_epoch: Callable | None = None) -> tuple[float, int]:
    """Train ``head`` in place (best validation state kept); returns (best validation loss, epochs run)."""
    generator = torch.Generator().manual_seed(config.seed)
    x, y = torch.from_numpy(train_set.features), torch.from_numpy(train_set.targets)
    vx, vy = torch.from_numpy(val_set.features), torch.from_numpy(val_set.targets)
    weights = torch.from_numpy(class_weights(train_set.targets))
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    best, best_state, stale, epoch = float("inf"), None, 0, 0
    for epoch in range(1, config.epochs + 1):
        head.train()
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            loss = soft_cross_entropy(head(x[idx]), y[idx], weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        head.eval()
        with torch.no_grad():
            val_loss = float(soft_cross_entropy(head(vx), vy))
        if on_epoch is not None:
            on_epoch({"epoch": epoch, "val_loss": val_loss})
        if val_loss < best - 1e-5:
            best, stale = val_loss, 0
            best_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        head.load_state_dict(best_state)
    return best, epoch


class HeadResult(BaseModel):
    """A head-only training run: where the model is, its held-out figures and the cross-validation."""

    model_dir: str
    labels: list[str]
    train_windows: int
    val_windows: int
    val_tracks: int
    epochs_run: int
    temperature: float
    val_top1: float = Field(description="top-1 over held-out windows, all outputs (classes and other)")
    val_ece: float = Field(description="expected calibration error of the held-out windows (after temperature scaling)")
    cv_top1: list[float] = Field(default_factory=list, description="track-grouped cross-validation: top-1 of each fold")


def train_head(
    windows: WindowSet,
    base: GenreClassifier,
    labels: Sequence[str],
    out_dir: str | os.PathLike,
    *,
    config: HeadConfig | None = None,
    cv_folds: int = 0,
    provenance: dict | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> HeadResult:
    """Few-shot training: a new head over ``labels`` plus the out-of-scope outcome on ``base``'s frozen backbone.

    ``windows`` are pooled backbone features with targets over the new outputs (see
    :func:`labelled_windows`, :func:`clip_windows`). Tracks are split for validation (which picks the
    epoch and fits the temperature); with ``cv_folds`` > 1 the same training also runs on
    track-grouped folds first, and their top-1 figures are reported. The model (``base``'s weights
    with the new head, safetensors) is written to ``out_dir``.
    """
    from mvgen.training.metrics import expected_calibration_error

    config = config or HeadConfig()
    model_config = head_config(base.config, labels, provenance=provenance)
    n_out = len(model_config.output_labels)
    if windows.targets.shape[1] != n_out:
        raise ValueError(f"window targets have {windows.targets.shape[1]} outputs, the head {n_out}")
    if len(set(windows.groups.tolist())) < 2:
        raise MvgenError("need at least two labelled tracks (training and validation)", out_dir)
    torch.manual_seed(config.seed)

    def fit(train_set: WindowSet, val_set: WindowSet, **kw) -> tuple[nn.Linear, int]:
        head = nn.Linear(windows.features.shape[1], n_out)
        _, epochs = _fit_head(head, train_set, val_set, config, **kw)
        return head, epochs

    def top1(head: nn.Linear, data: WindowSet) -> float:
        with torch.no_grad():
            return float((head(torch.from_numpy(data.features)).argmax(-1).numpy() == data.targets.argmax(-1)).mean())

    cv = []
    if cv_folds > 1:
        names = sorted(set(windows.groups.tolist()))
        order = np.random.default_rng(config.seed + 1).permutation(len(names))
        fold_of = {names[i]: k % cv_folds for k, i in enumerate(order)}
        folds = np.array([fold_of[g] for g in windows.groups.tolist()])
        for k in range(cv_folds):
            held = folds == k
            if held.any() and (~held).any():
                inner = split_groups(windows.groups[~held], val_fraction=config.val_fraction, seed=config.seed)
                rest = windows.subset(~held)
                head, _ = fit(rest.subset(~inner), rest.subset(inner))
                cv.append(top1(head, windows.subset(held)))

    val_mask = split_groups(windows.groups, val_fraction=config.val_fraction, seed=config.seed)
    train_set, val_set = windows.subset(~val_mask), windows.subset(val_mask)
    head, epochs = fit(train_set, val_set, on_epoch=on_epoch)
    with torch.no_grad():
        val_logits = head(torch.from_numpy(val_set.features))
    temperature = fit_temperature(val_logits, torch.from_numpy(val_set.targets))
    model_config.temperature = temperature
    model = GenreClassifier(model_config)
    state = {k: v for k, v in base.state_dict().items() if not k.startswith("head.")}
    model.load_state_dict(state, strict=False)
    model.head[1].load_state_dict(head.state_dict())
    save_classifier(model.eval(), out_dir)
    probabilities = torch.softmax(val_logits / temperature, dim=-1).numpy()
    return HeadResult(
        model_dir=str(out_dir), labels=list(labels), train_windows=len(train_set.features), val_windows=len(val_set.features),
        val_tracks=len(set(val_set.groups.tolist())), epochs_run=epochs, temperature=temperature, val_top1=top1(head, val_set),
        val_ece=expected_calibration_error(probabilities, val_set.targets), cv_top1=cv,
    )
