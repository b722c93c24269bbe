"""Where classifier checkpoints are: the bundled default, a local folder, or a Hugging Face Hub id.

Kept free of torch so that resolving a checkpoint (and the analysis cache key) costs no imports.
"""

from __future__ import annotations

import os
from pathlib import Path

from mvgen.errors import MvgenError
from mvgen.paths import models_dir

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: Name of the bundled default classifier folder inside :func:`mvgen.paths.models_dir`.
DEFAULT_MODEL = "mvgen-synth-v2"


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

    from mvgen.genres import GENRES

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
