"""The boxes of an MP4 (ISO base media file: MP4, M4A, MOV), read without decoding anything.

A box is a 32-bit big-endian size (of the whole box, header included), a four-byte type, and its
body; size 1 means a 64-bit size follows the type, size 0 that the box runs to the end of what holds
it. :func:`read_top_level` lists a file's top-level boxes (skipping over their bodies: ``mdat`` may
be gigabytes) and reads the ``moov`` box, where every track's description lies; :func:`iter_boxes`
and :func:`find_box` walk the boxes nested in it. Used by the audio probe (the exact length of an
AAC track, :mod:`mvgen.media.audio`) and the video probe (Fast Start and edit lists,
:mod:`mvgen.media.assemble`).
"""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Iterator

__all__ = ["MOOV_MAX_BYTES", "TopLevel", "find_box", "iter_boxes", "read_top_level"]

#: A moov box larger than this (bytes) is not read: a track's tables take about 12 bytes per frame or
#: audio packet, so even hours of video stay far below it, and a box claiming more is not a sane file's.
MOOV_MAX_BYTES = 64 << 20


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """``(type, body start, body end)`` of each box in ``data[start:end]`` (``end`` None: the end of
    ``data``), offsets into ``data``; stops at a malformed box or one that runs past ``end``."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1 and pos + 16 <= end:
            size, head = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            return
        yield kind, pos + head, pos + size
        pos += size


def find_box(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    """``(body start, body end)`` of the first box of type ``kind`` in ``data[start:end]``, None if there is none."""
    return next(((a, b) for k, a, b in iter_boxes(data, start, end) if k == kind), None)


@dataclasses.dataclass(frozen=True)
class TopLevel:
    """A file's top-level boxes: their types in file order, and the body of its ``moov`` box."""

    kinds: tuple[bytes, ...]
    moov: bytes | None = dataclasses.field(metadata={"doc": "the first moov box's body; None without one, or over MOOV_MAX_BYTES"})


def read_top_level(path: str | os.PathLike) -> TopLevel:
    """The top-level boxes of the file at ``path`` (see :class:`TopLevel`), read up to the first
    malformed header; a box cut short by the end of the file still counts (a truncated ``moov`` is
    read as far as it goes). Raises :class:`OSError` when the file cannot be read."""
    kinds: list[bytes] = []
    moov = None
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        pos = 0
        while pos + 8 <= size:
            f.seek(pos)
            head = f.read(16)
            box_size, kind = struct.unpack(">I4s", head[:8])
            header = 8
            if box_size == 1:
                if len(head) < 16:
                    break
                box_size, header = struct.unpack(">Q", head[8:16])[0], 16
            elif box_size == 0:
                box_size = size - pos
            if box_size < header:
                break
            kinds.append(kind)
            if kind == b"moov" and moov is None and box_size <= MOOV_MAX_BYTES:
                f.seek(pos + header)
                moov = f.read(box_size - header)
            pos += box_size
    return TopLevel(tuple(kinds), moov)
