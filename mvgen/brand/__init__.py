"""Branding: the release drawn over the video, inside the platform's safe zone.

- :mod:`~mvgen.brand.branding`: artist, title, label, date, logo and lyrics as one overlay
- :mod:`~mvgen.brand.fonts`: the default font and font loading
- :mod:`~mvgen.brand.lyrics`: LRC / SRT lyrics, and caption files beside the video
- :mod:`~mvgen.brand.endcard`: the end card (cover, artist, title, call to action)
"""
