"""Platform presets (``mvgen render --format NAME``, batch manifests, ``mvgen formats list``) and the
checks of a finished file against a platform's published upload limits.

A :class:`Preset` fixes the picture (size, aspect, frame rate), the length (a cap for full-track
renders, the platform's own limit for explicit excerpts), the video bitrate cap, the file-size cap
and the audio. Every preset encodes with :data:`mvgen.media.assemble.VIDEO_CODEC` (H.264 High, closed GOP
of half the frame rate, 2 B-frames, faststart); :func:`encodings` turns a preset and a render's
length into the encoder's settings, deriving the bitrate cap from the file-size cap where that is
the tighter one, so the file always fits. :func:`check_preset` probes a file
(:func:`mvgen.media.assemble.probe_media`) and says, check by check, whether it meets the preset.

Sources of the figures (as published when written):
- YouTube, "Recommended upload encoding settings" (support.google.com/youtube/answer/1722171): MP4,
  faststart, AAC-LC 48 kHz stereo at 384 kbit/s, H.264 High, 2 consecutive B-frames, closed GOP of
  half the frame rate, 4:2:0; 8 Mbit/s for 1080p and 35-45 Mbit/s for 2160p at 24-30 fps (SDR);
  files up to 256 GB or 12 hours.
- YouTube Shorts: vertical, up to 3 minutes; a Short over 1 minute with a Content ID claim is
  blocked, so the preset caps full-track renders at 60 s and allows excerpts up to 180 s.
- Instagram (Graph API video and Reels specs): H.264, closed GOP, 4:2:0, 23-60 fps, VBR at most
  25 Mbit/s, AAC at most 48 kHz, 3 s to 15 min, 300 MB (the smaller of the figures Meta has published).
- TikTok (Content Posting API, media transfer guide): MP4/H.264, 23-60 fps, up to 10 minutes and
  4 GB; no bitrate limit is published (the size cap bounds it).
- X (media upload best practices): H.264 High, 4:2:0, AAC-LC, 0.5-140 s, 512 MB, at most 25 Mbit/s;
  1280x720 recommended.
- Spotify Canvas (support.spotify.com/artists/article/canvas-guidelines): 3-8 s, vertical 9:16,
  720-1080 px tall, MP4, no sound, no text; the issue caps its file at 8 MB.
"""

from __future__ import annotations

import dataclasses
import math
import os

from mvgen.media.assemble import AUDIO_BITRATE_KBPS, AUDIO_CHANNELS, AUDIO_SAMPLE_RATE_HZ, AudioEncoding, MediaProbe, VideoEncoding, gop_frames, probe_media
from mvgen.errors import MvgenError

#: Seconds of video the VBV buffer holds at the cap (``bufsize = maxrate x VBV_BUFFER_S``): one
#: second, so a burst above the cap lasts at most about a second.
VBV_BUFFER_S = 1.0
#: Share of a file-size cap kept free for the container (moov, sample tables) and for the AAC
#: encoder running a little over its nominal rate.
SIZE_MARGIN = 0.03
#: Lowest measured AAC bitrate the audio check accepts, as a share of the preset's nominal rate.
#: ffmpeg's AAC encoder (5.1 and 9.0) comes within 3 % of 320 and 384 kbit/s on full-band 44.1 kHz
#: stereo music (measured: 330 and 372 kbit/s on a synthetic house track), but spends fewer bits
#: when there is less to code: 233 kbit/s at either setting for the same track sampled at 22.05 kHz
#: (nothing above 11 kHz) -- the check then fails and says so, as a band-limited source is worth knowing.
AUDIO_BITRATE_MIN_SHARE = 0.9


#: H.264 High profile's bitrate limit at level 4.2 (1080p up to 60 fps; 1.25 x Main's 50 Mbit/s):
#: a cap a size-only platform (TikTok) derives above this never binds, and would only push x264's
#: level past what phones decode, so it is left out.
H264_HIGH_L42_MAX_KBPS = 62_500


