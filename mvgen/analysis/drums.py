"""A small learned drum-onset detector: per analysis frame, how likely a kick, a snare (or clap) and a
hi-hat start there (automatic drum transcription, the madmom / ADTLib way: a convolutional network
over a log-mel spectrogram, one sigmoid activation per instrument and frame).

Inference is numpy (:class:`DrumDetector`, weights read with ``safetensors.numpy``, BatchNorm folded
into the convolutions as :mod:`mvgen.classify.cpu_classifier` does): the analysis never imports torch.
The network's torch twin (``torch_model``), its training (``train``) and the training targets
(``event_targets``) are build-only code in ``models/build/drums.py``, outside the installed package;
tests/test_drums.py checks that this inference computes what the torch twin computes.

What counts as which (the classes of :data:`DRUM_EVENTS`, the synth's :class:`~mvgen.synth.SynthEvents`
kinds): kick = kicks; snare = the backbeat clap / snare / snap / rim sound, its build-up rolls and
off-grid extra hits; hats = closed and open hi-hats. Percussion grooves (rim shots of a groove,
congas, shakers) and crashes are none of them: the model is trained to stay still on them.

The network: the log-mel frames ``(T, n_mels)`` through an input BatchNorm, then 1-D convolutions
along time with the mel bands as channels (each ``kernel`` frames wide, dilated per layer: a context
of :attr:`DrumConfig.context_frames` frames each side), BatchNorm and ReLU, and a 1x1 convolution to
the 3 logits. Time-only convolutions keep the cost to a few matrix products per track (spectrogram
and network: about 0.14 s CPU for 3 minutes, benchmarks/bench_features.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from mvgen.analysis.frame_models import LOG_FLOOR, FrameModel, bundled_frame_model, load_frame_model, log_mel, time_conv  # noqa: F401 - LOG_FLOOR, log_mel re-exported: the drum model's spectrogram
from mvgen.classify.cpu_classifier import fold_batch_norm
from mvgen.features import ANALYSIS_SR, HOP, N_FFT
from mvgen.paths import models_dir

#: The detector's outputs, in order.
DRUMS: tuple[str, ...] = ("kick", "snare", "hats")
#: Which :class:`~mvgen.synth.SynthEvents` hit kinds each output stands for (see the module docstring).
DRUM_EVENTS: dict[str, tuple[str, ...]] = {
    "kick": ("kicks",),
    "snare": ("claps", "snare_rolls", "extra_snares"),
    "hats": ("hats_closed", "hats_open"),
}
#: Name of the bundled drum model's folder inside :func:`mvgen.paths.models_dir`.
DEFAULT_DRUM_MODEL = "mvgen-drums-v1"


class DrumConfig(BaseModel):
    """Everything needed to rebuild a drum detector; saved as ``config.json`` beside the weights."""

    format_version: int = 1
    architecture: str = Field("tconv", description="log-mel -> 1-D convolutions over time -> per-frame sigmoids (mvgen.analysis.drums)")
    labels: list[str] = Field(default_factory=lambda: list(DRUMS), description="the outputs, in order")
    sr: int = ANALYSIS_SR
    n_fft: int = N_FFT
    hop_length: int = HOP
    n_mels: int = 48
    fmin_hz: float = 30.0
    channels: list[int] = Field(default_factory=lambda: [64, 64], description="channels of the hidden convolutions")
    kernel: int = Field(5, description="frames per convolution tap window (odd)")
    dilations: list[int] = Field(default_factory=lambda: [1, 2], description="dilation of each hidden convolution")
    provenance: dict = Field(default_factory=dict, description="training data, command, metrics")

    @property
    def context_frames(self) -> int:
        """Frames of context each side of a frame that its activation sees."""
        return sum(d * (self.kernel // 2) for d in self.dilations)


class DrumDetector(FrameModel):
    """The drum model's inference in numpy; build with :func:`load_drum_detector`."""

    def __init__(self, config: DrumConfig, state: dict[str, np.ndarray]):
        self.config = config
        self.input_scale, self.input_shift = (a.astype(np.float32) for a in fold_batch_norm(state, "input_norm"))
        n = len(config.channels)
        self.layers = [time_conv(state, f"body.{3 * i}", f"body.{3 * i + 1}", d) for i, d in enumerate(config.dilations)]
        self.head = time_conv(state, f"body.{3 * n}", None, 1)

    def _logits(self, spec: np.ndarray) -> np.ndarray:
        h = spec * self.input_scale + self.input_shift
        for layer in self.layers:
            h = np.maximum(layer(h), 0.0)
        return self.head(h)

    def activations(self, y: np.ndarray, *, spectrogram: np.ndarray | None = None) -> np.ndarray:
        """Per-frame onset probabilities ``(T, 3)`` (:data:`DRUMS` order) of mono ``y`` at ``config.sr`` Hz,
        on the analysis frame grid (``T = 1 + len(y) // hop``); ``spectrogram``: its :func:`log_mel`, when
        the caller has it (:meth:`~mvgen.analysis.frame_models.FrameModel.probabilities`)."""
        return self.probabilities(y, spectrogram=spectrogram)


def drum_model_dir() -> Path:
    """The bundled drum model's folder (it may be missing in a partial checkout)."""
    return models_dir() / DEFAULT_DRUM_MODEL


def load_drum_detector(folder: str | os.PathLike | None = None) -> DrumDetector:
    """Load a drum model folder (``config.json`` + ``model.safetensors``; default: the bundled one).

    Raises :class:`MvgenError` naming the folder when it is missing or does not match its config."""
    return load_frame_model(Path(folder) if folder is not None else drum_model_dir(), DrumConfig, DrumDetector, "drum")


def bundled_drum_detector() -> DrumDetector | None:
    """The bundled drum model, loaded once per process; None when its folder is absent."""
    return bundled_frame_model(drum_model_dir(), load_drum_detector)
