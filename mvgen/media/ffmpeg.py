"""The ffmpeg binary, and what its input dump says about a file.

:func:`ffmpeg_exe` finds the binary (``$MVGEN_FFMPEG``, Debian's on ``PATH``, or the one bundled with
imageio-ffmpeg, which has no ffprobe: so every probe here reads ffmpeg's own stderr). ``ffmpeg -i``
prints an input dump before anything else::

    Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:clip.mp4':
      Metadata:
        mvgen_start_s   : 7.500
      Duration: 00:00:02.00, start: 0.000000, bitrate: 150 kb/s
      Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), 64x36 [SAR 1:1 DAR 16:9], 30 fps, ...
      Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 320 kb/s (default)

:func:`read_header` runs it and :func:`parse_header` reads such a dump (also out of the stderr of a
longer ffmpeg job) into an :class:`InputHeader`: the demuxer, the container's metadata tags, the
duration and every stream line, whose fields the :class:`StreamHeader` properties read.
:func:`layout_channels` is the one table of ffmpeg's channel-layout names.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from mvgen.errors import MvgenError

__all__ = ["LAYOUT_CHANNELS", "InputHeader", "StreamHeader", "ffmpeg_exe", "ffmpeg_input", "layout_channels", "parse_header", "read_header"]

#: ffmpeg channel-layout names whose channel count is not written in the name itself (the rest are
#: "N channels" or counts such as "5.1", "7.1.4"; see :func:`layout_channels`).
LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "downmix": 2, "quad": 4, "hexagonal": 6, "octagonal": 8, "cube": 8, "hexadecagonal": 16}

# A stream line of the input dump: index, kind ("Video", "Audio", ...) and the rest of the line.
_STREAM_LINE = re.compile(r"^\s*Stream #0:(\d+)\S*: (\w+): (.*)$", re.MULTILINE)
# Commas between a stream's fields, not those inside parentheses ("yuv420p(tv, bt709)").
_FIELD_SEPARATOR = re.compile(r",(?![^()]*\))")
# "Duration: HH:MM:SS.cc" ("Duration: N/A" for raw streams, which state none).
_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
# A line of a metadata block: "    key             : value" (the key padded to a column).
_TAG_LINE = re.compile(r"^\s+([^\s:][^:]*?)\s*: (.*)$")
# Where the input dump ends in the stderr of a job that goes on to write an output (whose streams
# are numbered "Stream #0:N" too).
_DUMP_END = re.compile(r"^(?:Output #|Stream mapping:)", re.MULTILINE)


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: ``$MVGEN_FFMPEG``, else ``ffmpeg`` on ``PATH``, else the one bundled
    with ``imageio-ffmpeg``. Cached per environment; raises :class:`MvgenError` when there is none."""
    return _find_ffmpeg(os.environ.get("MVGEN_FFMPEG") or None, os.environ.get("PATH"))


@functools.lru_cache(maxsize=8)
def _find_ffmpeg(override: str | None, search_path: str | None) -> str:
    if override is not None:
        found = shutil.which(override, path=search_path)
        if found is None:
            raise MvgenError("$MVGEN_FFMPEG does not name an executable ffmpeg", override)
        return found
    found = shutil.which("ffmpeg", path=search_path)
    if found is not None:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError, OSError):
        raise MvgenError("ffmpeg not found: pip install imageio-ffmpeg, put ffmpeg on PATH, or set $MVGEN_FFMPEG") from None


def ffmpeg_input(path: str | os.PathLike) -> str:
    """``path`` as an ffmpeg input: ``file:`` stops ffmpeg reading a leading "-" as an option or "name:" as a protocol."""
    return "file:" + os.fspath(path)


def layout_channels(layout: str) -> int | None:
    """Channels of an ffmpeg channel-layout name ("stereo", "5.1(side)", "7.1.4", "6 channels"), None if unknown."""
    match = re.fullmatch(r"(\d+) channels(?: \(.*\))?", layout)
    if match:
        return int(match.group(1))
    name = layout.split("(")[0].strip()
    if name in LAYOUT_CHANNELS:
        return LAYOUT_CHANNELS[name]
    if re.fullmatch(r"\d+(\.\d+){1,2}", name):  # "5.1" -> 6, "7.1.4" -> 12
        return sum(int(part) for part in name.split("."))
    return None


