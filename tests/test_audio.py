"""Tests for mvgen.media.audio on real signals: a 440 Hz tone with clicks at known times, written in every
supported format (wav/flac/ogg by soundfile, mp3/m4a by the ffmpeg binary) at test time."""

from __future__ import annotations

import hashlib
import io
import struct
import subprocess
import tracemalloc
import zlib

import numpy as np
import pytest
import soundfile as sf

from mvgen.media import audio as audio_module
from mvgen.media.audio import AudioError, AudioInfo, file_hash, load_audio, probe_audio, write_audio
from mvgen.media.ffmpeg import ffmpeg_exe
from mvgen.errors import MvgenError

TONE_HZ = 440.0
CLICKS_S = (0.5, 1.25, 2.0)
SECONDS = 3.0
SR_IN = 44100
SR_OUT = 22050


def make_signal(sr: int, seconds: float = SECONDS, gains=(1.0, 0.5)) -> np.ndarray:
    """Tone plus clicks, shape ``(len(gains), n)``; channel ``c`` is the same signal times ``gains[c]``."""
    t = np.arange(round(seconds * sr)) / sr
    base = 0.25 * np.sin(2 * np.pi * TONE_HZ * t)
    for click_s in CLICKS_S:
        if click_s < seconds:
            base[round(click_s * sr)] += 0.7
    return np.stack([g * base for g in gains]).astype(np.float32)


def write_sf(path, signal: np.ndarray, sr: int, subtype: str | None = None):
    sf.write(path, signal.T, sr, subtype=subtype)
    return path


def encode(source, target, *args: str):
    """Encode ``source`` to ``target`` with the ffmpeg binary (codec from the suffix unless given)."""
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(source), *args, str(target)], check=True, stdin=subprocess.DEVNULL)
    return target


def click_times(y: np.ndarray, sr: int, offset_s: float = 0.0) -> list[float]:
    """Where the clicks landed (seconds, in source time): the sharpest step near each expected time."""
    found = []
    for click_s in CLICKS_S:
        lo = max(round((click_s - offset_s - 0.1) * sr), 0)
        hi = min(round((click_s - offset_s + 0.1) * sr), len(y) - 1)
        if hi - lo < 10:
            continue
        step = np.abs(np.diff(y[lo : hi + 1]))
        found.append((lo + int(np.argmax(step))) / sr + offset_s)
    return found


def peak_hz(y: np.ndarray, sr: int) -> float:
    """Frequency of the strongest spectral peak (Hz), refined by parabolic interpolation."""
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / len(y)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """The 3 s, 44.1 kHz stereo test signal in every format: {suffix: path}."""
    folder = tmp_path_factory.mktemp("sources")
    signal = make_signal(SR_IN)
    paths = {"wav": write_sf(folder / "tone.wav", signal, SR_IN)}
    paths["flac"] = write_sf(folder / "tone.flac", signal, SR_IN)
    paths["ogg"] = write_sf(folder / "tone.ogg", signal, SR_IN)
    paths["mp3"] = encode(paths["wav"], folder / "tone.mp3", "-b:a", "192k")
    paths["m4a"] = encode(paths["wav"], folder / "tone.m4a", "-c:a", "aac", "-b:a", "192k")
    return paths


# --------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    "suffix, fmt, duration_tol_s, click_tol_s",
    [("wav", "WAV", 1e-3, 1e-3), ("flac", "FLAC", 1e-3, 1e-3), ("ogg", "OGG", 5e-3, 5e-3), ("mp3", "MP3", 0.05, 0.03), ("m4a", "M4A", 0.05, 0.03)],
)
def test_each_format_probes_and_decodes(sources, suffix, fmt, duration_tol_s, click_tol_s):
    path = sources[suffix]
    info = probe_audio(path)
    assert isinstance(info, AudioInfo) and info.path == path
    assert (info.format, info.sr, info.channels) == (fmt, SR_IN, 2)
    assert info.duration_s == pytest.approx(SECONDS, abs=duration_tol_s)
    assert info.frames == pytest.approx(SECONDS * SR_IN, abs=duration_tol_s * SR_IN)

    y = load_audio(path)  # defaults: 22050 Hz mono
    assert y.dtype == np.float32 and y.ndim == 1
    assert len(y) / SR_OUT == pytest.approx(SECONDS, abs=duration_tol_s)
    assert click_times(y, SR_OUT) == pytest.approx(CLICKS_S, abs=click_tol_s)
    assert peak_hz(y, SR_OUT) == pytest.approx(TONE_HZ, abs=1.0)
    # Mono is the average of the channels (gains 1 and 0.5): the tone's amplitude is 0.75 * 0.25.
    tone = y[round(0.6 * SR_OUT) : round(1.2 * SR_OUT)]
    assert np.sqrt(np.mean(tone**2)) * np.sqrt(2) == pytest.approx(0.75 * 0.25, rel=0.03)


