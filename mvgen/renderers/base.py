"""What every renderer offers: :class:`FrameRenderer`."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from mvgen.media.pixels import frame_shape

if TYPE_CHECKING:
    from mvgen.style.framespec import FrameSpec


class FrameRenderer(abc.ABC):
    """What :func:`mvgen.pipeline.render_video` draws with: ``width`` x ``height`` frames on ``device``,
    one per :class:`~mvgen.style.framespec.FrameSpec`. Subclasses draw a non-empty batch in :meth:`_draw`."""

    width: int
    height: int
    device: torch.device

    @torch.no_grad()
    def render(self, specs: Sequence[FrameSpec], pix_fmt: str = "rgb24") -> torch.Tensor:
        """One uint8 frame per spec on :attr:`device`: ``(B, H, W, 3)`` RGB, or for ``pix_fmt="yuv420p"``
        the encoder's planes, ``(B, H * W * 3 // 2)`` (see :func:`encode_pixels`)."""
        specs = list(specs)
        if not specs:
            return torch.zeros((0, *frame_shape(pix_fmt, self.width, self.height)), dtype=torch.uint8, device=self.device)
        return self._draw(specs, pix_fmt)

    @abc.abstractmethod
    def _draw(self, specs: list[FrameSpec], pix_fmt: str) -> torch.Tensor:
        """Draw a non-empty batch: what :meth:`render` returns. Each renderer (procedural, diffusion) draws its own way."""
