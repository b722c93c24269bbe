"""The frame format contract between the renderers and the encoder: what the renderers draw, how
R'G'B' becomes the encoder's BT.709 limited-range Y'CbCr 4:2:0 planes (:func:`encode_pixels`), and
back (:func:`yuv420p_to_rgb`); and the hue rotation the renderers turn their colours with.

The renderers draw :data:`PIX_FMT` and :class:`~mvgen.media.assemble.ChunkWriter` takes it as it is
(no conversion in ffmpeg); the end card and the frame tests read it back with the inverse.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

#: What the renderers draw and the encoder takes (one of :data:`PIX_FMTS`): no conversion in ffmpeg.
PIX_FMT = "yuv420p"

#: Pixel formats :class:`ChunkWriter` takes: frames of ``(H, W, 3)`` interleaved RGB bytes, or
#: ``H * W * 3 // 2`` bytes of BT.709 limited-range Y'CbCr 4:2:0 planes (Y, then Cb, then Cr), which
#: the encoder takes as they are (no conversion in ffmpeg, half the bytes through the pipe).
PIX_FMTS = ("rgb24", "yuv420p")


def frame_shape(pix_fmt: str, width: int, height: int) -> tuple[int, ...]:
    """Shape of one frame of ``pix_fmt`` (see :data:`PIX_FMTS`) at ``width`` x ``height`` pixels (even for yuv420p)."""
    if pix_fmt == "rgb24":
        return (height, width, 3)
    if pix_fmt == "yuv420p":
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs an even width and height, got {width}x{height}")
        return (height * width * 3 // 2,)
    raise ValueError(f"pix_fmt must be one of {', '.join(PIX_FMTS)}, got {pix_fmt!r}")


def _upsample(padded: torch.Tensor, factor: int, dim: int) -> torch.Tensor:
    """Bilinear upsampling (align_corners=False) by an integer ``factor`` of axis ``dim`` (-1 or -2)
    of planes padded by one edge pixel on both sides of that axis; the padding is dropped. Each
    output phase is a fixed two-tap blend of neighbours, interleaved by a reshape: compiled on a
    CPU this is several times faster than ``F.interpolate``'s per-pixel index arithmetic."""
    n = padded.shape[dim] - 2
    x = padded.narrow(dim, 1, n)
    phases = []
    for j in range(factor):
        offset = (j + 0.5) / factor - 0.5  # source position of this phase, relative to its pixel
        neighbour = padded.narrow(dim, 0 if offset < 0 else 2, n)
        phases.append(x + (neighbour - x) * abs(offset))
    shape = list(x.shape)
    shape[dim] = n * factor
    return torch.stack(phases, dim=dim).reshape(shape)