@pytest.mark.parametrize("rate", [8000, 48000, 96000, 192000])
def test_any_rate_resamples_to_the_requested_one(tmp_path, rate):
    signal = make_signal(rate, gains=(1.0,))
    path = write_sf(tmp_path / f"tone{rate}.wav", signal, rate, subtype="FLOAT")
    assert probe_audio(path).sr == rate

    y = load_audio(path, sr=SR_OUT)
    assert len(y) == round(signal.shape[1] * SR_OUT / rate)
    assert peak_hz(y, SR_OUT) == pytest.approx(TONE_HZ, abs=0.5)
    assert click_times(y, SR_OUT) == pytest.approx(CLICKS_S, abs=1e-3)

    native = load_audio(path, sr=None)
    np.testing.assert_allclose(native, signal[0], atol=1e-6)


@pytest.mark.parametrize("suffix, rate, target", [("mp3", 48000, 22050), ("m4a", 96000, 44100), ("m4a", 8000, 16000)])
def test_ffmpeg_formats_resample_too(tmp_path, suffix, rate, target):
    wav = write_sf(tmp_path / "tone.wav", make_signal(rate), rate)
    path = encode(wav, tmp_path / f"tone.{suffix}")
    assert probe_audio(path).sr == rate
    y = load_audio(path, sr=target)
    assert len(y) / target == pytest.approx(SECONDS, abs=0.05)
    assert peak_hz(y, target) == pytest.approx(TONE_HZ, abs=1.0)
    assert click_times(y, target) == pytest.approx(CLICKS_S, abs=0.03)


def test_m4a_decodes_to_exactly_the_samples_written(tmp_path):
    """AAC priming and end padding are dropped whether or not the ffmpeg in use trims the end itself."""
    n = 132463  # neither whole 1024-sample AAC frames nor whole milliseconds
    wav = write_sf(tmp_path / "odd.wav", make_signal(SR_IN, seconds=n / SR_IN), SR_IN)
    path = encode(wav, tmp_path / "odd.m4a", "-c:a", "aac", "-b:a", "192k")
    info = probe_audio(path)
    assert (info.frames, info.duration_s) == (n, n / SR_IN)
    y = load_audio(path, sr=None, mono=False)
    assert y.shape == (2, n)
    assert click_times(y[0], SR_IN) == pytest.approx(CLICKS_S, abs=1e-3)  # not shifted by a frame (23 ms)
    assert load_audio(path, sr=SR_OUT).shape == (round(n * SR_OUT / SR_IN),)
    # A seek may start up to a frame late (ffmpeg 9 does), but never runs into the padding.
    rest = n - round(2.5 * SR_IN)
    assert rest - 1024 <= len(load_audio(path, sr=None, offset_s=2.5)) <= rest


def _mp4(movie_scale: int, media_scale: int, media_end: int, edits, handlers=(b"soun",)) -> bytes:
    """A minimal MP4 header: mvhd, then one trak per handler with its edit list (None: no edts)."""

    def box(kind: bytes, *parts: bytes) -> bytes:
        body = b"".join(parts)
        return struct.pack(">I4s", 8 + len(body), kind) + body

    traks = []
    for handler in handlers:
        elst = [] if edits is None else [box(b"edts", box(b"elst", struct.pack(">II", 0, len(edits)), *(struct.pack(">IiHH", d, t, 1, 0) for d, t in edits)))]
        mdhd = box(b"mdhd", struct.pack(">IIIII", 0, 0, 0, media_scale, media_end), b"\0" * 4)
        hdlr = box(b"hdlr", struct.pack(">II", 0, 0), handler, b"\0" * 13)
        traks.append(box(b"trak", *elst, box(b"mdia", mdhd, hdlr)))
    mvhd = box(b"mvhd", struct.pack(">IIIII", 0, 0, 0, movie_scale, 0), b"\0" * 80)
    return box(b"ftyp", b"M4A \0\0\0\0") + box(b"mdat", b"\0" * 100) + box(b"moov", mvhd, *traks)


