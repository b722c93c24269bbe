"""Soft sub-genre classifier: nnAudio spectral front end + a small CNN, and whole-track inference.

The front end (log-mel and optionally a constant-Q spectrogram) is a torch layer, so spectrograms
are computed on the same device as the network: the whole inference runs on the GPU when there is
one. Checkpoints are a folder with ``config.json`` and ``model.safetensors`` (no pickle), loaded by
local path or Hugging Face Hub id. Without a GPU the analysis runs the same network from the same
checkpoint in numpy (:mod:`mvgen.classify.cpu_classifier`), without importing torch; this module stays the
reference (training, GPU inference) and the tests compare the two.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mvgen.classify.checkpoints import (  # noqa: F401 - re-exported: ClassifierConfig and the checkpoint helpers live in the torch-free module
    CONFIG_NAME,
    CQT_BINS_PER_OCTAVE,
    CQT_FMIN_HZ,
    DEFAULT_MODEL,
    LOG_FLOOR,
    LOG_SCALE,
    MEL_FMIN_HZ,
    WEIGHTS_NAME,
    ClassifierConfig,
    default_checkpoint,
    load_config,
    resolve_checkpoint,
)
from mvgen.errors import MvgenError
from mvgen.fileio import atomic_path, write_atomic
from mvgen.classify.predictions import WindowPredictions, plan_windows, smooth_profile, split_scope  # noqa: F401 - re-exported


class FrontEnd(nn.Module):
    """Waveform ``(B, n)`` at ``config.sr`` -> log spectrograms ``(B, C, F, T)``, ``T = n // hop_length``.

    Each frame's level is taken relative to its 6-second neighbourhood (a centred moving average of
    the frame log-energy), so the output ignores the master's loudness yet keeps the dynamics (kicks,
    sidechain pumping), and a window reads the same inside a long track as alone.
    """

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        from nnAudio.features import CQT1992v2, MelSpectrogram

        self.mel = MelSpectrogram(
            sr=config.sr, n_fft=config.n_fft, hop_length=config.hop_length, n_mels=config.n_mels, fmin=MEL_FMIN_HZ, fmax=config.sr / 2, verbose=False
        )
        self.cqt = (
            CQT1992v2(sr=config.sr, hop_length=config.hop_length, fmin=CQT_FMIN_HZ, n_bins=config.cqt_bins, bins_per_octave=CQT_BINS_PER_OCTAVE, verbose=False)
            if config.front_end == "mel+cqt"
            else None
        )
        self.n_mels = config.n_mels
        self.level_frames = config.level_frames

    def _relative_log(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.log(x + LOG_FLOOR)  # (B, F, T)
        level = nn.functional.avg_pool1d(
            x.mean(dim=1, keepdim=True), self.level_frames, stride=1, padding=self.level_frames // 2, count_include_pad=False
        )
        return (x - level) / LOG_SCALE

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
    config = load_config(folder)
    model = GenreClassifier(config)
    state = load_file(str(folder / WEIGHTS_NAME))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not _is_front_end_buffer(k)]
    if missing or unexpected:
        raise MvgenError(f"weights do not match the config (missing {missing[:3]}, unexpected {list(unexpected)[:3]})", folder)
    return model.to(device or default_device()).eval()


def calibrated_probabilities(logits: torch.Tensor, config: ClassifierConfig, *, dim: int = -1) -> torch.Tensor:
    """Softmax of ``logits / config.temperature`` over ``dim`` (the outputs axis)."""
    return torch.softmax(logits.float() / config.temperature, dim=dim)


@torch.inference_mode()
def track_windows(model: GenreClassifier, y: np.ndarray, *, per_window=None, chunk_steps: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``per_window(features (1, C, S)) -> (1, S - k + 1, D)`` over every window of a whole track:
    ``(times_s (W,), values (W, D))``; by default the pooled features of :meth:`GenreClassifier.pool_windows`.

    ``y`` is mono at ``model.config.sr``. Windows of ``config.window_s`` start every ``config.step_s``
    seconds; ``times_s`` are their centres. The track is processed in the chunks of
    :func:`mvgen.classify.predictions.plan_windows` (``chunk_steps`` windows each), so a 1-hour mix needs
    memory for one chunk only and gives the same result as one pass.
    """
    per_window = per_window or model.pool_windows
    device = next(model.parameters()).device
    plan = plan_windows(len(y), model.config, chunk_steps)
    values = None
    for c in plan.chunks:
        audio = torch.from_numpy(plan.chunk_audio(y, c)).to(device)
        out = per_window(model.features(model.front_end(audio[None])))[0, c.w0 - c.s0 : c.w1 - c.s0].float().cpu().numpy()
        if values is None:
            values = np.zeros((plan.n_windows, out.shape[1]), dtype=np.float32)
        values[c.w0 : c.w1] = out
    return plan.times_s, values


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
