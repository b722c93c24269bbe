"""mvgen: turn an electronic dance music track into a synced music video.

The library API, in the manner of ``whisper.load_model`` / ``demucs.api.Separator``::

    import mvgen

    analysis = mvgen.analyze("track.wav")                  # an mvgen.analysis.Analysis (cached)
    video = mvgen.render("track.wav", "clip.mp4", start_s=30, end_s=40, size=720)
    styles = mvgen.load_styles("my-styles/")              # dict of class key -> Style
    model = mvgen.load_classifier("models/mine", device="cpu")

Importing ``mvgen`` is cheap (no torch, numpy or pydantic): every entry point is imported on first
use. Options are keyword-only; bad input raises :class:`MvgenError`, one line naming the path and
the problem.

``mvgen.render`` is both the function above and the submodule ``mvgen.render`` (``from mvgen.render
import RenderSettings``, ``import mvgen.render as r``): Python binds a submodule to the package
attribute of the same name, and ``import mvgen.render as r`` reads that attribute, so the one
object is the real module, made callable (calling it runs :func:`render`).
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import types
from typing import TYPE_CHECKING, Any

from mvgen.errors import MvgenError

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from pathlib import Path

    from mvgen.analysis import Analysis, analyze
    from mvgen.classifier import load_classifier
    from mvgen.render import RenderSettings
    from mvgen.styles import load_styles

#: Lazily imported names: attribute -> (module, name in it).
_LAZY = {
    "analyze": ("mvgen.analysis", "analyze"),
    "Analysis": ("mvgen.analysis", "Analysis"),
    "load_classifier": ("mvgen.classifier", "load_classifier"),
    "load_styles": ("mvgen.styles", "load_styles"),
    "RenderSettings": ("mvgen.render", "RenderSettings"),
}

__all__ = ["MvgenError", "__version__", "render", *_LAZY]


def _render(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    settings: RenderSettings | None = None,
    resume: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    analysis: Analysis | None = None,
    **options: Any,
) -> Path:
    """Render the music video of the track at ``path`` into ``out`` (an .mp4; default beside the
    track) and return the path of the finished file.

    ``options`` are fields of :class:`mvgen.render.RenderSettings`, applied over ``settings`` (or
    the defaults): ``size`` (short side, pixels), ``aspect`` ("16:9", "9:16", "1:1", "4:5"), ``fps``,
    ``format`` (a platform preset of :mod:`mvgen.formats`: it sets aspect and fps, and size unless given),
    ``start_s`` / ``end_s`` (an excerpt, seconds), ``clip_s`` (the strongest clip of at most that
    many seconds, whole bars around the first drop; ``teaser_s`` is its old name), ``loop`` (a
    seamless loop of the first drop's bars, no audio), ``renderer`` ("procedural" or "diffusion"), ``diffusion``, ``styles``
    (file or folder), ``classifier`` (folder or Hub id), ``seed``, ``detail``, ``compile``,
    ``chunk_frames``, ``batch_frames``; they are checked by ``RenderSettings`` and a bad one is a
    :class:`MvgenError`. ``resume=True`` continues an interrupted render of the same settings;
    ``on_progress(done_frames, total_frames)`` follows the frames, ``on_status(text)`` the slow
    steps; ``analysis``: the track's :class:`~mvgen.analysis.Analysis` when the caller has it
    (else it is computed, cached). Wraps :func:`mvgen.render.render_video`.
    """
    from pydantic import ValidationError

    from mvgen.render import RenderSettings, render_video

    unknown = sorted(set(options) - set(RenderSettings.model_fields))
    if unknown:
        raise MvgenError(f"unknown render option {unknown[0]!r} (options: {', '.join(RenderSettings.model_fields)})", path)
    for name in ("styles", "classifier"):
        if isinstance(options.get(name), os.PathLike):
            options[name] = os.fspath(options[name])
    try:
        if settings is None:
            settings = RenderSettings(**options)
        elif options:
            settings = RenderSettings.model_validate({**settings.model_dump(), **options})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "settings"
        raise MvgenError(f"render option {name}: {first['msg']}", path) from None
    return render_video(path, out, settings, resume=resume, on_progress=on_progress, analysis=analysis, on_status=on_status)


class _RenderModule(types.ModuleType):
    """The submodule ``mvgen.render``, callable as :func:`mvgen.render` (see the package docstring)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Path:
        return _render(*args, **kwargs)


def _callable_render_module(module: types.ModuleType) -> types.ModuleType:
    if not isinstance(module, _RenderModule):
        module.__class__ = _RenderModule
        module.__signature__ = inspect.signature(_render)
    return module


class _Package(types.ModuleType):
    """The ``mvgen`` package: the import system's binding of the submodule ``render`` makes it callable."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "render" and isinstance(value, types.ModuleType):
            value = _callable_render_module(value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
if "mvgen.render" in sys.modules:  # reloaded after the submodule
    render = _callable_render_module(sys.modules["mvgen.render"])


def __getattr__(name: str) -> Any:
    if name == "render":
        return _callable_render_module(importlib.import_module("mvgen.render"))
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mvgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