@dataclasses.dataclass(frozen=True)
class Preset:
    """One platform's picture, length, bitrate and size limits (see the module docstring for sources).

    ``max_duration_s``: cap of a full-track render (it becomes the best window of that length);
    ``limit_duration_s``: the platform's own limit, up to which an explicit excerpt may go (None: any).
    ``video_maxrate_kbps``: VBV cap (kbit/s; None: none, the size cap alone bounds it).
    ``audio_kbps``: AAC-LC bitrate (kbit/s), None: no audio stream at all.
    ``allows_text``: whether branding may draw text on it; ``loop``: the clip should loop seamlessly.
    """

    name: str
    width_px: int
    height_px: int
    aspect: str
    fps: float
    max_duration_s: float | None
    min_duration_s: float | None
    video_maxrate_kbps: int | None
    max_file_bytes: int | None
    audio_kbps: int | None = AUDIO_BITRATE_KBPS
    allows_text: bool = True
    loop: bool = False
    limit_duration_s: float | None = None
    notes: str = ""

    def __post_init__(self):
        if self.limit_duration_s is None and self.max_duration_s is not None:
            object.__setattr__(self, "limit_duration_s", self.max_duration_s)

    @property
    def has_audio(self) -> bool:
        return self.audio_kbps is not None

    @property
    def size_px(self) -> int:
        """The short side: what ``RenderSettings.size`` is."""
        return min(self.width_px, self.height_px)

    @property
    def gop_frames(self) -> int:
        return gop_frames(self.fps)


_MB = 1_000_000
#: YouTube's recommended stereo AAC bitrate (kbit/s), used by its presets.
YOUTUBE_AUDIO_KBPS = 384

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("youtube", 1920, 1080, "16:9", 30.0, None, None, 8_000, 256_000 * _MB, YOUTUBE_AUDIO_KBPS, limit_duration_s=12 * 3600.0),
        Preset("youtube-2160", 3840, 2160, "16:9", 30.0, None, None, 45_000, 256_000 * _MB, YOUTUBE_AUDIO_KBPS, limit_duration_s=12 * 3600.0,
               notes="4K; viewers need VP9 playback"),
        Preset("shorts", 1080, 1920, "9:16", 30.0, 60.0, None, 8_000, 256_000 * _MB, YOUTUBE_AUDIO_KBPS, limit_duration_s=180.0,
               notes="a Short over 1 min with a Content ID claim is blocked: 60 s unless an excerpt asks for up to 180 s"),
        Preset("reels", 1080, 1920, "9:16", 30.0, 900.0, 3.0, 25_000, 300 * _MB),
        Preset("tiktok", 1080, 1920, "9:16", 30.0, 600.0, 3.0, None, 4_000 * _MB),
        Preset("instagram-feed", 1080, 1350, "4:5", 30.0, 900.0, 3.0, 25_000, 300 * _MB, notes="4:5, re-framed like the other aspects"),
        Preset("square", 1080, 1080, "1:1", 30.0, 900.0, 3.0, 25_000, 300 * _MB, notes="Instagram's limits"),
        Preset("x", 1280, 720, "16:9", 30.0, 140.0, 0.5, 25_000, 512 * _MB),
        Preset("canvas", 608, 1080, "9:16", 30.0, 8.0, 3.0, None, 8 * _MB, audio_kbps=None, allows_text=False, loop=True,
               notes="Spotify Canvas: loops, no audio, no text"),
    )
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; :class:`MvgenError` listing the names otherwise."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise MvgenError(f"unknown format {name!r} (formats: {', '.join(PRESETS)})") from None


def length_warning(preset: Preset, length_s: float) -> str | None:
    """A warning for a video longer than ``preset``'s default cap (an explicit excerpt may run on to the
    platform's limit, e.g. a Short to 180 s), with the preset's note on why the cap is there; else None."""
    if preset.max_duration_s is None or length_s <= preset.max_duration_s + 1e-6:
        return None
    return f"{length_s:.1f} s is over the {preset.name} format's {preset.max_duration_s:g} s" + (f" ({preset.notes})" if preset.notes else "")


