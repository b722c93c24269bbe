"""The diffusion renderer: Stable-Diffusion-family pipelines draw frames that follow the genre profile and the beat.

Entry points: :func:`load_pipeline` (Hub id or folder, offline-aware) and :class:`DiffusionRenderer`
(``prepare(specs)`` once for the whole video, then ``render(specs)`` per batch, as the procedural
renderer).

Conditioning follows the soft genre profile continuously: each style's prompt is encoded once and
a frame's text embedding is the profile-weighted sum of the 8 embeddings, so a blend of 70 % future
house and 30 % bass house is conditioned on 70/30 of their prompts rather than switching at a
threshold.

Temporal coherence, method ``keyframes`` (the default): a keyframe is denoised on every
``keyframe_beats``-th beat; frames between two keyframes interpolate their latents (spherically,
eased so the picture moves most right after the kick) and are decoded one by one, so consecutive
frames cannot flicker. Keyframes that share a seed are img2img variations of one anchor (fixed
noise per seed; the mapper changes the seed at each section start by default, or never, or on every
downbeat, as the dominant style's ``seed_policy`` says) at a denoising strength between the style's
``strength`` range, low in calm parts and high in drops: calm sections hold one picture that
breathes, drops change it on every beat. All keyframes of a seed are independent given its
anchor, so they are denoised in batches, and every frame is a pure function of the specs and the
keyframes, so an interrupted render resumes with identical frames. Method ``fixed-noise`` instead
denoises every frame from its seed's noise with its own conditioning (one UNet pass per frame;
see ``benchmarks/bench_diffusion.py`` for the flicker and speed of both). On top, the camera of the
frame spec (beat zoom, rotation, drift, shake) warps the decoded picture and drops flash, as in the
procedural renderer; the warp overscans (:func:`cover_zoom`) so the turned, drifting frame never
shows the picture's edge in its corners.

Modulation (the styles' ``modulate``, applied by the mapper): a keyframe's denoising strength is the
style range's plus ``FrameSpec.strength_offset``; its conditioning weighs the style prompts by
``FrameSpec.prompt_weights`` (the genre weights times each style's modulated prompt gain) instead of
the genre weights; every frame's picture is scaled by ``brightness`` and hue-turned by
``hue_shift_deg`` (:func:`mvgen.media.pixels.hue_rotation`), with camera and flash as above. Strength
and prompt act on keyframes only (frames between them interpolate the keyframes' latents), and
keyframes sit on the beats, where the drums' modulation peaks.
"""

from __future__ import annotations

import bisect
import math
import os
import warnings
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field

from mvgen.media.pixels import encode_pixels, hue_rotation
from mvgen.renderers.base import FrameRenderer
from mvgen.errors import MvgenError
from mvgen.style.framespec import FrameSpec

#: Default model: a distilled model that draws a usable picture in one or two steps.
DEFAULT_MODEL = "stabilityai/sd-turbo"
#: The camera's overscan covers offsets (drift plus shake) up to this share of the picture's half
#: size: a larger one would need a magnification without bound (the mapper's drift peaks at 32 %
#: of the half height, drift 2 with the shake on top stays well inside).
MAX_COVER_OFFSET = 0.75


class DiffusionSettings(BaseModel):
    """How the diffusion renderer draws. ``size`` is the short side of the generated pictures (pixels)."""

    model: str = Field(DEFAULT_MODEL, description="Hub id or local folder of a diffusers pipeline")
    method: Literal["keyframes", "fixed-noise"] = "keyframes"
    steps: int = Field(2, ge=1, le=100, description="denoising steps of a full (anchor) denoise")
    guidance_scale: float = Field(0.0, ge=0.0, description="classifier-free guidance; 0 for turbo models")
    size: int = Field(512, ge=16, le=2048)
    keyframe_beats: int = Field(1, ge=1, le=64, description="beats between keyframes")
    fast_vae: str | None = Field(None, description="Hub id or folder of a TAESD-style AutoencoderTiny decoder")
    batch_size: int = Field(8, ge=1, le=256)
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    compile: bool = Field(False, description="torch.compile the UNet and the decoder")


