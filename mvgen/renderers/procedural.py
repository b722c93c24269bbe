"""The built-in procedural renderer: draws :class:`~mvgen.style.framespec.FrameSpec` batches with torch.

Every frame is a pure function of its spec (no state, no global RNG), so any batch split, a resumed
render and a fresh one give the same pixels. Frames are evaluated on a coordinate grid normalized by
the *short* side of the frame (the central square shows the same composition at 16:9, 9:16 and 1:1,
re-framed, never squashed), after the camera (zoom, rotation, drift, shake) has moved it.

Motion never multiplies ``time_s`` by ``speed``: ``speed`` is blended from the styles and drifts over
a song, and ``time_s * speed`` would then race or run backwards. Instead periodic patterns advance a
whole period per beat (eased, so they lurch with the kick) and ``speed`` sets their spatial period
(so the apparent velocity follows it), and free motion runs on ``time_s`` at a fixed rate.

Motifs (:data:`~mvgen.style.framespec.MOTIFS`): tunnel (rings rushing out of a depth), lasers (two fans of
sharp beams sweeping with the bar), particles (a hash-seeded star field in log-polar cells flying
towards the viewer), grid (a perspective floor and ceiling scrolling with the beat), rings (rings
launched on every beat) and waves (flowing aurora ribbons). They are coloured through a smooth
cyclic gradient of the palette, summed by weight, then glow, beat pulse, drop burst, saturation,
vignette, filmic tone mapping and flash are applied. A motif that no frame of a batch draws brighter
than :data:`MOTIF_FAINT_WEIGHT` is drawn at half the drawing size and upscaled (a faint layer's fine
detail is not seen; a quarter of the pixels is a quarter of its cost).

Modulation (the mapper's, from the styles' ``modulate``): ``hue_shift_deg`` turns the palette and the
background (:func:`mvgen.media.pixels.hue_rotation`), ``brightness`` scales the light before tone mapping, and per motif
``motif_boost`` is added to its drawn weight (after the normalization of ``motif_weights``, so a
boost shows even on the style's main motif) and ``motif_speed`` / ``motif_density`` to the speed and
density that motif draws with.

Loops (``FrameSpec.loop_s`` > 0, see :mod:`mvgen.style.mapper`): every term that runs freely with
``time_s`` (the tunnel's segments and colour drift, the lasers' wander, the particles' flight and
twinkle, the rings' wobble, the waves' flow) is evaluated by :func:`_clock` as a function of
``loop_phase`` with a whole number of cycles per loop (:func:`mvgen.style.framespec.loop_turns`), and the
particle cells are hashed modulo the cells that fly past in one loop, so the frame at phase 1 is
the frame at phase 0. The beat- and bar-driven motion is periodic already (a loop is whole bars).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from mvgen.media.pixels import encode_pixels, hue_rotation, resize_planes
from mvgen.renderers.base import FrameRenderer
from mvgen.style.framespec import MOTIFS, FrameSpec, loop_turns

_LUT = 1024  # entries in each frame's palette gradient
_MASK = 0xFFFFFFFF
_TAU = 2.0 * math.pi
#: Frames are drawn in slices of at most this many drawn pixels. On a CPU a slice is kept small
#: enough that its planes (the light, the camera's coordinates, a layer's temporaries: about ten
#: floats a pixel) stay in a 32 MB cache between the pieces of the pipeline, each of which reads
#: and writes them: 2 frames at 640x360 (detail 0.5 of 720p) drew bench_render's track 6 % faster
#: than 8 frames, whose 50 MB went out to memory between pieces, and 4 frames 25 % slower than 2. A
#: GPU takes larger slices.
_SLICE_PIXELS = {"cpu": 640 * 360 * 2, "cuda": 1280 * 720 * 4}
_PARTICLE_RATE = 3.0  # particle cells per second (fixed, see the module docstring)
_ZOOM_MIN, _SPEED_MIN, _SPEED_MAX = 0.05, 0.03, 4.0  # clamps of the spec values
#: Largest drawn weight of a motif after its ``motif_boost`` (normalized weights are at most 1): a
#: boosted motif may outshine the mix, but not blow the whole frame out.
MOTIF_WEIGHT_MAX = 2.0
#: Drawn weight (after normalization and boost) under which a motif is left out of a batch, when no
#: frame of the batch draws it brighter. Blended styles give every motif a trace weight (from 0.001
#: on the demo), which costs as much to draw as the main motif. On the demo's frames this threshold
#: changes no code value by more than 2 (min PSNR 58.6 dB against every layer; 0.005 gave 7, 0.02
#: 22 and 40.4 dB). The drop burst's layer has the same threshold (then: 3, min PSNR 55.9 dB).
MOTIF_SKIP_WEIGHT = 0.002
#: Drawn weight under which a motif is drawn at half the drawing size (a quarter of the pixels) and
#: upscaled, when no frame of the batch draws it brighter. Blends of styles keep secondary motifs
#: at weights of 0.01-0.1 (on the demo, the tunnel is under 0.1 on 48 % of the frames, the waves
#: on 60 %): behind the main motif such a faint layer's finer detail is not seen, and a quarter of
#: the pixels costs a quarter of the drawing. See ``benchmarks/quality_render.py`` for its PSNR.
MOTIF_FAINT_WEIGHT = 0.1


@dataclasses.dataclass(frozen=True)
class DrawingGrid:
    """The pixels a layer is drawn on: ``w`` x ``h``, ``scale`` pixels per world unit (the short side
    is one unit), and the world coordinates of the pixel centres ``x`` (1, 1, w) and ``y`` (1, h, 1)."""

    w: int
    h: int
    scale: float
    x: torch.Tensor
    y: torch.Tensor

    @classmethod
    def of_size(cls, w: int, h: int, device: torch.device) -> DrawingGrid:
        """The grid of ``w`` x ``h`` pixels centred on the world's origin."""
        scale = float(min(w, h))
        xs = (torch.arange(w, dtype=torch.float32, device=device) + 0.5 - w / 2) / scale
        ys = (torch.arange(h, dtype=torch.float32, device=device) + 0.5 - h / 2) / scale
        return cls(w, h, scale, xs.view(1, 1, -1), ys.view(1, -1, 1))


