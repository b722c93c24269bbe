"""A small learned beat and downbeat tracker: per analysis frame, how likely a beat and a downbeat fall
there (the line of Böck, Davies & Krebs 2019, "Multi-task learning of tempo and beat": a temporal
convolutional network over a log-mel spectrogram, one sigmoid activation per frame and output).

The activations are decoded by the grid fit of :mod:`mvgen.analysis.beats` (constant-tempo spans,
sub-frame phase, the beatless refusal), which is what the videos need: a grid, not a list of peaks.

Inference is numpy (:class:`BeatTracker`, weights read with ``safetensors.numpy``, BatchNorm folded into
the convolutions, :mod:`mvgen.analysis.convolution`): the analysis never imports torch. The torch twin,
the training and the data are build-only code in ``models/build/beats.py``; tests/test_beat_model.py
checks that this inference computes what the torch twin computes.

The network: the log-mel frames ``(T, n_mels)`` (the drum model's spectrogram, :func:`~mvgen.analysis.frame_models.log_mel`)
through an input BatchNorm; a front convolution (3 frames) to ``channels``; then one residual block per
dilation (a ``kernel``-frame convolution, BatchNorm, ReLU, added to its input), the dilations doubling
so that each frame sees :attr:`BeatConfig.context_frames` frames (about 12 s) each side: enough for the
network to hear the bar and the tempo, not only the onset; then a 1x1 convolution to the 2 logits.

A model may hold several such networks (:attr:`BeatConfig.members`), trained alike from different seeds: the
tracker averages their probabilities. On 59 pieces the training seed alone moved beat F by 0.067 out of
fold, and the average of three seeds' networks scored above the mean of its members (the model card).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from mvgen.analysis.frame_models import FrameModel, bundled_frame_model, load_frame_model, sigmoid, time_conv
from mvgen.classify.cpu_classifier import fold_batch_norm
from mvgen.features import ANALYSIS_SR, HOP, N_FFT
from mvgen.paths import models_dir

#: The tracker's outputs, in order.
BEAT_OUTPUTS: tuple[str, ...] = ("beat", "downbeat")
#: Name of the bundled beat model's folder inside :func:`mvgen.paths.models_dir`.
DEFAULT_BEAT_MODEL = "mvgen-beats-v1"


class BeatConfig(BaseModel):
    """Everything needed to rebuild a beat tracker; saved as ``config.json`` beside the weights."""

    format_version: int = 1
    architecture: str = Field("tcn", description="log-mel -> front conv -> residual dilated convs over time -> per-frame sigmoids (mvgen.analysis.beat_model)")
    labels: list[str] = Field(default_factory=lambda: list(BEAT_OUTPUTS), description="the outputs, in order")
    sr: int = ANALYSIS_SR
    n_fft: int = N_FFT
    hop_length: int = HOP
    n_mels: int = 48
    fmin_hz: float = 30.0
    channels: int = Field(32, description="channels of every hidden convolution")
    front_kernel: int = Field(3, description="frames per tap window of the front convolution (odd)")
    kernel: int = Field(5, description="frames per tap window of each residual block (odd)")
    dilations: list[int] = Field(default_factory=lambda: [2**i for i in range(9)], description="dilation of each residual block")
    members: int = Field(1, ge=1, description="networks of this shape, trained from different seeds, whose probabilities are averaged (see member_key)")
    provenance: dict = Field(default_factory=dict, description="training data, command, metrics")

    @property
    def hop_s(self) -> float:
        return self.hop_length / self.sr

    @property
    def context_frames(self) -> int:
        """Frames of context each side of a frame that its activation sees."""
        return self.front_kernel // 2 + sum(d * (self.kernel // 2) for d in self.dilations)


@dataclass(frozen=True)
class BeatActivations:
    """Per-frame beat and downbeat probabilities, each shape ``(T,)`` in [0, 1], frames ``hop_s`` s apart
    (frame ``t`` centred on ``t * hop_s``)."""

    beat: np.ndarray
    downbeat: np.ndarray
    hop_s: float


def member_key(member: int, name: str, members: int) -> str:
    """The weights file's key of tensor ``name`` (a torch twin's state-dict name) of network ``member`` in a
    model of ``members`` networks: the name itself for a single network, ``member<i>.<name>`` otherwise."""
    return name if members == 1 else f"member{member}.{name}"


class _Network:
    """One network of a beat model, BatchNorm folded in: log-mel frames ``(T, n_mels)`` -> logits ``(T, 2)``."""

    def __init__(self, config: BeatConfig, state: dict[str, np.ndarray]):
        self.input_scale, self.input_shift = (a.astype(np.float32) for a in fold_batch_norm(state, "input_norm"))
        self.front = time_conv(state, "front.0", "front.1", 1)
        self.blocks = [time_conv(state, f"blocks.{i}.0", f"blocks.{i}.1", d) for i, d in enumerate(config.dilations)]
        self.head = time_conv(state, "head", None, 1)

    def __call__(self, spec: np.ndarray) -> np.ndarray:
        h = np.maximum(self.front(spec * self.input_scale + self.input_shift), 0.0)
        for block in self.blocks:
            h = h + np.maximum(block(h), 0.0)
        return self.head(h)


def member_state(state: dict[str, np.ndarray], member: int, members: int) -> dict[str, np.ndarray]:
    """The tensors of network ``member`` of a model of ``members`` networks, by their torch names (:func:`member_key`)."""
    if members == 1:
        return state
    prefix = member_key(member, "", members)
    return {name[len(prefix) :]: value for name, value in state.items() if name.startswith(prefix)}


class BeatTracker(FrameModel):
    """The beat model's inference in numpy; build with :func:`load_beat_tracker`."""

    def __init__(self, config: BeatConfig, state: dict[str, np.ndarray]):
        self.config = config
        self.networks = [_Network(config, member_state(state, i, config.members)) for i in range(config.members)]

    def _logits(self, spec: np.ndarray) -> np.ndarray:
        """The log-odds of the members' mean probability (one member: its logits)."""
        if len(self.networks) == 1:
            return self.networks[0](spec)
        mean = np.mean([sigmoid(network(spec)) for network in self.networks], axis=0, dtype=np.float64)
        mean = np.clip(mean, 1e-12, 1.0 - 1e-12)
        return (np.log(mean) - np.log1p(-mean)).astype(np.float32)

    def activations(self, y: np.ndarray, *, spectrogram: np.ndarray | None = None) -> BeatActivations:
        """Beat and downbeat activations of mono ``y`` (shape ``(n,)``, at ``config.sr`` Hz) on the analysis
        frame grid (``T = 1 + len(y) // hop``); ``spectrogram``: its log-mel when the caller has it (the drum
        model's, :meth:`~mvgen.analysis.frame_models.FrameModel.probabilities`)."""
        p = self.probabilities(y, spectrogram=spectrogram)
        return BeatActivations(beat=p[:, 0], downbeat=p[:, 1], hop_s=self.config.hop_s)


def beat_model_dir() -> Path:
    """The bundled beat model's folder (it may be missing in a partial checkout)."""
    return models_dir() / DEFAULT_BEAT_MODEL


def load_beat_tracker(folder: str | os.PathLike | None = None) -> BeatTracker:
    """Load a beat model folder (``config.json`` + ``model.safetensors``; default: the bundled one).

    Raises :class:`MvgenError` naming the folder when it is missing or does not match its config."""
    return load_frame_model(Path(folder) if folder is not None else beat_model_dir(), BeatConfig, BeatTracker, "beat")


def bundled_beat_tracker() -> BeatTracker | None:
    """The bundled beat model, loaded once per process; None when its folder is absent."""
    return bundled_frame_model(beat_model_dir(), load_beat_tracker)