def quiet_libraries() -> None:
    """Silence diffusers' and transformers' loading logs and progress bars (errors still show): they write
    progress and advice to stderr, and mvgen shows its own progress. Process-wide; also run by
    benchmarks/bench_diffusion.py before it builds its random-weight pipelines."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # read when transformers is first imported
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto``: float16 on CUDA, float32 on a CPU (half precision is slow or missing there)."""
    if dtype == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _missing(model: str, what: str, exc: BaseException | None = None) -> MvgenError:
    why = f" ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})" if exc is not None else ""
    what, _, detail = what.partition(" (")
    detail = f" ({detail}" if detail else ""
    return MvgenError(
        f"{what} '{model}' is not available{detail}{why}. Download it while online with `hf download {model}` "
        f"(or `huggingface-cli download {model}`), or pass a local folder with --model; "
        "`--renderer procedural` needs no weights"
    )


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hub's host accepts a connection (huggingface_hub would otherwise retry for ~30 s)."""
    import socket
    from urllib.parse import urlparse

    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def _looks_like_path(model: str) -> bool:
    # Hub ids are "name" or "owner/name"; anything else is meant as a folder
    return model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model


def _from_pretrained(cls, model: str, what: str, **kwargs):
    """``cls.from_pretrained`` from a folder, else the Hub cache, else (unless offline) the Hub."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # e.g. newer diffusers renaming torch_dtype
        warnings.simplefilter("ignore", UserWarning)
        return _from_pretrained_inner(cls, model, what, **kwargs)


def _from_pretrained_inner(cls, model: str, what: str, **kwargs):
    path = Path(model).expanduser()
    if not path.exists() and _looks_like_path(model):
        raise MvgenError(f"no such folder (the {what} must be a diffusers folder or a Hub id like {DEFAULT_MODEL})", path)
    if path.exists():
        if not path.is_dir():
            raise MvgenError(f"not a folder: a diffusers {what} is a folder with its config and weights", path)
        try:
            return cls.from_pretrained(str(path), local_files_only=True, **kwargs)
        except Exception as exc:  # noqa: BLE001 - diffusers raises many kinds for unusable folders
            raise MvgenError(f"not a usable diffusers {what} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})", path) from None
    try:
        return cls.from_pretrained(model, local_files_only=True, **kwargs)
    except Exception as cached_exc:  # noqa: BLE001
        if _offline():
            raise _missing(model, what + " (not in the Hugging Face cache, and HF_HUB_OFFLINE is set)") from None
        if not _hub_reachable():
            raise _missing(model, what + " (not in the Hugging Face cache, and the Hub cannot be reached)") from None
    try:
        return cls.from_pretrained(model, **kwargs)
    except Exception as exc:  # noqa: BLE001 - no network, unknown repository, gated model, ...
        raise _missing(model, what, exc) from None


def load_pipeline(model: str = DEFAULT_MODEL, device: str | torch.device | None = None, dtype: str = "auto"):
    """Load a text-to-image diffusers pipeline (SD 1.x/2.x, SD-turbo, SDXL, SDXL-Turbo, LCM) by Hub id or folder.

    The Hub cache is tried first (no network), then the Hub unless ``HF_HUB_OFFLINE`` is set. Raises
    :class:`MvgenError` naming the model, how to get it and the procedural alternative.
    """
    quiet_libraries()
    from diffusers import AutoPipelineForText2Image

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    pipe = _from_pretrained(AutoPipelineForText2Image, model, "diffusion model", torch_dtype=resolve_dtype(dtype, device))
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def flicker(frames: torch.Tensor, beat_pulse: Sequence[float], threshold: float = 0.2) -> float:
    """Mean absolute change between consecutive frames away from beats, in [0, 1].

    ``frames``: uint8 ``(N, H, W, 3)``; ``beat_pulse``: the frames' specs' pulses. Pairs where either
    frame has a pulse of ``threshold`` or more are left out: motion on the beat is wanted.
    """
    pulse = torch.as_tensor(list(beat_pulse), dtype=torch.float32)
    calm = (pulse[1:] < threshold) & (pulse[:-1] < threshold)
    if len(frames) < 2 or not bool(calm.any()):
        return 0.0
    diff = (frames[1:].float() - frames[:-1].float()).abs().mean(dim=(1, 2, 3)) / 255.0
    return float(diff[calm.to(diff.device)].mean())


def keyframe_positions(specs: Sequence[FrameSpec], keyframe_beats: int = 1, beatless_every_s: float = 2.0) -> list[int]:
    """Indices into ``specs`` of the keyframes: every ``keyframe_beats``-th beat frame, the first and last frame.

    A beat frame is one the mapper flagged ``on_beat`` (the frame nearest each beat). Without beats,
    one keyframe every ``beatless_every_s`` seconds.
    """
    if not specs:
        return []
    beat_frames = [i for i, s in enumerate(specs) if s.on_beat]
    if beat_frames:
        chosen = beat_frames[::keyframe_beats]
    else:
        t0 = specs[0].time_s
        chosen = [i for i, s in enumerate(specs) if i == 0 or int((s.time_s - t0) / beatless_every_s) != int((specs[i - 1].time_s - t0) / beatless_every_s)]
    return sorted({0, *chosen, len(specs) - 1})


def _seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode()) & 0x7FFFFFFF


def _slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of latents ``a``, ``b`` (B, C, h, w) by ``t`` (B,), falling back to lerp when parallel."""
    af, bf = a.flatten(1).float(), b.flatten(1).float()
    cos = (F.normalize(af, dim=1) * F.normalize(bf, dim=1)).sum(1).clamp(-1.0, 1.0)
    omega = torch.acos(cos)
    so = torch.sin(omega)
    t = t.float()
    lerp = so.abs() < 1e-4
    wa = torch.where(lerp, 1.0 - t, torch.sin((1.0 - t) * omega) / so.where(~lerp, torch.ones_like(so)))
    wb = torch.where(lerp, t, torch.sin(t * omega) / so.where(~lerp, torch.ones_like(so)))
    return (wa[:, None] * af + wb[:, None] * bf).view_as(a).to(a.dtype)