@pytest.mark.parametrize(
    "movie_scale, media_end, edits, frames",
    [
        (1000, 1024 + 132463, [(3003, 1024)], 132463),  # ffmpeg < 7 writes: edit in ms, exact sample table
        (44100, 1024 + 132463, [(132463, 1024)], 132463),  # ffmpeg >= 7 writes: both exact
        (44100, 2112 + 132463 + 401, [(132463, 2112)], 132463),  # last frame counted whole: the edit's end
        (1000, 2112 + 132463 + 401, [(3004, 2112)], 132476),  # ... to the millisecond only
        (1000, 132463, None, 132463),  # no edit list: the whole track
        (1000, 133487, [(3003, 1024), (1000, 0)], None),  # several segments: no claim
        (1000, 133487, [(500, -1), (3003, 1024)], None),  # an empty edit (a delay): no claim
    ],
)
def test_mp4_length_from_the_sample_table_and_edit_list(tmp_path, movie_scale, media_end, edits, frames):
    path = tmp_path / "head.m4a"
    path.write_bytes(_mp4(movie_scale, SR_IN, media_end, edits))
    assert audio_module._mp4_frames(path, SR_IN) == frames
    assert audio_module._mp4_frames(path, SR_OUT) == (None if frames is None else round(frames * SR_OUT / SR_IN))
    path.write_bytes(_mp4(movie_scale, SR_IN, media_end, edits, handlers=(b"vide", b"soun")))
    assert audio_module._mp4_frames(path, SR_IN) == frames  # the audio track, not the first one
    path.write_bytes(_mp4(movie_scale, SR_IN, media_end, edits)[:-40])
    assert audio_module._mp4_frames(path, SR_IN) is None  # cut inside moov


@pytest.mark.parametrize("target", [16000, 48000])
def test_resampling_down_and_up_keeps_pitch_and_timing(sources, target):
    y = load_audio(sources["flac"], sr=target)
    assert len(y) == round(SECONDS * target)
    assert peak_hz(y, target) == pytest.approx(TONE_HZ, abs=0.5)
    assert click_times(y, target) == pytest.approx(CLICKS_S, abs=1e-3)


# --------------------------------------------------------------------------------------- channels


@pytest.mark.parametrize("gains", [(1.0,), (1.0, 0.5), (1.0, 0.8, 0.6, 0.4, 0.2, 0.0)], ids=["mono", "stereo", "5.1"])
def test_channels_downmix_by_averaging_and_mono_false_keeps_them(tmp_path, gains):
    signal = make_signal(SR_IN, seconds=2.2, gains=gains)
    path = write_sf(tmp_path / "multi.wav", signal, SR_IN, subtype="FLOAT")
    assert probe_audio(path).channels == len(gains)

    mono = load_audio(path, sr=None)
    assert mono.shape == (signal.shape[1],)
    np.testing.assert_allclose(mono, signal.mean(axis=0), atol=1e-6)

    every = load_audio(path, sr=None, mono=False)
    assert every.shape == signal.shape and every.dtype == np.float32 and every.flags.c_contiguous
    np.testing.assert_allclose(every, signal, atol=1e-6)

    resampled = load_audio(path, sr=SR_OUT, mono=False)
    assert resampled.shape == (len(gains), round(signal.shape[1] * SR_OUT / SR_IN))
    np.testing.assert_allclose(resampled.mean(axis=0), load_audio(path, sr=SR_OUT), atol=1e-5)
    for row, gain in zip(resampled, gains):
        assert np.abs(row).max() == pytest.approx(gain * np.abs(resampled[0]).max(), abs=1e-4)


def test_six_channel_m4a_through_ffmpeg(tmp_path):
    gains = (1.0, 0.8, 0.6, 0.4, 0.2, 0.0)
    wav = write_sf(tmp_path / "surround.wav", make_signal(SR_IN, seconds=2.2, gains=gains), SR_IN)
    path = encode(wav, tmp_path / "surround.m4a", "-c:a", "aac", "-b:a", "384k")
    assert probe_audio(path).channels == 6

    every = load_audio(path, sr=SR_OUT, mono=False)
    assert every.shape[0] == 6 and every.shape[1] / SR_OUT == pytest.approx(2.2, abs=0.05)
    mono = load_audio(path, sr=SR_OUT)
    assert mono.shape == (every.shape[1],)
    np.testing.assert_allclose(mono, every.mean(axis=0), atol=2e-3)
    assert click_times(mono, SR_OUT) == pytest.approx(CLICKS_S[:3], abs=0.03)


