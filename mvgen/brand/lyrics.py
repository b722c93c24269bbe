"""Lyrics: timed lines read from an LRC or SRT file, and the sidecar captions written beside a video.

:func:`load_lyrics` reads ``.lrc`` or ``.srt`` into :class:`LyricLine` s (times in seconds of the
track); :func:`lines_in_window` re-times them to a rendered excerpt; :func:`write_captions` writes
``<video>.srt`` and ``<video>.vtt`` beside the video (times from the video's start), atomically.

Both parsers are small and strict (the formats are simple, and a library would not name the
offending line): every problem is one :class:`~mvgen.errors.MvgenError` ``"<file>:<line>: <problem>"``.

LRC (https://en.wikipedia.org/wiki/LRC_(file_format)): ``[mm:ss.xx]text`` lines, several
timestamps per line allowed (``[00:12.00][01:30.50]chorus``), ``[offset:+/-ms]`` (positive: the
lines come earlier, as players apply it), ID tags (``[ar:...]``, ``[ti:...]``, ...) ignored,
enhanced-LRC word stamps (``<mm:ss.xx>``) removed from the text. A line ends where the next one
starts; a timestamp with no text is a pause (it ends the line before and shows nothing); the last
line lasts :data:`LAST_LINE_S`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

from mvgen.errors import MvgenError
from mvgen.errors import check_input_file
from mvgen.fileio import write_atomic

#: How long the last line of an LRC file stays up (s), as LRC gives no end time (cut at the track's end).
LAST_LINE_S = 4.0
#: The largest lyrics file read (bytes): a song's LRC is a few kB and a film's subtitles ~100 kB; past
#: this it is not lyrics, and reading and parsing it would take seconds to minutes before the render.
MAX_LYRICS_BYTES = 1024 * 1024
#: The most timed lines a lyrics file may hold: each is laid out and rasterized once per render
#: (~0.15 s and ~0.8 MB per line at 1080p), so 1000 lines, an hour-long mix with vocals throughout,
#: take minutes and ~1 GB; 100,000 would take hours and ~80 GB before the first frame.
MAX_LYRIC_LINES = 1000
#: Suffixes :func:`load_lyrics` reads.
LYRICS_SUFFIXES = (".lrc", ".srt")

_LRC_STAMP = re.compile(r"\[(\d{1,3}):(\d{1,2}(?:[.:]\d{1,3})?)\]")
_LRC_TAG = re.compile(r"\[([A-Za-z#]+):(.*)\]\s*$")
_LRC_WORD_STAMP = re.compile(r"<\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?>")
_SRT_TIME = re.compile(r"^\s*(\d+):(\d{2}):(\d{2})[,.](\d{1,3})\s*-->\s*(\d+):(\d{2}):(\d{2})[,.](\d{1,3})(?:\s+.*)?$")


@dataclasses.dataclass(frozen=True)
class LyricLine:
    """One line of lyrics: shown from ``start_s`` to ``end_s`` (seconds, ``end_s > start_s``); ``text`` may hold line breaks."""

    start_s: float
    end_s: float
    text: str


def load_lyrics(path: str | os.PathLike, duration_s: float | None = None) -> tuple[LyricLine, ...]:
    """The lines of an ``.lrc`` or ``.srt`` file, sorted by start; ``duration_s`` (the track's) cuts the last ones.

    Raises :class:`MvgenError` naming the file (and line) when it is missing, not UTF-8, of another
    suffix, malformed, or holds no timed line.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LYRICS_SUFFIXES:
        raise MvgenError(f"lyrics must be an .lrc or .srt file (got {path.suffix or 'no suffix'!r})", path)
    check_input_file(path, "lyrics file", max_bytes=MAX_LYRICS_BYTES)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MvgenError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path) from None
    except OSError as exc:
        raise MvgenError(f"cannot read the lyrics ({exc.strerror or exc})", path) from None
    lines = parse_lrc(text, path) if suffix == ".lrc" else parse_srt(text, path)
    if duration_s is not None:
        lines = tuple(dataclasses.replace(l, end_s=min(l.end_s, duration_s)) for l in lines if l.start_s < duration_s)
    if not lines:
        raise MvgenError("no timed lyric line in this file", path)
    if len(lines) > MAX_LYRIC_LINES:
        raise MvgenError(f"{len(lines):,} timed lyric lines, over the limit of {MAX_LYRIC_LINES:,} (each is drawn once per render)", path)
    return lines


def _lrc_seconds(minutes: str, seconds: str) -> float:
    # "ss.xx", "ss.xxx" or "ss:xx" (some editors write a colon before the hundredths)
    whole, _, fraction = seconds.replace(":", ".").partition(".")
    return int(minutes) * 60 + int(whole) + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def parse_lrc(text: str, path: str | os.PathLike = "<lrc>") -> tuple[LyricLine, ...]:
    """LRC text -> lines (see the module docstring); ``path`` names the file in errors."""
    stamps: list[tuple[float, int, str]] = []  # (time, order in the file, text)
    offset_s = 0.0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        times = []
        rest = line
        while (match := _LRC_STAMP.match(rest)) is not None:
            if int(match.group(2).replace(":", ".").partition(".")[0]) >= 60:
                raise MvgenError(f"timestamp [{match.group(1)}:{match.group(2)}]: seconds must be below 60", f"{path}:{number}")
            times.append(_lrc_seconds(match.group(1), match.group(2)))
            rest = rest[match.end() :]
        if times:
            words = " ".join(_LRC_WORD_STAMP.sub("", rest).split())
            stamps += [(t, len(stamps) + i, words) for i, t in enumerate(times)]
            continue
        tag = _LRC_TAG.match(line)
        if tag is None:
            raise MvgenError(f"not an LRC line (expected [mm:ss.xx]text or an [id:value] tag): {line[:40]!r}", f"{path}:{number}")
        if tag.group(1).lower() == "offset":
            try:
                offset_s = int(tag.group(2).strip()) / 1000.0
            except ValueError:
                raise MvgenError(f"[offset:{tag.group(2)}]: the offset must be whole milliseconds, e.g. [offset:+250]", f"{path}:{number}") from None
        # other tags (ar, ti, al, by, length, re, ve, #comments) say nothing about timing
    stamps.sort()
    lines = []
    for k, (start, _, words) in enumerate(stamps):
        end = stamps[k + 1][0] if k + 1 < len(stamps) else start + LAST_LINE_S
        # a positive offset shows the lyrics earlier; nothing starts before the track does
        start_s, end_s = max(0.0, start - offset_s), max(0.0, end - offset_s)
        if words and end_s > start_s:
            lines.append(LyricLine(start_s, end_s, words))
    return tuple(lines)