def encodings(preset: Preset | None, fps: float, duration_s: float, n_chunks: int) -> tuple[VideoEncoding, AudioEncoding | None, int | None]:
    """(video, audio or None, file-size cap in bytes or None) of a render of ``duration_s`` seconds in
    ``n_chunks`` chunks. Without a preset: the upload encoding without caps.

    With a file-size cap, the bitrate cap is the smaller of the platform's and the one that fits:
    each chunk is a separate encode whose VBV starts with a buffer it may spend above the rate, so
    the video takes at most ``maxrate x (duration_s + n_chunks x VBV_BUFFER_S)``.
    """
    if preset is None:
        return VideoEncoding(fps), AudioEncoding(), None
    maxrate = preset.video_maxrate_kbps
    if preset.max_file_bytes is not None:
        audio_kbit = (preset.audio_kbps or 0) * duration_s
        budget_kbit = preset.max_file_bytes * 8 / 1000 * (1 - SIZE_MARGIN) - audio_kbit
        fitting = math.floor(budget_kbit / (duration_s + n_chunks * VBV_BUFFER_S))
        if fitting < 100:
            raise MvgenError(f"{duration_s:g} s cannot fit the {preset.name} format's {preset.max_file_bytes} bytes")
        ceiling = maxrate if maxrate is not None else H264_HIGH_L42_MAX_KBPS
        maxrate = fitting if fitting < ceiling else maxrate
    video = VideoEncoding(fps) if maxrate is None else VideoEncoding(fps, maxrate_kbps=maxrate, bufsize_kbit=round(maxrate * VBV_BUFFER_S))
    return video, (AudioEncoding(preset.audio_kbps) if preset.has_audio else None), preset.max_file_bytes


@dataclasses.dataclass(frozen=True)
class Check:
    """One platform check of a file: what was checked, whether it passed, and what was found."""

    name: str
    passed: bool
    why: str


def _stream_checks(m: MediaProbe, gop: int) -> list[Check]:
    """The upload-spec checks of every mvgen video: faststart, no edit lists, H.264 High, 4:2:0, closed GOPs of ``gop`` frames, 2 B-frames."""
    full = m.gop_lengths[:-1]  # the last GOP ends with the video
    return [
        Check("faststart", m.faststart, "moov before mdat" if m.faststart else "moov after mdat: players must read the whole file first"),
        Check("no edit lists", not m.edit_lists, "none" if not m.edit_lists else "a track has an edit list (YouTube and Instagram ask for none)"),
        Check("video codec", m.video_codec == "h264" and m.video_profile == "High", f"{m.video_codec} {m.video_profile}"),
        Check("pixel format", m.pix_fmt == "yuv420p", m.pix_fmt),
        Check("GOP", bool(m.gop_lengths) and all(g == gop for g in full) and 0 < m.gop_lengths[-1] <= gop and m.closed_gops,
              f"lengths {sorted(set(m.gop_lengths))} (want {gop}), {'closed' if m.closed_gops else 'OPEN'}"),
        Check("B-frames", m.max_b_frames == 2, f"at most {m.max_b_frames} consecutive (want 2)"),
    ]


def check_upload_spec(path: str | os.PathLike, probe: MediaProbe | None = None) -> list[Check]:
    """Check a video rendered without a preset against the upload spec every mvgen video follows
    (see :func:`_stream_checks`; its GOP from its own frame rate) and, when it has audio, AAC-LC 48 kHz stereo."""
    m = probe or probe_media(path)
    checks = _stream_checks(m, gop_frames(m.fps))
    if m.audio_codec is not None:
        ok = m.audio_codec == "aac" and m.audio_profile == "LC" and m.sample_rate_hz == AUDIO_SAMPLE_RATE_HZ and m.channels == AUDIO_CHANNELS
        checks.append(Check("audio", ok, f"{m.audio_codec} {m.audio_profile}, {m.sample_rate_hz} Hz, {m.channels} ch"))
    return checks


