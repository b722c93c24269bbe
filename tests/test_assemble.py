"""Assembly: chunked H.264 encoding through ffmpeg, concatenation and muxing are frame-exact."""

import signal
import subprocess

import numpy as np
import pytest
import torch

from mvgen.media.assemble import MP4_LAYOUT, ChunkWriter, mux, probe_video

from mvgen.media.pixels import encode_pixels, frame_shape
from mvgen.media.ffmpeg import ffmpeg_exe
from mvgen.errors import MvgenError


@pytest.mark.slow
def test_chunks_concatenate_frame_exactly_with_the_audio(tmp_path):
    import soundfile as sf

    audio = tmp_path / "tone.wav"
    sf.write(audio, 0.1 * np.sin(2 * np.pi * 440 * np.arange(44100 * 12) / 44100), 44100)
    chunks = []
    for c, n in enumerate([100, 100, 57]):
        with ChunkWriter(tmp_path / f"c{c}.mp4", 64, 36, 30) as writer:
            for i in range(n):
                writer.write(np.full((36, 64, 3), (c * 100 + i) % 250, np.uint8))
        chunks.append(tmp_path / f"c{c}.mp4")
    out = mux(chunks, audio, 2.0, 257, 30.0, tmp_path / "out.mp4")
    info = probe_video(out)
    assert info.n_frames == 257 and info.fps == 30.0 and info.audio_codec == "aac"
    assert abs(info.duration_s - 257 / 30) <= 1 / 30
    # Frame i of the result is frame i of the chunks, in order.
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(out), "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    levels = np.frombuffer(raw, np.uint8).reshape(257, 36, 64).mean(axis=(1, 2))
    expected = np.array([(c * 100 + i) % 250 for c, n in enumerate([100, 100, 57]) for i in range(n)], float)
    assert np.abs(levels - expected).max() < 6  # within the encoder's rounding of flat greys
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c0.mp4", "c1.mp4", "c2.mp4", "out.mp4", "tone.wav"]


@pytest.mark.parametrize("pix_fmt", ["rgb24", "yuv420p"])
def test_colours_survive_encoding_and_are_tagged_bt709(tmp_path, pix_fmt):
    """Known colours, written in either pixel format, decode to themselves; the stream says BT.709
    limited range, so players convert it back with the matrix it was made with."""
    colours = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [0.2, 0.5, 0.8], [0.05, 0.02, 0.1]], np.float32)
    planar = torch.tensor(colours).t()[:, :, None, None].expand(3, len(colours), 32, 64)  # (3, B, h, w)
    frames = encode_pixels(planar, pix_fmt, 64, 32)
    assert frames.shape == (len(colours), *frame_shape(pix_fmt, 64, 32))
    with ChunkWriter(tmp_path / "c.mp4", 64, 32, 30, pix_fmt=pix_fmt) as writer:
        writer.write(frames.numpy())
    info = probe_video(tmp_path / "c.mp4")
    assert info.n_frames == len(colours) and info.pix_fmt == "yuv420p" and info.colour == "tv, bt709"
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(tmp_path / "c.mp4"), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    decoded = np.frombuffer(raw, np.uint8).reshape(-1, 32, 64, 3)[:, 8:24, 8:56].mean(axis=(1, 2))
    assert np.abs(decoded - colours * 255).max() <= 4


