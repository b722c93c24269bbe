"""Training the sub-genre classifier on labelled clips (HouseX-v2, a CSV, or synthetic tracks).

Clips are cut from drops (4 random clips per drop, as in the benchmark paper), their spectrograms
computed once, and augmented per batch in the log-spectrogram domain (time shift, EQ tilt, slow gain
ramps); mild pitch and tempo changes are made by resampling when clips are cut. Loss: soft-label
cross-entropy with class weights. Splits are by track, never by clip. Checkpoints (safetensors +
JSON, no pickle) are written every epoch, so training resumes where it stopped; it stops early when
the validation loss no longer improves.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, Field
from torch import nn

from mvgen.classifier import ClassifierConfig, GenreClassifier, default_device, save_classifier
from mvgen.errors import MvgenError
from mvgen.genres import GENRES

CHECKPOINT_DIR = "checkpoint"
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
class Clip:
    """A labelled excerpt: mono audio at the classifier's rate (shape ``(n,)``), soft target ``(8,)``, its track."""

    audio: np.ndarray
    target: np.ndarray
    track_id: str


def resample_clip(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play ``audio`` ``factor`` times faster (pitch and tempo up by ``factor``), linear interpolation."""
    n_out = int(len(audio) / factor)
    return np.interp(np.arange(n_out) * factor, np.arange(len(audio)), audio).astype(np.float32)


def cut_clips(
    y: np.ndarray, sr: int, spans_s: Sequence[tuple[float, float]], clip_s: float, n_per_span: int, rng: np.random.Generator, max_stretch: float = 0.03
) -> list[np.ndarray]:
    """Random clips of ``clip_s`` seconds from each span, each resampled by a factor within +-``max_stretch``."""
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


def clips_from_tracks(tracks: Iterable, config: ClassifierConfig, clips_per_drop: int, seed: int = 0, on_track: Callable | None = None) -> list[Clip]:
    """Decode labelled tracks (:class:`mvgen.labels.LabelledTrack`) and cut clips from their drops.

    Tracks without listed drops use the drops mvgen's analysis finds (or the whole track).
    """
    from mvgen.analysis import analyze
    from mvgen.audio import load_audio

    rng = np.random.default_rng(seed)
    clip_s = config.window_s + SHIFT_S
    clips = []
    for track in tracks:
        y = load_audio(track.path, sr=config.sr)
        spans = list(track.drops_s)
        if not spans:
            spans = [(d.start_s, d.end_s) for d in analyze(track.path).drops] or [(0.0, len(y) / config.sr)]
        for audio in cut_clips(y, config.sr, spans, clip_s, clips_per_drop, rng):
            clips.append(Clip(audio, track.weights.astype(np.float32), str(track.path)))
        if on_track is not None:
            on_track()
    return clips


def synthetic_clips(seeds: Iterable[int], config: ClassifierConfig, blend_every: int = 3, on_track: Callable | None = None) -> list[Clip]:
    """Clips of synthetic tracks: per seed, one sub-genre (or every ``blend_every``-th seed a 2-genre blend).

    Each seed gives a drop clip and a clip of another section, labelled with its blend weights.
    """
    from mvgen import synth

    clips = []
    for seed in seeds:
        rng = np.random.default_rng([seed, 7])
        first = GENRES[seed % len(GENRES)]
        if blend_every and seed % blend_every == 0:
            second = GENRES[int(rng.integers(len(GENRES) - 1) + seed % len(GENRES) + 1) % len(GENRES)]
            share = float(rng.uniform(0.5, 0.9))
            genres = {first: share, second: 1.0 - share}
        else:
            genres = {first: 1.0}
        for label in ("drop", str(rng.choice(["intro", "breakdown", "build-up", "outro", "drop"]))):
            audio, truth = synth.render_clip(genres, seed=seed, sr=config.sr, duration_s=config.window_s + SHIFT_S + 0.1, label=label)
            factor = 1.0 + rng.uniform(-0.03, 0.03)
            audio = resample_clip(np.asarray(audio, np.float32), factor)[: int((config.window_s + SHIFT_S) * config.sr)]
            # The truth ranges over every synth style; the classifier's target over the 8 house sub-genres.
            target = np.mean(truth.genre_profile.vector_over(GENRES).astype(np.float32), axis=0)
            clips.append(Clip(audio, target / target.sum(), f"synth-{seed}"))
        if on_track is not None:
            on_track()
    return clips


def split_by_track(clips: Sequence[Clip], val_fraction: float, seed: int) -> tuple[list[Clip], list[Clip]]:
    """Train/validation split that keeps all clips of a track on one side."""
    tracks = sorted({c.track_id for c in clips})
    rng = np.random.default_rng(seed)
    rng.shuffle(tracks)
    n_val = max(1, int(round(len(tracks) * val_fraction))) if len(tracks) > 1 else 0
    val_tracks = set(tracks[:n_val])
    return [c for c in clips if c.track_id not in val_tracks], [c for c in clips if c.track_id in val_tracks]


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
def spectrograms(model: GenreClassifier, clips: Sequence[Clip], device: torch.device, batch_size: int = 32) -> torch.Tensor:
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


def _save_state(model: nn.Module, optimizer: torch.optim.Optimizer, state: dict, folder: Path) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for idx, values in opt["state"].items():
        for name, value in values.items():
            tensors[f"optimizer.{idx}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tmp = folder / "state.safetensors.part"
    save_file(tensors, str(tmp))
    os.replace(tmp, folder / "state.safetensors")
    meta = {**state, "param_groups": opt["param_groups"]}
    (folder / "state.json.part").write_text(json.dumps(meta, indent=1))
    os.replace(folder / "state.json.part", folder / "state.json")


def _load_state(model: nn.Module, optimizer: torch.optim.Optimizer, folder: Path) -> dict:
    from safetensors.torch import load_file

    tensors = load_file(str(folder / "state.safetensors"))
    meta = json.loads((folder / "state.json").read_text())
    model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
    opt_state: dict = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, idx, name = key.split(".", 2)
            opt_state.setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict({"state": opt_state, "param_groups": meta.pop("param_groups")})
    return meta


class TrainResult(BaseModel):
    """Where the best model is, and the per-epoch history (train and validation loss, validation accuracy)."""

    best_dir: str
    best_epoch: int
    best_val_loss: float
    epochs_run: int
    history: list[dict]


def train(
    train_clips: Sequence[Clip],
    val_clips: Sequence[Clip],
    out_dir: str | os.PathLike,
    model_config: ClassifierConfig | None = None,
    config: TrainConfig | None = None,
    device: torch.device | str | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train a :class:`GenreClassifier`, resuming from ``out_dir/checkpoint`` when it exists.

    The best model (lowest validation loss) is saved to ``out_dir/best`` as a classifier checkpoint.
    Mixed precision (bf16) is used on CUDA.
    """
    config = config or TrainConfig()
    model_config = model_config or ClassifierConfig()
    out_dir = Path(out_dir)
    device = torch.device(device) if device is not None else default_device()
    if not train_clips or not val_clips:
        raise MvgenError("need clips from at least two tracks (training and validation)", out_dir)
    torch.manual_seed(config.seed)
    model = GenreClassifier(model_config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    checkpoint = out_dir / CHECKPOINT_DIR
    state = {"epoch": 0, "best_val_loss": float("inf"), "best_epoch": 0, "history": [], "stale_epochs": 0}
    if (checkpoint / "state.json").is_file():
        saved = json.loads((checkpoint / "state.json").read_text())
        # Epochs and patience may grow between runs (train longer); everything else must match.
        resumable = {"epochs", "patience"}
        same_train = {k: v for k, v in saved.get("train_config", {}).items() if k not in resumable} == config.model_dump(exclude=resumable)
        if saved.get("model_config") != model_config.model_dump() or not same_train:
            raise MvgenError("checkpoint was made with other settings; use a new output folder", checkpoint)
        state.update(_load_state(model, optimizer, checkpoint))

    frames = model_config.window_steps * model_config.step_frames
    train_spec = spectrograms(model, train_clips, device)
    val_spec = _center_crop(spectrograms(model, val_clips, device), frames)
    train_y = torch.from_numpy(np.stack([c.target for c in train_clips]))
    val_y = torch.from_numpy(np.stack([c.target for c in val_clips]))
    weights = torch.from_numpy(class_weights(train_y.numpy())).to(device)
    generator = torch.Generator().manual_seed(config.seed * 1000 + state["epoch"])
    use_amp = device.type == "cuda"

    for epoch in range(state["epoch"], config.epochs):
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
        state["history"].append(record)
        if val_loss < state["best_val_loss"] - 1e-4:
            state.update(best_val_loss=val_loss, best_epoch=epoch + 1, stale_epochs=0)
            save_classifier(model, out_dir / BEST_DIR)
        else:
            state["stale_epochs"] += 1
        state["epoch"] = epoch + 1
        _save_state(model, optimizer, {**state, "model_config": model_config.model_dump(), "train_config": config.model_dump()}, checkpoint)
        if on_epoch is not None:
            on_epoch(record)
        if state["stale_epochs"] >= config.patience:
            break
    return TrainResult(
        best_dir=str(out_dir / BEST_DIR), best_epoch=state["best_epoch"], best_val_loss=state["best_val_loss"], epochs_run=state["epoch"], history=state["history"]
    )


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """Learning rate of a 0-based epoch: one warm-up epoch at a tenth, then cosine decay to 5 %."""
    if epoch == 0:
        return config.lr * 0.1
    progress = (epoch - 1) / max(1, config.epochs - 1)
    return config.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))


@torch.no_grad()
def _validate(model: GenreClassifier, spec: torch.Tensor, targets: torch.Tensor, device: torch.device, use_amp: bool) -> tuple[float, float]:
    model.eval()
    logits = []
    for i in range(0, len(spec), 64):
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            logits.append(model.classify_features(model.features(spec[i : i + 64].to(device))).mean(dim=-1).float().cpu())
    logits = torch.cat(logits)
    loss = float(soft_cross_entropy(logits, targets))
    accuracy = float((logits.argmax(-1) == targets.argmax(-1)).float().mean())
    return loss, accuracy
