"""Renderers: :class:`~mvgen.style.framespec.FrameSpec` -> pixels in the encoder's format.

- :mod:`~mvgen.renderers.base`: :class:`~mvgen.renderers.base.FrameRenderer`, what every renderer offers
- :mod:`~mvgen.renderers.procedural`: the built-in renderer (torch; no weights)
- :mod:`~mvgen.renderers.diffusion`: frames drawn by a diffusers pipeline
- :mod:`~mvgen.renderers.factory`: the procedural renderer for a size, detail and compile mode

Nothing is imported here: both renderers import torch.
"""
