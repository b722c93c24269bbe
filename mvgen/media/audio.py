"""Audio I/O: probe, decode (streaming, resampled, downmixed), write and hash audio files.

Decoding goes through libsndfile (``soundfile``) for WAV, AIFF, FLAC and Ogg, and through the
ffmpeg binary for MP3, M4A/AAC and whatever libsndfile cannot read. Both paths stream: the file is
read in blocks that are downmixed and resampled as they arrive, straight into one preallocated
output array, so that a 1-hour DJ mix costs about one copy of the decoded result in memory.

Every problem with an input file raises :class:`AudioError` with a one-line message that starts
with the path; problems with arguments raise :class:`ValueError`.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from mvgen.errors import MvgenError
from mvgen.fileio import atomic_path
from mvgen.media.ffmpeg import ffmpeg_exe, ffmpeg_input, layout_channels, read_header
from mvgen.media.mp4 import find_box, iter_boxes, read_top_level

__all__ = ["AudioError", "AudioInfo", "probe_audio", "load_audio", "write_audio", "file_hash"]

MIN_SR = 8000
MAX_SR = 192000
_BLOCK_FRAMES = 1 << 16  # input frames per soundfile read: ~1.5 s at 44.1 kHz, 1.5 MiB at 192 kHz x 6 ch
_PIPE_CHUNK_BYTES = 1 << 20
_HASH_BLOCK_BYTES = 1 << 20
_PROBE_TIMEOUT_S = 60
_WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}
# Containers and streams that go straight to ffmpeg: libsndfile cannot read them (MP4, ADTS,
# Matroska), or (MP3) reads them but prints mpg123 warnings on stderr and stops silently at damage.
_FFMPEG_KINDS = {"mp3", "adts", "mp4", "matroska"}
_FFMPEG_SUFFIXES = {".mp3", ".m4a", ".m4b", ".mp4", ".aac", ".mka", ".webm", ".wma", ".ac3", ".opus"}
_AUDIO_KINDS = {"wav", "aiff", "flac", "ogg", "caf", "au"} | _FFMPEG_KINDS
# Lines ffmpeg logs at warning level while probing that explain nothing about a failure.
_FFMPEG_NOISE = ("detected only with low score", "Estimating duration from bitrate", "filesize and duration do not match")


class AudioError(MvgenError):
    """An audio file that cannot be read: missing, not audio, truncated, corrupt or unsupported."""

    def __init__(self, problem: str, path: str | os.PathLike):
        super().__init__(" ".join(str(problem).split()), path)  # always one line

    def __reduce__(self):  # keep (problem, path) through pickling, e.g. from a worker process
        return type(self), (self.problem, self.path)


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, without decoding it.

    ``frames`` is per channel at the native rate ``sr`` (Hz); for ffmpeg-decoded formats it is
    ``round(duration_s * sr)`` from the container's duration, which lossy files may state only
    approximately, except for MP4/M4A, whose sample table and edit list give it exactly (see
    :func:`_mp4_frames`). ``format`` is a short upper-case name such as ``"WAV"``, ``"FLAC"``, ``"MP3"``.
    """

    path: Path
    sr: int
    channels: int
    frames: int
    duration_s: float
    format: str


# --------------------------------------------------------------------------------------- ffmpeg


