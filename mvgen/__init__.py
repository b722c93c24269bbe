"""mvgen: turn an electronic dance music track into a synced music video.

The library API, in the manner of ``whisper.load_model`` / ``whisper.transcribe``::

    import mvgen

    analysis = mvgen.analyze("track.wav")                  # an mvgen.analysis.Analysis (cached)
    video = mvgen.render("track.wav", "clip.mp4", start_s=30, end_s=40, size=720)
    styles = mvgen.load_styles("my-styles/")              # dict of class key -> Style
    model = mvgen.load_classifier("models/mine", device="cpu")

Importing ``mvgen`` is cheap (no torch, numpy or pydantic): every entry point is imported on first
use. Options are keyword-only; bad input raises :class:`MvgenError`, one line naming the path and
the problem. ``mvgen.render`` is a plain function (:func:`mvgen.pipeline.render`); the pipeline
lives in the module :mod:`mvgen.pipeline` and the settings in :mod:`mvgen.settings`.

The package by stage (imports only go down this list; ``tests/test_layout.py`` checks it):

- ground: ``errors``, ``paths``, ``fileio``, ``genres``, ``features``, ``clock``, ``interrupts``, ``_version``
- :mod:`mvgen.media`: ffmpeg in and out, and the frame format the renderers draw
- :mod:`mvgen.synth`: synthetic music with ground truth
- :mod:`mvgen.classify`: genre-model inference
- :mod:`mvgen.analysis`: audio -> :class:`~mvgen.analysis.Analysis`
- :mod:`mvgen.training`: training and evaluation of genre models
- :mod:`mvgen.style`: styles, and ``Analysis`` -> per-frame :class:`~mvgen.style.framespec.FrameSpec`
- :mod:`mvgen.renderers`: ``FrameSpec`` -> pixels
- :mod:`mvgen.delivery`: platform presets, loudness, deliverables and their checks
- :mod:`mvgen.brand`: text, logo, lyrics, end card
- :mod:`mvgen.report`: views of an ``Analysis`` (timeline, preview page)
- entry points: ``settings``, ``workspace``, ``clips``, ``pipeline``, ``batch``, ``doctor``, ``cli``
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mvgen._version import __version__
from mvgen.errors import MvgenError

if TYPE_CHECKING:  # pragma: no cover
    from mvgen.analysis import Analysis, analyze
    from mvgen.classify.classifier import load_classifier
    from mvgen.pipeline import render
    from mvgen.settings import RenderSettings
    from mvgen.style.styles import load_styles

#: Lazily imported names: attribute -> (module, name in it).
_LAZY = {
    "analyze": ("mvgen.analysis", "analyze"),
    "Analysis": ("mvgen.analysis", "Analysis"),
    "render": ("mvgen.pipeline", "render"),
    "RenderSettings": ("mvgen.settings", "RenderSettings"),
    "load_classifier": ("mvgen.classify.classifier", "load_classifier"),
    "load_styles": ("mvgen.style.styles", "load_styles"),
}

__all__ = ["MvgenError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mvgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