def _turned(rgb: torch.Tensor, deg: torch.Tensor) -> torch.Tensor:
    """sRGB colours ``rgb`` (B, ..., 3) with the hue of row ``b`` turned by ``deg[b]``, clamped to [0, 1];
    rows with ``deg`` 0 are returned untouched (bit for bit), and nothing is computed when all are 0."""
    turn = deg != 0
    if not bool(turn.any()):
        return rgb
    rot = hue_rotation(deg).view(len(deg), *([1] * (rgb.dim() - 2)), 3, 3)
    turned = (rot @ rgb.unsqueeze(-1)).squeeze(-1).clamp(0.0, 1.0)
    return torch.where(turn.view(-1, *([1] * (rgb.dim() - 1))), turned, rgb)


def _fract(x: torch.Tensor) -> torch.Tensor:
    return x - torch.floor(x)


def _smoothstep(e0: float, e1: float, x: torch.Tensor) -> torch.Tensor:
    t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


_BLUR_TAPS = [math.exp(-(i * i) / 8.0) for i in range(-6, 7)]  # Gaussian, sigma 2
_BLUR_TAPS = [t / sum(_BLUR_TAPS) for t in _BLUR_TAPS]


def _blur_last(x: torch.Tensor) -> torch.Tensor:
    """Blur (N, a, n) along its last axis. A sum of shifted slices: compiled, it fuses into one
    loop, several times faster than pooling or convolution kernels on a CPU."""
    n, r = x.shape[-1], len(_BLUR_TAPS) // 2
    padded = F.pad(x, (r, r), mode="replicate")
    return sum(k * padded[..., i : i + n] for i, k in enumerate(_BLUR_TAPS))


def _particle_cells(speed):
    """Particle cells per unit of log radius: fewer when faster, so the apparent velocity follows ``speed``."""
    return _PARTICLE_RATE / (3.3 * speed)


def _clock(p: dict[str, torch.Tensor], rate, period: float, loop: bool) -> torch.Tensor:
    """The phase of a free-running motion at ``rate`` units per second whose pattern repeats every
    ``period`` units (``_TAU`` for an angle in radians, 1 for a palette position or a cell count):
    ``time_s * rate``, or on loop frames (``loop``: some frame of the batch loops, a host-side
    flag that spares the other renders the work) :func:`~mvgen.style.framespec.loop_turns` of the loop
    phase times ``period``, so it is the same at the loop's start and end. ``rate``: a float or a
    tensor broadcasting with ``p["time_s"]``."""
    free = p["time_s"] * rate
    if not loop:
        return free
    loop_s = p["loop_s"]
    looped = period * loop_turns(rate / period, p["loop_phase"], loop_s.clamp(min=1e-6), sin=torch.sin, round=torch.round, where=torch.where)
    return torch.where(loop_s > 0, looped, free)


def _own_code(fn, name: str):
    """``fn`` called through a function with a code object of its own, named after ``name``.

    Dynamo keeps its compiled graphs on the code object it traces, and ``torch.compile`` wraps every
    partial in one shared wrapper: the pieces of :meth:`ProceduralRenderer._pieces` would pile up on
    one code object (over its ``recompile_limit`` of 8, the later ones then ran eagerly), and each call
    would test the guards of other pieces before finding its own (0.1-0.2 ms a batch)."""

    def piece(*args, **kwargs):
        return fn(*args, **kwargs)

    label = "piece_" + "".join(ch if ch.isalnum() else "_" for ch in name)
    piece.__code__ = piece.__code__.replace(co_name=label, co_qualname=label)
    return piece


