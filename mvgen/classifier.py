"""Soft sub-genre classifier: nnAudio spectral front end + a small CNN, and whole-track inference.

The front end (log-mel and optionally a constant-Q spectrogram) is a torch layer, so spectrograms
are computed on the same device as the network: the whole inference runs on the GPU when there is
one. Checkpoints are a folder with ``config.json`` and ``model.safetensors`` (no pickle), loaded by
local path or Hugging Face Hub id.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, Field, field_validator
from torch import nn

from mvgen.checkpoints import CONFIG_NAME, DEFAULT_MODEL, WEIGHTS_NAME, default_checkpoint, resolve_checkpoint  # noqa: F401 - re-exported
from mvgen.errors import MvgenError
from mvgen.fileio import atomic_path, write_atomic
from mvgen.genres import GENRES, OUT_OF_SCOPE, check_labels, smooth_over_time



class ClassifierConfig(BaseModel):
    """Everything needed to rebuild a classifier; saved as ``config.json`` beside the weights."""

    format_version: int = 1
    architecture: Literal["fcn-cnn"] = Field("fcn-cnn", description="front end + fully convolutional CNN + window pooling (GenreClassifier)")
    labels: list[str] = Field(default_factory=lambda: list(GENRES), description="the model's classes (keys), in output order")
    out_of_scope: bool = Field(False, description="the head has one more output after the classes: audio outside them (other music, speech, noise)")
    temperature: float = Field(1.0, gt=0, description="logits are divided by this before the softmax (fitted on held-out data: calibration)")
    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 1024
    n_mels: int = 64
    front_end: Literal["mel", "mel+cqt"] = "mel+cqt"
    cqt_bins: int = 84
    channels: list[int] = Field(default_factory=lambda: [16, 32, 64, 128])
    window_steps: int = Field(8, ge=1, description="window length in feature steps (one step = 2**len(channels) frames)")
    dropout: float = 0.2
    provenance: dict = Field(default_factory=dict, description="training data, command, metrics")

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        return list(check_labels(value))

    @property
    def output_labels(self) -> list[str]:
        """The head's outputs: the classes, then :data:`~mvgen.genres.OUT_OF_SCOPE` when the model has it."""
        return self.labels + ([OUT_OF_SCOPE] if self.out_of_scope else [])

    @property
    def step_frames(self) -> int:
        """Spectrogram frames per feature step (each CNN block halves the time axis)."""
        return 2 ** len(self.channels)

    @property
    def step_s(self) -> float:
        """Hop of the genre profile (s): one feature step, about 0.74 s with the defaults."""
        return self.step_frames * self.hop_length / self.sr

    @property
    def window_samples(self) -> int:
        """Samples of one training clip / analysis window (about 5.9 s with the defaults)."""
        return self.window_steps * self.step_frames * self.hop_length

    @property
    def window_s(self) -> float:
        return self.window_samples / self.sr


