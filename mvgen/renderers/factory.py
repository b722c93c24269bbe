"""The procedural renderer for a frame size, with its drawing detail and compilation resolved for
the device; one per size and mode is kept, so a batch reuses a compiled graph."""

from __future__ import annotations

import functools

#: Drawn pixels (frames x pixels) above which compiling the CPU renderer (about 40 s, cached on disk
#: afterwards) beats drawing eagerly: about 10 s of video at 1280x720 and detail 0.5.
COMPILE_MIN_PIXELS = 300 * 640 * 360


def procedural_renderer(width: int, height: int, n_frames: int, *, detail: float | None = None, compile: bool | None = None):
    """The procedural renderer of ``width`` x ``height`` frames for a video of ``n_frames``.

    ``detail`` (fraction of the size drawn before upscaling): None gives 1 on a GPU, 0.5 on a CPU.
    ``compile`` (``torch.compile``): None compiles on a CPU when the video has enough pixels to
    repay the compilation (:data:`COMPILE_MIN_PIXELS`).
    """
    import torch

    cuda = torch.cuda.is_available()
    if detail is None:
        detail = 1.0 if cuda else 0.5
    if compile is None:
        compile = not cuda and n_frames * width * height * detail**2 >= COMPILE_MIN_PIXELS
    return _cached_renderer(width, height, detail, compile)


@functools.lru_cache(maxsize=4)
def _cached_renderer(width: int, height: int, detail: float, compile: bool):
    # one renderer per size and mode, so batch renders reuse a compiled graph
    from mvgen.renderers.procedural import ProceduralRenderer

    return ProceduralRenderer(width, height, detail=detail, compile=compile)
