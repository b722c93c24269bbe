"""The procedural renderer for a frame size, with its drawing detail and compilation resolved for
the device; one per size and mode is kept, so a batch reuses a compiled graph."""

from __future__ import annotations

import functools

#: Drawn pixels (frames x pixels) above which compiling the CPU renderer (about 40 s, cached on disk
#: afterwards) beats drawing eagerly: about 10 s of video at 1280x720 and detail 0.5.
COMPILE_MIN_PIXELS = 300 * 640 * 360


def draw_threads() -> int:
    """CPU threads a render draws with: half of torch's (at least one). The encoder (x264, its own
    process) works beside the drawing and takes the other cores; drawing on all of them made the two
    fight, and torch's threads spent the time they waited for each other spinning: on 2 busy cores
    a 720p frame (detail 0.5, compiled) took 48 ms of CPU to draw with 2 threads, 26 ms with 1, and a
    render's CPU time fell by a fifth (benchmarks/bench_render.py)."""
    import torch

    return max(1, torch.get_num_threads() // 2)


def procedural_renderer(width: int, height: int, n_frames: int, *, detail: float | None = None, compile: bool | None = None,
                        beside_encoder: bool = True):
    """The procedural renderer of ``width`` x ``height`` frames for a video of ``n_frames``.

    ``detail`` (fraction of the size drawn before upscaling): None gives 1 on a GPU, 0.5 on a CPU.
    ``compile`` (``torch.compile``): None compiles on a CPU when the video has enough pixels to
    repay the compilation (:data:`COMPILE_MIN_PIXELS`).
    ``beside_encoder``: the frames are encoded as they are drawn (a render); on a CPU they are then
    drawn with :func:`draw_threads`, else with all of torch's threads.
    """
    import torch

    cuda = torch.cuda.is_available()
    if detail is None:
        detail = 1.0 if cuda else 0.5
    if compile is None:
        compile = not cuda and n_frames * width * height * detail**2 >= COMPILE_MIN_PIXELS
    return _cached_renderer(width, height, detail, compile, draw_threads() if beside_encoder and not cuda else None)


@functools.lru_cache(maxsize=4)
def _cached_renderer(width: int, height: int, detail: float, compile: bool, threads: int | None):
    # one renderer per size and mode, so batch renders reuse a compiled graph
    from mvgen.renderers.procedural import ProceduralRenderer

    return ProceduralRenderer(width, height, detail=detail, compile=compile, threads=threads)