def test_failed_chunk_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with ChunkWriter(tmp_path / "c.mp4", 64, 36, 30) as writer:
            writer.write(np.zeros((2, 36, 64, 3), np.uint8))
            raise RuntimeError("renderer crashed")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="uint8"):
        with ChunkWriter(tmp_path / "d.mp4", 64, 36, 30) as writer:
            writer.write(np.zeros((36, 64, 3), np.float32))
    with pytest.raises(ValueError, match=r"yuv420p frames must be uint8 of shape \(B, 3456\)"):
        with ChunkWriter(tmp_path / "e.mp4", 64, 36, 30, pix_fmt="yuv420p") as writer:
            writer.write(np.zeros((2, 36, 64, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="pix_fmt must be one of rgb24, yuv420p"):
        ChunkWriter(tmp_path / "f.mp4", 64, 36, 30, pix_fmt="nv12")
    with pytest.raises(ValueError, match="yuv420p needs an even width and height, got 63x36"):
        ChunkWriter(tmp_path / "g.mp4", 63, 36, 30, pix_fmt="yuv420p")
    assert list(tmp_path.iterdir()) == []


def test_an_interruption_as_the_encoder_starts_stops_it_and_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C just after the encoder process starts, before the writer has recorded it: the writer
    stops it (killed and reaped) before the interruption goes on, so no encoder outlives a render."""
    started = []

    class InterruptedAtStart(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)
            signal.raise_signal(signal.SIGINT)  # Ctrl-C now

    monkeypatch.setattr(subprocess, "Popen", InterruptedAtStart)
    with pytest.raises(KeyboardInterrupt):
        ChunkWriter(tmp_path / "c.mp4", 64, 36, 30)
    assert len(started) == 1 and started[0].returncode is not None, "the encoder is still running"
    assert list(tmp_path.iterdir()) == []


def test_an_interruption_while_a_chunk_finishes_stops_its_encoder_and_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C (or SIGTERM) while close() waits for the encoder to finish: the encoder is killed and
    reaped before the interruption goes on, and its partial file is removed."""
    writer = ChunkWriter(tmp_path / "c.mp4", 64, 36, 30)
    writer.write(np.zeros((30, 36, 64, 3), np.uint8))
    wait, interrupted = writer.process.wait, []

    def interrupted_once(timeout=None):
        if not interrupted:  # Popen.wait re-raises the KeyboardInterrupt that cut it short
            interrupted.append(True)
            raise KeyboardInterrupt
        return wait(timeout)

    monkeypatch.setattr(writer.process, "wait", interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        writer.close()
    assert interrupted and writer.process.returncode is not None, "the encoder is still running"
    assert list(tmp_path.iterdir()) == []


def test_abort_returns_even_when_the_feeder_is_stuck(tmp_path):
    """An interruption that lands inside the queue's code can leave the feeder thread waiting for a
    wake-up that never comes: abort still kills and reaps the encoder, removes the partial file and
    returns, rather than joining the feeder for ever."""
    import threading
    import time

    writer = ChunkWriter(tmp_path / "c.mp4", 64, 36, 30)
    writer.write(np.zeros((3, 36, 64, 3), np.uint8))
    writer._finish_feed()  # the real feeder stops; a stuck one takes its place
    stuck = threading.Event()
    writer._feeder = threading.Thread(target=stuck.wait, daemon=True)
    writer._feeder.start()
    t0 = time.monotonic()
    writer.abort()
    assert time.monotonic() - t0 < 30 and writer._feeder.is_alive()
    assert writer.process.returncode is not None and list(tmp_path.iterdir()) == []
    stuck.set()


def test_probe_of_a_non_video_names_the_file(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_text("no video")
    with pytest.raises(MvgenError, match="x.mp4"):
        probe_video(bad)


def test_ffmpeg_meeting_a_full_disk_is_a_full_disk(tmp_path):
    # ffmpeg's own write failing with ENOSPC (its trailer, say) is reported as the disk being full,
    # as the render's own writes are, so the render keeps its chunks and says to --resume
    import errno

    from mvgen.media.assemble import ffmpeg_failure

    full = ffmpeg_failure("video encoder failed", "[out#0/mp4] Error writing trailer: No space left on device", tmp_path / "c.mp4")
    assert isinstance(full, OSError) and full.errno == errno.ENOSPC and full.filename == str(tmp_path / "c.mp4")
    other = ffmpeg_failure("video encoder failed", "Invalid argument", tmp_path / "c.mp4")
    assert isinstance(other, MvgenError) and str(other) == f"{tmp_path / 'c.mp4'}: video encoder failed: Invalid argument"


def _format_tags(path) -> dict:
    """The container's metadata tags as Debian's ffprobe reads them (``-show_entries format_tags``)."""
    import json
    import shutil

    if shutil.which("ffprobe") is None:
        pytest.skip("no ffprobe on PATH")
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    return json.loads(out).get("format", {}).get("tags", {})


def test_the_finished_video_carries_its_window_with_every_ffmpeg(tmp_path, ffmpeg, monkeypatch):
    """mux writes the window as mp4 tags that ffprobe and read_video_window read back; without
    use_metadata_tags in the layout ffmpeg drops them (the control), and a file without them reads None."""
    import mvgen.media.assemble as assemble
    from mvgen.media.assemble import VideoWindow, read_video_window

    with ChunkWriter(tmp_path / "c.mp4", 64, 36, 10) as writer:
        writer.write(np.zeros((20, 36, 64, 3), np.uint8))
    window = VideoWindow(7.5, 9.5)
    out = mux([tmp_path / "c.mp4"], None, 7.5, 20, 10.0, tmp_path / "clip.mp4", window=window)
    assert {k: v for k, v in _format_tags(out).items() if k.startswith("mvgen_")} == {
        "mvgen_start_s": "7.500", "mvgen_end_s": "9.500", "mvgen_loop": "0", "mvgen_loop_cut_s": "0.000"}
    assert read_video_window(out) == window
    loop = VideoWindow(11.53, 19.208, loop=True, loop_cut_s=5.983)
    assert read_video_window(mux([tmp_path / "c.mp4"], None, 0.0, 20, 10.0, tmp_path / "loop.mp4", window=loop)) == loop
    assert read_video_window(mux([tmp_path / "c.mp4"], None, 0.0, 20, 10.0, tmp_path / "plain.mp4")) is None
    monkeypatch.setattr(assemble, "MP4_LAYOUT", [a.replace("+use_metadata_tags", "") for a in assemble.MP4_LAYOUT])
    dropped = mux([tmp_path / "c.mp4"], None, 7.5, 20, 10.0, tmp_path / "dropped.mp4", window=window)
    assert "mvgen_start_s" not in _format_tags(dropped) and read_video_window(dropped) is None


def test_a_video_window_maps_video_time_to_track_time(tmp_path):
    from mvgen.media.assemble import VideoWindow, read_video_window

    clip = VideoWindow(7.5, 11.0)
    assert clip.track_time_s(0.0) == 7.5 and clip.track_time_s(2.0) == 9.5
    loop = VideoWindow(10.0, 18.0, loop=True, loop_cut_s=6.0)  # opens 6 s into its 8 s window, wraps after 2 s
    assert [loop.track_time_s(t) for t in (0.0, 1.0, 2.0, 3.0, 8.0)] == [16.0, 17.0, 10.0, 11.0, 16.0]
    bad = tmp_path / "bad.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x36:rate=10:d=1", "-metadata", "mvgen_start_s=soon",
                    "-metadata", "mvgen_end_s=9", *MP4_LAYOUT, str(bad)], check=True)
    with pytest.raises(MvgenError, match="bad.mp4: the video's window tags are not numbers"):
        read_video_window(bad)
    with pytest.raises(MvgenError, match="not a readable video"):
        read_video_window(tmp_path / "missing.mp4")
