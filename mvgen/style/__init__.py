"""Style mapping: per-class style files plus the :class:`~mvgen.analysis.Analysis` -> one
:class:`FrameSpec` per frame.

- :mod:`~mvgen.style.styles`: the style schema (pydantic), loading and validating YAML
- :mod:`~mvgen.style.blend`: :class:`~mvgen.style.blend.StyleTable`, styles as arrays, blended by the profile
- :mod:`~mvgen.style.colors`: colour conversions, palettes and chart colours
- :mod:`~mvgen.style.cover`: a cover's palette given to the styles
- :mod:`~mvgen.style.mapper`: :func:`~mvgen.style.mapper.map_frames`, the frame specs of a window
- :mod:`~mvgen.style.framespec`: :class:`FrameSpec`, the one contract between mapper and renderers
"""

from mvgen.style.framespec import FrameSpec

__all__ = ["FrameSpec"]