def camera_matrices(specs: Sequence[FrameSpec], aspect: float) -> torch.Tensor:
    """``affine_grid`` matrices (B, 2, 3) of each spec's camera on a picture of the output's ``aspect``
    (width / height): zoom, rotation (``rotation_deg``), drift and shake (fractions of the frame height),
    as the procedural renderer moves its window on the world: output point ``q`` shows the picture
    at ``R(rotation) q / zoom + drift + shake``.

    The picture is finite where the procedural world is not, so the window is magnified by the
    overscan :func:`cover_zoom` on top of the spec's zoom: the turned and shifted frame stays inside
    the picture and its corners never show an edge (a mirrored or empty one). The price is a
    closer framing while the picture is turned or off centre (at most about 2x, a 16:9 frame at 45
    degrees), continuous in the angle and the offset, so it never jumps.
    """
    angle = torch.tensor([math.radians(s.rotation_deg) for s in specs], dtype=torch.float64)
    # offsets in half frame heights (affine_grid's y unit), fractions of the height in the spec
    off_x = torch.tensor([2.0 * (s.drift_x + s.shake_x) for s in specs], dtype=torch.float64)
    off_y = torch.tensor([2.0 * (s.drift_y + s.shake_y) for s in specs], dtype=torch.float64)
    zoom = torch.tensor([max(s.zoom, 1e-3) for s in specs], dtype=torch.float64)
    scale = zoom * cover_zoom(angle, off_x, off_y, zoom, aspect)
    cs, sn = torch.cos(angle) / scale, torch.sin(angle) / scale
    # in half-height units on both axes (q = (aspect * x_n, y_n)), then back to affine_grid's normalized x
    theta = torch.zeros(len(specs), 2, 3, dtype=torch.float64)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 0, 2] = cs, -sn / aspect, off_x / aspect
    theta[:, 1, 0], theta[:, 1, 1], theta[:, 1, 2] = sn * aspect, cs, off_y
    return theta.float()


