"""Assembly: chunked H.264 encoding through ffmpeg, concatenation and muxing are frame-exact."""

import subprocess

import numpy as np
import pytest

from mvgen.assemble import ChunkWriter, mux, probe_video
from mvgen.audio import ffmpeg_exe
from mvgen.errors import MvgenError


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
    assert info["n_frames"] == 257 and info["fps"] == 30.0 and info["audio_codec"] == "aac"
    assert abs(info["duration_s"] - 257 / 30) <= 1 / 30
    # Frame i of the result is frame i of the chunks, in order.
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(out), "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    levels = np.frombuffer(raw, np.uint8).reshape(257, 36, 64).mean(axis=(1, 2))
    expected = np.array([(c * 100 + i) % 250 for c, n in enumerate([100, 100, 57]) for i in range(n)], float)
    assert np.abs(levels - expected).max() < 6  # within the encoder's rounding of flat greys
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c0.mp4", "c1.mp4", "c2.mp4", "out.mp4", "tone.wav"]


def test_failed_chunk_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with ChunkWriter(tmp_path / "c.mp4", 64, 36, 30) as writer:
            writer.write(np.zeros((2, 36, 64, 3), np.uint8))
            raise RuntimeError("renderer crashed")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="uint8"):
        with ChunkWriter(tmp_path / "d.mp4", 64, 36, 30) as writer:
            writer.write(np.zeros((36, 64, 3), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_probe_of_a_non_video_names_the_file(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_text("no video")
    with pytest.raises(MvgenError, match="x.mp4"):
        probe_video(bad)