class FrontEnd(nn.Module):
    """Waveform ``(B, n)`` at ``config.sr`` -> log spectrograms ``(B, C, F, T)``, ``T = n // hop_length``.

    Each frame's level is taken relative to its 6-second neighbourhood (a centred moving average of
    the frame log-energy), so the output ignores the master's loudness yet keeps the dynamics (kicks,
    sidechain pumping), and a window reads the same inside a long track as alone.
    """

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        from nnAudio.features import CQT1992v2, MelSpectrogram

        self.mel = MelSpectrogram(sr=config.sr, n_fft=config.n_fft, hop_length=config.hop_length, n_mels=config.n_mels, fmin=30.0, fmax=config.sr / 2, verbose=False)
        self.cqt = (
            CQT1992v2(sr=config.sr, hop_length=config.hop_length, fmin=32.7, n_bins=config.cqt_bins, bins_per_octave=12, verbose=False)
            if config.front_end == "mel+cqt"
            else None
        )
        self.n_mels = config.n_mels
        self.level_frames = 2 * (int(6.0 * config.sr / config.hop_length) // 2) + 1

    def _relative_log(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.log(x + 1e-8)  # (B, F, T)
        level = nn.functional.avg_pool1d(
            x.mean(dim=1, keepdim=True), self.level_frames, stride=1, padding=self.level_frames // 2, count_include_pad=False
        )
        return (x - level) / 4.0

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        n_frames = waveform.shape[-1] // self.mel.stft.stride if hasattr(self.mel, "stft") else None
        mel = self._relative_log(self.mel(waveform))  # (B, n_mels, T + 1)
        t = mel.shape[-1] - 1 if n_frames is None else min(n_frames, mel.shape[-1])
        if self.cqt is None:
            return mel[:, None, :, :t]
        cqt = self._relative_log(self.cqt(waveform) ** 2)  # (B, bins, T + 1)
        # The CQT is resized to the mel's band count so both stack as channels of one image.
        cqt = nn.functional.interpolate(cqt[:, None, :, :t], size=(self.n_mels, t), mode="bilinear", align_corners=False)
        return torch.cat([mel[:, None, :, :t], cqt], dim=1)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class GenreClassifier(nn.Module):
    """Front end + fully convolutional CNN; ``forward`` maps clips ``(B, window_samples)`` to logits ``(B, outputs)``
    over ``config.output_labels`` (the classes, and the out-of-scope outcome when the model has one).

    The CNN turns a spectrogram into a feature sequence with one step per ``config.step_s``; a window
    is ``config.window_steps`` steps, pooled (mean and max) and classified by a linear head. Over a
    whole track the CNN runs once and every window is pooled from the shared feature sequence.
    """

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        self.front_end = FrontEnd(config)
        c_in = 2 if config.front_end == "mel+cqt" else 1
        self.input_norm = nn.BatchNorm2d(c_in)
        blocks, c = [], c_in
        for c_out in config.channels:
            blocks.append(_block(c, c_out))
            c = c_out
        self.backbone = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(2 * c, len(config.output_labels)))

    def features(self, spec: torch.Tensor) -> torch.Tensor:
        """Feature sequence ``(B, C, T // step_frames)`` of spectrograms ``(B, C_in, F, T)``."""
        return self.backbone(self.input_norm(spec)).mean(dim=2)

    def pool_windows(self, h: torch.Tensor) -> torch.Tensor:
        """Mean and max over every window of a feature sequence ``(B, C, S)``: ``(B, S - window_steps + 1, 2 C)``,
        what the head classifies (and what head-only training learns from)."""
        k = self.config.window_steps
        pooled = torch.cat([nn.functional.avg_pool1d(h, k, stride=1), nn.functional.max_pool1d(h, k, stride=1)], dim=1)
        return pooled.transpose(1, 2)

    def classify_features(self, h: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, outputs, S - window_steps + 1)`` of every window of a feature sequence ``(B, C, S)``."""
        return self.head(self.pool_windows(h)).transpose(1, 2)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        logits = self.classify_features(self.features(self.front_end(waveform)))
        return logits.mean(dim=-1)


def default_device() -> torch.device:
    """The GPU when one is usable, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def save_classifier(model: GenreClassifier, folder: str | os.PathLike) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``folder``; returns the folder."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if not _is_front_end_buffer(k)}
    with atomic_path(folder / WEIGHTS_NAME, fsync=True) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    write_atomic(folder / CONFIG_NAME, model.config.model_dump_json(indent=1))
    return folder


def _is_front_end_buffer(key: str) -> bool:
    # The front end's kernels are fixed functions of the config; rebuilding them keeps files small.
    return key.startswith("front_end.")


def load_classifier(id_or_path: str | os.PathLike, *, device: torch.device | str | None = None) -> GenreClassifier:
    """Load a classifier checkpoint (folder or Hub id) onto ``device`` (default: GPU if usable), in eval mode.

    Raises :class:`MvgenError` naming the folder (or id) when it is not a checkpoint or does not match its config."""
    from safetensors.torch import load_file

    folder = resolve_checkpoint(id_or_path)
    try:
        config = ClassifierConfig.model_validate_json((folder / CONFIG_NAME).read_text())
    except ValueError as exc:
        raise MvgenError(f"invalid {CONFIG_NAME}: {str(exc).splitlines()[0]}", folder) from None
    model = GenreClassifier(config)
    state = load_file(str(folder / WEIGHTS_NAME))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not _is_front_end_buffer(k)]
    if missing or unexpected:
        raise MvgenError(f"weights do not match the config (missing {missing[:3]}, unexpected {list(unexpected)[:3]})", folder)
    return model.to(device or default_device()).eval()


@dataclass(frozen=True)
class WindowPredictions:
    """What a classifier says about each window of a track.

    times_s: window centres (s), shape ``(W,)``.
    probabilities: calibrated class shares given the window is in scope, shape ``(W, labels)``, rows sum to 1.
    in_scope: calibrated probability that the window is within the model's classes, shape ``(W,)``.
      For a model without the out-of-scope outcome it is the largest class probability, the usual
      stand-in (maximum softmax probability), and says less.
    """

    times_s: np.ndarray
    probabilities: np.ndarray
    in_scope: np.ndarray


def calibrated_probabilities(logits: torch.Tensor, config: ClassifierConfig, *, dim: int = -1) -> torch.Tensor:
    """Softmax of ``logits / config.temperature`` over ``dim`` (the outputs axis)."""
    return torch.softmax(logits.float() / config.temperature, dim=dim)


def split_scope(probabilities: np.ndarray, config: ClassifierConfig) -> tuple[np.ndarray, np.ndarray]:
    """Output probabilities ``(N, outputs)`` -> class shares given in scope ``(N, labels)`` and ``in_scope (N,)``."""
    g = len(config.labels)
    classes = probabilities[:, :g]
    if config.out_of_scope:
        in_scope = 1.0 - probabilities[:, g]
        total = classes.sum(axis=1, keepdims=True)
        shares = np.divide(classes, total, out=np.full_like(classes, 1.0 / g), where=total > 1e-12)
        return shares, np.clip(in_scope, 0.0, 1.0)
    return classes, classes.max(axis=1)