@functools.lru_cache(maxsize=8)
def _ffmpeg_has_soxr(exe: str) -> bool:
    """Whether ``exe`` was built with libsoxr (then ffmpeg resamples with the same library as soxr)."""
    try:
        out = subprocess.run([exe, "-hide_banner", "-buildconf"], stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return "--enable-libsoxr" in out.stdout


def _ffmpeg_reason(stderr: str, path: Path) -> str:
    """The most telling line of ffmpeg's stderr, without log prefixes, file names or boilerplate."""
    reasons = []
    for raw in stderr.splitlines():
        line = re.sub(r"^(\[[^\]]*\]\s*)+", "", raw.strip()).strip()
        if not line or line.startswith(("Error opening input file", "Error opening input files", "Error opening output", "Conversion failed", "Input #", "At least one output")):
            continue
        if any(noise in line for noise in _FFMPEG_NOISE):
            continue
        line = re.sub(r"^Error opening input:\s*", "", line).rstrip(".")
        reasons.append(line.replace(os.fspath(path), "<file>"))
    if not reasons:
        return "ffmpeg could not decode it"
    reason = reasons[0]
    return reason if len(reason) <= 160 else reason[:157] + "..."


# --------------------------------------------------------------------------------------- probing


def _check_file(path: Path) -> int:
    """Size in bytes of the regular file at ``path``; :class:`AudioError` otherwise."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise AudioError("file not found", path) from None
    except OSError as exc:
        raise AudioError(f"cannot read file: {exc.strerror or exc}", path) from None
    if path.is_dir():
        raise AudioError("is a directory, not an audio file", path)
    if st.st_size == 0:
        raise AudioError("file is empty", path)
    return st.st_size


def _read_head(path: Path, n: int = 64) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as exc:
        raise AudioError(f"cannot read file: {exc.strerror or exc}", path) from None


def _sniff(head: bytes) -> str | None:
    """Container or stream kind from the first bytes, or None when not recognised."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RIFX", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"caff":
        return "caf"
    if head[:4] == b".snd":
        return "au"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "matroska"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # MPEG audio sync; layer bits 00 mark an ADTS (AAC) header instead of an MP3 frame.
        return "adts" if head[1] & 0x06 == 0 else "mp3"
    return None


def _check_riff_size(path: Path, size: int) -> str | None:
    """For WAV and AIFF: why the data chunk does not fit the file, or None when it does.

    libsndfile silently shortens a file whose data chunk runs past the end of the file, so a
    truncated download would otherwise load as a shorter track.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        big_endian = head[:4] in (b"RIFX", b"FORM")
        aiff = head[:4] == b"FORM"
        u32 = ">I" if big_endian else "<I"
        pos = 12
        ds64_data_size = None
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            chunk_id, chunk_size = chunk[:4], struct.unpack(u32, chunk[4:])[0]
            if chunk_id == b"ds64":  # RF64: the real sizes are 64-bit, here
                body = f.read(24)
                if len(body) == 24:
                    ds64_data_size = struct.unpack("<Q", body[8:16])[0]
            if chunk_id in (b"data", b"SSND"):
                if chunk_id == b"data" and chunk_size == 0xFFFFFFFF:
                    if ds64_data_size is None:
                        return None  # written while streaming: size unknown, libsndfile reads to EOF
                    chunk_size = ds64_data_size
                available = size - (pos + 8)
                if chunk_size > available:
                    unit = "bytes of sample data" if not aiff else "bytes of sound data"
                    return f"header declares {chunk_size} {unit}, the file holds {max(available, 0)}"
                return None
            pos += 8 + chunk_size + (chunk_size & 1)
    return None


def _check_ogg_end(path: Path, size: int) -> str | None:
    """For Ogg: None when the file ends with a complete end-of-stream page, else why not.

    libsndfile reads a cut Ogg file without complaint (and may even misreport its length).
    """
    tail_bytes = min(size, 65536 + 27 + 255)  # the longest possible Ogg page
    with open(path, "rb") as f:
        f.seek(size - tail_bytes)
        tail = f.read()
    start = tail.find(b"OggS")
    while start != -1:
        # Follow the page chain from this candidate; the real last page ends exactly at EOF.
        pos, last_flags = start, None
        while pos + 27 <= len(tail) and tail[pos : pos + 4] == b"OggS":
            segments = tail[pos + 26]
            if pos + 27 + segments > len(tail):
                break
            body = sum(tail[pos + 27 : pos + 27 + segments])
            last_flags, pos = tail[pos + 5], pos + 27 + segments + body
        if pos == len(tail) and last_flags is not None:
            return None if last_flags & 0x04 else "the stream ends without its end-of-stream page"
        start = tail.find(b"OggS", start + 1)
    return "the last Ogg page is incomplete"


def _check_rate(sr: int, path: Path) -> None:
    if not MIN_SR <= sr <= MAX_SR:
        raise AudioError(f"unsupported sample rate {sr} Hz (supported: {MIN_SR} to {MAX_SR} Hz)", path)


def _probe_soundfile(path: Path, size: int, kind: str | None) -> AudioInfo | None:
    """AudioInfo from libsndfile, None when libsndfile cannot open the file (or it is MP3)."""
    try:
        f = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None
    with f:
        if f.format == "MP3":
            return None
        sr, channels, frames, fmt = int(f.samplerate), int(f.channels), int(f.frames), f.format
        # Container damage first: a cut file may also look empty or oddly sized to libsndfile.
        problem = None
        if kind in ("wav", "aiff"):
            problem = _check_riff_size(path, size)
        elif kind == "ogg":
            problem = _check_ogg_end(path, size)
        if problem:
            raise AudioError(f"truncated or corrupt audio: {problem}", path)
        _check_rate(sr, path)
        if frames <= 0:
            raise AudioError("contains no audio samples", path)
        # A cut FLAC keeps its full length in STREAMINFO; decoding the end exposes it cheaply.
        tail = min(frames, 4096)
        try:
            f.seek(frames - tail)
            got = len(f.read(tail, dtype="float32", always_2d=True))
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"truncated or corrupt audio: cannot decode the end of the file ({_sf_reason(exc)})", path) from None
        if got < tail:
            raise AudioError(f"truncated or corrupt audio: the last {tail - got} frames are missing", path)
    fmt = {"WAVEX": "WAV"}.get(fmt, fmt)
    return AudioInfo(path=path, sr=sr, channels=channels, frames=frames, duration_s=frames / sr, format=fmt)


def _sf_reason(exc: Exception) -> str:
    reason = getattr(exc, "error_string", None) or str(exc)
    return reason.strip().rstrip(".") or "libsndfile could not read it"


def _probe_ffmpeg(path: Path, kind: str | None, sf_reason: str | None) -> AudioInfo:
    """AudioInfo from the stream description that ``ffmpeg -i`` prints."""
    try:
        header = read_header(path, timeout_s=_PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AudioError(f"ffmpeg took over {_PROBE_TIMEOUT_S} s to read the header", path) from None
    text = header.text
    if not header.found:
        if kind in _AUDIO_KINDS:
            raise AudioError(f"truncated or corrupt audio: {sf_reason or _ffmpeg_reason(text, path)}", path)
        raise AudioError("not a recognised audio file", path)
    stream = header.stream("Audio")
    if stream is None:
        raise AudioError("contains no audio samples" if kind in _AUDIO_KINDS else "not a recognised audio file", path)
    sr, layout = stream.sample_rate_hz, stream.channel_layout
    if sr is None or layout is None:
        raise AudioError("truncated or corrupt audio: no sample rate or channel layout in the stream header", path)
    channels = layout_channels(layout)
    if channels is None:
        raise AudioError(f"unsupported channel layout '{layout}'", path)
    _check_rate(sr, path)
    if "filesize and duration do not match" in text:  # an MP3 whose Xing header counts more frames than remain
        raise AudioError("truncated or corrupt audio: the file is shorter than its header says", path)

    names = header.demuxers or ("unknown",)
    if "mov" in names or "mp4" in names:
        fmt = "M4A" if header.stream("Video") is None or path.suffix.lower() in (".m4a", ".m4b") else "MP4"
    else:
        fmt = names[0].upper()

    if header.duration_s is not None:
        duration_s = header.duration_s
        frames = round(duration_s * sr)
    else:  # "Duration: N/A" (raw streams): count by decoding
        frames = _count_frames_ffmpeg(path, ffmpeg_exe(), channels)
        duration_s = frames / sr
    if fmt in ("M4A", "MP4") and (exact := _mp4_frames(path, sr)) is not None:
        frames, duration_s = exact, exact / sr  # ffmpeg prints the duration to 10 ms only
    if frames <= 0:
        raise AudioError("contains no audio samples", path)
    return AudioInfo(path=path, sr=sr, channels=channels, frames=frames, duration_s=duration_s, format=fmt)


def _mp4_frames(path: Path, sr: int) -> int | None:
    """Frames of an MP4/M4A's first audio track at ``sr``, as the container states them, or None.

    AAC streams start with encoder priming and end padded to a whole 1024-sample frame. The track's
    edit list says which part to play: from ``media_time`` for ``segment_duration``. ffmpeg 5.1
    (Debian 12) honours only the start of that, so it decodes up to a frame of padding at the end,
    which a decode is trimmed of with this length (ffmpeg 9 trims it itself). The length is the media after ``media_time`` (the sample
    table's end, ``mdhd`` duration, which ffmpeg's encoder sets to the last real sample), or the
    edit's end where that falls before it by more than one movie-timescale tick (files whose last
    frame counts whole, e.g. Apple's): ffmpeg writes the segment in milliseconds, too coarse alone.
    None, and no trimming, for edit lists other than one plain segment, fragmented files and
    anything unexpected.
    """
    try:
        moov = read_top_level(path).moov
        if moov is None or b"mvex" in (k for k, _, _ in iter_boxes(moov)):
            return None
        mvhd = find_box(moov, 0, len(moov), b"mvhd")
        movie_scale = struct.unpack_from(">I", moov, mvhd[0] + (20 if moov[mvhd[0]] == 1 else 12))[0]
        for kind, a, b in iter_boxes(moov):
            mdia = find_box(moov, a, b, b"mdia") if kind == b"trak" else None
            hdlr = mdia and find_box(moov, *mdia, b"hdlr")
            if hdlr is None or moov[hdlr[0] + 8 : hdlr[0] + 12] != b"soun":
                continue
            mdhd = find_box(moov, *mdia, b"mdhd")
            if moov[mdhd[0]] == 1:
                media_scale, media_end = struct.unpack_from(">IQ", moov, mdhd[0] + 20)
            else:
                media_scale, media_end = struct.unpack_from(">II", moov, mdhd[0] + 12)
            edts = find_box(moov, a, b, b"edts")
            elst = edts and find_box(moov, *edts, b"elst")
            start, segment = 0, None
            if elst is not None:
                wide = moov[elst[0]] == 1
                if struct.unpack_from(">I", moov, elst[0] + 4)[0] != 1:
                    return None  # several segments or an empty edit (a delay): not handled
                segment, start, rate = struct.unpack_from(">QqH" if wide else ">IiH", moov, elst[0] + 8)
                if start < 0 or rate != 1:
                    return None
            held = media_end - start
            if not (movie_scale and media_scale and 0 < held < 1 << 62):
                return None
            if segment and (segment + 1) * media_scale <= held * movie_scale:
                held = (2 * segment * media_scale + movie_scale) // (2 * movie_scale)
            return (2 * held * sr + media_scale) // (2 * media_scale)
        return None
    except (OSError, struct.error, TypeError, IndexError):
        return None


def _probe(path: str | os.PathLike) -> tuple[AudioInfo, bool]:
    """(info, decode_with_ffmpeg)."""
    path = Path(path)
    size = _check_file(path)
    kind = _sniff(_read_head(path))
    ffmpeg_first = kind in _FFMPEG_KINDS or (kind is None and path.suffix.lower() in _FFMPEG_SUFFIXES)
    sf_reason = None
    if not ffmpeg_first:
        info = _probe_soundfile(path, size, kind)
        if info is not None:
            return info, False
        if kind in ("wav", "aiff", "flac", "caf", "au"):
            try:  # keep libsndfile's own explanation for formats it owns (e.g. "No 'data' chunk marker")
                sf.info(path)
            except Exception as exc:  # noqa: BLE001 - any failure only supplies a reason text
                sf_reason = _sf_reason(exc)
    return _probe_ffmpeg(path, kind, sf_reason), True


def probe_audio(path: str | os.PathLike) -> AudioInfo:
    """Sample rate, channel count, length and format of the audio file at ``path``.

    Reads headers only (plus the last few thousand frames for libsndfile formats, to catch cut
    files). Raises :class:`AudioError` for missing, non-audio, truncated or unsupported files.
    """
    return _probe(path)[0]


# --------------------------------------------------------------------------------------- decoding


class _Sink:
    """Growable float32 output of shape ``(channels, n)``, filled left to right in place.

    Storage is one flat array owned by the sink, so growing and the final trim use
    ``ndarray.resize`` (realloc: usually no copy, never a second full buffer held by us).
    """

    def __init__(self, channels: int, capacity: int, rows: bool = False):
        self.channels = channels
        self.rows = rows or channels > 1  # return (channels, n) even for one channel
        self.capacity = max(int(capacity), 1)
        self.length = 0
        self._flat = np.empty(channels * self.capacity, dtype=np.float32)

    def _set_capacity(self, capacity: int) -> None:
        old, n, ch = self.capacity, self.length, self.channels
        if capacity > old:
            self._flat.resize(ch * capacity, refcheck=False)
            for row in range(ch - 1, 0, -1):  # last row first, so no row lands on one not yet moved
                self._flat[row * capacity : row * capacity + n] = self._flat[row * old : row * old + n]
        elif capacity < old:
            for row in range(1, ch):
                self._flat[row * capacity : row * capacity + n] = self._flat[row * old : row * old + n]
            self._flat.resize(ch * capacity, refcheck=False)
        self.capacity = capacity

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more frames, growing by at least half to keep appends amortized."""
        needed = self.length + extra
        if needed > self.capacity:
            self._set_capacity(max(needed, self.capacity + self.capacity // 2))

    def append(self, block: np.ndarray) -> None:
        """Append ``block``: shape ``(k,)`` for one channel or ``(k, channels)``."""
        k = block.shape[0]
        if k == 0:
            return
        self.reserve(k)
        rows = self._flat.reshape(self.channels, self.capacity)
        rows[:, self.length : self.length + k] = block.T if block.ndim == 2 else block
        self.length += k

    def readinto_mono(self, stream, byte_pos: int) -> tuple[int, int]:
        """Read raw float32 bytes from ``stream`` straight into a one-channel sink.

        ``byte_pos`` counts bytes already written (it may end mid-sample); returns
        ``(bytes read, new byte_pos)`` with ``bytes read == 0`` at EOF.
        """
        free = self.capacity * 4 - byte_pos
        if free < 4:  # full (maybe but for part of a sample): the size estimate was short
            self._set_capacity(self.capacity + max(self.capacity // 2, _PIPE_CHUNK_BYTES // 4))
            free = self.capacity * 4 - byte_pos
        raw = self._flat.view(np.uint8)
        n = stream.readinto(raw[byte_pos : byte_pos + min(free, _PIPE_CHUNK_BYTES)].data) or 0
        del raw  # no views may outlive a resize
        byte_pos += n
        self.length = byte_pos // 4
        return n, byte_pos

    def finish(self, frames: int | None = None) -> np.ndarray:
        """The filled part, ``(channels, n)`` (``(n,)`` for a one-channel sink made without ``rows``), with
        the spare capacity freed.

        ``frames`` fixes the length: extra frames are dropped, missing ones are zeros.
        """
        if frames is not None:
            if frames > self.length:
                self.reserve(frames - self.length)
                self._flat.reshape(self.channels, self.capacity)[:, self.length : frames] = 0.0
            self.length = frames
        self._set_capacity(self.length)
        if not self.rows:
            return self._flat
        return self._flat.reshape(self.channels, self.length)


def _check_load_args(sr: int | None, offset_s: float, duration_s: float | None) -> None:
    integral = isinstance(sr, (int, np.integer)) or (isinstance(sr, (float, np.floating)) and float(sr).is_integer())
    if sr is not None and (isinstance(sr, bool) or not integral or not MIN_SR <= sr <= MAX_SR):
        raise ValueError(f"sr must be an integer from {MIN_SR} to {MAX_SR} Hz, or None for the native rate; got {sr!r}")
    if not (isinstance(offset_s, (int, float, np.number)) and math.isfinite(offset_s) and offset_s >= 0):
        raise ValueError(f"offset_s must be a finite number of seconds >= 0; got {offset_s!r}")
    if duration_s is not None and not (isinstance(duration_s, (int, float, np.number)) and math.isfinite(duration_s) and duration_s >= 0):
        raise ValueError(f"duration_s must be a finite number of seconds >= 0, or None; got {duration_s!r}")


def _empty(channels: int, mono: bool) -> np.ndarray:
    return np.zeros(0 if mono else (channels, 0), dtype=np.float32)


def _decode_soundfile(info: AudioInfo, sr: int | None, mono: bool, offset_s: float, duration_s: float | None) -> np.ndarray:
    """Stream a libsndfile-readable file: read blocks, downmix, resample into one preallocated array."""
    path, native_sr, channels = info.path, info.sr, info.channels
    out_sr = sr or native_sr
    out_channels = 1 if mono else channels
    try:
        f = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"truncated or corrupt audio: {_sf_reason(exc)}", path) from None
    with f:
        frames = int(f.frames)
        start = min(round(offset_s * native_sr), frames)
        n_in = frames - start
        if duration_s is not None:
            n_in = min(n_in, round(duration_s * native_sr))
        if n_in <= 0:
            return _empty(out_channels, mono)
        n_out = n_in if out_sr == native_sr else (2 * n_in * out_sr + native_sr) // (2 * native_sr)  # = soxr's round()
        sink = _Sink(out_channels, n_out, rows=not mono)
        resampler = None if out_sr == native_sr else soxr.ResampleStream(native_sr, out_sr, out_channels, dtype="float32", quality="HQ")
        block = np.empty((min(_BLOCK_FRAMES, n_in), channels), dtype=np.float32)
        mixed = np.empty(len(block), dtype=np.float32) if mono and channels > 1 else None
        remaining = n_in
        try:
            if start:
                f.seek(start)
            while remaining > 0:
                want = min(len(block), remaining)
                got = f.read(want, dtype="float32", always_2d=True, out=block[:want])
                n = len(got)
                if n == 0:
                    break
                if mono:
                    chunk = got[:, 0] if channels == 1 else np.mean(got, axis=1, out=mixed[:n])
                else:
                    chunk = got
                sink.append(resampler.resample_chunk(chunk) if resampler is not None else chunk)
                remaining -= n
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"truncated or corrupt audio: {_sf_reason(exc)}", path) from None
        if remaining > 0:
            raise AudioError(f"truncated or corrupt audio: ends after {start + n_in - remaining} of {frames} frames", path)
        if resampler is not None:
            tail = np.zeros(0 if out_channels == 1 else (0, out_channels), dtype=np.float32)
            sink.append(resampler.resample_chunk(tail, last=True))
    return sink.finish(n_out)


def _ffmpeg_decode_command(exe: str, info: AudioInfo, sr: int | None, mono: bool, offset_s: float, duration_s: float | None) -> list[str]:
    cmd = [exe, "-nostdin", "-hide_banner", "-v", "error"]
    if offset_s > 0:
        cmd += ["-ss", f"{offset_s:.6f}"]  # input seek: fast, and sample-accurate for audio
    cmd += ["-i", ffmpeg_input(info.path), "-map", "0:a:0", "-vn", "-sn", "-dn"]
    if duration_s is not None:
        cmd += ["-t", f"{duration_s:.6f}"]
    filters = []
    if mono and info.channels > 1:
        # "<" normalizes the gains to sum to 1: a plain average, like the libsndfile path
        # (ffmpeg's own -ac 1 matrix weights centre and surround channels differently).
        filters.append("pan=mono|c0<" + "+".join(f"c{i}" for i in range(info.channels)))
    if sr is not None and sr != info.sr:
        filters.append(f"aresample={sr}" + (":resampler=soxr:precision=20" if _ffmpeg_has_soxr(exe) else ""))
    if filters:
        cmd += ["-af", ",".join(filters)]
    cmd += ["-f", "f32le", "-c:a", "pcm_f32le"]
    if mono:
        cmd += ["-ac", "1"]
    return cmd + ["pipe:1"]


def _run_ffmpeg(cmd: list[str], path: Path, consume) -> None:
    """Run an ffmpeg decode, handing its stdout (raw, unbuffered) to ``consume``.

    Any error line on stderr or a non-zero exit means a damaged file. stderr goes to a temporary
    file, so that a flood of decoder complaints cannot fill a pipe and stall ffmpeg.
    """
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, bufsize=0)
        except OSError as exc:
            raise MvgenError(f"cannot run ffmpeg: {exc.strerror or exc}", cmd[0]) from None
        try:
            consume(proc.stdout)
            status = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        errors.seek(0)
        text = errors.read(65536).decode("utf-8", errors="replace")
    if status != 0 or text.strip():
        raise AudioError(f"truncated or corrupt audio: {_ffmpeg_reason(text, path)}", path)


def _count_frames_ffmpeg(path: Path, exe: str, channels: int) -> int:
    """Frames in a file whose container states no duration, by decoding it to mono and counting."""
    info = AudioInfo(path=path, sr=0, channels=channels, frames=0, duration_s=0.0, format="")
    total = 0

    def consume(stream) -> None:
        nonlocal total
        buffer = bytearray(_PIPE_CHUNK_BYTES)
        while n := stream.readinto(buffer):
            total += n

    _run_ffmpeg(_ffmpeg_decode_command(exe, info, None, True, 0.0, None), path, consume)
    return total // 4


def _decode_ffmpeg(info: AudioInfo, sr: int | None, mono: bool, offset_s: float, duration_s: float | None) -> np.ndarray:
    """Stream an ffmpeg decode at the target rate and channel count into one preallocated array."""
    path = info.path
    out_sr = sr or info.sr
    out_channels = 1 if mono else info.channels
    expected_s = max(info.duration_s - offset_s, 0.0)
    if duration_s is not None:
        expected_s = min(expected_s, duration_s)
    if duration_s == 0:
        return _empty(out_channels, mono)
    # The container's duration may be estimated (MP3 without a Xing header): leave a little room;
    # the sink grows if that is not enough and gives back what is left over.
    sink = _Sink(out_channels, round(expected_s * out_sr * 1.002) + out_sr // 10 + 1, rows=not mono)

    def consume(stream) -> None:
        if out_channels == 1:
            byte_pos = 0
            while True:
                n, byte_pos = sink.readinto_mono(stream, byte_pos)
                if n == 0:
                    break
            return
        frame_bytes = 4 * out_channels
        chunk = np.empty(_PIPE_CHUNK_BYTES // 4 // out_channels * out_channels, dtype=np.float32)
        raw = chunk.view(np.uint8)
        have = 0
        while n := stream.readinto(raw[have:].data):
            have += n
            whole = have // frame_bytes
            if whole:
                sink.append(chunk[: whole * out_channels].reshape(whole, out_channels))
                rest = have - whole * frame_bytes
                raw[:rest] = raw[whole * frame_bytes : have]
                have = rest

    _run_ffmpeg(_ffmpeg_decode_command(ffmpeg_exe(), info, sr, mono, offset_s, duration_s), path, consume)
    if sink.length == 0 and offset_s == 0 and (duration_s is None or duration_s * out_sr >= 1):
        raise AudioError("contains no audio samples", path)
    frames = sink.length
    exact = _mp4_frames(path, info.sr) if info.format in ("M4A", "MP4") else None
    if exact is not None:  # drop AAC end padding that older ffmpeg decodes (never pad)
        frames = min(frames, max(round(exact * out_sr / info.sr - offset_s * out_sr), 0))
    return sink.finish(frames)


def load_audio(path: str | os.PathLike, sr: int | None = 22050, mono: bool = True, offset_s: float = 0.0, duration_s: float | None = None) -> np.ndarray:
    """Decode the audio file at ``path`` to float32 samples in [-1, 1] (lossy formats may overshoot).

    ``sr``: output rate in Hz (8000..192000), or None for the file's native rate.
    ``mono``: average all channels into one; the result has shape ``(n,)``, else ``(channels, n)``.
    ``offset_s``, ``duration_s``: the span to decode, in seconds (past the end gives an empty array).

    Streams the file, so that peak memory is about one output array. Raises :class:`AudioError`
    for unreadable files and :class:`ValueError` for bad arguments.
    """
    _check_load_args(sr, offset_s, duration_s)
    info, with_ffmpeg = _probe(path)
    decode = _decode_ffmpeg if with_ffmpeg else _decode_soundfile
    return decode(info, None if sr is None else int(sr), mono, float(offset_s), None if duration_s is None else float(duration_s))


# --------------------------------------------------------------------------------------- writing, hashing


def write_audio(path: str | os.PathLike, audio: np.ndarray, sr: int, subtype: str | None = None) -> None:
    """Write ``audio`` (shape ``(n,)`` or ``(channels, n)``, float in [-1, 1]) at ``sr`` Hz to ``path``.

    The format follows the suffix: ``.wav``, ``.flac`` or ``.ogg`` (Vorbis). ``subtype`` is a
    libsndfile subtype such as ``"PCM_24"`` or ``"FLOAT"``; the default is 16-bit PCM for WAV and
    FLAC. The file is written under a temporary name in the same folder and then renamed, so that a
    reader never sees a half-written file.
    """
    path = Path(path)
    fmt = _WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AudioError(f"cannot write '{path.suffix or '(no suffix)'}' files (use .wav, .flac or .ogg)", path)
    audio = np.asarray(audio)
    if audio.ndim not in (1, 2):
        raise ValueError(f"audio must have shape (n,) or (channels, n); got {audio.shape}")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ValueError(f"sr must be a positive integer (Hz); got {sr!r}")
    rows = audio.reshape(1, -1) if audio.ndim == 1 else audio
    channels = rows.shape[0]
    if not 1 <= channels <= 64:
        raise ValueError(f"audio must have shape (n,) or (channels, n) with 1 to 64 channels; got {audio.shape}")
    try:
        # A missing folder is the caller's mistake to hear about, not one to paper over.
        with atomic_path(path, suffix=".tmp", parents=False) as temp, sf.SoundFile(temp, mode="w", samplerate=int(sr), channels=channels, format=fmt, subtype=subtype) as f:
            for start in range(0, rows.shape[1], _BLOCK_FRAMES):
                f.write(np.ascontiguousarray(rows[:, start : start + _BLOCK_FRAMES].T, dtype=np.float32))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _sf_reason(exc)
        raise AudioError(f"cannot write audio: {reason}", path) from None


def file_hash(path: str | os.PathLike) -> str:
    """Hex BLAKE2b digest of the file's bytes, read in 1 MiB blocks (the analysis cache key)."""
    path = Path(path)
    _check_file(path)
    digest = hashlib.blake2b()
    buffer = bytearray(_HASH_BLOCK_BYTES)
    view = memoryview(buffer)
    try:
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buffer):
                digest.update(view[:n])
    except OSError as exc:
        raise AudioError(f"cannot read file: {exc.strerror or exc}", path) from None
    return digest.hexdigest()
