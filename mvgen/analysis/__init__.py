"""Analysis: audio -> :class:`Analysis` (tempo, beats, downbeats, drops, sections, audio features,
signal gates and the genre profile), cached by the file's content hash.

- :mod:`~mvgen.analysis.track`: :func:`analyze` and the typed, cached :class:`Analysis`
- :mod:`~mvgen.analysis.beats`: the beat grid (tempo, spans, phase, meter, downbeats)
- :mod:`~mvgen.analysis.beat_model`: the learned beat and downbeat tracker whose activations the grid is fitted to
- :mod:`~mvgen.analysis.structure`: sections and drops on the bar grid
- :mod:`~mvgen.analysis.gates`: silence, tones, noise and speech told from music
- :mod:`~mvgen.analysis.drums`: the kick / snare / hat onset model
- :mod:`~mvgen.analysis.frame_models`: what the frame models share: numpy time convolutions, loading a model folder
- :mod:`~mvgen.analysis.reactive`: per-frame audio features, the styles' modulation sources
- :mod:`~mvgen.analysis.windows`: windows of a track on its bar grid (:class:`~mvgen.analysis.windows.ClipWindow`;
  :func:`~mvgen.analysis.windows.phrase_loop`, the loop of the Canvas and of the GIF and WebP previews)
"""

from mvgen.analysis.track import Analysis, analyze

__all__ = ["Analysis", "analyze"]
