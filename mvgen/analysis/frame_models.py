"""What the analysis' frame models (drums, beats) share: their log-mel spectrogram, 1-D convolutions over
time in numpy, blocked inference (:class:`FrameModel`), and the loading of a model folder.

The models are trained in torch (``models/build/``) and run here without it: each ``nn.Conv1d`` (with
the eval-mode ``nn.BatchNorm1d`` after it folded in) becomes one :class:`TimeConv`, a single matrix
product over the stacked taps. A model folder holds ``config.json`` and ``model.safetensors``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from pydantic import BaseModel

from mvgen.classify.checkpoints import CONFIG_NAME, WEIGHTS_NAME
from mvgen.classify.cpu_classifier import BLAS_THREADS, blas_threads, fold_batch_norm, hann_window
from mvgen.errors import MvgenError
from mvgen.features import mel_filterbank

#: Frames per block of a model's inference (plus its receptive field on each side, see :func:`in_blocks`):
#: a 1-hour mix runs in blocks, so its temporaries stay a few tens of MB.
INFERENCE_BLOCK_FRAMES = 16384

Config = TypeVar("Config", bound=BaseModel)
Model = TypeVar("Model")


@dataclass(frozen=True)
class TimeConv:
    """A 1-D convolution over time (zero padding keeping the length) with eval-mode BatchNorm folded in:
    ``weight (kernel * C_in, C_out)``, rows tap-major; ``bias (C_out,)``; ``dilation`` frames between taps."""

    weight: np.ndarray
    bias: np.ndarray
    kernel: int
    dilation: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``x (T, C_in)`` -> ``(T, C_out)``, as one product over the stacked taps (im2col)."""
        half = self.dilation * (self.kernel // 2)
        t, c = x.shape
        padded = np.zeros((t + 2 * half, c), dtype=np.float32)
        padded[half : half + t] = x
        stacked = np.empty((t, self.kernel, c), dtype=np.float32)
        for k in range(self.kernel):
            stacked[:, k] = padded[k * self.dilation : k * self.dilation + t]
        return stacked.reshape(t, self.kernel * c) @ self.weight + self.bias


def time_conv(state: dict[str, np.ndarray], conv: str, norm: str | None, dilation: int) -> TimeConv:
    weight = state[f"{conv}.weight"].astype(np.float64)  # (C_out, C_in, kernel)
    bias = state[f"{conv}.bias"].astype(np.float64) if f"{conv}.bias" in state else np.zeros(weight.shape[0])
    if norm is not None:
        scale, shift = fold_batch_norm(state, norm)
        weight, bias = weight * scale[:, None, None], bias * scale + shift
    kernel = weight.shape[2]
    rows = weight.transpose(2, 1, 0).reshape(kernel * weight.shape[1], weight.shape[0])
    return TimeConv(np.ascontiguousarray(rows, dtype=np.float32), bias.astype(np.float32), kernel, dilation)


def load_frame_model(path: Path, config_type: type[Config], build: Callable[[Config, dict[str, np.ndarray]], Model], kind: str) -> Model:
    """``build(config, state)`` from the model folder ``path`` (``config.json`` read as ``config_type``,
    ``model.safetensors`` read with ``safetensors.numpy``). Raises :class:`MvgenError` naming the folder when
    it is not a ``kind`` model folder or its weights do not match its config."""
    from safetensors.numpy import load_file

    if not (path / CONFIG_NAME).is_file() or not (path / WEIGHTS_NAME).is_file():
        raise MvgenError(f"{path}: not a {kind} model folder (needs {CONFIG_NAME} and {WEIGHTS_NAME})")
    config = config_type.model_validate_json((path / CONFIG_NAME).read_text())
    try:
        return build(config, load_file(str(path / WEIGHTS_NAME)))
    except KeyError as exc:
        raise MvgenError(f"{path}: weights do not match the config (missing {exc.args[0]!r})") from None


def in_blocks(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, context: int) -> np.ndarray:
    """``fn`` (frames ``(T, C_in)`` -> ``(T, C_out)``, each output frame depending on at most ``context``
    input frames either side) over ``x`` in blocks of :data:`INFERENCE_BLOCK_FRAMES` frames, each with
    ``context`` frames of ``x`` around it: the same result as ``fn(x)``, in a fraction of its memory."""
    parts = []
    for a in range(0, len(x), INFERENCE_BLOCK_FRAMES):
        b = min(a + INFERENCE_BLOCK_FRAMES, len(x))
        lo, hi = max(a - context, 0), min(b + context, len(x))
        parts.append(fn(x[lo:hi])[a - lo : b - lo])
    return np.concatenate(parts) if parts else fn(x)


_LOADED: dict[Path, object] = {}


def bundled_frame_model(folder: Path, load: Callable[[Path], Model]) -> Model | None:
    """``load(folder)``, once per process; None when the folder has no weights (a partial checkout)."""
    if folder not in _LOADED and (folder / WEIGHTS_NAME).is_file():
        _LOADED[folder] = load(folder)
    return _LOADED.get(folder)


#: Added to the level-normalized mel power before the log: the spectrogram's floor, 80 dB under
#: the track's mean power per band, so silence and dither read alike.
LOG_FLOOR = 1e-8
#: The config fields that make a frame model's spectrogram: two models equal in them hear the same frames.
SPECTROGRAM_FIELDS = ("sr", "n_fft", "hop_length", "n_mels", "fmin_hz")


def log_mel(y: np.ndarray, config) -> np.ndarray:
    """Log-mel spectrogram ``(T, n_mels)`` float32 of mono ``y`` (shape ``(n,)``, at ``config.sr`` Hz; ``config``
    gives ``sr``, ``n_fft``, ``hop_length``, ``n_mels`` and ``fmin_hz``: :data:`SPECTROGRAM_FIELDS`) on the
    analysis frame grid of :func:`mvgen.features.frame_features` (``T = 1 + n // hop``, frame ``t``
    centred on sample ``t * hop``, zero-padded ends, periodic Hann window): the natural log of the mel
    power over the track's mean frame power (so the level of a master does not matter), plus
    :data:`LOG_FLOOR`."""
    if y.ndim != 1:
        raise ValueError(f"y must be mono with shape (n,), got shape {y.shape}")
    n_fft, hop = config.n_fft, config.hop_length
    n_frames = 1 + len(y) // hop
    window = hann_window(n_fft).astype(np.float32)
    fb = mel_filterbank(config.sr, n_fft, config.n_mels, config.fmin_hz, config.sr / 2)[0].T.astype(np.float32)  # (bins, mels)
    mel = np.empty((n_frames, config.n_mels), dtype=np.float32)
    block = 1024  # frames per FFT block: a few MB of spectra at a time, and no padded copy of the whole track
    for a in range(0, n_frames, block):
        b = min(a + block, n_frames)
        s0 = a * hop - n_fft // 2  # first sample of frame a (frames are centred, the ends zero-padded)
        segment = np.zeros((b - a - 1) * hop + n_fft, dtype=np.float32)
        lo, hi = max(s0, 0), min(s0 + len(segment), len(y))
        if hi > lo:
            segment[lo - s0 : hi - s0] = y[lo:hi]
        frames = np.lib.stride_tricks.sliding_window_view(segment, n_fft)[::hop]
        spectrum = np.fft.rfft(frames * window, axis=1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        mel[a:b] = power @ fb
    level = float(np.mean(mel.sum(axis=1), dtype=np.float64)) if n_frames else 0.0
    return np.log(mel / np.float32(max(level, 1e-12)) + np.float32(LOG_FLOOR))


class FrameModel(ABC):
    """What the frame models' inference shares: ``config`` (with :data:`SPECTROGRAM_FIELDS` and
    ``context_frames``) and ``_logits`` (log-mel frames ``(T, n_mels)`` -> logits ``(T, outputs)``), run in blocks."""

    config: BaseModel

    @abstractmethod
    def _logits(self, spec: np.ndarray) -> np.ndarray:
        """Logits ``(T, outputs)`` of log-mel frames ``(T, n_mels)`` in one pass (each model its own network)."""

    def logits(self, spec: np.ndarray) -> np.ndarray:
        """Logits ``(T, outputs)`` of a log-mel spectrogram ``(T, n_mels)`` (:func:`log_mel`), computed in blocks
        (:func:`in_blocks`)."""
        return in_blocks(self._logits, spec, self.config.context_frames)

    def spectrogram(self, y: np.ndarray) -> np.ndarray:
        """This model's :func:`log_mel` of mono ``y``."""
        return log_mel(np.ascontiguousarray(y, dtype=np.float32), self.config)

    def hears_like(self, other: "FrameModel") -> bool:
        """Whether ``other`` takes the same spectrogram (so one :meth:`spectrogram` serves both)."""
        return all(getattr(self.config, f) == getattr(other.config, f) for f in SPECTROGRAM_FIELDS)

    def probabilities(self, y: np.ndarray, *, spectrogram: np.ndarray | None = None) -> np.ndarray:
        """Per-frame probabilities ``(T, outputs)`` of mono ``y`` at ``config.sr`` Hz on the analysis frame grid
        (``T = 1 + len(y) // hop``); ``spectrogram``: its :meth:`spectrogram` when the caller has it (one that
        another model with the same :data:`SPECTROGRAM_FIELDS` computed). BLAS runs with :data:`BLAS_THREADS` threads."""
        with blas_threads(BLAS_THREADS):
            z = self.logits(self.spectrogram(y) if spectrogram is None else spectrogram)
        return sigmoid(z)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Probabilities of ``logits`` as float32 (clipped at +-30, where float32 saturates anyway)."""
    return (1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))).astype(np.float32)