def _hash(*parts: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash of int64 tensors (broadcast), as int64 in [0, 2**32)."""
    h = torch.zeros((), dtype=torch.int64, device=parts[0].device)
    for p in parts:
        h = ((h ^ (p & _MASK)) * 0x27D4EB2D) & _MASK
        h = h ^ (h >> 15)
    h = (h * 0x2C1B3C6D) & _MASK
    return h ^ (h >> 13)


def _unit(h: torch.Tensor, shift: int) -> torch.Tensor:
    """8 bits of hash ``h`` from bit ``shift`` as a float in [0, 1)."""
    return ((h >> shift) & 0xFF).float() * (1.0 / 256.0)


def _aa(value: torch.Tensor, mean: float, footprint: torch.Tensor) -> torch.Tensor:
    """Fade a periodic pattern to its mean where it changes faster than the pixels (footprint in cycles/px)."""
    keep = (1.5 - 2.0 * footprint).clamp(0.0, 1.0)
    return mean + (value - mean) * keep


class ProceduralRenderer(FrameRenderer):
    """Draws batches of frame specs procedurally on ``device`` (see :meth:`FrameRenderer.render` for the formats)."""

    def __init__(self, width: int, height: int, device: str | torch.device | None = None, compile: bool = False, detail: float = 1.0,
                 threads: int | None = None):
        """``detail`` in (0, 1] is the fraction of the output size the pictures are drawn at before a
        bilinear upscale (0.5 draws a quarter of the pixels: four times faster, a little softer).

        ``threads``: the CPU threads a CPU renderer draws with (torch's intra-op threads, set for
        each batch and restored after it; compiled kernels keep the count they were compiled with);
        None: torch's current setting. A render draws beside its encoder, see
        :func:`mvgen.renderers.factory.procedural_renderer`.
        ``compile=True`` fuses the per-pixel pipeline with ``torch.compile`` (about 10x faster on a
        CPU, after a compilation of about a minute that is cached on disk for later runs); when
        compilation fails (no C++ compiler, say) it warns once and renders eagerly."""
        if width < 2 or height < 2:
            raise ValueError(f"frame size must be at least 2x2, got {width}x{height}")
        if not 0.0 < detail <= 1.0:
            raise ValueError(f"detail must be in (0, 1], got {detail}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.width, self.height, self.detail = int(width), int(height), float(detail)
        self._w, self._h = max(2, round(self.width * detail)), max(2, round(self.height * detail))
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.threads = threads if self.device.type == "cpu" else None
        self._full = DrawingGrid.of_size(self._w, self._h, self.device)
        # faint motifs (MOTIF_FAINT_WEIGHT) are drawn at half the drawing size; tiny frames have no
        # detail to spare
        self._faint = DrawingGrid.of_size(max(2, self._w // 2), max(2, self._h // 2), self.device) if min(self._w, self._h) >= 64 else None
        self._vignette = (1.0 / (1.0 + 0.55 * (self._full.x**2 + self._full.y**2))) ** 1.5  # (1, H, W)
        # slices bound the float temporaries, which are at the drawing size
        self._chunk = max(1, _SLICE_PIXELS.get(self.device.type, _SLICE_PIXELS["cuda"]) // (self._w * self._h))
        half_diag = math.hypot(self._w, self._h) / 2 / self._full.scale
        # rows of the particle hash table: log(1e-4) .. log(the largest radius the camera can show)
        # at the densest cell spacing; a fixed size keeps the graph static
        rmax = half_diag / _ZOOM_MIN + 2.0
        self._particle_rows = int(math.ceil((math.log(rmax) - math.log(1e-4)) * _particle_cells(_SPEED_MIN))) + 4
        self._compiled = self._pieces(eager=False) if compile else None
        self._compiled_batch = 0

    # ------------------------------------------------------------------ public
    @property
    def compiled(self) -> bool:
        """Whether frames are drawn by the ``torch.compile``d graph."""
        return self._compiled is not None

    @property
    def compiles_on_first_render(self) -> bool:
        """Whether the next :meth:`render` compiles (or loads from the disk cache) the fused graph."""
        return self._compiled is not None and not self._compiled_batch

    def _draw(self, specs: list[FrameSpec], pix_fmt: str) -> torch.Tensor:
        with self._own_threads():
            # slices of at most _SLICE_PIXELS pixels bound the memory of a large batch
            parts = [self._render(specs[i : i + self._chunk], pix_fmt) for i in range(0, len(specs), self._chunk)]
            return parts[0] if len(parts) == 1 else torch.cat(parts)

    @contextlib.contextmanager
    def _own_threads(self):
        """torch's intra-op threads set to :attr:`threads` while drawing, restored afterwards."""
        before = torch.get_num_threads()
        if self.threads is None or self.threads == before:
            yield
            return
        torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    # ---------------------------------------------------------------- internals
    def _params(self, specs: Sequence[FrameSpec]) -> dict[str, torch.Tensor]:
        names = ("time_s", "beat_pulse", "beat_phase", "bar_phase", "energy", "drop_burst", "zoom",
                 "rotation_deg", "drift_x", "drift_y", "shake_x", "shake_y", "flash", "speed", "density", "brightness",
                 "loop_s", "loop_phase")
        rows = [[float(getattr(s, n)) for n in names] for s in specs]
        per_motif = ("motif_weights", "motif_boost", "motif_speed", "motif_density")
        rows = [r + [float(getattr(s, f).get(m, 0.0)) for f in per_motif for m in MOTIFS] for r, s in zip(rows, specs)]
        table = torch.tensor(rows, dtype=torch.float64)
        p = {n: table[:, i].float() for i, n in enumerate(names)}
        w, boost, speed_offset, density_offset = table[:, len(names):].float().view(len(specs), len(per_motif), len(MOTIFS)).unbind(1)
        w = w.clamp(min=0.0)
        top = w.max(dim=1, keepdim=True).values
        w = torch.where(top > 0, w / top.clamp(min=1e-6), torch.tensor([0, 0, 0, 0, 0, 1.0]))  # nothing: waves
        w = w / (w.sum(dim=1, keepdim=True) / 1.6).clamp(min=1.0)  # busy mixes don't blow out
        p["weights"] = (w + boost).clamp(0.0, MOTIF_WEIGHT_MAX)
        p["time_s"] = table[:, 0].remainder(3600.0).float()  # keeps float32 phases precise
        # each motif draws with its own speed and density: the frame's plus the motif's offsets
        p["motif_speed"] = (p["speed"][:, None] + speed_offset).clamp(_SPEED_MIN, _SPEED_MAX)
        p["motif_density"] = (p["density"][:, None] + density_offset).clamp(0.0, 1.0)
        p["speed"] = p["speed"].clamp(_SPEED_MIN, _SPEED_MAX)
        p["density"] = p["density"].clamp(0.0, 1.0)
        p["brightness"] = p["brightness"].clamp(min=0.0)
        p["energy"] = p["energy"].clamp(0.0, 1.0)
        p["zoom"] = p["zoom"].clamp(min=_ZOOM_MIN)
        seeds = [int(s.seed) & 0x7FFFFFFF for s in specs]
        p["seed"] = torch.tensor(seeds, dtype=torch.int64)
        p["seedf"] = torch.tensor([((sd * 2654435761) & _MASK) / 2**32 for sd in seeds], dtype=torch.float32)
        hue = torch.tensor([float(s.hue_shift_deg) for s in specs], dtype=torch.float32)
        p["lut"] = self._palette_lut(specs, hue)
        p["bg"] = _turned(torch.tensor([s.background for s in specs], dtype=torch.float32), hue).clamp(0, 1) ** 2.2
        out = {"weights_host": p["weights"]}  # stays on the host: which layers a batch draws (_layers)
        for k, v in p.items():
            v = v.to(self.device)
            out[k] = v if k in ("weights", "lut", "bg", "motif_speed", "motif_density") else v.view(-1, 1, 1)
        return out

    @staticmethod
    def _palette_lut(specs: Sequence[FrameSpec], hue: torch.Tensor | None = None) -> torch.Tensor:
        """(B, _LUT, 3) linear colours: a smooth cyclic gradient through each frame's palette, its hue
        turned by ``hue`` (degrees, shape (B,); default none).

        One vectorized pass per palette length (not a few small ops per frame: each torch op
        outside the compiled graph costs a thread-pool round trip)."""
        pals = [tuple(map(tuple, s.palette)) if s.palette else ((1.0, 1.0, 1.0),) for s in specs]
        hue = torch.zeros(len(specs)) if hue is None else hue
        out = torch.empty((len(pals), _LUT, 3), dtype=torch.float32)
        pos = torch.arange(_LUT, dtype=torch.float32) / _LUT
        for n in sorted({len(p) for p in pals}):
            rows = [i for i, p in enumerate(pals) if len(p) == n]
            # linearized palette by palette: the power of a larger tensor takes another vector path
            # whose last bit can differ, and the frames stay bit-identical to those drawn one by one
            srgb = _turned(torch.tensor([pals[i] for i in rows], dtype=torch.float32), hue[rows])
            pal = torch.stack([srgb[j].clamp(0, 1) ** 2.2 for j in range(len(rows))])
            t = pos * n
            i0 = torch.floor(t).long() % n
            f = t - torch.floor(t)
            f = (f * f * (3 - 2 * f))[:, None]
            lut = pal[:, i0] * (1 - f) + pal[:, (i0 + 1) % n] * f
            out[rows if len(rows) < len(pals) else slice(None)] = lut
        return out

    @staticmethod
    def _colour(lut_planar: torch.Tensor, base: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Look up palette position ``c`` (B, H, W; any real, cyclic) -> planar colours (3, B, H, W)."""
        idx = (_fract(c) * _LUT).long().clamp_(0, _LUT - 1) + base
        return lut_planar[:, idx]

    def _render(self, specs: Sequence[FrameSpec], pix_fmt: str) -> torch.Tensor:
        p = self._params(specs)
        loop = any(s.loop_s > 0 for s in specs)
        layers = self._layers(p, burst=max(s.drop_burst for s in specs))
        if self._compiled is None:
            return self._frames(p, pix_fmt, layers, loop)
        # compiled: each piece is compiled for a fixed batch size, so a short last batch is padded
        # rather than triggering a recompilation
        B = len(specs)
        self._compiled_batch = self._compiled_batch or B
        if B < self._compiled_batch:
            p = {k: torch.cat([v, v[-1:].expand(self._compiled_batch - B, *v.shape[1:])]) for k, v in p.items()}
        try:
            return self._frames(p, pix_fmt, layers, loop, self._compiled)[:B]
        except Exception as exc:  # noqa: BLE001 - any compiler failure falls back to the same math, eagerly
            warnings.warn(f"torch.compile failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); rendering without it (slower)", RuntimeWarning, stacklevel=2)
            self._compiled = None
            return self._frames({k: v[:B] for k, v in p.items()}, pix_fmt, layers, loop)

    def _layers(self, p: dict[str, torch.Tensor], burst: float) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The emissive layers a batch draws, ``(at the drawing size, at half of it)``: the motifs some
        frame draws with a weight of at least :data:`MOTIF_SKIP_WEIGHT` (the fainter ones change no
        frame by a visible amount), those under :data:`MOTIF_FAINT_WEIGHT` at half size; and the drop
        burst when the batch's strongest, ``burst``, is at least that too (a burst fades out over
        seconds of traces: on the demo 1350 frames have one, 350 above the threshold; the burst still
        lifts the glow, gain and saturation as it fades). Decided on the host from the spec values
        (no device sync)."""
        peak = dict(zip(MOTIFS, p["weights_host"].max(dim=0).values.tolist()))
        if burst >= MOTIF_SKIP_WEIGHT:
            peak["burst"] = burst
        drawn = [name for name, w in peak.items() if w >= MOTIF_SKIP_WEIGHT]
        # the burst is left sharp: its weight is its fade, not a share of the picture
        faint = tuple(name for name in drawn if name != "burst" and peak[name] < MOTIF_FAINT_WEIGHT) if self._faint is not None else ()
        return tuple(name for name in drawn if name not in faint), faint

    def _frames(self, p: dict[str, torch.Tensor], pix_fmt: str, layers: tuple[tuple[str, ...], tuple[str, ...]], loop: bool = False,
                pieces: dict | None = None) -> torch.Tensor:
        """The whole per-pixel pipeline, uint8 frames in ``pix_fmt``: the camera, the emissive
        ``layers`` summed (``(at the drawing size, at half of it)``, see :meth:`_layers`), then the
        finish (glow, tone mapping, encoding). ``pieces``: the same steps compiled (:meth:`_pieces`),
        each a graph free of host syncs; None draws eagerly."""
        pieces = pieces or self._pieces(eager=True)
        B = p["zoom"].shape[0]
        lights = []
        for grid, names, prefix in ((self._full, layers[0], ""), (self._faint, layers[1], "faint:")):
            if not names and grid is not self._full:
                continue
            cam = pieces[prefix + "camera"](p)
            emis = torch.zeros((3, B, grid.h, grid.w), dtype=torch.float32, device=self.device)
            for name in names:
                emis = pieces[prefix + name](emis, p, cam, loop)
            lights.append(emis)
        # the faint light is upscaled and added in a graph of its own: inside the finish's graph the
        # upscaling was recomputed by each of the sum's readers (the glow's pooling, the picture),
        # which cost more than drawing at half size saved
        emis = pieces["faint:merge"](*lights) if len(lights) > 1 else lights[0]
        return pieces["finish"](emis, p, pix_fmt)

    def _pieces(self, *, eager: bool) -> dict:
        """The pipeline's pieces by name: ``camera`` and one per layer (``*MOTIFS``, ``burst``) on the
        drawing grid, the same prefixed ``faint:`` on the half-size grid with ``faint:merge``, and
        ``finish``. ``eager`` False: each fused by ``torch.compile`` (a batch runs only the layers it
        draws, see :meth:`_layers`)."""
        pieces = {"finish": self._finish, **({"faint:merge": self._merge_faint} if self._faint is not None else {})}
        for grid, prefix in ((self._full, ""), (self._faint, "faint:")):
            if grid is not None:
                pieces[prefix + "camera"] = functools.partial(self._camera, grid)
                pieces.update({prefix + name: functools.partial(self._layer, name) for name in (*MOTIFS, "burst")})
        return pieces if eager else {name: torch.compile(_own_code(fn, name), dynamic=False) for name, fn in pieces.items()}

    def _camera(self, grid: DrawingGrid, p: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """World coordinates of the pixels of ``grid``: the frame shows the world through a zoomed,
        rotated, drifting, shaking window. (B, h, w) ``x``, ``y``, ``r`` (radius) and ``a`` (angle,
        radians), and ``pix`` (B, 1, 1), world units per pixel."""
        rot = p["rotation_deg"] * (math.pi / 180.0)
        cs, sn = torch.cos(rot), torch.sin(rot)
        inv = 1.0 / p["zoom"]
        x0, y0 = grid.x * inv, grid.y * inv
        x = cs * x0 - sn * y0 + p["drift_x"] + p["shake_x"]
        y = sn * x0 + cs * y0 + p["drift_y"] + p["shake_y"]
        return {"x": x, "y": y, "r": torch.sqrt(x * x + y * y), "a": torch.atan2(y, x), "pix": inv / grid.scale}

    def _layer(self, name: str, emis: torch.Tensor, p: dict[str, torch.Tensor], cam: dict[str, torch.Tensor], loop: bool) -> torch.Tensor:
        """``emis`` (3, B, H, W) plus the light of layer ``name``: a motif drawn with its weight, speed
        and density, coloured through the palette, or the drop burst."""
        B = p["zoom"].shape[0]
        lut = p["lut"].reshape(-1, 3).t().contiguous()  # (3, B * _LUT)
        base = (torch.arange(B, device=self.device) * _LUT).view(-1, 1, 1)
        x, y, r, a = cam["x"], cam["y"], cam["r"], cam["a"]
        if name == "burst":
            # drop burst: a bright radial starburst in one palette colour, whitened
            burst = p["drop_burst"].clamp(0.0, 1.0)
            rays = (0.5 + 0.5 * torch.cos(a * 14.0 + p["seedf"] * _TAU)) ** 10
            b_int = burst * (0.9 * torch.exp(-r * 3.5) + 0.8 * rays * torch.exp(-r * 1.5))
            return emis + b_int * (self._colour(lut, base, p["seedf"]) * 0.6 + 0.4)
        m = MOTIFS.index(name)
        pix = cam["pix"]
        beat = p["beat_phase"].clamp(0.0, 0.999999)
        ease = 1.0 - (1.0 - beat) ** 3
        push = beat + (ease - beat) * (0.35 + 0.5 * p["energy"])  # 0 -> 1 over a beat, lurching on the kick
        motif_p = {**p, "speed": p["motif_speed"][:, m].view(-1, 1, 1), "density": p["motif_density"][:, m].view(-1, 1, 1)}
        inten, c = getattr(self, f"_{name}")(p=motif_p, x=x, y=y, r=r, a=a, pix=pix, push=push, loop=loop)
        return emis + (p["weights"][:, m].view(-1, 1, 1) * inten) * self._colour(lut, base, c)

    def _merge_faint(self, emis: torch.Tensor, faint: torch.Tensor) -> torch.Tensor:
        """The light ``emis`` (3, B, H, W) plus that of the faint layers ``faint`` (3, B, H/2, W/2), upscaled."""
        return emis + resize_planes(faint, (self._h, self._w))

    def _finish(self, emis: torch.Tensor, p: dict[str, torch.Tensor], pix_fmt: str) -> torch.Tensor:
        """The summed light ``emis`` (3, B, H, W) -> uint8 frames in ``pix_fmt``: glow, beat gain,
        background, saturation, vignette, tone mapping, flash, then the encoder's pixels."""
        B = p["zoom"].shape[0]
        burst = p["drop_burst"].clamp(0.0, 1.0)
        # glow: blur of the emissive layer at 1/4 and 1/16 resolution
        emis = emis + self._glow(emis) * (0.3 + 0.25 * p["energy"] + 0.15 * burst)
        gain = (0.3 + 0.4 * p["energy"]) * (1.0 + 0.6 * p["beat_pulse"].clamp(0, 1)) * (1.0 + 0.4 * burst)

        # background: the style colour with a soft palette haze in the middle
        inv = 1.0 / p["zoom"]
        x0, y0 = self._full.x * inv, self._full.y * inv
        haze_col = p["lut"][:, 0].t().reshape(3, B, 1, 1)
        haze = (0.03 + 0.05 * p["energy"]) * torch.exp(-(x0 * x0 + y0 * y0) * 2.5)
        img = (emis * gain + haze * haze_col + p["bg"].t().reshape(3, B, 1, 1)) * p["brightness"]

        # more saturation when a drop lands
        lum = 0.2126 * img[0] + 0.7152 * img[1] + 0.0722 * img[2]
        img = torch.maximum(lum + (img - lum) * (1.0 + 0.5 * burst), 0.25 * img)
        img = img * (self._vignette * 1.1)

        # filmic tone mapping (ACES fit), display gamma, then the flash lifts towards white but
        # keeps the picture (a full white frame reads as a glitch, not as a light)
        img = (img * (2.51 * img + 0.03)) / (img * (2.43 * img + 0.59) + 0.14)
        img = img.clamp(1e-6, 1.0) ** (1.0 / 2.2)
        img = img + (1.0 - img) * (p["flash"].clamp(0.0, 1.0) * 0.6)
        # resized to the output in the encoder's pixel format: at half detail yuv420p chroma is
        # already at its resolution and only luma is upscaled
        return encode_pixels(img, pix_fmt, self.width, self.height)

    def _glow(self, emis: torch.Tensor) -> torch.Tensor:
        """A wide soft blur of planar (3, B, H, W) colours (pooling treats each plane alike)."""
        H, W = self._h, self._w
        f1 = 4 if min(H, W) >= 32 else 1
        f2 = 4 if min(H, W) >= 128 else 1
        mid = F.avg_pool2d(emis, f1, ceil_mode=True) if f1 > 1 else emis
        low = F.avg_pool2d(mid, f2, ceil_mode=True) if f2 > 1 else mid
        mid = self._blur(mid)
        low = self._blur(low)
        mid = 0.6 * mid + 0.8 * resize_planes(low, mid.shape[-2:])
        return resize_planes(mid, (H, W))

    @staticmethod
    def _blur(x: torch.Tensor) -> torch.Tensor:
        """Separable Gaussian blur (sigma 2 px, edges replicated) of planar (3, B, h, w) colours."""
        c, b, h, w = x.shape
        rows = _blur_last(x.reshape(c * b, h, w))
        return _blur_last(rows.transpose(1, 2)).transpose(1, 2).reshape(c, b, h, w)

    # ----------------------------------------------------------------- motifs
    # each returns (intensity (B,H,W) >= 0, palette position (B,H,W))

    def _tunnel(self, p, x, y, r, a, pix, push, loop):
        speed, dens = p["speed"], p["density"]
        freq = 0.9 * (0.3 / speed) ** 0.7 * (0.7 + 0.6 * dens)  # rings per unit of depth
        z = 1.0 / (r + 0.03)
        ph = z * freq + push  # constant-phase rings move outwards as push grows
        spacing = 1.0 / (freq * z * z)  # screen distance between neighbouring rings
        dist = torch.abs(ph - torch.round(ph)) * spacing
        w = 0.003 + 0.008 * r
        ring = torch.exp(-(dist / w) ** 2) + 0.15 * torch.exp(-dist / (3.0 * w))
        ring = _aa(ring, 0.0, pix / spacing) + (2.2 * w / spacing).clamp(max=0.6) * (1.0 - (1.5 - 2.0 * pix / spacing).clamp(0.0, 1.0))
        nseg = 12.0
        seg = 0.5 + 0.5 * torch.cos(a * nseg + z * 0.35 + _clock(p, 0.15, _TAU, loop))
        seg = _aa(seg, 0.5, nseg / _TAU / (r + 1e-3) * pix)
        fade = 1.0 - torch.exp(-r * 7.0)
        inten = ring * (0.6 + 0.4 * seg) * fade * 1.6 + 0.6 * torch.exp(-r * 12.0)
        c = 0.05 * z + 0.12 * torch.sin(a * 2.0) + _clock(p, 0.01, 1.0, loop) + p["seedf"]
        return inten, c

    def _lasers(self, p, x, y, r, a, pix, push, loop):
        speed, dens, energy = p["speed"], p["density"], p["energy"]
        bar = p["bar_phase"]
        spacing = 1.1 / (3.0 + 6.0 * dens)  # radians between beams
        spread = 1.5
        amp = 0.25 + 0.35 * speed.clamp(max=1.0)
        width = torch.maximum(0.0022 + 0.002 * energy, 0.9 * pix)
        on = 0.55 + 0.45 * p["beat_pulse"].clamp(0, 1)
        inten = torch.zeros_like(r)
        cpos = torch.zeros_like(r)
        for j, side in enumerate((-1.0, 1.0)):
            ox, oy = 0.45 * side, 0.62
            dx, dy = x - ox, y - oy
            dist = torch.sqrt(dx * dx + dy * dy)
            theta = torch.atan2(dx, -dy)  # angle from straight up
            sweep = -side * 0.3 + amp * torch.sin(_TAU * bar + j * math.pi + p["seedf"] * _TAU) \
                + 0.15 * torch.sin(_clock(p, 0.37, _TAU, loop) + j * 1.7)
            rel = theta - sweep
            k = torch.round(rel / spacing)
            d = rel - k * spacing
            perp = dist * torch.abs(torch.sin(d))
            wd = width * (1.0 + 0.8 * dist)
            beam = torch.exp(-(perp / wd) ** 2) + 0.1 * torch.exp(-perp / (wd * 4.0))
            env = ((spread / 2 - torch.abs(rel)) / 0.15).clamp(0.0, 1.0)
            flick = 0.55 + 0.45 * _fract(k * 0.618 + p["seedf"] + j * 0.31)
            fall = torch.exp(-dist * 0.55) * (dy < 0.02)
            b = beam * env * flick * fall * on * 1.6 + 0.8 * torch.exp(-dist * 14.0) * on
            inten = inten + b
            cpos = cpos + b * _fract(k * 0.23 + j * 0.5 + p["seedf"])
        return inten, cpos / (inten + 1e-6)

    def _particles(self, p, x, y, r, a, pix, push, loop):
        speed, dens = p["speed"], p["density"]
        B = r.shape[0]
        lr = torch.log(r + 1e-4)
        inten = torch.zeros_like(r)
        cpos = torch.zeros_like(r)
        rate = _PARTICLE_RATE
        nr = _particle_cells(speed)
        present = 0.25 + 0.6 * dens
        rows = self._particle_rows
        for layer, na in enumerate((36, 60)):
            rl = rate * (1.0 - 0.25 * layer)
            u = (a / _TAU + 0.5) * na
            flown = _clock(p, rl, 1.0, loop)  # cells flown outwards, (B, 1, 1)
            v = lr * nr - flown
            iu, iv = torch.floor(u), torch.floor(v)
            # per-cell random values, hashed on a small table (B, rows, na) and gathered per pixel
            iv0 = torch.floor(math.log(1e-4) * nr - flown) - 1.0  # (B, 1, 1)
            cells_v_free = iv0 + torch.arange(rows, device=r.device, dtype=torch.float32).view(1, -1, 1)  # (B, rows, 1)
            cells_v = cells_v_free.long()
            if loop:
                # a loop flies a whole number of cells (loop_turns' count): hashed modulo that count, the
                # stars that fly in during the loop are the ones that flew out, and the field repeats
                cells_loop = torch.round(rl * p["loop_s"]).long()
                cells_v = torch.where(cells_loop > 0, torch.remainder(cells_v, cells_loop.clamp(min=1)), cells_v)
            cells_u = torch.arange(na, device=r.device).view(1, 1, -1)
            h = _hash(cells_u, cells_v, p["seed"], torch.tensor(layer + 7, device=r.device))
            ou, ov, bright, pick = 0.25 + 0.5 * _unit(h, 0), 0.25 + 0.5 * _unit(h, 8), _unit(h, 16), _unit(h, 24)
            # everything about a cell's star but its distance to the pixel is a value of the cell
            # (B, rows, na), worked out on the small table rather than per pixel, then gathered
            r_s = torch.exp((cells_v_free + ov + flown) / nr)  # its radius
            size = torch.maximum((0.0025 + 0.006 * bright) * (0.3 + r_s), 0.8 * pix)
            stretch = 1.0 + 4.0 * speed * r_s
            twinkle = 0.75 + 0.25 * torch.sin(_clock(p, 3.0 + 4.0 * bright, _TAU, loop) + pick * _TAU)
            amp = (pick < present) * (0.35 + 0.65 * bright) * _smoothstep(0.02, 0.25, r_s) * (1.0 + 0.6 * p["beat_pulse"]) * twinkle * 2.2
            table = torch.stack([ou, r_s, 1.0 / (size * stretch), 1.0 / size, amp, pick], dim=-1).view(-1, 6)  # a cell's values side by side
            row = (iv - iv0).clamp(0, rows - 1).long()
            idx = (torch.arange(B, device=r.device).view(-1, 1, 1) * rows + row) * na + iu.long().clamp(0, na - 1)
            ou, r_s, inv_long, inv_size, amp, pick = table[idx].unbind(-1)
            # the star's offset from the pixel along and across its radius, in star sizes
            d_ang = (u - iu - ou) * (_TAU / na) * r
            d2 = ((r - r_s) * inv_long) ** 2 + (d_ang * inv_size) ** 2
            s = torch.exp(-2.0 * d2) * amp
            inten = inten + s
            cpos = cpos + s * pick
        inten = inten + 0.05 * torch.exp(-r * 4.0)
        return inten, cpos / (inten + 1e-6)

    def _grid(self, p, x, y, r, a, pix, push, loop):
        speed, dens = p["speed"], p["density"]
        yh = -0.08
        dy = y - yh
        ady = dy.abs() + 1e-4
        cam = 0.25
        z = cam / ady
        g = 0.22 * (speed / 0.3) ** 0.7 * (1.3 - 0.6 * dens)  # cell size (velocity follows speed)
        gx = x * z / g
        gz = z / g + push * 1.0
        fx = torch.sqrt(z * z + (x * z * z / cam) ** 2) * pix / g
        fz = z * z / cam * pix / g
        lw = 0.03
        dx = torch.abs(gx - torch.round(gx))
        dz = torch.abs(gz - torch.round(gz))
        mx = torch.maximum(fx, torch.full_like(fx, lw))
        mz = torch.maximum(fz, torch.full_like(fz, lw))
        lines = (1.0 - dx / mx).clamp(min=0.0) * (lw / mx) + (1.0 - dz / mz).clamp(min=0.0) * (lw / mz)
        fog = torch.exp(-z * 0.12)
        side = torch.where(dy > 0, torch.ones_like(dy), torch.full_like(dy, 0.35))
        beat = 0.65 + 0.35 * p["beat_pulse"]
        # a light wave running to the horizon on every beat
        wave = torch.exp(-((z - (0.4 + 6.0 * p["beat_phase"])) ** 2) * 0.8) * p["beat_pulse"]
        inten = lines.clamp(max=1.5) * fog * side * beat * (1.3 + 1.2 * wave) + 0.5 * torch.exp(-ady * 30.0)
        c = 0.25 + 0.02 * z + 0.12 * x + p["seedf"]
        return inten, c

    def _rings(self, p, x, y, r, a, pix, push, loop):
        speed = p["speed"]
        beat = p["beat_phase"].clamp(0.0, 0.999999)
        inten = torch.zeros_like(r)
        cpos = torch.zeros_like(r)
        grow = 0.22 + 0.25 * speed.clamp(max=1.5)
        # the wobble sin(3 a + phase) of each ring from one sine and cosine per pixel (angle addition)
        sin3, cos3 = torch.sin(a * 3.0), torch.cos(a * 3.0)
        for k in range(4):
            age = beat + k
            phase = age * 1.3 + _clock(p, 0.2, _TAU, loop)  # (B, 1, 1)
            radius = (0.03 + grow * age) * (1.0 + 0.015 * (sin3 * torch.cos(phase) + cos3 * torch.sin(phase)))
            w = torch.maximum(0.004 + 0.006 * age, 1.0 * pix)
            life = torch.exp(-0.8 * age) * ((4.0 - age) / 0.6).clamp(0.0, 1.0)
            d = (r - radius) / w
            ring = (torch.exp(-d * d) + 0.3 * torch.exp(-torch.abs(d) * 0.3)) * life * 1.6
            inten = inten + ring
            cpos = cpos + ring * (0.22 * age + p["seedf"])
        cpos = cpos / (inten + 1e-6) + 0.08 * torch.sin(a)
        inten = inten + 0.4 * p["beat_pulse"] * torch.exp(-r * 10.0)
        return inten, cpos

    def _waves(self, p, x, y, r, a, pix, push, loop):
        speed, dens = p["speed"], p["density"]
        kx = 3.2 * (0.3 / speed) ** 0.5  # spatial frequency; the wave velocity follows speed
        inten = torch.zeros_like(r)
        cpos = torch.zeros_like(r)
        # the width wobble has the same spatial frequency in every ribbon: its sine from one sine and
        # cosine per pixel (angle addition)
        sin_w, cos_w = torch.sin(x * kx * 0.7), torch.cos(x * kx * 0.7)
        for j in range(4):
            on = ((dens * 4.0 + 1.2) - j).clamp(0.0, 1.0)  # more ribbons with density
            fj = 1.0 + 0.37 * j
            y0 = -0.22 + 0.15 * j
            sd = p["seedf"] * _TAU + j * 2.1
            yc = y0 + 0.09 * torch.sin(x * kx * fj + _clock(p, 0.55 + 0.1 * j, _TAU, loop) + sd) \
                + 0.05 * torch.sin(x * kx * 2.3 * fj - _clock(p, 0.8, _TAU, loop) + 1.3 * sd) \
                + 0.03 * torch.sin(_clock(p, 0.3, _TAU, loop) + j)
            phase = _clock(p, 0.4, _TAU, loop) + sd  # (B, 1, 1)
            wd = 0.05 + 0.025 * (sin_w * torch.cos(phase) + cos_w * torch.sin(phase))
            d = (y - yc) / wd
            ribbon = (torch.exp(-d * d) * 0.7 + torch.exp(-d * d * 25.0) * 0.9) * on
            inten = inten + ribbon
            cpos = cpos + ribbon * (0.2 * j + 0.08 * x + p["seedf"] + _clock(p, 0.015, 1.0, loop))
        return inten * 1.1, cpos / (inten + 1e-6)
