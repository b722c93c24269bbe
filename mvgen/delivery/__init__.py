"""Delivery: platform presets, loudness, and the extra files of a render with their checks.

- :mod:`~mvgen.delivery.formats`: platform presets (YouTube, Shorts, Reels, TikTok, Canvas, ...) and their checks
- :mod:`~mvgen.delivery.loudness`: EBU R128 loudness and true peak, normalized copies
- :mod:`~mvgen.delivery.deliverables`: thumbnails, preview loops, and every file checked for where it goes
"""
