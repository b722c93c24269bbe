"""media's ffmpeg helpers: the input-dump parser, the channel-layout table, and the MP4 box walker."""

import struct
import subprocess

import pytest

from mvgen.media.ffmpeg import ffmpeg_exe, layout_channels, parse_header, read_header
from mvgen.media.mp4 import TopLevel, find_box, iter_boxes, read_top_level

# The stderr of an ffmpeg job that decodes its input to a null output: the output's streams are
# numbered "Stream #0:N" too, and must not be read as the input's.
JOB_STDERR = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:clip.mp4':
  Metadata:
    encoder         : Lavf59.27.100
  Duration: 01:02:03.45, start: 0.000000, bitrate: 150 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), 64x36 [SAR 1:1 DAR 16:9], 30 kb/s, 29.97 fps, 30 tbr, 15360 tbn (default)
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, 5.1(side), fltp, 320 kb/s (default)
    Metadata:
      handler_name    : SoundHandler
Stream mapping:
  Stream #0:0 -> #0:0 (h264 (native) -> wrapped_avframe (native))
Output #0, null, to 'pipe:':
  Stream #0:0(und): Video: wrapped_avframe, yuv420p(tv, bt709, progressive), 320x180, q=2-31, 200 kb/s, 25 fps, 25 tbn (default)
  Stream #0:1(und): Audio: pcm_s16le, 44100 Hz, mono, s16, 705 kb/s (default)
frame=   60 fps=0.0 q=-0.0 Lsize=N/A time=00:00:02.00 bitrate=N/A speed= 101x
"""


def test_the_input_dump_is_read_and_the_output_ignored():
    header = parse_header(JOB_STDERR)
    assert header.found and header.demuxers == ("mov", "mp4", "m4a", "3gp", "3g2", "mj2")
    assert header.duration_s == pytest.approx(3723.45)
    assert [(s.index, s.kind) for s in header.streams] == [(0, "Video"), (1, "Audio")]
    video, audio = header.stream("Video"), header.stream("Audio")
    assert (video.codec, video.profile, video.pix_fmt, video.colour, video.size, video.fps) == ("h264", "High", "yuv420p", "tv, bt709, progressive", (64, 36), 29.97)
    assert (audio.codec, audio.profile, audio.sample_rate_hz, audio.channel_layout) == ("aac", "LC", 48000, "5.1(side)")
    assert audio.size is None and audio.fps is None and video.sample_rate_hz is None
    assert header.tags == (("encoder", "Lavf59.27.100"),) and header.tag("encoder") == "Lavf59.27.100"  # the container's, not a stream's
    assert header.tag("handler_name") is None
    unread = parse_header("file:x.mp4: Invalid data found when processing input\n")
    assert not unread.found and unread.streams == () and unread.duration_s is None
    assert parse_header("Input #0, aac, from 'file:x.aac':\n  Duration: N/A, bitrate: 130 kb/s\n").duration_s is None


@pytest.mark.parametrize("layout, channels", [
    ("mono", 1), ("stereo", 2), ("downmix", 2), ("2.1", 3), ("3.0", 3), ("quad", 4), ("quad(side)", 4), ("4.0", 4), ("5.0", 5),
    ("5.1", 6), ("5.1(side)", 6), ("6.1", 7), ("7.1", 8), ("7.1(wide)", 8), ("hexagonal", 6), ("octagonal", 8), ("7.1.4", 12),
    ("22.2", 24), ("hexadecagonal", 16), ("3 channels", 3), ("3 channels (FL+FR+LFE)", 3), ("", None), ("binaural?", None),
])  # fmt: skip
def test_channel_layout_names(layout, channels):
    assert layout_channels(layout) == channels


def test_both_ffmpegs_dump_a_file_the_parser_reads(tmp_path, ffmpeg):
    clip = tmp_path / "-clip.mp4"  # a leading "-" is a file name, not an option
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x36:r=25:d=2", "-f", "lavfi", "-i", "sine=r=44100:d=2",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", "-metadata", "title=a: b", "-movflags", "+use_metadata_tags",
                    f"file:{clip}"], check=True)
    header = read_header(clip)
    video, audio = header.stream("Video"), header.stream("Audio")
    assert header.duration_s == pytest.approx(2.0, abs=0.05) and "mp4" in header.demuxers
    assert (video.codec, video.pix_fmt, video.size, video.fps) == ("h264", "yuv420p", (64, 36), 25.0)
    assert (audio.codec, audio.sample_rate_hz, layout_channels(audio.channel_layout)) == ("aac", 44100, 2)
    assert header.tag("title") == "a: b" and header.tag("handler_name") is None
    assert not read_header(tmp_path / "missing.mp4").found


def _box(kind: bytes, body: bytes = b"", size64: bool = False) -> bytes:
    if size64:
        return struct.pack(">I4sQ", 1, kind, 16 + len(body)) + body
    return struct.pack(">I4s", 8 + len(body), kind) + body


def test_box_walker(tmp_path):
    trak = _box(b"trak", _box(b"tkhd", b"\0" * 4) + _box(b"edts", _box(b"elst", b"\0" * 8)))
    moov = _box(b"mvhd", b"\0" * 12) + trak
    data = _box(b"ftyp", b"isom") + _box(b"moov", moov, size64=True) + _box(b"mdat", b"\1" * 100)
    path = tmp_path / "boxes.mp4"
    path.write_bytes(data)
    top = read_top_level(path)
    assert top.kinds == (b"ftyp", b"moov", b"mdat") and top.moov == moov
    assert [k for k, _, _ in iter_boxes(top.moov)] == [b"mvhd", b"trak"]
    trak_at = find_box(top.moov, 0, len(top.moov), b"trak")
    edts_at = find_box(top.moov, *trak_at, b"edts")
    assert find_box(top.moov, *edts_at, b"elst") == (edts_at[0] + 8, edts_at[1])
    assert find_box(top.moov, *trak_at, b"mdia") is None
    # a box that runs past its parent ends the walk; a cut file still lists the box it was cut in
    assert [k for k, _, _ in iter_boxes(top.moov[:-4])] == [b"mvhd"]
    path.write_bytes(data[:-50])
    assert read_top_level(path).kinds == (b"ftyp", b"moov", b"mdat")
    # size 0: the last box runs to the end of the file
    path.write_bytes(_box(b"ftyp", b"isom") + struct.pack(">I4s", 0, b"mdat") + b"\1" * 10)
    assert read_top_level(path) == TopLevel((b"ftyp", b"mdat"), None)
