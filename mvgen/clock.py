"""Times for people: ``m:ss.s``, as a DJ deck shows them."""

from __future__ import annotations


def format_clock(time_s: float, decimals: int = 1) -> str:
    """``time_s`` (seconds) as ``m:ss`` with ``decimals`` places (``1:05.3`` for 65.31 s, decimals=1).

    Minutes keep counting past 59 (``61:00.0``), as on a DJ deck. The time is rounded once, to the
    places shown, before it is split, so 59.996 s reads ``1:00.00`` at two places, never ``0:60.00``.
    Negative times read as 0.
    """
    scale = 10**decimals
    total = round(max(time_s, 0.0) * scale)
    minutes, rest = divmod(total, 60 * scale)
    seconds = rest / scale
    width = 2 if decimals == 0 else 3 + decimals
    return f"{minutes}:{seconds:0{width}.{decimals}f}"