def test_ffmpeg_path_matches_the_libsndfile_path(tmp_path):
    signal = make_signal(SR_IN, seconds=2.2, gains=(1.0, 0.8, 0.6, 0.4, 0.2, 0.0))
    path = write_sf(tmp_path / "multi.wav", signal, SR_IN, subtype="FLOAT")
    info = probe_audio(path)
    for sr, mono in [(SR_OUT, True), (None, True), (SR_OUT, False)]:
        by_sndfile = audio_module._decode_soundfile(info, sr, mono, 0.3, 1.5)
        by_ffmpeg = audio_module._decode_ffmpeg(info, sr, mono, 0.3, 1.5)
        assert by_ffmpeg.shape == by_sndfile.shape
        tol = 1e-6 if sr is None else 2e-3  # two soxr set-ups; they differ slightly near the clicks
        np.testing.assert_allclose(by_ffmpeg, by_sndfile, atol=tol)


# --------------------------------------------------------------------------------------- spans


@pytest.mark.parametrize("suffix, tol_s", [("wav", 1e-3), ("ogg", 5e-3), ("mp3", 0.03), ("m4a", 0.03)])
def test_offset_and_duration_select_a_span(sources, suffix, tol_s):
    y = load_audio(sources[suffix], offset_s=1.0, duration_s=1.5)
    assert len(y) / SR_OUT == pytest.approx(1.5, abs=max(tol_s, 2 / SR_OUT))
    assert click_times(y, SR_OUT, offset_s=1.0) == pytest.approx([1.25, 2.0], abs=tol_s)

    rest = load_audio(sources[suffix], offset_s=2.2, duration_s=10.0)
    assert len(rest) / SR_OUT == pytest.approx(SECONDS - 2.2, abs=0.05)
    assert load_audio(sources[suffix], offset_s=10.0).shape == (0,)
    assert load_audio(sources[suffix], sr=None, mono=False, duration_s=0).shape == (2, 0)


def test_span_is_exact_for_lossless(sources):
    whole = load_audio(sources["flac"], sr=None)
    span = load_audio(sources["flac"], sr=None, offset_s=0.5, duration_s=1.0)
    np.testing.assert_array_equal(span, whole[round(0.5 * SR_IN) : round(1.5 * SR_IN)])


def test_silence_and_short_clips_load(tmp_path):
    silent = write_sf(tmp_path / "silent.wav", np.zeros((2, SR_IN * 3), np.float32), SR_IN)
    y = load_audio(silent)
    assert y.shape == (3 * SR_OUT,) and not np.any(y)

    short = write_sf(tmp_path / "short.wav", make_signal(SR_IN, seconds=0.4), SR_IN)
    assert load_audio(short).shape == (round(0.4 * SR_OUT),)
    short_mp3 = encode(short, tmp_path / "short.mp3")
    assert len(load_audio(short_mp3)) / SR_OUT == pytest.approx(0.4, abs=0.05)


# --------------------------------------------------------------------------------------- errors


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = b"".join(b"\x00" + b"\xff\x00\x00" * 8 for _ in range(8))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")


def _cut(fraction: float):
    def make(tmp_path, sources, suffix):
        data = sources[suffix].read_bytes()
        path = tmp_path / f"cut.{suffix}"
        path.write_bytes(data[: int(len(data) * fraction)] if fraction < 1 else data[:30])
        return path

    return make