def parse_srt(text: str, path: str | os.PathLike = "<srt>") -> tuple[LyricLine, ...]:
    """SubRip text -> lines (blocks of: index, ``hh:mm:ss,mmm --> hh:mm:ss,mmm``, text lines); ``path`` names the file in errors."""
    lines = []
    rows = text.splitlines()
    i = 0
    while i < len(rows):
        if not rows[i].strip():
            i += 1
            continue
        number = i + 1
        if not rows[i].strip().isdigit():
            raise MvgenError(f"expected a cue number, got {rows[i].strip()[:40]!r}", f"{path}:{number}")
        if i + 1 >= len(rows) or (match := _SRT_TIME.match(rows[i + 1])) is None:
            got = rows[i + 1].strip()[:40] if i + 1 < len(rows) else "the end of the file"
            raise MvgenError(f"expected 'hh:mm:ss,mmm --> hh:mm:ss,mmm', got {got!r}", f"{path}:{i + 2}")
        g = match.groups()
        start_s = int(g[0]) * 3600 + int(g[1]) * 60 + int(g[2]) + int(g[3].ljust(3, "0")) / 1000
        end_s = int(g[4]) * 3600 + int(g[5]) * 60 + int(g[6]) + int(g[7].ljust(3, "0")) / 1000
        if end_s <= start_s:
            raise MvgenError(f"the cue ends ({end_s:.3f} s) before it starts ({start_s:.3f} s)", f"{path}:{i + 2}")
        i += 2
        body = []
        while i < len(rows) and rows[i].strip():
            body.append(re.sub(r"<[^>]*>|\{\\[^}]*\}", "", rows[i]).strip())  # <i>, <font ...>, {\an8}: styling, not text
            i += 1
        words = "\n".join(b for b in body if b)
        if words:
            lines.append(LyricLine(start_s, end_s, words))
    return tuple(sorted(lines, key=lambda l: l.start_s))


def lines_in_window(lines: Sequence[LyricLine], start_s: float, end_s: float) -> tuple[LyricLine, ...]:
    """``lines`` re-timed to a video that shows the track from ``start_s`` to ``end_s``: times from the
    video's start, cut to ``[0, end_s - start_s]``; lines wholly outside are left out."""
    length = end_s - start_s
    timed = (LyricLine(max(0.0, l.start_s - start_s), min(length, l.end_s - start_s), l.text) for l in lines)
    return tuple(l for l in timed if l.end_s > l.start_s)


def _stamp(time_s: float, separator: str) -> str:
    ms = int(round(time_s * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{separator}{ms % 1000:03d}"


def srt_text(lines: Sequence[LyricLine]) -> str:
    """SubRip text of ``lines`` (numbered from 1)."""
    return "\n".join(f"{k}\n{_stamp(l.start_s, ',')} --> {_stamp(l.end_s, ',')}\n{l.text}\n" for k, l in enumerate(lines, start=1))


def vtt_text(lines: Sequence[LyricLine]) -> str:
    """WebVTT text of ``lines``. Cue text cannot hold "-->", and "&" and "<" must be escaped."""
    cues = []
    for l in lines:
        text = l.text.replace("&", "&amp;").replace("<", "&lt;").replace("-->", "--&gt;")
        cues.append(f"{_stamp(l.start_s, '.')} --> {_stamp(l.end_s, '.')}\n{text}\n")
    return "WEBVTT\n\n" + "\n".join(cues)


def caption_paths(video: str | os.PathLike) -> tuple[Path, Path]:
    """Where the sidecar captions of ``video`` go: ``<video stem>.srt`` and ``.vtt`` beside it."""
    video = Path(video)
    return video.with_suffix(".srt"), video.with_suffix(".vtt")


def write_captions(lines: Sequence[LyricLine], video: str | os.PathLike, start_s: float = 0.0, end_s: float = math.inf) -> tuple[Path, Path] | None:
    """Write ``<video>.srt`` and ``<video>.vtt`` for a video showing the track from ``start_s`` to
    ``end_s`` (times in the files are from the video's start); each written atomically. Returns their
    paths; None when no line falls in the window (a clip without singing gets no empty caption files,
    and any left from an earlier render of that name are removed)."""
    timed = lines_in_window(lines, start_s, end_s)
    srt, vtt = caption_paths(video)
    if not timed:
        srt.unlink(missing_ok=True)
        vtt.unlink(missing_ok=True)
        return None
    write_atomic(srt, srt_text(timed))
    write_atomic(vtt, vtt_text(timed))
    return srt, vtt
