"""Where mvgen finds its bundled files and keeps its cache."""

from __future__ import annotations

import os
from pathlib import Path

#: The source checkout's root: its models/ and styles/ are used first, then the copies installed
#: inside the package (see pyproject.toml's package-dir).
_REPO_ROOT = Path(__file__).resolve().parent.parent
_PACKAGE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """Cache folder: ``$MVGEN_CACHE_DIR``, else the platform's user cache folder (``~/.cache/mvgen``)."""
    env = os.environ.get("MVGEN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mvgen"))


def models_dir() -> Path:
    """Bundled classifier weights: ``$MVGEN_MODELS_DIR``, else ``models/`` of a source checkout, else
    the copy installed inside the package (``mvgen/_models``)."""
    env = os.environ.get("MVGEN_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    checkout = _REPO_ROOT / "models"
    return checkout if checkout.is_dir() else _PACKAGE / "_models"


def default_styles_dir() -> Path:
    """The default styles: ``$MVGEN_STYLES_DIR``, else ``styles/`` of a source checkout, else the
    copy installed inside the package (``mvgen/_styles``)."""
    env = os.environ.get("MVGEN_STYLES_DIR")
    if env:
        return Path(env).expanduser()
    checkout = _REPO_ROOT / "styles"
    return checkout if checkout.is_dir() else _PACKAGE / "_styles"