def cover_zoom(angle: torch.Tensor, off_x: torch.Tensor, off_y: torch.Tensor, zoom: torch.Tensor, aspect: float) -> torch.Tensor:
    """The least extra magnification (>= 1, shape (B,)) that keeps a frame of ``aspect`` (width /
    height), turned by ``angle`` (radians), shifted by ``off_x``, ``off_y`` (half frame heights) and
    zoomed by ``zoom``, inside the picture: the turned frame's half extents, ``aspect |cos| + |sin|``
    and ``aspect |sin| + |cos|`` (half heights), must fit in what the offset leaves of the picture's.
    An offset of a whole half picture or more cannot be covered; it is capped at
    :data:`MAX_COVER_OFFSET` of it (reflection fills the rest)."""
    cs, sn = torch.cos(angle).abs(), torch.sin(angle).abs()
    room_x = aspect * (1.0 - (off_x.abs() / aspect).clamp(max=MAX_COVER_OFFSET))
    room_y = 1.0 - off_y.abs().clamp(max=MAX_COVER_OFFSET)
    need = torch.maximum((aspect * cs + sn) / room_x, (aspect * sn + cs) / room_y) / zoom
    return need.clamp(min=1.0)


class DiffusionRenderer(FrameRenderer):
    """Draws frame specs with a diffusers pipeline: ``prepare(all_specs)`` once, then ``render(batch)``.

    ``styles``: the 8 styles (their prompts); ``width``, ``height``: output size in pixels. Pictures are
    generated at ``settings.size`` on the short side (rounded to what the model accepts) and
    resampled to the output size by the camera warp.
    """

    def __init__(self, styles: Mapping, width: int, height: int, settings: DiffusionSettings | None = None,
                 device: str | torch.device | None = None, pipe=None):
        self.settings = settings = settings or DiffusionSettings()
        self.width, self.height = int(width), int(height)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.detail = 1.0
        self.pipe = pipe if pipe is not None else load_pipeline(settings.model, self.device, settings.dtype)
        self.dtype = self.pipe.unet.dtype
        self.decoder = self.pipe.vae
        if settings.fast_vae:
            from diffusers import AutoencoderTiny

            self.decoder = _from_pretrained(AutoencoderTiny, settings.fast_vae, "fast VAE decoder", torch_dtype=self.dtype).to(self.device)
        if settings.compile:
            self.pipe.unet = torch.compile(self.pipe.unet)
            self.decoder.decode = torch.compile(self.decoder.decode)
        from diffusers import AutoPipelineForImage2Image

        self.img2img = AutoPipelineForImage2Image.from_pipe(self.pipe)
        self.img2img.set_progress_bar_config(disable=True)
        # generated size: the output's aspect, short side settings.size, multiples of 8 latent cells
        unit = 8 * self.pipe.vae_scale_factor
        scale = settings.size / min(self.width, self.height)
        self.gen_w = max(unit, round(self.width * scale / unit) * unit)
        self.gen_h = max(unit, round(self.height * scale / unit) * unit)
        self._embeddings = self._encode_styles(styles)
        self._keyframes: dict[int, torch.Tensor] = {}  # frame index -> latent (C, h, w)
        self._batch = settings.batch_size
        self._warned_oom = False

    # ------------------------------------------------------------------ conditioning
    @torch.no_grad()
    def _encode_styles(self, styles: Mapping) -> dict[str, torch.Tensor]:
        """Per-style embeddings in ``styles`` order (the classes, then ``other``): prompt (K, T, D), and for SDXL
        pooled (K, D2); negatives when guided."""
        self.labels = tuple(styles)
        prompts = [style.diffusion.prompt for style in styles.values()]
        negatives = [style.diffusion.negative_prompt for style in styles.values()]
        guided = self.settings.guidance_scale > 1.0
        out = self.pipe.encode_prompt(prompt=prompts, device=self.device, num_images_per_prompt=1,
                                      do_classifier_free_guidance=guided, negative_prompt=negatives if guided else None)
        names = ("prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds", "negative_pooled_prompt_embeds")
        return {name: value for name, value in zip(names, out) if value is not None}

    def conditioning(self, genre_weights: torch.Tensor) -> dict[str, torch.Tensor]:
        """Pipeline keyword arguments for a batch of style weights ``genre_weights`` (B, K): weighted sums of the style embeddings."""
        w = genre_weights.to(self.device, torch.float32)
        return {name: torch.einsum("bg,g...->b...", w, e.float()).to(self.dtype) for name, e in self._embeddings.items()}

    # ------------------------------------------------------------------ keyframes
    def _strength(self, spec: FrameSpec) -> float:
        """The keyframe's denoising strength: the style's range by energy, plus the modulation's offset, in [0, 1]."""
        low, high = spec.strength_range
        drive = max(spec.energy, spec.drop_burst) ** 2  # calm parts stay near the anchor, drops move far
        return min(max(low + (high - low) * drive + spec.strength_offset, 0.0), 1.0)

    def _generator(self, *parts) -> torch.Generator:
        return torch.Generator("cpu").manual_seed(_seed(*parts))

    def _batched(self, fn, items: Sequence) -> torch.Tensor:
        """``torch.cat`` of ``fn(part)`` over ``items`` in slices of the current batch size, halving it
        (said once) on CUDA out-of-memory; the halved size holds for the rest of the render."""
        outs, i = [], 0
        while i < len(items):
            part = items[i : i + self._batch]
            try:
                outs.append(fn(part))
                i += len(part)
            except torch.cuda.OutOfMemoryError:
                if self._batch == 1:
                    raise MvgenError(f"CUDA out of memory even one frame at a time at {self.gen_w}x{self.gen_h}; try a smaller --diffusion-size") from None
                torch.cuda.empty_cache()
                self._batch = max(1, self._batch // 2)
                if not self._warned_oom:
                    warnings.warn(f"CUDA out of memory: continuing with batches of {self._batch}", RuntimeWarning, stacklevel=2)
                    self._warned_oom = True
        return torch.cat(outs)

    def _denoise(self, pipe, items: list, make_kwargs) -> torch.Tensor:
        """Latents from ``pipe`` for ``items``, batched; ``make_kwargs(part)`` gives the pipeline's arguments."""
        return self._batched(lambda part: pipe(**make_kwargs(part), output_type="latent").images, items)

    def _weights(self, specs: Sequence[FrameSpec]) -> torch.Tensor:
        """The prompt weights of each spec (B, K): its modulated ``prompt_weights``, else its genre weights."""
        for spec in specs[:1]:
            if spec.genre_labels and tuple(spec.genre_labels) != self.labels:
                raise ValueError(f"frame styles {spec.genre_labels} differ from the renderer's {self.labels}")
        return torch.tensor([s.prompt_weights or s.genre_weights for s in specs], dtype=torch.float32)

    def _noise(self, seed: int) -> torch.Tensor:
        """The fixed noise of a seed (a section's, a bar's or the track's), (1, C, h, w)."""
        shape = (1, self.pipe.unet.config.in_channels, self.gen_h // self.pipe.vae_scale_factor, self.gen_w // self.pipe.vae_scale_factor)
        return torch.randn(shape, generator=self._generator("noise", seed)).to(self.device, self.dtype)

    def _txt2img(self, specs: Sequence[FrameSpec]) -> torch.Tensor:
        """Full denoise of each spec's conditioning from its seed's fixed noise."""
        def kwargs(part):
            return dict(**self.conditioning(self._weights(part)), latents=torch.cat([self._noise(s.seed) for s in part]),
                        num_inference_steps=self.settings.steps, guidance_scale=self.settings.guidance_scale,
                        height=self.gen_h, width=self.gen_w)
        return self._denoise(self.pipe, list(specs), kwargs)

    @torch.no_grad()
    def prepare(self, specs: Sequence[FrameSpec]) -> None:
        """Denoise the keyframes of the whole video (all of them, so any chunk can be drawn, resumed or not)."""
        self._keyframes = {}
        if self.settings.method != "keyframes" or not specs:
            return
        positions = keyframe_positions(specs, self.settings.keyframe_beats)
        by_section: dict[int, list[int]] = {}
        for p in positions:
            by_section.setdefault(specs[p].seed, []).append(p)
        anchors = dict(zip(by_section, self._txt2img([specs[ps[0]] for ps in by_section.values()])))
        # img2img runs int(steps * strength) steps: group keyframes by strength (to 0.05) to batch them
        groups: dict[tuple[int, float], list[int]] = {}
        for p in positions:
            strength = max(0.05, round(self._strength(specs[p]) * 20) / 20)
            groups.setdefault((specs[p].seed, strength), []).append(p)
        for (seed, strength), members in groups.items():
            steps = max(self.settings.steps, math.ceil(1.0 / strength))

            def kwargs(part, seed=seed, strength=strength, steps=steps):
                return dict(**self.conditioning(self._weights([specs[p] for p in part])),
                            image=anchors[seed].expand(len(part), -1, -1, -1), strength=strength,
                            num_inference_steps=steps, guidance_scale=self.settings.guidance_scale,
                            generator=[self._generator("keyframe", seed, specs[p].index) for p in part])

            for p, latent in zip(members, self._denoise(self.img2img, members, kwargs)):
                self._keyframes[specs[p].index] = latent

    # ------------------------------------------------------------------ frames
    def _latents(self, specs: Sequence[FrameSpec]) -> torch.Tensor:
        if self.settings.method == "fixed-noise":
            return self._txt2img(specs)
        if not self._keyframes:
            raise RuntimeError("DiffusionRenderer.prepare(specs) must run before render()")
        keys = sorted(self._keyframes)
        rows = []
        for s in specs:
            j = max(0, min(len(keys) - 1, bisect.bisect_right(keys, s.index) - 1))
            k0, k1 = keys[j], keys[min(j + 1, len(keys) - 1)]
            t = 0.0 if k1 == k0 else min(max((s.index - k0) / (k1 - k0), 0.0), 1.0)
            rows.append((k0, k1, 1.0 - (1.0 - t) ** 3))  # ease-out: the picture moves right after the kick
        a = torch.stack([self._keyframes[k0] for k0, _, _ in rows])
        b = torch.stack([self._keyframes[k1] for _, k1, _ in rows])
        return _slerp(a, b, torch.tensor([t for _, _, t in rows], device=a.device))

    @torch.no_grad()
    def _decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents -> pictures (B, 3, gen_h, gen_w) in [0, 1], float32."""
        def decode(part: torch.Tensor) -> torch.Tensor:
            image = self.decoder.decode(part.to(self.dtype) / self.decoder.config.scaling_factor).sample
            return ((image.float() + 1.0) / 2.0).clamp(0.0, 1.0)

        return self._batched(decode, latents)

    def _camera(self, pictures: torch.Tensor, specs: Sequence[FrameSpec]) -> torch.Tensor:
        """Warp by each spec's camera (:func:`camera_matrices`), resample to the output size, add drop light and flash -> planar (3, B, H, W) in [0, 1]."""
        B = len(specs)
        theta = camera_matrices(specs, self.width / self.height).to(pictures.device)
        grid = F.affine_grid(theta, (B, 3, self.height, self.width), align_corners=False)
        # the overscan keeps every sample inside the picture; reflection only catches the last rounding bit at its edge
        img = F.grid_sample(pictures, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        burst = torch.tensor([s.drop_burst for s in specs], device=img.device).view(-1, 1, 1, 1)
        flash = torch.tensor([min(max(s.flash, 0.0), 1.0) * 0.6 for s in specs], device=img.device).view(-1, 1, 1, 1)
        img = (img * (1.0 + 0.25 * burst)).clamp(0.0, 1.0)
        turned = [i for i, s in enumerate(specs) if s.hue_shift_deg != 0.0]
        if turned:  # hue rotation in the picture's sRGB, as the procedural renderer turns its palette
            rot = hue_rotation(torch.tensor([specs[i].hue_shift_deg for i in turned])).to(img.device)
            img[turned] = torch.einsum("bij,bjhw->bihw", rot, img[turned]).clamp(0.0, 1.0)
        brightness = [max(s.brightness, 0.0) for s in specs]
        if any(b != 1.0 for b in brightness):
            img = (img * torch.tensor(brightness, device=img.device).view(-1, 1, 1, 1)).clamp(0.0, 1.0)
        img = img + (1.0 - img) * flash
        return img.transpose(0, 1)

    def _draw(self, specs: list[FrameSpec], pix_fmt: str) -> torch.Tensor:
        return encode_pixels(self._camera(self._decode(self._latents(specs)), specs), pix_fmt, self.width, self.height)
