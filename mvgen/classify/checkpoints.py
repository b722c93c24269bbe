"""Classifier checkpoints: where they are (the bundled default, a local folder, or a Hugging Face Hub
id) and their ``config.json`` (:class:`ClassifierConfig`).

Kept free of torch so that resolving a checkpoint (and the analysis cache key) costs no imports, and
the numpy inference (:mod:`mvgen.classify.cpu_classifier`) reads the same config as the torch model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from mvgen.errors import MvgenError
from mvgen.genres import GENRES, OUT_OF_SCOPE, check_labels
from mvgen.paths import models_dir

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: Name of the bundled default classifier folder inside :func:`mvgen.paths.models_dir`.
DEFAULT_MODEL = "mvgen-synth-v2"

# The spectral front end's fixed settings (format_version 1: not in config.json), shared by the torch
# model (mvgen.classify.classifier.FrontEnd) and its numpy twin (mvgen.classify.cpu_classifier).
#: Lowest mel band edge (Hz); the highest is the Nyquist frequency.
MEL_FMIN_HZ = 30.0
#: Lowest CQT bin (Hz, C1) and CQT bins per octave.
CQT_FMIN_HZ = 32.7
CQT_BINS_PER_OCTAVE = 12
#: Each frame's log level is taken relative to the mean over a centred neighbourhood this long (s).
LEVEL_S = 6.0
#: Added to the power before the log (silence stays finite), and the divisor of the relative log
#: level (natural-log units; brings it to about unit range).
LOG_FLOOR = 1e-8
LOG_SCALE = 4.0


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

    @property
    def level_frames(self) -> int:
        """Spectrogram frames of the front end's relative-level neighbourhood (:data:`LEVEL_S`, odd: centred)."""
        return 2 * (int(LEVEL_S * self.sr / self.hop_length) // 2) + 1


def load_config(folder: Path) -> ClassifierConfig:
    """The :class:`ClassifierConfig` of a checkpoint folder; :class:`MvgenError` naming the folder when it is invalid."""
    try:
        return ClassifierConfig.model_validate_json((folder / CONFIG_NAME).read_text())
    except ValueError as exc:
        raise MvgenError(f"invalid {CONFIG_NAME}: {str(exc).splitlines()[0]}", folder) from None


def default_checkpoint() -> Path | None:
    """The bundled classifier folder, or None when it is not installed."""
    folder = models_dir() / DEFAULT_MODEL
    return folder if (folder / WEIGHTS_NAME).is_file() else None


def resolve_checkpoint(id_or_path: str | os.PathLike) -> Path:
    """A local checkpoint folder, or a Hub repo id fetched through the Hub cache (offline mode honoured)."""
    path = Path(id_or_path).expanduser()
    if path.exists():
        if not (path / WEIGHTS_NAME).is_file() or not (path / CONFIG_NAME).is_file():
            raise MvgenError(f"not a classifier checkpoint: needs {CONFIG_NAME} and {WEIGHTS_NAME}", path)
        return path
    repo_id = str(id_or_path)
    if repo_id.count("/") != 1:
        raise MvgenError("no such classifier folder (and not a Hub id like 'owner/name')", repo_id)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, allow_patterns=[CONFIG_NAME, WEIGHTS_NAME]))
    except Exception as exc:
        raise MvgenError(
            f"classifier not available ({exc.__class__.__name__}); download it with `huggingface-cli download {repo_id}` "
            "where there is network, or pass a local folder",
            repo_id,
        ) from None


def classifier_labels(classifier: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The classes of a classifier (folder or Hub id; None: the bundled one), read from its
    ``config.json`` without loading torch. Without a classifier (none bundled) the default taxonomy
    :data:`~mvgen.genres.GENRES`."""
    import json

    if isinstance(classifier, bool):
        raise MvgenError(f"classifier={classifier!r}: a classifier is a folder or Hub id, or None for the bundled one")
    folder = default_checkpoint() if classifier is None else resolve_checkpoint(classifier)
    if folder is None:
        return GENRES
    try:
        labels = json.loads((folder / CONFIG_NAME).read_text()).get("labels", list(GENRES))
    except (OSError, ValueError, AttributeError) as exc:
        raise MvgenError(f"cannot read the classes from {CONFIG_NAME} ({exc.__class__.__name__})", folder) from None
    return tuple(labels)