def _damaged_mp3(tmp_path, sources, suffix):
    data = bytearray(sources["mp3"].read_bytes())
    rng = np.random.default_rng(1)
    for start in range(4000, len(data) - 100, 3001):  # scribble over frames throughout the file
        data[start : start + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    path = tmp_path / "damaged.mp3"
    path.write_bytes(bytes(data))
    return path


def _file(name, content):
    def make(tmp_path, sources, suffix):
        path = tmp_path / name
        path.write_bytes(content() if callable(content) else content)
        return path

    return make


def _wav_at(rate):
    def make(tmp_path, sources, suffix):
        return write_sf(tmp_path / f"rate{rate}.wav", np.zeros((1, rate // 10), np.float32), rate)

    return make


def _no_samples(tmp_path, sources, suffix):
    if suffix == "wav":
        return write_sf(tmp_path / "nothing.wav", np.zeros((2, 0), np.float32), SR_IN)
    path = tmp_path / "nothing.m4a"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "0", str(path)], check=True)
    return path


def _directory(tmp_path, sources, suffix):
    (tmp_path / "folder.wav").mkdir()
    return tmp_path / "folder.wav"


BAD_INPUTS = [
    ("missing", lambda tmp_path, sources, suffix: tmp_path / "missing.wav", None, "file not found", True),
    ("directory", _directory, None, "is a directory, not an audio file", True),
    ("empty", _file("empty.wav", b""), None, "file is empty", True),
    ("text named .wav", _file("notes.wav", b"just some text, not audio\n" * 40), None, "not a recognised audio file", True),
    ("image named .wav", _file("picture.wav", _png), None, "not a recognised audio file", True),
    ("truncated wav", _cut(0.5), "wav", "truncated or corrupt audio: header declares", True),
    ("wav cut in its header", _cut(1.0), "wav", "truncated or corrupt audio", True),
    ("truncated flac", _cut(0.5), "flac", "truncated or corrupt audio", True),
    ("truncated ogg", _cut(0.5), "ogg", "truncated or corrupt audio", True),
    ("truncated mp3", _cut(0.5), "mp3", "truncated or corrupt audio", True),
    ("truncated m4a", _cut(0.5), "m4a", "truncated or corrupt audio", True),
    ("damaged mp3", _damaged_mp3, "mp3", "truncated or corrupt audio", False),  # found while decoding
    ("random bytes named .mp3", _file("noise.mp3", lambda: np.random.default_rng(0).bytes(30000)), None, ("not a recognised audio file", "truncated or corrupt audio"), True),
    ("wav without samples", _no_samples, "wav", "contains no audio samples", True),
    ("m4a without samples", _no_samples, "m4a", "contains no audio samples", True),
    ("4 kHz", _wav_at(4000), None, "unsupported sample rate 4000 Hz", True),
    ("384 kHz", _wav_at(384000), None, "unsupported sample rate 384000 Hz", True),
]


@pytest.mark.parametrize("make, suffix, problem, at_probe", [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_raises_one_line_audio_error_naming_the_file(tmp_path, sources, make, suffix, problem, at_probe):
    path = make(tmp_path, sources, suffix)
    calls = [probe_audio, load_audio] if at_probe else [load_audio]
    for call in calls:
        with pytest.raises(AudioError) as caught:
            call(path)
        message = str(caught.value)
        assert isinstance(caught.value, MvgenError) and caught.value.path == str(path)
        assert message.startswith(f"{path}: ") and "\n" not in message and "Traceback" not in message
        assert message[len(f"{path}: ") :].startswith(problem), message
    if not at_probe:
        probe_audio(path)  # the header is fine; the damage shows only when decoding


@pytest.mark.parametrize(
    "kwargs, name",
    [({"sr": 4000}, "sr"), ({"sr": 200_000}, "sr"), ({"sr": 22050.5}, "sr"), ({"offset_s": -1.0}, "offset_s"), ({"duration_s": -0.5}, "duration_s"), ({"offset_s": float("nan")}, "offset_s")],
)
def test_bad_arguments_raise_value_error_naming_the_parameter(sources, kwargs, name):
    with pytest.raises(ValueError, match=name):
        load_audio(sources["wav"], **kwargs)


# --------------------------------------------------------------------------------------- writing, hashing, ffmpeg


@pytest.mark.parametrize("suffix", ["wav", "flac", "ogg"])
def test_write_audio_round_trips_and_leaves_no_temp_file(tmp_path, suffix):
    stereo = make_signal(SR_OUT, seconds=1.0)
    path = tmp_path / f"out.{suffix}"
    path.write_bytes(b"old content")  # replaced atomically
    write_audio(path, stereo, SR_OUT)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    back = load_audio(path, sr=None, mono=False)
    assert back.shape == stereo.shape
    assert np.abs(back - stereo).max() < (1e-3 if suffix != "ogg" else 0.1)

    write_audio(path, stereo[0], SR_OUT)
    assert probe_audio(path).channels == 1


def test_write_audio_float_subtype_is_exact_and_bad_calls_fail(tmp_path):
    y = make_signal(SR_OUT, seconds=0.5, gains=(1.0,))[0]
    write_audio(tmp_path / "exact.wav", y, SR_OUT, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(tmp_path / "exact.wav", sr=None), y)
    with pytest.raises(AudioError, match=r"out\.mp3: cannot write"):
        write_audio(tmp_path / "out.mp3", y, SR_OUT)
    with pytest.raises(AudioError, match="cannot write audio"):
        write_audio(tmp_path / "no" / "such" / "folder.wav", y, SR_OUT)
    with pytest.raises(ValueError):
        write_audio(tmp_path / "cube.wav", np.zeros((2, 2, 2), np.float32), SR_OUT)
    with pytest.raises(ValueError):
        write_audio(tmp_path / "frames-first.wav", np.zeros((SR_OUT, 2), np.float32), SR_OUT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exact.wav"]


def test_file_hash_is_streamed_blake2b(tmp_path):
    data = np.random.default_rng(2).integers(0, 256, 5 * (1 << 19) + 7, dtype=np.uint8).tobytes()  # 2.5 MiB + 7 bytes
    path = tmp_path / "blob.wav"
    path.write_bytes(data)
    assert file_hash(path) == hashlib.blake2b(data).hexdigest()
    path.write_bytes(data[:-1] + b"\x00")
    assert file_hash(path) != hashlib.blake2b(data).hexdigest()
    with pytest.raises(AudioError, match="file not found"):
        file_hash(tmp_path / "missing.wav")


def test_ffmpeg_exe_honours_the_environment(monkeypatch, tmp_path):
    exe = ffmpeg_exe()
    assert subprocess.run([exe, "-hide_banner", "-version"], capture_output=True).returncode == 0
    monkeypatch.setenv("MVGEN_FFMPEG", exe)
    assert ffmpeg_exe() == exe
    monkeypatch.setenv("MVGEN_FFMPEG", str(tmp_path / "no-ffmpeg-here"))
    with pytest.raises(MvgenError, match="MVGEN_FFMPEG"):
        ffmpeg_exe()


# --------------------------------------------------------------------------------------- streaming


def test_sink_grows_and_shrinks_in_place():
    rng = np.random.default_rng(3)
    sink = audio_module._Sink(3, 10)
    blocks = [rng.standard_normal((k, 3)).astype(np.float32) for k in (4, 9, 1, 30, 7)]
    for block in blocks:
        sink.append(block)
    np.testing.assert_array_equal(sink.finish(), np.concatenate(blocks).T)

    data = rng.standard_normal(100_000).astype(np.float32)
    mono = audio_module._Sink(1, 1000)  # far too small: must grow while reading
    stream, byte_pos = io.BytesIO(data.tobytes()), 0
    while True:
        n, byte_pos = mono.readinto_mono(stream, byte_pos)
        if n == 0:
            break
    np.testing.assert_array_equal(mono.finish(), data)
    padded = audio_module._Sink(2, 5)
    padded.append(np.ones((3, 2), np.float32))
    np.testing.assert_array_equal(padded.finish(6), [[1, 1, 1, 0, 0, 0]] * 2)


@pytest.fixture(scope="module")
def ten_minute_wav(tmp_path_factory):
    """A 10-minute 44.1 kHz stereo 16-bit wav, written in blocks (about 106 MB on disk)."""
    path = tmp_path_factory.mktemp("long") / "mix.wav"
    block_s, minutes = 10, 10
    t = np.arange(block_s * SR_IN) / SR_IN
    tone = (0.3 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    with sf.SoundFile(path, "w", SR_IN, 2, subtype="PCM_16") as f:
        for _ in range(minutes * 60 // block_s):
            f.write(np.stack([tone, 0.5 * tone], axis=1))
    return path


def _peak_traced_bytes(call):
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
@pytest.mark.parametrize("decoder", ["soundfile", "ffmpeg"])
def test_long_file_decodes_with_about_one_output_array_of_memory(ten_minute_wav, decoder):
    info = probe_audio(ten_minute_wav)
    assert info.duration_s == pytest.approx(600.0)
    if decoder == "soundfile":
        y, peak = _peak_traced_bytes(lambda: load_audio(ten_minute_wav, sr=SR_OUT, mono=True))
    else:
        y, peak = _peak_traced_bytes(lambda: audio_module._decode_ffmpeg(info, SR_OUT, True, 0.0, None))
    assert y.shape == (600 * SR_OUT,)
    assert peak < 1.6 * y.nbytes, f"peak {peak / 1e6:.1f} MB for a {y.nbytes / 1e6:.1f} MB result"
    assert peak_hz(y[-SR_OUT * 10 :], SR_OUT) == pytest.approx(TONE_HZ, abs=0.5)