def check_preset(path: str | os.PathLike, preset: Preset, probe: MediaProbe | None = None) -> list[Check]:
    """Check a finished file against ``preset``'s published limits (probing it unless ``probe`` is given):
    container (faststart), H.264 High, 4:2:0, picture, frame rate, GOP (length, closed), B-frames,
    video bitrate cap, audio (AAC-LC 48 kHz stereo at the preset's rate, or none), length, file size."""
    m = probe or probe_media(path)
    checks = _stream_checks(m, preset.gop_frames)
    checks[4:4] = [
        Check("picture", (m.width, m.height) == (preset.width_px, preset.height_px), f"{m.width}x{m.height} (preset {preset.width_px}x{preset.height_px})"),
        Check("frame rate", abs(m.fps - preset.fps) < 0.01, f"{m.fps:g} fps (preset {preset.fps:g})"),
    ]
    if preset.video_maxrate_kbps is not None:
        rate = m.video_bitrate_bps / 1000
        checks.append(Check("video bitrate", rate <= preset.video_maxrate_kbps, f"{rate:.0f} kbit/s (cap {preset.video_maxrate_kbps})"))
    if preset.has_audio:
        ok = m.audio_codec == "aac" and m.audio_profile == "LC" and m.sample_rate_hz == AUDIO_SAMPLE_RATE_HZ and m.channels == AUDIO_CHANNELS
        checks.append(Check("audio", ok, f"{m.audio_codec} {m.audio_profile}, {m.sample_rate_hz} Hz, {m.channels} ch" if m.audio_codec else "no audio stream"))
        rate = m.audio_bitrate_bps / 1000
        checks.append(Check("audio bitrate", rate >= AUDIO_BITRATE_MIN_SHARE * preset.audio_kbps, f"{rate:.0f} kbit/s (asked {preset.audio_kbps})"))
    else:
        checks.append(Check("audio", m.audio_codec is None, "no audio stream" if m.audio_codec is None else f"has {m.audio_codec} audio; the format has none"))
    low, high = preset.min_duration_s or 0.0, preset.limit_duration_s
    half_frame = 0.5 / preset.fps
    checks.append(Check("length", low - half_frame <= m.duration_s <= (high or math.inf) + half_frame,
                        f"{m.duration_s:.3f} s (allowed {low:g}-{high:g} s)" if high else f"{m.duration_s:.3f} s (at least {low:g} s)"))
    if preset.max_file_bytes is not None:
        checks.append(Check("file size", m.file_bytes <= preset.max_file_bytes, f"{m.file_bytes} bytes (cap {preset.max_file_bytes})"))
    return checks


def _length_text(p: Preset) -> str:
    if p.max_duration_s is None:
        return "any" if p.limit_duration_s is None or p.limit_duration_s >= 3600 else f"<= {p.limit_duration_s:g} s"
    text = f"{p.min_duration_s:g}-{p.max_duration_s:g} s" if p.min_duration_s else f"<= {p.max_duration_s:g} s"
    return text + (f" (excerpts up to {p.limit_duration_s:g} s)" if p.limit_duration_s != p.max_duration_s else "")


def format_table() -> list[tuple[str, ...]]:
    """Rows for ``mvgen formats list``: name, picture, fps, length, video, audio, size cap, notes."""
    rows = []
    for p in PRESETS.values():
        cap = f"max {p.video_maxrate_kbps / 1000:g} Mbit/s" if p.video_maxrate_kbps else "cap from the size"
        video = f"H.264 High, GOP {p.gop_frames} closed, 2 B, CRF 20, {cap}"
        audio = f"AAC-LC {AUDIO_SAMPLE_RATE_HZ // 1000} kHz stereo {p.audio_kbps} kbit/s" if p.has_audio else "none"
        size = "-" if p.max_file_bytes is None else (f"{p.max_file_bytes / 1e9:g} GB" if p.max_file_bytes >= 1e9 else f"{p.max_file_bytes / 1e6:g} MB")
        notes = "; ".join(n for n in (p.notes, "no text" if not p.allows_text and "no text" not in p.notes else "", "loops" if p.loop and "loops" not in p.notes else "") if n)
        rows.append((p.name, f"{p.width_px}x{p.height_px} ({p.aspect})", f"{p.fps:g}", _length_text(p), video, audio, size, notes))
    return rows