@dataclasses.dataclass(frozen=True)
class StreamHeader:
    """One ``Stream #0:N`` line of the input dump; the properties read its fields (None when a field is missing)."""

    index: int
    kind: str = dataclasses.field(metadata={"doc": "'Video', 'Audio', 'Subtitle', 'Data' or 'Attachment'"})
    fields: tuple[str, ...] = dataclasses.field(metadata={"doc": "the comma-separated fields after the kind, codec first"})

    @property
    def codec(self) -> str:
        """The codec's name: "h264", "aac"."""
        return re.match(r"\w*", self.fields[0]).group(0)

    @property
    def profile(self) -> str | None:
        """The parenthesized word right after the codec's name ("High", "LC"), None if there is none."""
        found = re.match(r"\w+ \(([^)]*)\)", self.fields[0])
        return found.group(1) if found else None

    def _size_at(self) -> int | None:
        return next((i for i, field in enumerate(self.fields) if re.match(r"\d+x\d+", field)), None)

    @property
    def size(self) -> tuple[int, int] | None:
        """A video's ``(width, height)`` in pixels."""
        at = self._size_at()
        return None if at is None else tuple(map(int, re.match(r"(\d+)x(\d+)", self.fields[at]).groups()))

    @property
    def pix_fmt(self) -> str | None:
        """A video's pixel format, the field before its size: "yuv420p"."""
        found = self._pix_fmt_field()
        return found.group(1) if found else None

    @property
    def colour(self) -> str | None:
        """What ffmpeg prints in parentheses after the pixel format ("tv, bt709, progressive"), None if nothing."""
        found = self._pix_fmt_field()
        return found.group(2) if found else None

    def _pix_fmt_field(self) -> re.Match | None:
        at = self._size_at()
        return re.fullmatch(r"(\w+)(?:\(([^)]*)\))?", self.fields[at - 1]) if at else None

    @property
    def fps(self) -> float | None:
        """A video's frame rate, frames per second."""
        found = next((m for field in self.fields if (m := re.fullmatch(r"([\d.]+) fps", field))), None)
        return float(found.group(1)) if found else None

    def _rate_at(self) -> int | None:
        return next((i for i, field in enumerate(self.fields) if re.fullmatch(r"\d+ Hz", field)), None)

    @property
    def sample_rate_hz(self) -> int | None:
        """An audio stream's sample rate, Hz."""
        at = self._rate_at()
        return None if at is None else int(self.fields[at].split()[0])

    @property
    def channel_layout(self) -> str | None:
        """An audio stream's channel-layout name, the field after its rate: "stereo", "5.1(side)" (see :func:`layout_channels`)."""
        at = self._rate_at()
        return self.fields[at + 1] if at is not None and at + 1 < len(self.fields) else None


@dataclasses.dataclass(frozen=True)
class InputHeader:
    """What ffmpeg's dump of its first input says (see :func:`parse_header`)."""

    text: str = dataclasses.field(repr=False, metadata={"doc": "ffmpeg's whole stderr, for what else it says"})
    found: bool = dataclasses.field(metadata={"doc": "ffmpeg read the input (printed 'Input #0')"})
    demuxers: tuple[str, ...] = dataclasses.field(metadata={"doc": "the demuxer's names: ('mov', 'mp4', 'm4a', ...), ('wav',)"})
    duration_s: float | None = dataclasses.field(metadata={"doc": "the container's duration (to 10 ms); None where it states none"})
    streams: tuple[StreamHeader, ...]
    tags: tuple[tuple[str, str], ...] = dataclasses.field(default=(), metadata={"doc": "the container's global metadata, (key, value) in file order"})

    def tag(self, key: str) -> str | None:
        """The value of the container's metadata tag ``key`` (e.g. "encoder"), None if it has none."""
        return next((value for name, value in self.tags if name == key), None)

    def stream(self, kind: str) -> StreamHeader | None:
        """The first stream of ``kind`` ("Video", "Audio"), None if there is none."""
        return next((s for s in self.streams if s.kind == kind), None)


def parse_header(text: str) -> InputHeader:
    """The input dump in ffmpeg's stderr ``text`` (see the module docstring); an :class:`InputHeader`
    with ``found`` False and nothing else when ffmpeg could not read the input."""
    start = text.find("Input #0")
    if start < 0:
        return InputHeader(text=text, found=False, demuxers=(), duration_s=None, streams=())
    end = _DUMP_END.search(text, start)
    dump = text[start : end.start() if end else len(text)]
    demuxer = re.match(r"Input #0, ([^ ]+), from", dump)
    duration = _DURATION.search(dump)
    streams = tuple(StreamHeader(int(m.group(1)), m.group(2), tuple(f.strip() for f in _FIELD_SEPARATOR.split(m.group(3).strip())))
                    for m in _STREAM_LINE.finditer(dump))
    return InputHeader(
        text=text,
        found=True,
        demuxers=tuple(demuxer.group(1).rstrip(",").split(",")) if demuxer else (),
        duration_s=int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3)) if duration else None,
        streams=streams,
        tags=_global_tags(dump),
    )


def _global_tags(dump: str) -> tuple[tuple[str, str], ...]:
    """The ``Metadata:`` block right under the ``Input #0`` line (the container's; each stream's own
    block sits under its stream line), as (key, value) pairs."""
    lines = dump.splitlines()
    if len(lines) < 2 or lines[1].strip() != "Metadata:":
        return ()
    indent = len(lines[1]) - len(lines[1].lstrip())
    tags = []
    for line in lines[2:]:
        found = _TAG_LINE.match(line)
        if found is None or len(line) - len(line.lstrip()) <= indent:
            break
        tags.append((found.group(1), found.group(2).strip()))
    return tuple(tags)


def read_header(path: str | os.PathLike, *, timeout_s: float | None = None) -> InputHeader:
    """The input dump of ``ffmpeg -i path`` (headers only, nothing decoded), parsed (:func:`parse_header`).

    ``timeout_s``: seconds ffmpeg may take (None: no limit); past it :class:`subprocess.TimeoutExpired`
    is raised. :class:`MvgenError` when ffmpeg cannot be run at all.
    """
    exe = ffmpeg_exe()
    try:
        run = subprocess.run([exe, "-nostdin", "-hide_banner", "-i", ffmpeg_input(Path(path))],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout_s)
    except OSError as exc:
        raise MvgenError(f"cannot run ffmpeg: {exc.strerror or exc}", exe) from None
    return parse_header(run.stderr.decode("utf-8", errors="replace"))