def resize_planes(planes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize ``(..., h, w)`` planes to ``size`` = (H, W): unchanged, a 2x2 mean (halving), an exact
    integer bilinear upsampling, or ``F.interpolate`` (bilinear) for any other ratio."""
    h, w = planes.shape[-2:]
    H, W = size
    if (h, w) == (H, W):
        return planes
    if (h, w) == (2 * H, 2 * W):
        return F.avg_pool2d(planes.reshape(-1, h, w), 2).reshape(*planes.shape[:-2], H, W)
    lead = planes.shape[:-2]
    if H % h == 0 and W % w == 0:
        # edges held: padded once, so the row pass keeps the column padding the column pass needs
        padded = F.pad(planes.reshape(-1, h, w), (1, 1, 1, 1), mode="replicate").reshape(*lead, h + 2, w + 2)
        return _upsample(_upsample(padded, H // h, -2), W // w, -1)
    return F.interpolate(planes.reshape(1, -1, h, w), size=size, mode="bilinear", align_corners=False).reshape(*lead, H, W)


#: BT.709 limited ("tv") range 8-bit codes: Y' in [0, 1] -> 16..235, Cb and Cr in [-0.5, 0.5] -> 16..240.
LUMA_SCALE, LUMA_OFFSET = 219.0, 16.0
CHROMA_SCALE, CHROMA_OFFSET = 224.0, 128.0
#: BT.709 luma weights of R', G' and B' (Kr, Kg, Kb): Y' = Kr R' + Kg G' + Kb B'.
LUMA_KR, LUMA_KG, LUMA_KB = 0.2126, 0.7152, 0.0722
#: BT.709 colour differences: Cb = (B' - Y') / CB_DIVISOR, Cr = (R' - Y') / CR_DIVISOR, the divisors
#: 2 (1 - Kb) and 2 (1 - Kr), so that both span [-0.5, 0.5].
CB_DIVISOR, CR_DIVISOR = 1.8556, 1.5748


def rgb_to_ycbcr(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BT.709 R'G'B' planes ``(3, ...)`` -> ``(Y', Cb, Cr)``, each ``(...)``: Y' in [0, 1], Cb and Cr in
    [-0.5, 0.5] for inputs in [0, 1]. Linear (the limited-range offsets come with the quantization in
    :func:`encode_pixels`), so it maps premultiplied colours to premultiplied colours."""
    r, g, b = rgb.unbind(0)
    luma = LUMA_KR * r + LUMA_KG * g + LUMA_KB * b
    return luma, (b - luma) / CB_DIVISOR, (r - luma) / CR_DIVISOR


def encode_pixels(rgb: torch.Tensor, pix_fmt: str, width: int, height: int) -> torch.Tensor:
    """Display-referred (gamma-encoded) planar R'G'B' -> uint8 frames for :class:`ChunkWriter`.

    ``rgb``: float ``(3, B, h, w)`` in [0, 1] at any size (a renderer's drawing size); it is
    resized to ``width`` x ``height``. Returns ``(B, *frame_shape(pix_fmt, width, height))``.
    For yuv420p the conversion comes first, so luma is resized to the frame and chroma to half of
    it (a renderer drawing at half size gives chroma at its own resolution, untouched).
    """
    frame_shape(pix_fmt, width, height)  # checks pix_fmt
    if pix_fmt == "rgb24":
        img = resize_planes(rgb, (height, width))
        return (img * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 3, 0).contiguous()
    luma, cb, cr = rgb_to_ycbcr(rgb)  # not clamped here: a clamped copy would be stored; the quantization clamps

    # limited range, rounded; each plane quantized before the concatenation, so no float copy of the
    # frame is made (three separate planes: compiled, each is written straight into its slice of
    # the output rather than copied there by a concatenation kernel)
    def quantize(plane, size, scale, offset):
        return (resize_planes(plane, size) * scale + offset).clamp(0, 255).to(torch.uint8).reshape(plane.shape[0], -1)

    half = (height // 2, width // 2)
    # +0.5 and the truncation of .to(uint8): rounded to the nearest code
    return torch.cat([quantize(luma, (height, width), LUMA_SCALE, LUMA_OFFSET + 0.5), quantize(cb, half, CHROMA_SCALE, CHROMA_OFFSET + 0.5),
                      quantize(cr, half, CHROMA_SCALE, CHROMA_OFFSET + 0.5)], dim=1)


def yuv420p_to_rgb(planes: np.ndarray, width: int, height: int) -> np.ndarray:
    """The renderer's BT.709 limited-range ``yuv420p`` frames ``(B, W * H * 3 // 2)`` uint8 -> RGB
    ``(B, H, W, 3)`` uint8, the inverse of :func:`encode_pixels` (chroma repeated 2x2)."""
    planes = np.asarray(planes, dtype=np.float32).reshape(len(planes), -1)
    n = width * height
    y = (planes[:, :n].reshape(-1, height, width) - LUMA_OFFSET) / LUMA_SCALE
    cb, cr = ((planes[:, n + i * n // 4 : n + (i + 1) * n // 4].reshape(-1, height // 2, width // 2) - CHROMA_OFFSET) / CHROMA_SCALE for i in (0, 1))
    cb, cr = (c.repeat(2, axis=1).repeat(2, axis=2) for c in (cb, cr))
    r, b = y + CR_DIVISOR * cr, y + CB_DIVISOR * cb
    g = (y - LUMA_KR * r - LUMA_KB * b) / LUMA_KG
    return (np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def hue_rotation(deg: torch.Tensor) -> torch.Tensor:
    """Matrices turning the hue of RGB colours by ``deg`` degrees (shape ``(B,)``) while keeping their
    luminance, shape ``(B, 3, 3)`` (apply as ``m @ rgb``): the SVG/CSS ``hueRotate`` colour matrix
    (Rec. 709 luma weights)."""
    rad = torch.as_tensor(deg, dtype=torch.float32) * (math.pi / 180.0)
    c, s = torch.cos(rad), torch.sin(rad)
    rows = [
        0.213 + c * 0.787 - s * 0.213, 0.715 - c * 0.715 - s * 0.715, 0.072 - c * 0.072 + s * 0.928,
        0.213 - c * 0.213 + s * 0.143, 0.715 + c * 0.285 + s * 0.140, 0.072 - c * 0.072 - s * 0.283,
        0.213 - c * 0.213 - s * 0.787, 0.715 - c * 0.715 + s * 0.715, 0.072 + c * 0.928 + s * 0.072,
    ]
    return torch.stack(rows, dim=-1).view(*rad.shape, 3, 3)