@torch.inference_mode()
def track_windows(model: GenreClassifier, y: np.ndarray, *, per_window=None, chunk_steps: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``per_window(features (1, C, S)) -> (1, S - k + 1, D)`` over every window of a whole track:
    ``(times_s (W,), values (W, D))``; by default the pooled features of :meth:`GenreClassifier.pool_windows`.

    ``y`` is mono at ``model.config.sr``. Windows of ``config.window_s`` start every ``config.step_s``
    seconds; ``times_s`` are their centres. The track is processed in chunks of ``chunk_steps``
    feature steps that overlap by a window plus the CNN's context, so a 1-hour mix needs memory for
    one chunk only and gives the same result as one pass.
    """
    per_window = per_window or model.pool_windows
    config = model.config
    device = next(model.parameters()).device
    step = config.step_frames * config.hop_length  # samples per feature step
    k = config.window_steps
    n_steps = max(k, len(y) // step)
    y = np.pad(y, (0, max(0, n_steps * step - len(y))))
    context = 2  # feature steps of context on each side, covering the CNN's receptive field
    n_windows = n_steps - k + 1
    values = None
    for w0 in range(0, n_windows, chunk_steps):
        w1 = min(n_windows, w0 + chunk_steps)
        s0, s1 = max(0, w0 - context), min(n_steps, w1 + k - 1 + context)
        audio = torch.from_numpy(np.ascontiguousarray(y[s0 * step : s1 * step], dtype=np.float32)).to(device)
        out = per_window(model.features(model.front_end(audio[None])))[0, w0 - s0 : w1 - s0].float().cpu().numpy()
        if values is None:
            values = np.zeros((n_windows, out.shape[1]), dtype=np.float32)
        values[w0:w1] = out
    times_s = (np.arange(n_windows) * step + config.window_samples / 2) / config.sr
    return times_s, values


def predict_profile(model: GenreClassifier, y: np.ndarray, *, chunk_steps: int = 256) -> WindowPredictions:
    """Window predictions over a whole track: mono ``y`` (shape ``(n,)``) at ``model.config.sr`` Hz, one window
    every ``config.step_s`` seconds, processed ``chunk_steps`` feature steps at a time (see
    :class:`WindowPredictions` and :func:`track_windows`)."""
    config = model.config
    def per_window(h: torch.Tensor) -> torch.Tensor:
        return calibrated_probabilities(model.classify_features(h), config, dim=1).transpose(1, 2)

    times_s, outputs = track_windows(model, y, per_window=per_window, chunk_steps=chunk_steps)
    probabilities, in_scope = split_scope(outputs, config)
    return WindowPredictions(times_s=times_s, probabilities=probabilities, in_scope=in_scope)


def smooth_profile(predictions: WindowPredictions, step_s: float, *, smooth_s: float = 3.0) -> WindowPredictions:
    """Moving average of window predictions over ``smooth_s`` seconds (class rows renormalized).

    Single windows are noisy; a sub-genre blend changes over bars, not within one. The class shares
    are averaged weighted by each window's in-scope probability, so windows the model does not
    recognise do not pull the blend of their neighbours.
    """
    width = max(1, int(round(smooth_s / step_s)))
    if width == 1 or len(predictions.times_s) < 2:
        return predictions
    kernel = np.ones(width) / width
    in_scope = predictions.in_scope[:, None]
    weighted = smooth_over_time(predictions.probabilities * np.maximum(in_scope, 1e-6), kernel)
    return WindowPredictions(
        times_s=predictions.times_s,
        probabilities=weighted / weighted.sum(axis=1, keepdims=True),
        in_scope=smooth_over_time(in_scope, kernel)[:, 0],
    )


@torch.inference_mode()
def predict_clips(model: GenreClassifier, clips: Sequence[np.ndarray], *, batch_size: int = 64) -> np.ndarray:
    """Calibrated probabilities ``(N, outputs)`` over ``config.output_labels`` of the central window of
    each mono clip (each at least one window long); :func:`split_scope` separates the classes from
    the out-of-scope outcome."""
    config = model.config
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(clips), batch_size):
        windows = []
        for clip in clips[i : i + batch_size]:
            if len(clip) < config.window_samples:
                raise ValueError(f"clips must be at least {config.window_samples} samples, got {len(clip)}")
            start = (len(clip) - config.window_samples) // 2
            windows.append(np.asarray(clip[start : start + config.window_samples], dtype=np.float32))
        logits = model(torch.from_numpy(np.stack(windows)).to(device))
        out.append(calibrated_probabilities(logits, config).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(config.output_labels)), np.float32)
